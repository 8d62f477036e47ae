//! A small graphql-transport-ws client over tokio-tungstenite, what a
//! browser's graphql-ws would send.

use crate::helpers::TestApp;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should arrive (well within a
/// second in practice).
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How long a test listens for something that must not arrive.
pub const QUIET: Duration = Duration::from_millis(700);

pub struct Ws {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

/// What the server sent.
#[derive(Debug)]
pub enum Got {
    Msg(Value),
    Closed(u16, String),
}

impl Ws {
    /// Open a socket to `/graphql` with a subprotocol.
    pub async fn open_with(addr: SocketAddr, protocol: &str) -> Ws {
        let mut req = format!("ws://{addr}/graphql").into_client_request().unwrap();
        req.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (ws, resp) = tokio_tungstenite::connect_async(req).await.expect("websocket handshake");
        assert_eq!(resp.headers()["sec-websocket-protocol"], protocol);
        Ws { ws }
    }

    pub async fn open(addr: SocketAddr) -> Ws {
        Ws::open_with(addr, "graphql-transport-ws").await
    }

    /// Open, send `connection_init` with a bearer token and expect the ack.
    pub async fn connect(addr: SocketAddr, token: &str) -> Ws {
        let mut ws = Ws::open(addr).await;
        ws.init(json!({ "Authorization": format!("Bearer {token}") })).await;
        match ws.next(PATIENCE).await {
            Some(Got::Msg(m)) if m["type"] == "connection_ack" => ws,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::Text(v.to_string().into())).await.unwrap();
    }

    pub async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload })).await;
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message or close, answering protocol pings;
    /// `None` when nothing came within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Got> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Got::Closed(1006, "no close frame".into())),
                Ok(Some(Err(e))) => return Some(Got::Closed(1006, e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(Got::Msg(v));
                }
                Message::Close(frame) => {
                    return Some(match frame {
                        Some(f) => Got::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Got::Closed(1005, String::new()),
                    })
                }
                _ => continue,
            }
        }
    }

    /// The next `next` payload of subscription `id`.
    pub async fn event(&mut self, id: &str) -> Value {
        match self.next(PATIENCE).await {
            Some(Got::Msg(m)) if m["type"] == "next" && m["id"] == id => m["payload"].clone(),
            other => panic!("expected an event for {id}, got {other:?}"),
        }
    }

    /// The `clientEvents` of subscription `id`'s next event, without errors.
    pub async fn client_event(&mut self, id: &str) -> Value {
        let payload = self.event(id).await;
        assert!(payload.get("errors").is_none(), "{payload:#}");
        payload["data"]["clientEvents"].clone()
    }

    /// Nothing at all arrives for a while.
    pub async fn silent(&mut self) {
        if let Some(got) = self.next(QUIET).await {
            panic!("expected nothing, got {got:?}");
        }
    }

    /// The server closes the socket; its code and reason.
    pub async fn closed(&mut self, within: Duration) -> (u16, String) {
        loop {
            match self.next(within).await {
                Some(Got::Closed(code, reason)) => return (code, reason),
                Some(Got::Msg(_)) => continue,
                None => panic!("the socket stayed open"),
            }
        }
    }
}

/// Wait until `n` subscriptions run on `app` (a subscription is live once
/// its resolver has subscribed to the hub).
pub async fn until_subscribed(app: &TestApp, n: i64) {
    until(|| app.state.metrics.ws_subscriptions.get() == n, "subscriptions").await;
}

pub async fn until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The selection the tests subscribe with.
pub const EVENTS: &str = "subscription Events($c: String) { clientEvents(clientId: $c) { action clientId \
    occurredAt actor { email } subjectUser { email } client { clientId status contactName businessEmail \
    assignments { user { email } } } } }";
