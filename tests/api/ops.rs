//! Health, readiness, metrics and request ids.

use crate::db_tests;
use crate::helpers::TestApp;
use serde_json::json;

async fn health_metrics_and_request_ids(app: TestApp) {
    let get = |path: &'static str| app.http.get(app.url(path)).send();
    let r = get("/healthz").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(get("/readyz").await.unwrap().status().as_u16(), 200);

    // Every response carries a request id, refusals included; a caller's own is kept.
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let r = app.post_json(None, &json!({ "query": "{ viewer { role } }" })).await;
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("x-request-id"));
    let r = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&ada.token)
        .header("x-request-id", "trace-me-123")
        .json(&json!({ "query": "query Me { viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");

    app.gql(&ada.token, "query Me { viewer { role } }", json!({})).await.ok();
    app.gql(&ada.token, "query Missing { client(clientId: \"nosuch\") { id } }", json!({})).await;
    app.provision(&ada, "acme", "Acme").await;
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        "partner_clients_graphql_requests_total{operation=\"Me\",code=\"OK\"} 2",
        "partner_clients_graphql_requests_total{operation=\"Missing\",code=\"NOT_FOUND\"} 1",
        "partner_clients_graphql_requests_total{operation=\"-\",code=\"UNAUTHENTICATED\"} 1",
        "partner_clients_graphql_request_duration_seconds_count{operation=\"Me\"} 2",
        "partner_clients_clients_provisioned_total 1",
        "partner_clients_db_pool_connections_idle",
        "partner_clients_db_statements_total",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

db_tests!(health_metrics_and_request_ids);
