//! The read surface: scope, search, status filter, keyset pages, masking,
//! `client`, `node`, totalCount and the statement count (DESIGN.md §3–4).

use crate::db_tests;
use crate::helpers::{client_input, TestApp, UserFx};
use partner_clients::ops::admin::set_client_status;
use serde_json::{json, Value};

/// Costs 9 per item: a page of 100 fits the default complexity budget.
const LIST: &str =
    "query($f: ClientFilter, $o: ClientOrder, $first: Int, $after: String, $last: Int, $before: String) {
  clients(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { clientId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

fn ids(r: &Value) -> Vec<String> {
    r["clients"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["clientId"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(app: &TestApp, who: &UserFx, vars: Value) -> Vec<String> {
    ids(app.gql(&who.token, LIST, vars).await.ok())
}

/// Admin of alpha, a member assigned to one client, an unassigned member,
/// and beta (whose client shares alpha's clientId `acme`).
struct World {
    ada: UserFx,
    ben: UserFx,
    bo: UserFx,
    cleo: UserFx,
}

async fn world(app: &TestApp) -> World {
    let alpha = app.partner("alpha").await;
    let beta = app.partner("beta").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let ben = app.member_of(&alpha, "ben").await;
    let bo = app.member_of(&alpha, "bo").await;
    let cleo = app.admin_of(&beta, "cleo").await;
    app.provision(&ada, "acme", "Acme Dental").await;
    app.provision(&ada, "bravo", "Bravo Plumbing").await;
    app.provision(&cleo, "acme", "Beta's Acme").await;
    app.provision(&cleo, "zulu", "Zulu Law").await;
    app.assign(&ada, "acme", &[&ben], true).await;
    World { ada, ben, bo, cleo }
}

const CLIENT: &str = "query($c: String!) { client(clientId: $c) { clientId businessName } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on Client { clientId businessName } } }";

async fn gid(app: &TestApp, who: &UserFx, client_id: &str) -> String {
    let r = app.gql(&who.token, "query($c: String!) { client(clientId: $c) { id } }", json!({ "c": client_id })).await;
    r.ok()["client"]["id"].as_str().unwrap().to_owned()
}

async fn scope_matrix(app: TestApp) {
    let w = world(&app).await;
    assert_eq!(list(&app, &w.ada, json!({})).await, ["acme", "bravo"]);
    assert_eq!(list(&app, &w.ben, json!({})).await, ["acme"]);
    assert_eq!(list(&app, &w.bo, json!({})).await, Vec::<String>::new());
    assert_eq!(list(&app, &w.cleo, json!({})).await, ["acme", "zulu"]);

    // `acme` means each partner's own client.
    let r = app.gql(&w.cleo.token, CLIENT, json!({ "c": "acme" })).await;
    assert_eq!(r.ok()["client"]["businessName"], "Beta's Acme");

    // Out of scope answers exactly as absent: data, message, code, path.
    let absent = app.gql(&w.cleo.token, CLIENT, json!({ "c": "nosuch" })).await;
    assert_eq!(absent.codes(), ["NOT_FOUND"]);
    assert_eq!(absent.body["data"], json!({ "client": null }));
    assert_eq!(absent.errors()[0]["path"], json!(["client"]));
    for (who, client_id) in [(&w.cleo, "bravo"), (&w.ben, "bravo"), (&w.bo, "acme"), (&w.ada, "zulu")] {
        let r = app.gql(&who.token, CLIENT, json!({ "c": client_id })).await;
        let a = app.gql(&who.token, CLIENT, json!({ "c": "nosuch" })).await;
        assert_eq!(r.body, a.body, "{client_id} for {}", who.email);
        assert_eq!(r.status, a.status);
    }
    // A malformed clientId too.
    assert_eq!(app.gql(&w.ada.token, CLIENT, json!({ "c": "NOT VALID" })).await.body, absent.body);

    // node(): visible ids resolve; foreign ids answer as absent ones.
    let alpha_acme = gid(&app, &w.ada, "acme").await;
    let alpha_bravo = gid(&app, &w.ada, "bravo").await;
    let beta_zulu = gid(&app, &w.cleo, "zulu").await;
    let node = |who: &UserFx, id: &str| {
        let (t, id) = (who.token.clone(), id.to_owned());
        let app = &app;
        async move { app.gql(&t, NODE, json!({ "id": id })).await }
    };
    assert_eq!(node(&w.ada, &alpha_acme).await.ok()["node"]["businessName"], "Acme Dental");
    assert_eq!(node(&w.ben, &alpha_acme).await.ok()["node"]["clientId"], "acme");
    let absent_node = node(&w.ada, "bm9wZQ").await;
    assert_eq!(absent_node.ok()["node"], Value::Null);
    for (who, id) in [(&w.ada, &beta_zulu), (&w.cleo, &alpha_acme), (&w.ben, &alpha_bravo), (&w.bo, &alpha_acme)] {
        let r = node(who, id).await;
        assert_eq!(r.body, absent_node.body, "node {id} for {}", who.email);
    }
    // Users and partners are scoped the same way.
    let viewer = "{ viewer { user { id } partner { id } } }";
    let cleo_ids = app.gql(&w.cleo.token, viewer, json!({})).await.ok()["viewer"].clone();
    for id in [&cleo_ids["user"]["id"], &cleo_ids["partner"]["id"]] {
        assert_eq!(node(&w.ada, id.as_str().unwrap()).await.body, absent_node.body);
        assert_ne!(node(&w.cleo, id.as_str().unwrap()).await.ok()["node"], Value::Null);
    }
}

async fn masking_for_partner_users(app: TestApp) {
    let w = world(&app).await;
    let q =
        "{ viewer { permissions { canViewContactDetails } } clients { nodes { clientId contactName businessEmail } } }";
    let admin = app.gql(&w.ada.token, q, json!({})).await;
    assert_eq!(admin.ok()["clients"]["nodes"][0]["contactName"], "Casey Contact");
    assert_eq!(admin.ok()["clients"]["nodes"][0]["businessEmail"], "casey@acme.example.com");
    let member = app.gql(&w.ben.token, q, json!({})).await;
    // Same query, no error, masked to null.
    assert_eq!(
        member.ok(),
        &json!({ "viewer": { "permissions": { "canViewContactDetails": false } },
                 "clients": { "nodes": [{ "clientId": "acme", "contactName": null, "businessEmail": null }] } })
    );
    // Administrator-only lists: null plus FORBIDDEN at that path.
    let r = app
        .gql(
            &w.ben.token,
            "{ client(clientId: \"acme\") { clientId eligibleUsers { totalCount } auditEvents { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["client"]["clientId"], "acme");
    assert_eq!(r.data()["client"]["eligibleUsers"], Value::Null);
    assert_eq!(r.data()["client"]["auditEvents"], Value::Null);
    assert_eq!(r.codes(), ["FORBIDDEN", "FORBIDDEN"]);
}

async fn search_rules(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    for (id, name) in [
        ("fifty", "50% Off Dental"),
        ("fifty-plain", "50 Off Dental"),
        ("under", "a_b Plumbing"),
        ("nounder", "axb Plumbing"),
        ("slash", "Back\\slash Roofing"),
        ("buecher", "Bücher Haus"),
    ] {
        app.provision(&ada, id, name).await;
    }
    // A contact name only administrators may read (and so search).
    let mut input = client_input("secret", "Quiet Bakery");
    input["contactName"] = json!("Zephyrine Quill");
    let r = app
        .gql(
            &ada.token,
            "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }",
            json!({ "i": input }),
        )
        .await;
    assert_eq!(r.ok()["provisionClient"]["created"], true);
    let all: Vec<&str> = vec!["fifty", "fifty-plain", "under", "nounder", "slash", "buecher", "secret"];
    app.assign(&ada, "secret", &[&ben], true).await;
    app.assign(&ada, "fifty", &[&ben], true).await;

    let s = |term: &str| json!({ "f": { "search": term }, "o": { "field": "CLIENT_ID", "direction": "ASC" } });
    assert_eq!(list(&app, &ada, s("%")).await, ["fifty"]);
    assert_eq!(list(&app, &ada, s("50%")).await, ["fifty"]);
    assert_eq!(list(&app, &ada, s("_")).await, ["under"]);
    assert_eq!(list(&app, &ada, s("a_b")).await, ["under"]);
    assert_eq!(list(&app, &ada, s("\\")).await, ["slash"]);
    assert_eq!(list(&app, &ada, s("  DENTAL  ")).await, ["fifty", "fifty-plain"]);
    // Non-ASCII letters fold the same way on both databases.
    assert_eq!(list(&app, &ada, s("BÜCHER")).await, ["buecher"]);
    // Over the web domain and client id too.
    assert_eq!(list(&app, &ada, s("nounder.example")).await, ["nounder"]);
    // Blank search: no filter.
    assert_eq!(list(&app, &ada, s("   ")).await.len(), all.len());
    // Contact fields: searchable by administrators only.
    assert_eq!(list(&app, &ada, s("zephyrine")).await, ["secret"]);
    assert_eq!(list(&app, &ada, s("casey@fifty.example")).await, ["fifty"]);
    assert_eq!(list(&app, &ben, s("zephyrine")).await, Vec::<String>::new());
    assert_eq!(list(&app, &ben, s("casey")).await, Vec::<String>::new());
    assert_eq!(list(&app, &ben, s("quiet")).await, ["secret"]);
    // Too long.
    let r = app.gql(&ada.token, LIST, s(&"x".repeat(101))).await;
    assert_eq!(r.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(r.data(), &Value::Null);
    assert_eq!(list(&app, &ada, s(&"x".repeat(100))).await, Vec::<String>::new());
}

async fn status_filter_and_counts(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    for id in ["cl-1", "cl-2", "cl-3", "cl-4"] {
        app.provision(&ada, id, &format!("Client {id}")).await;
    }
    set_client_status(&app.db, "alpha", "cl-1", "ACTIVE").await.unwrap();
    set_client_status(&app.db, "alpha", "cl-2", "ACTIVE").await.unwrap();
    set_client_status(&app.db, "alpha", "cl-3", "SUSPENDED").await.unwrap();
    app.assign(&ada, "cl-1", &[&ben], true).await;
    app.assign(&ada, "cl-3", &[&ben], true).await;
    let q = |statuses: Value| json!({ "f": { "status": statuses } });
    let count = |who: &UserFx, vars: Value| {
        let (t, app) = (who.token.clone(), &app);
        async move {
            let q = "query($f: ClientFilter) { clients(filter: $f) { totalCount } }";
            app.gql(&t, q, vars).await.ok()["clients"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(list(&app, &ada, q(json!(["ACTIVE"]))).await, ["cl-1", "cl-2"]);
    assert_eq!(list(&app, &ada, q(json!(["ACTIVE", "PROVISIONED"]))).await, ["cl-1", "cl-2", "cl-4"]);
    assert_eq!(list(&app, &ada, q(json!([]))).await.len(), 4);
    assert_eq!(list(&app, &ada, q(Value::Null)).await.len(), 4);
    assert_eq!(count(&ada, q(json!(["ACTIVE"]))).await, 2);
    assert_eq!(count(&ada, q(json!(["SUSPENDED", "ACTIVE"]))).await, 3);
    assert_eq!(count(&ada, q(json!([]))).await, 4);
    assert_eq!(count(&ada, json!({ "f": { "search": "client c", "status": ["ACTIVE"] } })).await, 2);
    assert_eq!(count(&ben, q(json!([]))).await, 2);
    assert_eq!(count(&ben, q(json!(["ACTIVE"]))).await, 1);
    // Counts stay right after status moves.
    set_client_status(&app.db, "alpha", "cl-2", "OFFBOARDED").await.unwrap();
    assert_eq!(count(&ada, q(json!(["ACTIVE"]))).await, 1);
    assert_eq!(count(&ada, q(json!(["OFFBOARDED"]))).await, 1);
    assert_eq!(count(&ada, json!({})).await, 4);

    // totalCount costs queries only when selected: the partner's data
    // version and, the first time for that version, the count itself.
    let without = "{ clients { edges { node { clientId } } } }";
    let with = "{ clients { totalCount edges { node { clientId } } } }";
    let cost = |q: &'static str| {
        let (t, app) = (ben.token.clone(), &app);
        async move {
            let s0 = app.statements().await;
            let n = app.gql(&t, q, json!({})).await.ok()["clients"]["totalCount"].as_i64();
            (app.statements().await - s0, n)
        }
    };
    let (base, _) = cost(without).await;
    assert_eq!(cost(with).await, (base + 2, Some(2)), "version + count");
    assert_eq!(cost(with).await, (base + 1, Some(2)), "version only: the count is cached");
}

/// Cached counts are exact after every kind of change.
async fn cached_counts_follow_changes(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let count = |who: &UserFx, vars: Value| {
        let (t, app) = (who.token.clone(), &app);
        async move {
            let q = "query($f: ClientFilter) { clients(filter: $f) { totalCount } }";
            app.gql(&t, q, vars).await.ok()["clients"]["totalCount"].as_i64().unwrap()
        }
    };
    let dental = json!({ "f": { "search": "dental" } });
    let active_dental = json!({ "f": { "search": "dental", "status": ["ACTIVE"] } });
    assert_eq!(count(&ada, dental.clone()).await, 0);
    assert_eq!(count(&ben, json!({})).await, 0);
    app.provision(&ada, "dental-1", "One Dental").await;
    assert_eq!(count(&ada, dental.clone()).await, 1, "after provisioning");
    app.assign(&ada, "dental-1", &[&ben], true).await;
    assert_eq!(count(&ben, json!({})).await, 1, "after assigning");
    assert_eq!(count(&ben, dental.clone()).await, 1);
    assert_eq!(count(&ada, active_dental.clone()).await, 0);
    set_client_status(&app.db, "alpha", "dental-1", "ACTIVE").await.unwrap();
    assert_eq!(count(&ada, active_dental.clone()).await, 1, "after a status change");
    assert_eq!(count(&ben, json!({ "f": { "status": ["ACTIVE"] } })).await, 1);
    app.assign(&ada, "dental-1", &[&ada], true).await;
    let r = app
        .gql(
            &ada.token,
            "mutation($i: UnassignPartnerUserInput!) { unassignPartnerUser(input: $i) { userErrors { code } } }",
            json!({ "i": { "clientId": "dental-1", "userId": ben.gid() } }),
        )
        .await;
    assert_eq!(r.ok()["unassignPartnerUser"]["userErrors"], json!([]));
    assert_eq!(count(&ben, json!({})).await, 0, "after unassigning");
    assert_eq!(count(&ben, dental).await, 0);
    // Another partner's changes leave these counts alone, and vice versa.
    let beta = app.partner("beta").await;
    let cleo = app.admin_of(&beta, "cleo").await;
    app.provision(&cleo, "dental-b", "Beta Dental").await;
    assert_eq!(count(&ada, active_dental).await, 1);
    assert_eq!(count(&cleo, json!({ "f": { "search": "dental" } })).await, 1);
}

/// Walk every order forwards and backwards in pages of 4 over 13 clients.
async fn keyset_walks(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    // Duplicate names and mixed case exercise the id tie-break and folding.
    let names = [
        "delta", "Alpha", "charlie", "alpha", "Echo", "bravo", "Delta", "foxtrot", "golf", "hotel", "India", "alpha",
        "juliet",
    ];
    for (i, name) in names.iter().enumerate() {
        app.provision(&ada, &format!("c{:02}-{}", 13 - i, name.to_lowercase()), name).await;
    }
    for field in ["BUSINESS_NAME", "CLIENT_ID", "CREATED_AT"] {
        for dir in ["ASC", "DESC"] {
            let o = json!({ "field": field, "direction": dir });
            let full = list(&app, &ada, json!({ "o": o, "first": 100 })).await;
            assert_eq!(full.len(), 13);
            // Forwards.
            let mut seen = Vec::new();
            let mut after = Value::Null;
            loop {
                let r = app.gql(&ada.token, LIST, json!({ "o": o, "first": 4, "after": after })).await;
                let d = r.ok();
                seen.extend(ids(d));
                assert_eq!(d["clients"]["pageInfo"]["hasPreviousPage"], !after.is_null());
                if d["clients"]["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = d["clients"]["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(seen, full, "forward {field} {dir}");
            // Backwards.
            let mut back: Vec<String> = Vec::new();
            let mut before = Value::Null;
            loop {
                let r = app.gql(&ada.token, LIST, json!({ "o": o, "last": 4, "before": before })).await;
                let d = r.ok();
                let mut page = ids(d);
                page.extend(back);
                back = page;
                if d["clients"]["pageInfo"]["hasPreviousPage"] == false {
                    break;
                }
                before = d["clients"]["pageInfo"]["startCursor"].clone();
            }
            assert_eq!(back, full, "backward {field} {dir}");
        }
    }
    // Business-name order folds case and breaks ties by id.
    let by_name = list(&app, &ada, json!({ "first": 100 })).await;
    assert!(by_name[..3].iter().all(|c| c.ends_with("-alpha")), "{by_name:?}");
    assert_eq!(by_name[3], "c08-bravo");

    // Stable under inserts: a client added before the cursor is not seen
    // twice, nothing is skipped.
    let o = json!({ "field": "CLIENT_ID", "direction": "ASC" });
    let r = app.gql(&ada.token, LIST, json!({ "o": o, "first": 5 })).await;
    let first_page = ids(r.ok());
    let cursor = r.ok()["clients"]["pageInfo"]["endCursor"].clone();
    app.provision(&ada, "c00-early", "Early").await;
    let rest = list(&app, &ada, json!({ "o": o, "first": 100, "after": cursor })).await;
    assert_eq!(first_page.len() + rest.len(), 13);
    assert!(!rest.contains(&"c00-early".to_owned()));
}

async fn page_argument_errors(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    for id in ["a-1", "a-2", "a-3"] {
        app.provision(&ada, id, id).await;
    }
    let bad = |vars: Value| {
        let (t, app) = (ada.token.clone(), &app);
        async move {
            let r = app.gql(&t, LIST, vars.clone()).await;
            assert_eq!(r.codes(), ["BAD_USER_INPUT"], "{vars}: {:#}", r.body);
            assert_eq!(r.data(), &Value::Null);
        }
    };
    bad(json!({ "first": 1, "last": 1 })).await;
    bad(json!({ "first": 101 })).await;
    bad(json!({ "first": -1 })).await;
    bad(json!({ "last": 1000 })).await;
    bad(json!({ "after": "garbage" })).await;
    bad(json!({ "after": "eyJvIjoiY2xpZW50cyJ9" })).await;
    // A cursor from another ordering is refused, not misread.
    let r = app.gql(&ada.token, LIST, json!({ "first": 1 })).await;
    let name_cursor = r.ok()["clients"]["pageInfo"]["endCursor"].clone();
    bad(json!({ "after": name_cursor, "o": { "field": "CREATED_AT", "direction": "ASC" } })).await;
    bad(json!({ "before": name_cursor, "o": { "field": "BUSINESS_NAME", "direction": "DESC" } })).await;
    // Zero is a valid, empty page.
    let r = app.gql(&ada.token, LIST, json!({ "first": 0 })).await;
    assert_eq!(r.ok()["clients"]["edges"], json!([]));
    assert_eq!(r.ok()["clients"]["pageInfo"]["hasNextPage"], true);
    // Default page size is 20, and 100 is allowed.
    assert_eq!(list(&app, &ada, json!({ "first": 100 })).await.len(), 3);
}

/// A page of clients with assignments, users and assigners costs the same
/// number of statements whatever its size.
async fn constant_statements_per_page(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let bo = app.member_of(&p, "bo").await;
    for i in 0..100 {
        let id = format!("client-{i:03}");
        app.provision(&ada, &id, &format!("Client {i:03}")).await;
        app.assign(&ada, &id, &[&ben, &bo], i % 2 == 0).await;
    }
    // Within the default complexity budget (1,000) at 100 clients.
    let q = "query($n: Int) { clients(first: $n) { totalCount nodes { clientId assignments { supportContact user { displayName } assignedBy { displayName } } } } }";
    let mut costs = Vec::new();
    for n in [1, 10, 100] {
        let before = app.statements().await;
        let r = app.gql(&ada.token, q, json!({ "n": n })).await;
        assert_eq!(r.ok()["clients"]["nodes"].as_array().unwrap().len(), n as usize);
        assert_eq!(r.ok()["clients"]["nodes"][0]["assignments"].as_array().unwrap().len(), 2);
        costs.push(app.statements().await - before);
    }
    assert_eq!(costs[0], costs[2], "statements for 1, 10, 100 clients: {costs:?}");
    assert_eq!(costs[1], costs[2], "statements for 1, 10, 100 clients: {costs:?}");
    // principal + page + count + assignments + users. On PostgreSQL the
    // request's tenant settings (row-level security, DESIGN §8) go in the
    // principal's statement, with its BEGIN (`TenantDb::authenticated`).
    assert!(costs[2] <= 5, "{costs:?}");
}

/// Response keys come in the order the query selected them.
async fn response_follows_selection_order(app: TestApp) {
    let w = world(&app).await;
    let q = "{ viewer { user { email } role permissions { canViewContactDetails canProvisionClients } partner { slug } } escalationBoundaries { description kind } }";
    for _ in 0..5 {
        let text = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&w.ada.token)
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let keys: Vec<&str> =
            text.split('"').skip(1).step_by(2).filter(|k| k.chars().all(|c| c.is_ascii_alphabetic())).collect();
        let head: Vec<&str> = keys.iter().copied().take(10).collect();
        assert_eq!(
            head,
            [
                "data",
                "viewer",
                "user",
                "email",
                "role",
                "permissions",
                "canViewContactDetails",
                "canProvisionClients",
                "partner",
                "slug"
            ],
            "{text}"
        );
        assert!(text.find("\"description\"").unwrap() < text.find("\"kind\"").unwrap());
    }
}

db_tests!(
    cached_counts_follow_changes,
    response_follows_selection_order,
    scope_matrix,
    masking_for_partner_users,
    search_rules,
    status_filter_and_counts,
    keyset_walks,
    page_argument_errors,
    constant_statements_per_page,
);
