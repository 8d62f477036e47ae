//! The WebSocket transport's rules: connection_init like HTTP auth, close
//! codes, limits, timers, draining; and two replicas on one PostgreSQL.

use super::client::{until, until_subscribed, Got, Ws, EVENTS, PATIENCE};
use crate::db_tests;
use crate::helpers::{spawn_with, Backend, Options, TestApp};
use partner_clients::auth::Authenticator;
use partner_clients::config::{DbArgs, Limits, TrustedDocuments};
use partner_clients::http::{app as service, AppConfig, AppState};
use partner_clients::metrics::Metrics;
use partner_clients::ops::admin;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

db_tests!(connection_init_is_checked_like_http, subscribe_runs_the_http_checks_and_limits);

/// A test on SQLite and, when configured, PostgreSQL, with `opts`.
macro_rules! with_options {
    ($name:ident, $opts:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = super::spawn_with(super::Backend::Sqlite, $opts).await.unwrap();
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = super::spawn_with(super::Backend::Postgres, $opts).await {
                    super::$name(app).await
                }
            }
        }
    };
}

with_options!(timers_close_sockets, super::short_timers());
with_options!(a_subscribe_counts_against_the_rate_limit, super::few_requests());
with_options!(subscriptions_follow_trusted_documents, super::trusted_only());

fn short_timers() -> Options {
    let o = Options::default();
    Options { limits: Limits { ws_init_secs: 1, ws_recheck_secs: 1, ..o.limits.clone() }, ..o }
}

fn few_requests() -> Options {
    let o = Options::default();
    Options { limits: Limits { requests_per_minute: 2, ..o.limits.clone() }, ..o }
}

fn trusted_only() -> Options {
    Options { trusted_documents: TrustedDocuments::RequireForUsers, ..Options::default() }
}

/// DESIGN §9 on the socket: a `documentId` from the manifest in the
/// subscribe payload; free-form text refused where ids are required (here:
/// for partner users; administrators may still send text).
async fn subscriptions_follow_trusted_documents(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let bo = app.member_of(&p, "bo").await;
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(partner_clients::operations::EMBEDDED_MANIFEST).unwrap();
    let id = manifest
        .iter()
        .find(|(_, text)| text.as_str().is_some_and(|t| t.contains("subscription ClientEvents")))
        .map(|(id, _)| id.clone())
        .expect("ClientEvents is in the manifest");
    let mut ws = Ws::connect(app.addr, &bo.token).await;
    ws.subscribe("text", EVENTS, json!({})).await;
    assert_eq!(refused(&mut ws, "text").await, "PERSISTED_DOCUMENT_REQUIRED");
    let unknown = format!("sha256:{}", "0".repeat(64));
    ws.send(json!({ "id": "unknown", "type": "subscribe", "payload": { "documentId": unknown } })).await;
    assert_eq!(refused(&mut ws, "unknown").await, "PERSISTED_DOCUMENT_NOT_FOUND");
    ws.send(json!({ "id": "page", "type": "subscribe", "payload": { "documentId": id, "variables": {} } })).await;
    until_subscribed(&app, 1).await;
    app.provision(&ada, "acme", "Acme").await;
    app.assign(&ada, "acme", &[&bo], false).await;
    let e = ws.client_event("page").await;
    assert_eq!((e["action"].as_str(), e["client"]["clientId"].as_str()), (Some("USER_ASSIGNED"), Some("acme")));
    let mut admin_ws = Ws::connect(app.addr, &ada.token).await;
    admin_ws.subscribe("text", EVENTS, json!({})).await;
    until_subscribed(&app, 2).await;
}

async fn connection_init_is_checked_like_http(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let staff = app.user(None, "sam", "aidial_staff").await;
    let customer = app.user(Some(&p), "cat", "customer_admin").await;
    for (payload, code) in [
        (json!({}), 4401),
        (json!({ "Authorization": "Bearer not-a-token" }), 4401),
        (json!({ "Authorization": ada.token.clone() }), 4401),
        (json!("Bearer"), 4401),
        (json!({ "Authorization": format!("Bearer {}", staff.token) }), 4403),
        (json!({ "authorization": format!("Bearer {}", customer.token) }), 4403),
    ] {
        let mut ws = Ws::open(app.addr).await;
        ws.init(payload.clone()).await;
        assert_eq!(ws.closed(PATIENCE).await.0, code, "{payload}");
    }
    // A subscribe before the acknowledgement.
    let mut ws = Ws::open(app.addr).await;
    ws.subscribe("early", EVENTS, json!({})).await;
    assert_eq!(ws.closed(PATIENCE).await.0, 4401);
    // The older `graphql-ws` subprotocol: a message, then the close.
    let mut ws = Ws::open_with(app.addr, "graphql-ws").await;
    ws.init(json!({})).await;
    assert!(matches!(ws.next(PATIENCE).await, Some(Got::Msg(m)) if m["type"] == "connection_error"));
    assert_eq!(ws.closed(PATIENCE).await.0, 4401);
    let mut ws = Ws::open_with(app.addr, "graphql-ws").await;
    ws.init(json!({ "Authorization": format!("Bearer {}", ada.token) })).await;
    assert!(matches!(ws.next(PATIENCE).await, Some(Got::Msg(m)) if m["type"] == "connection_ack"));

    // A read-only token may subscribe.
    let mut ws = Ws::connect(app.addr, &app.read_only_token_for(ada.id)).await;
    ws.subscribe("ro", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;
    app.provision(&ada, "acme", "Acme").await;
    assert_eq!(ws.client_event("ro").await["action"], "CLIENT_PROVISIONED");

    // Five sockets per principal (the read-only one and the graphql-ws one are two).
    let mut open = vec![];
    for _ in 0..3 {
        open.push(Ws::connect(app.addr, &ada.token).await);
    }
    let mut sixth = Ws::open(app.addr).await;
    sixth.init(json!({ "Authorization": format!("Bearer {}", ada.token) })).await;
    assert_eq!(sixth.closed(PATIENCE).await.0, 4429);
    drop(open);
    until(|| app.state.metrics.ws_sockets.get() == 2, "sockets to close").await;
    Ws::connect(app.addr, &ada.token).await;

    // GET without an upgrade is still the GET transport.
    let r = app.http.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert!(r.text().await.unwrap().contains("GraphiQL"));
    let r = app.http.get(app.url("/graphql?query={viewer{role}}")).bearer_auth(&ada.token).send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["data"]["viewer"]["role"], "PARTNER_ADMIN");
}

/// The refusal a subscribe got (its error code), and the completion after it.
async fn refused(ws: &mut Ws, id: &str) -> String {
    let payload = ws.event(id).await;
    assert_eq!(payload["data"], json!(null), "{payload:#}");
    match ws.next(PATIENCE).await {
        Some(Got::Msg(m)) if m["type"] == "complete" && m["id"] == id => {}
        other => panic!("expected complete, got {other:?}"),
    }
    payload["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned()
}

async fn subscribe_runs_the_http_checks_and_limits(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let mut ws = Ws::connect(app.addr, &ada.token).await;
    ws.subscribe("q", "query { viewer { role } }", json!({})).await;
    assert_eq!(refused(&mut ws, "q").await, "BAD_USER_INPUT");
    ws.subscribe("m", "mutation { __typename }", json!({})).await;
    assert_eq!(refused(&mut ws, "m").await, "BAD_USER_INPUT");
    let aliases: String = (0..31).map(|i| format!("a{i}: clientEvents {{ action }} ")).collect();
    ws.subscribe("aliases", &format!("subscription {{ {aliases} }}"), json!({})).await;
    assert_eq!(refused(&mut ws, "aliases").await, "GRAPHQL_VALIDATION_FAILED");
    ws.subscribe("parse", "subscription {", json!({})).await;
    assert_eq!(refused(&mut ws, "parse").await, "GRAPHQL_PARSE_FAILED");

    // Ten subscriptions per socket; completing one makes room.
    for i in 0..10 {
        ws.subscribe(&i.to_string(), EVENTS, json!({})).await;
    }
    until_subscribed(&app, 10).await;
    ws.subscribe("eleventh", EVENTS, json!({})).await;
    assert_eq!(refused(&mut ws, "eleventh").await, "BAD_USER_INPUT");
    ws.send(json!({ "id": "0", "type": "complete" })).await;
    until_subscribed(&app, 9).await;
    ws.subscribe("again", EVENTS, json!({})).await;
    until_subscribed(&app, 10).await;
}

async fn a_subscribe_counts_against_the_rate_limit(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let mut ws = Ws::connect(app.addr, &ada.token).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    ws.subscribe("2", EVENTS, json!({})).await;
    until_subscribed(&app, 2).await;
    ws.subscribe("3", EVENTS, json!({})).await;
    assert_eq!(refused(&mut ws, "3").await, "RATE_LIMITED");
}

async fn timers_close_sockets(app: TestApp) {
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let bo = app.member_of(&p, "bo").await;
    // No connection_init in time.
    let mut ws = Ws::open(app.addr).await;
    assert_eq!(ws.closed(PATIENCE).await.0, 4408);
    // A deactivated account's sockets close at the next check.
    let mut bo_ws = Ws::connect(app.addr, &bo.token).await;
    bo_ws.subscribe("all", EVENTS, json!({})).await;
    admin::deactivate_user(&app.db, &bo.email).await.unwrap();
    assert_eq!(bo_ws.closed(PATIENCE).await.0, 4403);
    // Draining closes the rest so that clients reconnect elsewhere.
    let mut ws = Ws::connect(app.addr, &ada.token).await;
    app.state.draining.store(true, Ordering::Relaxed);
    assert_eq!(ws.closed(PATIENCE).await, (1001, "Server shutting down: reconnect and re-query".to_owned()));
    until(|| app.state.metrics.ws_sockets.get() == 0, "sockets to close").await;
    assert_eq!(app.state.metrics.ws_subscriptions.get(), 0);
}

/// A second `serve` on `app`'s database: its own pool (as the
/// least-privilege role, like `serve`), hub and listener.
pub(super) async fn replica(app: &TestApp, config: AppConfig) -> (std::net::SocketAddr, Arc<AppState>) {
    let metrics = Arc::new(Metrics::new());
    let db =
        partner_clients::db::connect_as_app(&DbArgs::for_url(app.db_url.clone()), Some(metrics.clone())).await.unwrap();
    let auth = Authenticator::from_args(&Options::default().jwt, false).unwrap();
    let state = AppState::new(db, auth, metrics, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = state.clone();
    tokio::spawn(async move { axum::serve(listener, service(served)).await.unwrap() });
    (addr, state)
}

/// Replicas share PostgreSQL's LISTEN/NOTIFY (on SQLite, live updates stay
/// in their process: README, "Live updates").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_deliver_each_others_events() {
    let Some(app) = spawn_with(Backend::Postgres, Options::default()).await else { return };
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let config = AppConfig { limits: Options::default().limits, ..AppConfig::default() };
    let (other, other_state) = replica(&app, config).await;
    let mut here = Ws::connect(app.addr, &ada.token).await;
    let mut there = Ws::connect(other, &ada.token).await;
    here.subscribe("here", EVENTS, json!({})).await;
    there.subscribe("there", EVENTS, json!({ "c": null })).await;
    until_subscribed(&app, 1).await;
    until(|| other_state.metrics.ws_subscriptions.get() == 1, "the replica's subscription").await;
    app.provision(&ada, "acme", "Acme").await;
    let started = std::time::Instant::now();
    let e = there.client_event("there").await;
    assert_eq!((e["action"].as_str(), e["clientId"].as_str()), (Some("CLIENT_PROVISIONED"), Some("acme")));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(here.client_event("here").await["clientId"], "acme");

    // And the other way: a change through the replica reaches this one.
    let r = reqwest::Client::new()
        .post(format!("http://{other}/graphql"))
        .bearer_auth(&ada.token)
        .json(&json!({ "query": "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }",
                       "variables": { "i": crate::helpers::client_input("bravo", "Bravo") } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["data"]["provisionClient"]["created"], true);
    assert_eq!(here.client_event("here").await["clientId"], "bravo");
    assert_eq!(there.client_event("there").await["clientId"], "bravo");
    // The ops CLI's change (another process's connection) reaches both.
    admin::set_client_status(&app.db, &p.slug, "bravo", "ACTIVE").await.unwrap();
    assert_eq!(here.client_event("here").await["action"], "CLIENT_STATUS_CHANGED");
    assert_eq!(there.client_event("there").await["action"], "CLIENT_STATUS_CHANGED");
}
