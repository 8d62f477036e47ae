//! Subscriptions over a WebSocket on `/graphql` (DESIGN §10), with
//! async-graphql-axum's `GraphQLProtocol` and `GraphQLWebSocket`:
//! subprotocols `graphql-transport-ws` and, for older clients, `graphql-ws`.
//! A GET without `Upgrade: websocket` is the ordinary GET transport
//! (GraphiQL, queries).
//!
//! A socket lives like this:
//! - `connection_init` within `LIMIT_WS_INIT_SECS` (5 s), else close 4408;
//!   its payload's `{"Authorization": "Bearer …"}` is checked exactly like
//!   the HTTP header: no valid token, close 4401 (and, like HTTP, counted
//!   against the address's anonymous rate limit: 4429 once over it); a
//!   refused account, 4403; more than `LIMIT_WS_SOCKETS_PER_PRINCIPAL` (5)
//!   sockets of one principal, 4429 (counted across replicas with Redis:
//!   `sockets`). A read-only token may subscribe.
//! - Each `subscribe` counts against the principal's request rate limit,
//!   goes through the same document limits as POST (`pipeline`), must be a
//!   subscription (queries and mutations go over HTTP), and at most
//!   `LIMIT_WS_SUBSCRIPTIONS_PER_SOCKET` (10) run at once (`executor`).
//! - Every `WS_RECHECK_SECS` (30 s) the token and account are checked
//!   again: expired or deactivated, close 4401 / 4403. Subscriptions see
//!   the principal as last checked.
//! - A WebSocket ping every `WS_KEEPALIVE_SECS` (15 s) when idle; a peer
//!   silent for three of them is dropped. The same tick renews the socket's
//!   shared lease (with Redis).
//! - Draining (SIGTERM): closed within a second, 1001, so that clients
//!   reconnect elsewhere and re-query. Events possibly missed: 1013.

mod executor;
mod sockets;

use super::rate::ClientAddr;
use super::rate_redis::Shared;
use super::{transport, AppState};
use crate::config::Limits;
use crate::error::AppError;
use crate::live::{Close, Hub, ListenOptions, Session};
use crate::metrics::Metrics;
use crate::policy::Principal;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use sea_orm::DatabaseConnection;
use sockets::{SocketSlot, Sockets};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::Instrument;

/// The process's live-update state: the hub and the open sockets per principal.
pub struct Live {
    hub: Hub,
    sockets: Sockets,
}

impl Live {
    /// Start the hub (PostgreSQL: its listener task, on `listen` when set).
    /// `shared`: the rate limits' Redis, which counts sockets too.
    pub fn start(
        db: &DatabaseConnection,
        listen: Option<ListenOptions>,
        shared: Option<Arc<Shared>>,
        limits: &Limits,
    ) -> Self {
        let keepalive = Duration::from_secs(limits.ws_keepalive_secs.max(1));
        Live { hub: Hub::start(db, listen), sockets: Sockets::new(shared, keepalive) }
    }
}

/// `GET /graphql`: a WebSocket upgrade, or the GET transport.
pub async fn graphql_get(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    if !wants_websocket(req.headers()) {
        return Handler::call(transport::graphql_get, req, state).await;
    }
    let (mut parts, _) = req.into_parts();
    let Ok(client) = ClientAddr::from_request_parts(&mut parts, &state).await;
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(p) => p,
        Err(status) => {
            let msg = "name the subprotocol: Sec-WebSocket-Protocol: graphql-transport-ws\n";
            return (status, msg).into_response();
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let max = state.limits.body_bytes;
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).max_message_size(max).max_frame_size(max).on_upgrade(move |ws| {
        let span = tracing::info_span!("socket", principal = tracing::field::Empty);
        serve(state, ws, protocol, client).instrument(span)
    })
}

fn wants_websocket(headers: &HeaderMap) -> bool {
    let upgrade = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    upgrade.is_some_and(|u| u.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")))
}

/// Where a socket's `connection_init` stands (`Checking`: it arrived, so no
/// 4408; `Closed`: the socket is done and its place given back).
enum Init {
    Waiting,
    Checking,
    Accepted { authorization: String, principal: watch::Sender<Principal>, slot: SocketSlot },
    Refused(Close),
    Closed,
}

/// One socket, shared by its protocol handler and its control loop.
struct Socket {
    state: Arc<AppState>,
    client: ClientAddr,
    sink: tokio::sync::Mutex<SplitSink<WebSocket, Message>>,
    init: Mutex<Init>,
    /// When the peer last sent anything (pongs included).
    heard: Mutex<Instant>,
    /// A close frame went out: send nothing more.
    closed: std::sync::atomic::AtomicBool,
    close: watch::Sender<Option<Close>>,
}

impl Socket {
    fn init(&self) -> std::sync::MutexGuard<'_, Init> {
        self.init.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn heard(&self) {
        *self.heard.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn quiet_for(&self) -> Duration {
        self.heard.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }

    /// The protocol handler's message, with its close codes made ours:
    /// a refused `connection_init` closes with the refusal's code (the
    /// handler says 1002), a subscribe before the acknowledgement with 4401
    /// (it says 1011), an unreadable message with 4400 (it says 1002).
    fn outgoing(&self, msg: Message) -> Message {
        let Message::Close(Some(frame)) = msg else { return msg };
        let close = match (&*self.init(), frame.code) {
            (Init::Refused(close), 1002) => *close,
            (_, 1011) => Close::UNAUTHORIZED,
            (_, 1002) => Close { code: 4400, reason: "Invalid message" },
            _ => return Message::Close(Some(frame)),
        };
        frame_of(close)
    }

    async fn send(&self, msg: Message) -> Result<(), axum::Error> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let msg = self.outgoing(msg);
        if matches!(msg, Message::Close(_)) {
            self.closed.store(true, Ordering::Relaxed);
        }
        self.sink.lock().await.send(msg).await
    }

    /// Close the socket (at most a second's wait for a stuck peer).
    async fn close_with(&self, close: Close) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.send(frame_of(close))).await;
    }

    /// Check the token and account again; `Some` closes the socket.
    async fn recheck(&self) -> Option<Close> {
        let authorization = match &*self.init() {
            Init::Accepted { authorization, .. } => authorization.clone(),
            _ => return None,
        };
        let state = &self.state;
        match state.auth.authenticate(&state.db, Some(&authorization)).await {
            Ok(p) => {
                if let Init::Accepted { principal, .. } = &*self.init() {
                    principal.send_replace(p);
                }
                None
            }
            Err(AppError::Unauthenticated) => Some(Close::UNAUTHORIZED),
            Err(AppError::Forbidden(_)) => Some(Close::FORBIDDEN),
            Err(e) => {
                // The database is out of reach: keep the socket (its events
                // cannot be checked either, and close it if one comes).
                tracing::warn!(error = %e.chain(), "socket: the principal could not be checked again");
                None
            }
        }
    }
}

fn frame_of(close: Close) -> Message {
    Message::Close(Some(CloseFrame { code: close.code, reason: close.reason.into() }))
}

async fn serve(state: Arc<AppState>, ws: WebSocket, protocol: GraphQLProtocol, client: ClientAddr) {
    let _open = OpenSocket::new(state.metrics.clone());
    let (sink, stream) = ws.split();
    let (close, close_rx) = watch::channel(None);
    let socket = Arc::new(Socket {
        state: state.clone(),
        client,
        sink: tokio::sync::Mutex::new(sink),
        init: Mutex::new(Init::Waiting),
        heard: Mutex::new(Instant::now()),
        closed: Default::default(),
        close,
    });
    let inbound = stream
        .inspect({
            let socket = socket.clone();
            move |_| socket.heard()
        })
        .map(|msg| match msg {
            Ok(Message::Text(text)) => match executor::move_document_id(text.as_str()) {
                Some(moved) => Ok(Message::Text(moved.into())),
                None => Ok(Message::Text(text)),
            },
            other => other,
        });
    let outbound = futures_util::sink::unfold(socket.clone(), |socket, msg: Message| async move {
        socket.send(msg).await.map(|()| socket)
    });
    let on_init = {
        let socket = socket.clone();
        move |payload| connection_init(socket, payload)
    };
    let graphql = GraphQLWebSocket::new_with_pair(outbound, inbound, executor::Subscriptions(state), protocol)
        .on_connection_init(on_init)
        .serve();
    let close = tokio::select! {
        // The peer left, or the handler closed (a refused init on the old
        // `graphql-ws` protocol ends with a message, not a close frame).
        () = graphql => match &*socket.init() {
            Init::Refused(close) => Some(*close),
            _ => None,
        },
        close = control(&socket, close_rx) => Some(close),
    };
    if let Some(close) = close {
        tracing::info!(code = close.code, reason = close.reason, "socket closed");
        socket.close_with(close).await;
    }
    // Before `_open` counts the socket closed, so that a closed socket's
    // place is free on every replica once the gauge says so.
    let init = std::mem::replace(&mut *socket.init(), Init::Closed);
    if let Init::Accepted { slot, .. } = init {
        slot.release().await;
    }
}

/// Counts an open socket in the `ws_sockets_open` gauge.
struct OpenSocket(Arc<Metrics>);

impl OpenSocket {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.ws_sockets.inc();
        OpenSocket(metrics)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.ws_sockets.dec();
    }
}

/// Timers and requests to close: returns why the socket must close.
async fn control(socket: &Socket, mut close_rx: watch::Receiver<Option<Close>>) -> Close {
    let limits = &socket.state.limits;
    let opened = Instant::now();
    let init_within = Duration::from_secs(limits.ws_init_secs);
    let keepalive = Duration::from_secs(limits.ws_keepalive_secs.max(1));
    let recheck_every = Duration::from_secs(limits.ws_recheck_secs.max(1));
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ping = tokio::time::interval_at(start + keepalive, keepalive);
    let mut recheck = tokio::time::interval_at(start + recheck_every, recheck_every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if socket.state.draining.load(Ordering::Relaxed) {
                    return Close::GOING_AWAY;
                }
                if matches!(*socket.init(), Init::Waiting) && opened.elapsed() >= init_within {
                    return Close::INIT_TIMEOUT;
                }
                if socket.quiet_for() > keepalive * 3 {
                    return Close::GONE_QUIET;
                }
            }
            _ = ping.tick() => {
                if socket.quiet_for() >= keepalive {
                    let _ = socket.send(Message::Ping(Bytes::new())).await;
                }
                let lease = match &*socket.init() {
                    Init::Accepted { slot, .. } => slot.lease(),
                    _ => None,
                };
                if let Some(lease) = lease {
                    lease.renew().await;
                }
            }
            _ = recheck.tick() => {
                if let Some(close) = socket.recheck().await {
                    return close;
                }
            }
            changed = close_rx.changed() => {
                if let Some(close) = *close_rx.borrow_and_update() {
                    return close;
                }
                if changed.is_err() {
                    // Unreachable while the socket holds the sender; never spin.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// `connection_init`: the session its subscriptions share, or the close
/// that refuses it (recorded for [`Socket::outgoing`]).
async fn connection_init(socket: Arc<Socket>, payload: serde_json::Value) -> async_graphql::Result<Data> {
    *socket.init() = Init::Checking;
    match admit(&socket, &payload).await {
        Ok(data) => Ok(data),
        Err(close) => {
            tracing::info!(code = close.code, reason = close.reason, "socket refused");
            *socket.init() = Init::Refused(close);
            Err(async_graphql::Error::new(close.reason))
        }
    }
}

async fn admit(socket: &Socket, payload: &serde_json::Value) -> Result<Data, Close> {
    let state = &socket.state;
    let authorization = authorization(payload);
    let principal = match state.auth.authenticate(&state.db, authorization).await {
        Ok(p) => p,
        Err(AppError::Unauthenticated) => {
            if state.rate.check_anonymous(socket.client.0).await.is_err() {
                Metrics::count(&state.metrics.rate_limited, "anonymous", 1);
                return Err(Close::TOO_MANY);
            }
            return Err(Close::UNAUTHORIZED);
        }
        Err(AppError::Forbidden(_)) => return Err(Close::FORBIDDEN),
        Err(e) => {
            tracing::warn!(error = %e.chain(), "socket: cannot authenticate");
            return Err(Close::TRY_AGAIN);
        }
    };
    tracing::Span::current().record("principal", tracing::field::display(principal.user_id));
    let max = state.limits.ws_sockets_per_principal;
    let slot = state.live.sockets.acquire(principal.user_id, max).await.ok_or(Close::TOO_MANY)?;
    // Acknowledge only once changes committed from now on will arrive.
    if !state.live.hub.ready(Duration::from_secs(state.limits.ws_init_secs)).await {
        return Err(Close::TRY_AGAIN);
    }
    let (principal_tx, principal_rx) = watch::channel(principal);
    let session = Session::new(
        state.db.clone(),
        state.metrics.clone(),
        state.live.hub.clone(),
        principal_rx,
        socket.close.clone(),
    );
    *socket.init() =
        Init::Accepted { authorization: authorization.unwrap_or_default().to_owned(), principal: principal_tx, slot };
    let mut data = Data::default();
    data.insert(Arc::new(session));
    Ok(data)
}

/// The payload's `Authorization` value (any case of the key), as the HTTP
/// header would carry it.
fn authorization(payload: &serde_json::Value) -> Option<&str> {
    let object = payload.as_object()?;
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).and_then(|(_, v)| v.as_str())
}
