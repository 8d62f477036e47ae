//! Trusted documents (DESIGN §9): `documentId` instead of `query`, over POST
//! and GET; unknown ids; the three `TRUSTED_DOCUMENTS` modes for an
//! administrator and a partner user; a manifest document is still
//! authenticated, rate-limited and authorised; its metrics label is its
//! operation name.

use crate::db_tests;
use crate::helpers::{client_input, spawn_with, Gql, Options, TestApp};
use partner_clients::config::TrustedDocuments;
use serde_json::{json, Value};

/// The manifest id of the frontend operation `name` (docs/operations/).
fn id_of(name: &str) -> String {
    let manifest: serde_json::Map<String, Value> =
        serde_json::from_str(partner_clients::operations::EMBEDDED_MANIFEST).unwrap();
    let defines = |text: &str| {
        ["query", "mutation"]
            .iter()
            .any(|kw| text.contains(&format!("{kw} {name}(")) || text.contains(&format!("{kw} {name} ")))
    };
    let ids: Vec<&String> =
        manifest.iter().filter(|(_, text)| defines(text.as_str().unwrap())).map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 1, "{name}: {ids:?}");
    ids[0].clone()
}

const UNKNOWN: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

impl TestApp {
    async fn by_id(&self, token: Option<&str>, id: &str, variables: Value) -> Gql {
        self.post_json(token, &json!({ "documentId": id, "variables": variables })).await
    }

    async fn get_by_id(&self, token: &str, id: &str, variables: &Value) -> Gql {
        let vars = variables.to_string();
        let resp = self
            .http
            .get(self.url("/graphql"))
            .query(&[("documentId", id), ("variables", vars.as_str())])
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap();
        Gql { status, headers, body }
    }

    async fn metrics_text(&self) -> String {
        self.http.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap()
    }
}

/// A request error as DESIGN §7 and §9 have it: the status, one code, no `data`.
#[track_caller]
fn refused(r: &Gql, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:#}", r.body);
    assert_eq!(r.codes(), [code], "{:#}", r.body);
    assert!(r.body.get("data").is_none(), "a request error has no data entry: {:#}", r.body);
}

async fn manifest_ids_run_over_post_and_get(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&ben], false).await;

    let viewer = id_of("Viewer");
    assert_eq!(app.by_id(Some(&ada.token), &viewer, json!({})).await.ok()["viewer"]["role"], "PARTNER_ADMIN");
    assert_eq!(app.get_by_id(&ben.token, &viewer, &json!({})).await.ok()["viewer"]["role"], "PARTNER_USER");

    // Variables and operationName ride along, over GET too.
    let list = id_of("ClientsList");
    let vars = json!({ "first": 5, "filter": { "search": "acm" } });
    let r = app.get_by_id(&ben.token, &list, &vars).await;
    assert_eq!(r.ok()["clients"]["edges"][0]["node"]["clientId"], "acme");
    let r = app.post_json(Some(&ada.token), &json!({ "documentId": list, "operationName": "ClientsList" })).await;
    assert_eq!(r.ok()["clients"]["count"]["count"], 1);

    // A mutation by id: POST runs it; GET is refused like any mutation over GET.
    let provision = id_of("ProvisionClient");
    let r = app.by_id(Some(&ada.token), &provision, json!({ "input": client_input("beta", "Beta") })).await;
    assert_eq!(r.ok()["provisionClient"]["created"], true);
    let r = app.get_by_id(&ada.token, &provision, &json!({ "input": client_input("gamma", "Gamma") })).await;
    refused(&r, 405, "BAD_USER_INPUT");
    let r = app.gql(&ada.token, "{ client(clientId: \"gamma\") { id } }", json!({})).await;
    assert_eq!(r.codes(), ["NOT_FOUND"], "nothing was provisioned over GET: {:#}", r.body);
}

async fn unknown_ids_and_ambiguous_requests_are_refused(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    for id in [UNKNOWN, "sha256:not-hex", "", "Viewer"] {
        refused(&app.by_id(Some(&ada.token), id, json!({})).await, 400, "PERSISTED_DOCUMENT_NOT_FOUND");
    }
    refused(&app.get_by_id(&ada.token, UNKNOWN, &json!({})).await, 400, "PERSISTED_DOCUMENT_NOT_FOUND");
    // Also 400 with the GraphQL-over-HTTP media type.
    let resp = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&ada.token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "documentId": UNKNOWN }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Who asks is decided first: without a token, 401 whatever the id.
    refused(&app.by_id(None, UNKNOWN, json!({})).await, 401, "UNAUTHENTICATED");

    // Both `query` and `documentId`: which would run? Neither.
    let both = json!({ "query": "query Viewer { viewer { role } }", "documentId": id_of("Viewer") });
    refused(&app.post_json(Some(&ada.token), &both).await, 400, "BAD_USER_INPUT");
    // Neither, or an id that is not a string.
    refused(&app.post_json(Some(&ada.token), &json!({ "variables": {} })).await, 400, "BAD_USER_INPUT");
    refused(&app.post_json(Some(&ada.token), &json!({ "documentId": 7 })).await, 400, "BAD_USER_INPUT");

    let metrics = app.metrics_text().await;
    let line = "partner_clients_graphql_requests_total{operation=\"other\",code=\"PERSISTED_DOCUMENT_NOT_FOUND\"} 6";
    assert!(metrics.contains(line), "{metrics}");
}

async fn each_mode_for_administrators_and_partner_users(app: TestApp) {
    use TrustedDocuments::*;
    let free_form = json!({ "query": "query Viewer { viewer { role } }" });
    let by_id = json!({ "documentId": id_of("Viewer") });
    // (mode, admin may send free-form, partner user may send free-form)
    for (mode, admin_free, user_free) in [(Accept, true, true), (RequireForUsers, true, false), (Require, false, false)]
    {
        let opts = Options { trusted_documents: mode, ..Options::default() };
        let app = spawn_with(app.backend, opts).await.unwrap();
        let p = app.partner("alpha").await;
        let ada = app.admin_of(&p, "ada").await;
        let ben = app.member_of(&p, "ben").await;
        for (who, allowed, role) in [(&ada, admin_free, "PARTNER_ADMIN"), (&ben, user_free, "PARTNER_USER")] {
            // By id: always.
            assert_eq!(app.post_json(Some(&who.token), &by_id).await.ok()["viewer"]["role"], role, "{mode:?}");
            let r = app.post_json(Some(&who.token), &free_form).await;
            if allowed {
                assert_eq!(r.ok()["viewer"]["role"], role, "{mode:?}");
            } else {
                refused(&r, 400, "PERSISTED_DOCUMENT_REQUIRED");
            }
        }
        // GraphiQL's introspection is free-form text too.
        let r = app.post_json(Some(&ada.token), &json!({ "query": "{ __schema { queryType { name } } }" })).await;
        if admin_free {
            assert_eq!(r.ok()["__schema"]["queryType"]["name"], "Query");
        } else {
            refused(&r, 400, "PERSISTED_DOCUMENT_REQUIRED");
        }
        // Refusals are counted like other request errors.
        let refusals = [admin_free, user_free].iter().filter(|a| !**a).count() + usize::from(!admin_free);
        let metrics = app.metrics_text().await;
        let line =
            format!("partner_clients_graphql_requests_total{{operation=\"other\",code=\"PERSISTED_DOCUMENT_REQUIRED\"}} {refusals}");
        assert!(metrics.contains(&line), "{mode:?}: {line}\n{metrics}");
    }
}

async fn manifest_documents_are_still_authenticated_limited_and_authorised(app: TestApp) {
    let mut opts = Options { trusted_documents: TrustedDocuments::Require, ..Options::default() };
    opts.limits.requests_per_minute = 4;
    opts.limits.mutations_per_minute = 1;
    let app = spawn_with(app.backend, opts).await.unwrap();
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let ben = app.member_of(&p, "ben").await;
    let (viewer, provision) = (id_of("Viewer"), id_of("ProvisionClient"));

    refused(&app.by_id(None, &viewer, json!({})).await, 401, "UNAUTHENTICATED");
    refused(&app.by_id(Some("not-a-token"), &viewer, json!({})).await, 401, "UNAUTHENTICATED");

    // The policy still decides: a partner user may not provision.
    let r = app.by_id(Some(&ben.token), &provision, json!({ "input": client_input("acme", "Acme") })).await;
    assert_eq!(r.codes(), ["FORBIDDEN"], "{:#}", r.body);
    // The mutation limit, then the request limit, count manifest documents.
    let r = app.by_id(Some(&ada.token), &provision, json!({ "input": client_input("acme", "Acme") })).await;
    assert_eq!(r.ok()["provisionClient"]["created"], true);
    let r = app.by_id(Some(&ada.token), &provision, json!({ "input": client_input("beta", "Beta") })).await;
    refused(&r, 429, "RATE_LIMITED");
    app.by_id(Some(&ada.token), &viewer, json!({})).await.ok();
    app.by_id(Some(&ada.token), &viewer, json!({})).await.ok();
    refused(&app.by_id(Some(&ada.token), &viewer, json!({})).await, 429, "RATE_LIMITED");
}

async fn the_metrics_label_is_the_manifests_operation_name(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let series =
        |op: &str, n: u32| format!("partner_clients_graphql_requests_total{{operation=\"{op}\",code=\"OK\"}} {n}");
    // Every operation of the manifest has its series from start-up.
    let before = app.metrics_text().await;
    for name in partner_clients::operations::Manifest::embedded().names() {
        assert!(before.contains(&series(name, 0)), "{name}: {before}");
    }
    app.by_id(Some(&ada.token), &id_of("Viewer"), json!({})).await.ok();
    app.get_by_id(&ada.token, &id_of("EscalationBoundaries"), &json!({})).await.ok();
    // Free-form text named like a manifest operation counts under that name;
    // any other name is `other`.
    app.gql(&ada.token, "query Viewer { viewer { role } }", json!({})).await.ok();
    app.gql(&ada.token, "query Mine { viewer { role } }", json!({})).await.ok();
    let after = app.metrics_text().await;
    for line in [series("Viewer", 2), series("EscalationBoundaries", 1), series("other", 1)] {
        assert!(after.contains(&line), "{line}\n{after}");
    }
    assert!(!after.contains("Mine"), "{after}");
}

db_tests!(
    manifest_ids_run_over_post_and_get,
    unknown_ids_and_ambiguous_requests_are_refused,
    each_mode_for_administrators_and_partner_users,
    manifest_documents_are_still_authenticated_limited_and_authorised,
    the_metrics_label_is_the_manifests_operation_name,
);
