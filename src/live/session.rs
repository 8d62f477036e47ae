//! One socket's side of live updates: what its subscriptions read (the
//! principal as last re-authenticated, the database, the hub) and how they
//! ask the socket to close.

use super::Hub;
use crate::metrics::Metrics;
use crate::policy::Principal;
use sea_orm::DatabaseConnection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// A WebSocket close: code and reason (graphql-transport-ws' codes where
/// it defines one, RFC 6455's otherwise).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

impl Close {
    /// No valid token (at `connection_init`, at a re-check, or a subscribe
    /// before the connection was acknowledged).
    pub const UNAUTHORIZED: Close = Close { code: 4401, reason: "Unauthorized" };
    /// An account this surface refuses, or one deactivated since.
    pub const FORBIDDEN: Close = Close { code: 4403, reason: "Forbidden" };
    /// No `connection_init` in time.
    pub const INIT_TIMEOUT: Close = Close { code: 4408, reason: "Connection initialisation timeout" };
    /// Too many sockets for the principal, or too many attempts without a
    /// valid token from the address.
    pub const TOO_MANY: Close = Close { code: 4429, reason: "Too many connections or requests" };
    /// The server is shutting down: reconnect (to another replica).
    pub const GOING_AWAY: Close = Close { code: 1001, reason: "Server shutting down: reconnect and re-query" };
    /// Events may have been missed, or could not be checked: reconnect and
    /// re-query (retryable in graphql-ws clients).
    pub const TRY_AGAIN: Close = Close { code: 1013, reason: "Events may have been missed: reconnect and re-query" };
    /// The peer stopped answering pings.
    pub const GONE_QUIET: Close = Close { code: 1001, reason: "No answer to pings" };
}

/// A socket's session, shared by its subscriptions (async-graphql session data).
pub struct Session {
    pub db: DatabaseConnection,
    /// Where the subscriptions' reads count their statements.
    pub metrics: Arc<Metrics>,
    pub hub: Hub,
    principal: watch::Receiver<Principal>,
    close: watch::Sender<Option<Close>>,
    /// Subscriptions running on the socket.
    subscriptions: AtomicUsize,
}

impl Session {
    pub fn new(
        db: DatabaseConnection,
        metrics: Arc<Metrics>,
        hub: Hub,
        principal: watch::Receiver<Principal>,
        close: watch::Sender<Option<Close>>,
    ) -> Self {
        Session { db, metrics, hub, principal, close, subscriptions: AtomicUsize::new(0) }
    }

    /// The principal as of the socket's last authentication.
    pub fn principal(&self) -> Principal {
        self.principal.borrow().clone()
    }

    /// Ask the socket to close (the first request wins).
    pub fn close(&self, close: Close) {
        self.close.send_if_modified(|slot| slot.is_none() && slot.replace(close).is_none());
    }

    /// Count one more subscription, unless `max` already run.
    pub fn try_subscribe(&self, max: usize) -> bool {
        self.subscriptions.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    pub fn unsubscribed(&self) {
        self.subscriptions.fetch_sub(1, Ordering::AcqRel);
    }
}
