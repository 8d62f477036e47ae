//! Relay completeness (issue 14): `nodes(ids:)` resolves each id exactly as
//! `node(id:)` does, with at most 100 ids; every connection pages backwards
//! with `last`/`before` through the same items as forwards.

use crate::db_tests;
use crate::helpers::{TestApp, UserFx};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use partner_clients::graphql::ids::{encode, Kind};
use serde_json::{json, Value};
use uuid::Uuid;

const NODE_FIELDS: &str =
    "__typename id ... on Client { clientId } ... on PartnerUser { email } ... on Partner { slug }";

async fn ids_of(app: &TestApp, who: &UserFx, client_id: &str) -> (String, String, String, String) {
    let q = "query($c: String!) { viewer { user { id } partner { id } }
      client(clientId: $c) { id auditEvents(first: 1) { nodes { id } } } }";
    let r = app.gql(&who.token, q, json!({ "c": client_id })).await;
    let d = r.ok();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    (
        s(&d["client"]["id"]),
        s(&d["viewer"]["user"]["id"]),
        s(&d["viewer"]["partner"]["id"]),
        s(&d["client"]["auditEvents"]["nodes"][0]["id"]),
    )
}

/// Own, foreign-tenant, malformed and absent ids, in one call: the entries
/// come back in order, each what `node(id:)` gives, the invisible ones null.
async fn nodes_resolve_like_node(app: TestApp) {
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let ben = app.member_of(&alpha, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    let beta = app.partner("beta").await;
    let cleo = app.admin_of(&beta, "cleo").await;
    app.provision(&cleo, "zeta", "Zeta").await;
    let (client, user, partner, event) = ids_of(&app, &ada, "acme").await;
    let (foreign_client, foreign_user, foreign_partner, foreign_event) = ids_of(&app, &cleo, "zeta").await;
    let ids = vec![
        client.clone(),
        foreign_client,
        "not an id".to_owned(),
        URL_SAFE_NO_PAD.encode("Client:not-a-uuid"),
        URL_SAFE_NO_PAD.encode("Nope:1"),
        encode(Kind::Client, Uuid::now_v7()).0,
        user.clone(),
        foreign_user,
        partner.clone(),
        foreign_partner,
        event.clone(),
        foreign_event,
        ben.gid(),
        client.clone(),
    ];
    let expect_for_ada = [
        Some("Client"),
        None,
        None,
        None,
        None,
        None,
        Some("PartnerUser"),
        None,
        Some("Partner"),
        None,
        Some("AuditEvent"),
        None,
        Some("PartnerUser"),
        Some("Client"),
    ];
    let q = format!("query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {NODE_FIELDS} }} }}");
    let r = app.gql(&ada.token, &q, json!({ "ids": ids })).await;
    let got = r.ok()["nodes"].as_array().unwrap().clone();
    assert_eq!(got.len(), ids.len());
    let kinds: Vec<Option<&str>> = got.iter().map(|n| n["__typename"].as_str()).collect();
    assert_eq!(kinds, expect_for_ada, "{:#}", r.body);
    assert_eq!(got[0]["clientId"], "acme");
    assert_eq!(got[0], got[13], "a repeated id resolves again");
    // Exactly `node(id:)`, id by id, for an administrator and a partner user
    // (who sees no unassigned client and no audit event).
    for who in [&ada, &ben] {
        let r = app.gql(&who.token, &q, json!({ "ids": ids })).await;
        let many = r.ok()["nodes"].as_array().unwrap().clone();
        for (id, entry) in ids.iter().zip(&many) {
            let one = app
                .gql(
                    &who.token,
                    &format!("query($id: ID!) {{ node(id: $id) {{ {NODE_FIELDS} }} }}"),
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(&one.ok()["node"], entry, "{id} for {}", who.email);
        }
        if who.id == ben.id {
            let visible: Vec<bool> = many.iter().map(|n| !n.is_null()).collect();
            assert_eq!(visible.iter().filter(|v| **v).count(), 3, "ben sees himself, ada and his partner: {many:?}");
            assert!(many[0].is_null() && many[10].is_null(), "unassigned client and audit event stay hidden: {many:?}");
        }
    }
    // An empty list is an empty list.
    let r = app.gql(&ada.token, &q, json!({ "ids": [] })).await;
    assert_eq!(r.ok()["nodes"], json!([]));
}

/// At most 100 ids: 100 resolve (here: all absent, all null), 101 are
/// BAD_USER_INPUT with no data; and each id counts towards complexity.
async fn nodes_takes_at_most_100_ids(app: TestApp) {
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    let absent = |n: usize| -> Vec<String> { (0..n).map(|_| encode(Kind::Client, Uuid::now_v7()).0).collect() };
    let r = app.gql(&ada.token, q, json!({ "ids": absent(100) })).await;
    assert_eq!(r.ok()["nodes"], json!(vec![Value::Null; 100]));
    let r = app.gql(&ada.token, q, json!({ "ids": absent(101) })).await;
    assert_eq!(r.codes(), ["BAD_USER_INPUT"], "{:#}", r.body);
    assert_eq!(r.data(), &Value::Null, "{:#}", r.body);
    // Each id costs its selection: ten ids each opening a page of 100 are
    // over the complexity limit, as `clients(first: 10)` would be.
    let heavy =
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Client { eligibleUsers(first: 100) { nodes { id } } } } }";
    let r = app.gql(&ada.token, heavy, json!({ "ids": absent(10) })).await;
    assert_eq!(r.codes(), ["GRAPHQL_VALIDATION_FAILED"], "{:#}", r.body);
    let r = app.gql(&ada.token, heavy, json!({ "ids": absent(1) })).await;
    assert_eq!(r.ok()["nodes"], json!([null]));
}

/// One connection of `client(clientId: "acme")`, walked in pages of `size`
/// forwards (`first`/`after`) or backwards from the end (`last`/`before`);
/// the node ids in list order, checking pageInfo on the way.
async fn walk(app: &TestApp, who: &UserFx, field: &str, size: i64, backwards: bool) -> Vec<String> {
    let q = format!(
        "query($first: Int, $after: String, $last: Int, $before: String) {{ client(clientId: \"acme\") {{
          {field}(first: $first, after: $after, last: $last, before: $before) {{
            edges {{ cursor node {{ id }} }}
            pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
    );
    let (mut ids, mut cursor, mut pages) = (Vec::<String>::new(), Value::Null, 0);
    loop {
        let vars = if backwards {
            json!({ "last": size, "before": cursor })
        } else {
            json!({ "first": size, "after": cursor })
        };
        let r = app.gql(&who.token, &q, vars).await;
        let conn = r.ok()["client"][field].clone();
        let edges = conn["edges"].as_array().unwrap();
        let page: Vec<String> = edges.iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect();
        let info = &conn["pageInfo"];
        assert!(page.len() as i64 <= size, "{conn:#}");
        assert_eq!(info["startCursor"], edges.first().map(|e| e["cursor"].clone()).unwrap_or(Value::Null));
        assert_eq!(info["endCursor"], edges.last().map(|e| e["cursor"].clone()).unwrap_or(Value::Null));
        pages += 1;
        assert!(pages <= 50, "the walk does not end");
        // Coming from a cursor, the other direction has items.
        let (more, came_from) = if backwards {
            (&info["hasPreviousPage"], &info["hasNextPage"])
        } else {
            (&info["hasNextPage"], &info["hasPreviousPage"])
        };
        assert_eq!(came_from, &json!(!cursor.is_null()), "{conn:#}");
        if backwards {
            ids.splice(0..0, page);
            cursor = info["startCursor"].clone();
        } else {
            ids.extend(page);
            cursor = info["endCursor"].clone();
        }
        if more != true {
            return ids;
        }
    }
}

/// Backwards with `last`/`before` meets the same items in the same order as
/// forwards with `first`/`after`, whatever the page size.
async fn connections_walk_backwards(app: TestApp) {
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let mut users = Vec::new();
    for i in 0..7 {
        users.push(app.member_of(&alpha, &format!("u{i}")).await);
    }
    app.provision(&ada, "acme", "Acme").await;
    // Audit events: one for provisioning, three of one transaction (they tie
    // on occurredAt), then one at a time.
    app.assign(&ada, "acme", &[&users[0], &users[1], &users[2]], false).await;
    app.assign(&ada, "acme", &[&users[3]], true).await;
    // Eligible users: ada and u4..u6.
    for field in ["eligibleUsers", "auditEvents"] {
        let forward = walk(&app, &ada, field, 100, false).await;
        let expected = if field == "eligibleUsers" { 4 } else { 5 };
        assert_eq!(forward.len(), expected, "{field}: {forward:?}");
        for size in [1, 2, 3] {
            assert_eq!(walk(&app, &ada, field, size, false).await, forward, "{field} forwards by {size}");
            assert_eq!(walk(&app, &ada, field, size, true).await, forward, "{field} backwards by {size}");
        }
    }
    // `first` and `last` together: the field is null with BAD_USER_INPUT.
    let r = app.gql(&ada.token, "{ client(clientId: \"acme\") { eligibleUsers(first: 1, last: 1) { totalCount } auditEvents(last: 101) { totalCount } } }", json!({})).await;
    assert_eq!(r.codes(), ["BAD_USER_INPUT", "BAD_USER_INPUT"], "{:#}", r.body);
    assert_eq!(r.data()["client"], json!({ "eligibleUsers": null, "auditEvents": null }));
}

db_tests!(nodes_resolve_like_node, nodes_takes_at_most_100_ids, connections_walk_backwards);
