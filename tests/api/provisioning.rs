//! provisionClient, escalation boundaries and the audit trail (issue 4).

use crate::db_tests;
use crate::helpers::{client_input, TestApp, UserFx};
use partner_clients::ops::admin;
use serde_json::{json, Value};

const PROVISION: &str = "mutation($i: ProvisionClientInput!) {
  provisionClient(input: $i) {
    created
    userErrors { field message code }
    client { id clientId businessName webDomain contactName businessEmail timezone status supportContactRequired createdAt updatedAt }
  }
}";

const AUDIT: &str = "query($c: String!) { client(clientId: $c) { auditEvents(first: 50) { totalCount nodes { action actor { email } subjectUser { email } occurredAt } } } }";

async fn provision(app: &TestApp, who: &UserFx, input: Value) -> Value {
    let r = app.gql(&who.token, PROVISION, json!({ "i": input })).await;
    r.ok()["provisionClient"].clone()
}

async fn audit_actions(app: &TestApp, who: &UserFx, client_id: &str) -> Vec<String> {
    let r = app.gql(&who.token, AUDIT, json!({ "c": client_id })).await;
    r.ok()["client"]["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn total_clients(app: &TestApp, who: &UserFx) -> i64 {
    app.gql(&who.token, "{ clients { totalCount } }", json!({})).await.ok()["clients"]["totalCount"].as_i64().unwrap()
}

async fn provisions_a_normalised_client(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let input = json!({
        "clientId": "buecher-haus",
        "businessName": "  Bücher Haus GmbH  ",
        "webDomain": "Bücher.de",
        "contactName": " Jürgen Weiß ",
        "businessEmail": "Juergen@Buecher.DE",
        "timezone": "Europe/Berlin",
    });
    let d = provision(&app, &ada, input.clone()).await;
    assert_eq!(d["created"], true);
    assert_eq!(d["userErrors"], json!([]));
    let c = &d["client"];
    assert_eq!(c["businessName"], "Bücher Haus GmbH");
    assert_eq!(c["webDomain"], "xn--bcher-kva.de");
    assert_eq!(c["contactName"], "Jürgen Weiß");
    assert_eq!(c["businessEmail"], "Juergen@buecher.de");
    assert_eq!(c["status"], "PROVISIONED");
    assert_eq!(c["supportContactRequired"], true);
    assert_eq!(c["createdAt"], c["updatedAt"]);

    // The same input again: the same client, created: false, no new event.
    let again = provision(&app, &ada, input.clone()).await;
    assert_eq!(again["created"], false);
    assert_eq!(again["client"]["id"], c["id"]);
    assert_eq!(again["userErrors"], json!([]));
    assert_eq!(audit_actions(&app, &ada, "buecher-haus").await, ["CLIENT_PROVISIONED"]);

    // Different input under the taken clientId: TAKEN, nothing written.
    let mut other = input.clone();
    other["businessName"] = json!("Another Business");
    let taken = provision(&app, &ada, other).await;
    assert_eq!(taken["created"], false);
    assert_eq!(taken["client"], Value::Null);
    assert_eq!(taken["userErrors"][0]["code"], "TAKEN");
    assert_eq!(taken["userErrors"][0]["field"], json!(["input", "clientId"]));
    assert_eq!(total_clients(&app, &ada).await, 1);
    assert_eq!(audit_actions(&app, &ada, "buecher-haus").await, ["CLIENT_PROVISIONED"]);

    // supportContactRequired: explicit false, and null meaning the default.
    let mut no_support = client_input("no-support", "No Support");
    no_support["supportContactRequired"] = json!(false);
    assert_eq!(provision(&app, &ada, no_support).await["client"]["supportContactRequired"], false);
    let mut null_support = client_input("null-support", "Null Support");
    null_support["supportContactRequired"] = Value::Null;
    assert_eq!(provision(&app, &ada, null_support).await["client"]["supportContactRequired"], true);
}

async fn validation_table(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "clientId",
            &["abc", "a-1", "0ab", "x23456789012345678901234567890123456789012345678901234567890123"],
            &[
                "",
                "ab",
                "-abc",
                "abc-",
                "ABC",
                "a_b",
                "a b",
                "ä-bc",
                "x2345678901234567890123456789012345678901234567890123456789012345",
            ],
        ),
        ("businessName", &["A", "Ünïcødé Café", "x"], &["", "   ", "tab\there", "nul\u{0}", "new\nline"]),
        ("contactName", &["Jo", "Zoë O'Brien"], &["", " ", "\u{7}bell"]),
        (
            "webDomain",
            &["example.com", "EXAMPLE.org", "sub.example.co.uk", "bücher.de", "example.com."],
            &[
                "",
                "https://example.com",
                "example.com/x",
                "example.com:443",
                "user@example.com",
                "localhost",
                "10.0.0.1",
                "[::1]",
                "exa mple.com",
                "-x.com",
                "a..b",
            ],
        ),
        (
            "businessEmail",
            &["a@example.com", "first.last+tag@sub.example.org"],
            &["", "plain", "@example.com", "a@", "a@localhost", "A <a@example.com>", "a@[10.0.0.1]", "a b@example.com"],
        ),
        (
            "timezone",
            &["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"],
            &["", "Mars/Base", "europe/berlin", "+02:00", "CEST"],
        ),
    ];
    let mut n = 0;
    for (field, good, bad) in cases {
        for value in *good {
            n += 1;
            let mut input = client_input(&format!("good-{n}"), "Good Co");
            input[*field] = json!(value);
            let d = provision(&app, &ada, input).await;
            assert_eq!(d["userErrors"], json!([]), "{field} = {value:?} should be accepted");
            assert_eq!(d["created"], true);
        }
        for value in *bad {
            n += 1;
            let mut input = client_input(&format!("bad-{n}"), "Bad Co");
            input[*field] = json!(value);
            let d = provision(&app, &ada, input).await;
            assert_eq!(d["created"], false, "{field} = {value:?}");
            assert_eq!(d["client"], Value::Null);
            let errs = d["userErrors"].as_array().unwrap();
            assert_eq!(errs.len(), 1, "{field} = {value:?}: {errs:?}");
            assert_eq!(errs[0]["field"], json!(["input", field]), "{field} = {value:?}");
            assert_eq!(errs[0]["code"], "INVALID");
            assert!(!errs[0]["message"].as_str().unwrap().is_empty());
        }
    }
    // 201 characters: too long; 200: fine.
    let mut long = client_input("long-name", "x");
    long["businessName"] = json!("é".repeat(201));
    assert_eq!(provision(&app, &ada, long.clone()).await["userErrors"][0]["field"], json!(["input", "businessName"]));
    long["businessName"] = json!("é".repeat(200));
    assert_eq!(provision(&app, &ada, long).await["created"], true);

    // Every problem at once, nothing written.
    let before = total_clients(&app, &ada).await;
    let d = provision(
        &app,
        &ada,
        json!({ "clientId": "X", "businessName": "", "webDomain": "http://x", "contactName": "\u{1}", "businessEmail": "nope", "timezone": "Nowhere" }),
    )
    .await;
    let fields: Vec<Value> = d["userErrors"].as_array().unwrap().iter().map(|e| e["field"][1].clone()).collect();
    assert_eq!(
        fields,
        json!(["clientId", "businessName", "webDomain", "contactName", "businessEmail", "timezone"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(total_clients(&app, &ada).await, before);
}

async fn client_ids_are_per_partner(app: TestApp) {
    let alpha = app.partner("alpha").await;
    let beta = app.partner("beta").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let cleo = app.admin_of(&beta, "cleo").await;
    let a = provision(&app, &ada, client_input("acme", "Alpha Acme")).await;
    // Beta's `acme`, with different data, is a new client: not TAKEN, and
    // nothing reveals alpha's.
    let b = provision(&app, &cleo, client_input("acme", "Beta Acme")).await;
    assert_eq!(a["created"], true);
    assert_eq!(b["created"], true);
    assert_ne!(a["client"]["id"], b["client"]["id"]);
    assert_eq!(b["client"]["businessName"], "Beta Acme");
}

async fn concurrent_identical_submits(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    for round in 0..5 {
        let id = format!("race-{round}");
        let sends = (0..6).map(|_| app.gql(&ada.token, PROVISION, json!({ "i": client_input(&id, "Race Co") })));
        let results = futures_util::future::join_all(sends).await;
        let mut created = 0;
        let mut ids = std::collections::HashSet::new();
        for r in &results {
            let d = r.ok();
            assert_eq!(d["provisionClient"]["userErrors"], json!([]), "{:#}", r.body);
            created += usize::from(d["provisionClient"]["created"] == true);
            ids.insert(d["provisionClient"]["client"]["id"].to_string());
        }
        assert_eq!(created, 1, "round {round}: exactly one request creates");
        assert_eq!(ids.len(), 1, "round {round}: every request sees the same client");
        assert_eq!(audit_actions(&app, &ada, &id).await, ["CLIENT_PROVISIONED"]);
    }
    // Racing different inputs under one id: one wins, the rest are TAKEN.
    let sends =
        (0..4).map(|i| app.gql(&ada.token, PROVISION, json!({ "i": client_input("contested", &format!("Name {i}")) })));
    let results = futures_util::future::join_all(sends).await;
    let codes: Vec<Value> =
        results.iter().map(|r| r.ok()["provisionClient"]["userErrors"][0]["code"].clone()).collect();
    assert_eq!(codes.iter().filter(|c| c.is_null()).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "TAKEN").count(), 3, "{codes:?}");
}

async fn forbidden_callers_write_nothing(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let r = app.gql(&ben.token, PROVISION, json!({ "i": client_input("acme", "Acme") })).await;
    assert_eq!(r.codes(), ["FORBIDDEN"]);
    assert_eq!(r.data(), &Value::Null);
    // Even invalid input from a partner user is FORBIDDEN, not INVALID.
    let r = app.gql(&ben.token, PROVISION, json!({ "i": client_input("X", "") })).await;
    assert_eq!(r.codes(), ["FORBIDDEN"]);
    assert_eq!(total_clients(&app, &ada).await, 0);
}

async fn audit_trail(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    partner_clients::ops::admin::set_client_status(&app.db, "alpha", "acme", "ONBOARDING").await.unwrap();
    // Setting the same status again is a no-op: no event.
    partner_clients::ops::admin::set_client_status(&app.db, "alpha", "acme", "ONBOARDING").await.unwrap();
    app.assign(&ada, "acme", &[&ben], true).await;
    let r = app.gql(&ada.token, AUDIT, json!({ "c": "acme" })).await;
    let events = r.ok()["client"]["auditEvents"].clone();
    assert_eq!(events["totalCount"], 3);
    let nodes = events["nodes"].as_array().unwrap();
    // Newest first.
    assert_eq!(nodes[0]["action"], "USER_ASSIGNED");
    assert_eq!(nodes[0]["actor"]["email"], ada.email);
    assert_eq!(nodes[0]["subjectUser"]["email"], ben.email);
    assert_eq!(nodes[1]["action"], "CLIENT_STATUS_CHANGED");
    assert_eq!(nodes[1]["actor"], Value::Null, "AiDial's own workflow has no partner actor");
    assert_eq!(nodes[2]["action"], "CLIENT_PROVISIONED");
    assert_eq!(nodes[2]["actor"]["email"], ada.email);

    // Paging newest first with cursors.
    let q = "query($a: String) { client(clientId: \"acme\") { auditEvents(first: 2, after: $a) { nodes { action } pageInfo { hasNextPage endCursor } } } }";
    let p1 = app.gql(&ada.token, q, json!({ "a": null })).await;
    let cursor = p1.ok()["client"]["auditEvents"]["pageInfo"]["endCursor"].clone();
    assert_eq!(p1.ok()["client"]["auditEvents"]["pageInfo"]["hasNextPage"], true);
    let p2 = app.gql(&ada.token, q, json!({ "a": cursor })).await;
    assert_eq!(p2.ok()["client"]["auditEvents"]["nodes"], json!([{ "action": "CLIENT_PROVISIONED" }]));

    // Audit events are nodes too, for administrators of the partner only.
    let r = app
        .gql(&ada.token, "{ client(clientId: \"acme\") { auditEvents(first: 1) { nodes { id } } } }", json!({}))
        .await;
    let id = r.ok()["client"]["auditEvents"]["nodes"][0]["id"].clone();
    let node = "query($id: ID!) { node(id: $id) { ... on AuditEvent { action } } }";
    assert_eq!(app.gql(&ada.token, node, json!({ "id": id })).await.ok()["node"]["action"], "USER_ASSIGNED");
    assert_eq!(app.gql(&ben.token, node, json!({ "id": id })).await.ok()["node"], Value::Null);
    let beta = app.partner("beta").await;
    let cleo = app.admin_of(&beta, "cleo").await;
    assert_eq!(app.gql(&cleo.token, node, json!({ "id": id })).await.ok()["node"], Value::Null);
}

async fn escalation_boundaries(app: TestApp) {
    let p = app.partner("alpha").await;
    let ben = app.member_of(&p, "ben").await;
    let r = app.gql(&ben.token, "{ escalationBoundaries { kind description } }", json!({})).await;
    let kinds: Vec<String> = r.ok()["escalationBoundaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap().to_owned())
        .collect();
    for k in [
        "CUSTOMER_USER_ACCOUNTS",
        "CALL_ROUTING",
        "PHONE_NUMBER_PROVISIONING",
        "BILLING_SETUP",
        "CALL_DATA_MIGRATION",
        "DATA_IMPORT",
        "RUNTIME_WIRING",
        "DNS",
        "PRODUCTION_CUTOVER",
        "CONTRACT_OR_LEGAL_ENTITY",
        "TENANT_DELETION_OR_RESTORATION",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing from {kinds:?}");
    }
}

/// DESIGN §7: free text refuses format characters, line and paragraph
/// separators and invisible values; businessEmail's domain is stored as punycode.
async fn invisible_text_and_idna_email(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let before = total_clients(&app, &ada).await;
    let cases = [
        ("businessName", "\u{200b}"),
        ("businessName", "\u{feff}Acme"),
        ("businessName", "Good\u{202e}evil"),
        ("businessName", "a\u{2028}b"),
        ("businessName", "\u{2800}\u{3164}"),
        ("contactName", "\u{200d}"),
        ("contactName", "Ann\u{2066}Lee"),
    ];
    for (n, (field, value)) in cases.into_iter().enumerate() {
        let mut input = client_input(&format!("hidden-{n}"), "Visible Co");
        input[field] = json!(value);
        let d = provision(&app, &ada, input).await;
        assert_eq!(d["created"], false, "{field} = {value:?}");
        assert_eq!(d["client"], Value::Null, "{field} = {value:?}");
        let errs = d["userErrors"].as_array().unwrap();
        assert_eq!(errs.len(), 1, "{field} = {value:?}: {errs:?}");
        assert_eq!(errs[0]["code"], "INVALID", "{field} = {value:?}");
        assert_eq!(errs[0]["field"], json!(["input", field]), "{field} = {value:?}");
    }
    assert_eq!(total_clients(&app, &ada).await, before, "a refused input created a client");

    let emails = [("jo@bücher.de", "jo@xn--bcher-kva.de"), ("jo@\u{430}pple.com", "jo@xn--pple-43d.com")];
    for (n, (typed, stored)) in emails.into_iter().enumerate() {
        let mut input = client_input(&format!("idna-{n}"), "Idna Co");
        input["businessEmail"] = json!(typed);
        let d = provision(&app, &ada, input).await;
        assert_eq!(d["userErrors"], json!([]), "{typed:?}");
        assert_eq!(d["client"]["businessEmail"], stored, "as stored (the row is read back)");
    }

    // The admin CLI's display names and e-mail addresses follow the same rules.
    let refused = admin::create_user(&app.db, Some(&p.slug), "eve@alpha.example", "\u{202e}Eve", "partner_user").await;
    assert!(refused.unwrap_err().to_string().contains("--name"));
    let u = admin::create_user(&app.db, Some(&p.slug), "Jo@Bücher.de", "Jo", "partner_user").await.unwrap();
    assert_eq!(u.email, "jo@xn--bcher-kva.de");
    assert_eq!(admin::user_by_email(&app.db, "jo@bücher.de").await.unwrap().id, u.id);
}

db_tests!(
    provisions_a_normalised_client,
    validation_table,
    client_ids_are_per_partner,
    concurrent_identical_submits,
    forbidden_callers_write_nothing,
    audit_trail,
    escalation_boundaries,
    invisible_text_and_idna_email,
);
