//! The document limits' own table of cases (no server needed).

use super::*;

fn rules() -> Rules {
    Rules::new(&Limits::DEFAULT, true)
}

fn check(q: &str, vars: serde_json::Value) -> Result<(), Refused> {
    let doc = async_graphql::parser::parse_query(q).expect("parses");
    rules().check(&doc, &Variables::from_json(vars))
}

fn doubling(levels: usize) -> String {
    let mut q = String::from("query { ...F0 }\n");
    for i in 0..levels {
        q.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }}\n", n = i + 1));
    }
    q.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    q
}

#[test]
fn fragment_doubling_is_measured_not_expanded() {
    // 2^9 fields and 2^10 - 2 spreads (1,535 selections): allowed;
    // 2^10 fields (3,071): refused.
    assert_eq!(check(&doubling(9), serde_json::json!({})), Ok(()));
    let err = check(&doubling(10), serde_json::json!({})).unwrap_err();
    assert!(err.0.contains("expands to more than 2000"), "{err:?}");
    // 2^60 fields, refused at once (this test would never finish otherwise).
    let started = std::time::Instant::now();
    assert!(check(&doubling(60), serde_json::json!({})).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

/// What validation visits per expansion counts, not fields alone: each
/// of these has few fields and took async-graphql seconds to refuse.
#[test]
fn spreads_and_argument_values_count_too() {
    let vars = serde_json::json!({});
    // A chain ending in a fragment that does not exist: no field at all.
    let unknown = doubling(30).replace("{ __typename }", "{ ...Missing }");
    assert!(check(&unknown, vars.clone()).unwrap_err().0.contains("expands to more than"));
    // 2^8 expansions of a chain of 40 single spreads: 256 fields, 10,000 spreads.
    let mut chain = doubling(8).replace("{ __typename }", "{ ...C0 }");
    for i in 0..40 {
        chain.push_str(&format!("fragment C{i} on Query {{ ...C{} }}\n", i + 1));
    }
    chain.push_str("fragment C40 on Query { __typename }\n");
    assert!(check(&chain, vars.clone()).unwrap_err().0.contains("expands to more than"));
    // 2^6 copies of one field whose list argument holds 100 values.
    let statuses = vec!["ACTIVE"; 100].join(", ");
    let listed = doubling(6).replace(
        "{ __typename }",
        &format!("{{ clients(first: 1, filter: {{ status: [{statuses}] }}) {{ __typename }} }}"),
    );
    assert!(check(&listed, vars.clone()).unwrap_err().0.contains("expands to more than"));
    // The same with ten values is an ordinary document.
    let ten = doubling(6).replace(
        "{ __typename }",
        &format!("{{ clients(first: 1, filter: {{ status: [{}] }}) {{ __typename }} }}", vec!["ACTIVE"; 10].join(", ")),
    );
    assert_eq!(check(&ten, vars), Ok(()));
}

#[test]
fn unused_fragments_count_too() {
    let mut q = doubling(40);
    q = q.replacen("query { ...F0 }", "query { __typename }", 1);
    assert!(check(&q, serde_json::json!({})).is_err());
}

#[test]
fn page_size_from_every_source() {
    let q = "query($n: Int = 100) { clients(first: $n) { nodes { eligibleUsers(first: $n) { nodes { id } } } } }";
    // The default: 100 × (100 × 1 + 1) + ... far over 1,000.
    assert!(check(q, serde_json::json!({})).is_err());
    assert!(check(q, serde_json::json!({ "n": 100 })).is_err());
    assert_eq!(check(q, serde_json::json!({ "n": 3 })), Ok(()));
    // Absent: the server default of 20 per connection: 20 × (20 × 1 + 1 + 1) + 1 = 441.
    let absent = "{ clients { nodes { eligibleUsers { nodes { id } } } } }";
    assert_eq!(check(absent, serde_json::json!({})), Ok(()));
    let literal = "{ clients(first: 100) { nodes { eligibleUsers(first: 100) { nodes { id } } } } }";
    assert!(check(literal, serde_json::json!({})).is_err());
}

#[test]
fn nodes_by_ids_cost_their_selection_once_per_id() {
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Client { eligibleUsers(first: 100) { nodes { id } } } } }";
    // 1 id: 1 × (100 × 1 + 1 + 1) + 1; 10 ids: over 1,000.
    assert_eq!(check(q, serde_json::json!({ "ids": ["a"] })), Ok(()));
    assert!(check(q, serde_json::json!({ "ids": vec!["a"; 10] })).is_err());
    let literal = "{ nodes(ids: [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"j\"]) { ... on Client { eligibleUsers(first: 100) { nodes { id } } } } }";
    assert!(check(literal, serde_json::json!({})).is_err());
    // Many ids with a small selection are fine.
    assert_eq!(
        check("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", serde_json::json!({ "ids": vec!["a"; 100] })),
        Ok(())
    );
}
