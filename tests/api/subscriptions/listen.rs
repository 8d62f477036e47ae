//! `LISTEN_DATABASE_URL` (issue 16 item 5): the live-update listener
//! connects where it says, and only the listener does. PostgreSQL only
//! (SQLite has no listener).
//!
//! The replica's LISTEN URL reaches the same server through a TCP proxy the
//! test can take down, while its pool connects directly: what stops when
//! the proxy is down is what goes through it.

use super::client::{until, until_subscribed, Ws, EVENTS, PATIENCE};
use super::transport::replica;
use crate::helpers::{client_input, spawn_with, via_port, Backend, Options, TcpProxy, TestApp, UserFx};
use partner_clients::config::{DbArgs, Limits};
use partner_clients::http::AppConfig;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How a socket is refused while its replica cannot listen.
const CANNOT_LISTEN: (u16, &str) = (1013, "Events may have been missed: reconnect and re-query");

/// A replica of `app` whose listener connects to `listen_url`; sockets get
/// one second to be acknowledged.
async fn replica_listening_at(
    app: &TestApp,
    listen_url: String,
) -> (SocketAddr, std::sync::Arc<partner_clients::http::AppState>) {
    let mut args = DbArgs::for_url(app.db_url.clone());
    args.listen_database_url = Some(listen_url);
    let listen = partner_clients::db::listen_options(&args).unwrap();
    assert!(listen.is_some());
    let limits = Limits { ws_init_secs: 1, ..Options::default().limits };
    replica(app, AppConfig { limits, listen, ..AppConfig::default() }).await
}

/// The `host:port` of a PostgreSQL URL (5432 when it names none).
fn server_of(url: &str) -> &'static str {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let addr = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    Box::leak(addr.into_boxed_str())
}

async fn post(addr: SocketAddr, who: &UserFx, query: &str, variables: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&who.token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

const PROVISION: &str = "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }";

/// `connection_init` on a new socket: `None` when acknowledged (the socket
/// is dropped), else the close.
async fn try_socket(addr: SocketAddr, who: &UserFx) -> Option<(u16, String)> {
    let mut ws = Ws::open(addr).await;
    ws.init(json!({ "Authorization": format!("Bearer {}", who.token) })).await;
    match ws.next(PATIENCE).await {
        Some(super::client::Got::Msg(m)) if m["type"] == "connection_ack" => None,
        Some(super::client::Got::Closed(code, reason)) => Some((code, reason)),
        other => panic!("expected an ack or a close, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_connects_to_listen_database_url() {
    let Some(app) = spawn_with(Backend::Postgres, Options::default()).await else { return };
    let proxy = TcpProxy::start(server_of(&app.db_url)).await;
    let (other, other_state) = replica_listening_at(&app, via_port(&app.db_url, proxy.port)).await;
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;

    // Through the LISTEN URL, the replica hears the other's changes.
    let mut here = Ws::connect(app.addr, &ada.token).await;
    let mut there = Ws::connect(other, &ada.token).await;
    here.subscribe("here", EVENTS, json!({})).await;
    there.subscribe("there", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;
    until(|| other_state.metrics.ws_subscriptions.get() == 1, "the replica's subscription").await;
    app.provision(&ada, "acme", "Acme").await;
    assert_eq!(there.client_event("there").await["clientId"], "acme");
    assert_eq!(here.client_event("here").await["clientId"], "acme");

    // The LISTEN route down: the replica's queries and writes go on (its
    // pool does not use that route), and what it writes still reaches the
    // other replica; but it stops acknowledging sockets, as a replica does
    // whose listener is down.
    proxy.set_up(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    let refusal = loop {
        if let Some(close) = try_socket(other, &ada).await {
            break close;
        }
        assert!(Instant::now() < deadline, "the replica still acknowledges sockets");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((refusal.0, refusal.1.as_str()), CANNOT_LISTEN);
    let r = post(other, &ada, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r["data"]["clients"]["totalCount"], 1, "{r:#}");
    let r = post(other, &ada, PROVISION, json!({ "i": client_input("bravo", "Bravo") })).await;
    assert_eq!(r["data"]["provisionClient"]["created"], true, "{r:#}");
    assert_eq!(here.client_event("here").await["clientId"], "bravo");

    // Back: the replica listens again, closes the socket that missed
    // "bravo" (so that its page re-queries), and admits new ones.
    proxy.set_up(true);
    assert_eq!(there.closed(Duration::from_secs(20)).await.0, CANNOT_LISTEN.0);
    let mut again = Ws::connect(other, &ada.token).await;
    again.subscribe("again", EVENTS, json!({})).await;
    until(|| other_state.metrics.ws_subscriptions.get() == 1, "the replica's new subscription").await;
    app.provision(&ada, "charlie", "Charlie").await;
    assert_eq!(again.client_event("again").await["clientId"], "charlie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_listen_database_url_leaves_queries_alone() {
    let Some(app) = spawn_with(Backend::Postgres, Options::default()).await else { return };
    // Nothing listens on port 1.
    let (other, _) = replica_listening_at(&app, via_port(&app.db_url, 1)).await;
    let p = app.partner("alpha").await;
    let ada = app.admin_of(&p, "ada").await;
    let mut here = Ws::connect(app.addr, &ada.token).await;
    here.subscribe("here", EVENTS, json!({})).await;
    until_subscribed(&app, 1).await;

    let ready = reqwest::get(format!("http://{other}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "readiness is the database's, not the listener's");
    let r = post(other, &ada, PROVISION, json!({ "i": client_input("acme", "Acme") })).await;
    assert_eq!(r["data"]["provisionClient"]["created"], true, "{r:#}");
    let r = post(other, &ada, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(r["data"]["clients"]["totalCount"], 1, "{r:#}");
    // Its changes are announced through its pool: the other replica hears them.
    assert_eq!(here.client_event("here").await["clientId"], "acme");
    // Its own sockets are refused: it could not tell them of any change.
    let refusal = try_socket(other, &ada).await.expect("refused");
    assert_eq!((refusal.0, refusal.1.as_str()), CANNOT_LISTEN);
}
