//! Live updates (DESIGN §10): every committed change to a client, announced
//! to the subscribers of every replica.
//!
//! **Publishing.** `service::audit::record` turns each audit event into a
//! [`Change`] and hands it to [`announce`] on the change's own transaction.
//! On PostgreSQL that queues `pg_notify('partner_clients_events', …)`:
//! PostgreSQL delivers a notification only if its transaction commits, to
//! every session LISTENing on the database (every replica), with the
//! notifications of different transactions in commit order. A rolled-back
//! change sends nothing. On SQLite there is no such channel: [`commit`]
//! commits, then hands the changes to an in-process channel, under a lock
//! so that the channel sees them in commit order, and nothing at all when
//! the commit fails. Services call [`commit`] instead of `txn.commit()`.
//!
//! **Receiving.** Each process has one [`Hub`]: on PostgreSQL a task
//! listening on a connection of its own (`pg`), on SQLite the in-process
//! channel. It fans changes out to subscriptions through a tokio broadcast
//! channel. What a subscriber sees of a change is decided per subscriber,
//! when it is sent (`graphql::subscription`).
//!
//! **At most once.** A change announced while the listener is reconnecting,
//! or to a subscription too slow to keep up, is lost; the hub then says so
//! ([`Signal::Gap`]), and the sockets that may have missed something close
//! so that their pages reconnect and re-query.
//!
//! The payload carries ids, the action and the time, never client text: the
//! clientId (an identifier of `a-z`, `0-9` and `-`) is the one exception,
//! because a viewer who just lost sight of a client must still learn which
//! one left (it can no longer read the row).

mod pg;
mod session;

pub use pg::ListenOptions;
pub use session::{Close, Session};

use crate::domain::AuditAction;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// The PostgreSQL notification channel every replica listens on.
pub const CHANNEL: &str = "partner_clients_events";

/// Changes a hub buffers for its slowest subscription before that one
/// misses some (and its socket is closed: [`Signal::Gap`]).
const CAPACITY: usize = 1024;

/// One committed change to a client: its audit event, in a few ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub event_id: Uuid,
    pub partner_id: Uuid,
    pub client_uuid: Uuid,
    pub client_id: String,
    pub action: AuditAction,
    pub actor_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

/// A [`Change`] on the wire (the NOTIFY payload): at most a few hundred
/// bytes, far below PostgreSQL's 8000.
#[derive(Serialize, Deserialize)]
struct Wire {
    event: Uuid,
    partner: Uuid,
    client: Uuid,
    #[serde(rename = "clientId")]
    client_id: String,
    action: String,
    actor: Option<Uuid>,
    subject: Option<Uuid>,
    at: DateTime<Utc>,
}

impl Change {
    pub fn to_payload(&self) -> String {
        let wire = Wire {
            event: self.event_id,
            partner: self.partner_id,
            client: self.client_uuid,
            client_id: self.client_id.clone(),
            action: self.action.as_str().to_owned(),
            actor: self.actor_id,
            subject: self.subject_user_id,
            at: self.occurred_at,
        };
        // Ids, a string and a time: serializing cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// `None` for a payload this version does not understand.
    pub fn from_payload(payload: &str) -> Option<Change> {
        let w: Wire = serde_json::from_str(payload).ok()?;
        Some(Change {
            event_id: w.event,
            partner_id: w.partner,
            client_uuid: w.client,
            client_id: w.client_id,
            action: w.action.parse().ok()?,
            actor_id: w.actor,
            subject_user_id: w.subject,
            occurred_at: w.at,
        })
    }
}

/// What a hub broadcasts.
#[derive(Clone, Debug)]
pub enum Signal {
    Change(Arc<Change>),
    /// Changes may have been lost (the listener's connection dropped).
    Gap,
}

/// Queue a change's announcement on the transaction that makes it. On
/// PostgreSQL the notification leaves with the commit, or never; on SQLite
/// nothing happens here ([`commit`] announces).
pub async fn announce(txn: &impl ConnectionTrait, change: &Change) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), change.to_payload().into()],
        ))
        .await?;
    }
    Ok(())
}

/// Commit a transaction that recorded `changes`. SQLite: then send them to
/// this process's subscribers, holding a lock from before the commit to
/// after the send, so that the channel sees commits in their order.
pub async fn commit(txn: DatabaseTransaction, changes: Vec<Change>) -> Result<(), DbErr> {
    if changes.is_empty() || txn.get_database_backend() != DbBackend::Sqlite {
        return txn.commit().await;
    }
    static ORDER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _order = ORDER.lock().await;
    txn.commit().await?;
    for change in changes {
        // No receiver (no subscriber in this process) is not an error.
        let _ = local().send(Signal::Change(Arc::new(change)));
    }
    Ok(())
}

/// SQLite's channel: one per process. Several SQLite databases in one
/// process (tests) share it; subscribers filter by partner id first, and
/// partner ids are unique UUIDs.
fn local() -> &'static broadcast::Sender<Signal> {
    static LOCAL: OnceLock<broadcast::Sender<Signal>> = OnceLock::new();
    LOCAL.get_or_init(|| broadcast::channel(CAPACITY).0)
}

/// The process's source of changes.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    tx: broadcast::Sender<Signal>,
    /// True while changes committed from now on will arrive (PostgreSQL:
    /// while the listener is listening).
    ready: watch::Receiver<bool>,
}

impl Hub {
    /// PostgreSQL: start the listener task (inside a tokio runtime; outside
    /// one the hub never becomes ready), connecting with `listen` when set,
    /// else as the pool of `db` does. SQLite: the in-process channel.
    pub fn start(db: &DatabaseConnection, listen: Option<ListenOptions>) -> Hub {
        if db.get_database_backend() != DbBackend::Postgres {
            let (_, ready) = watch::channel(true);
            return Hub(Arc::new(Inner { tx: local().clone(), ready }));
        }
        let (tx, _) = broadcast::channel(CAPACITY);
        let (ready_tx, ready) = watch::channel(false);
        let inner = Arc::new(Inner { tx, ready });
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let options = match listen {
                    Some(listen) => Arc::new(listen.into_inner()),
                    None => db.get_postgres_connection_pool().connect_options(),
                };
                rt.spawn(pg::listen(options, Arc::downgrade(&inner), ready_tx));
            }
            Err(_) => tracing::error!("live updates: no tokio runtime to run the listener in"),
        }
        Hub(inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.0.tx.subscribe()
    }

    /// Wait (at most `within`) until changes committed from now on will
    /// arrive; false when they would not.
    pub async fn ready(&self, within: Duration) -> bool {
        let mut ready = self.0.ready.clone();
        let up = tokio::time::timeout(within, ready.wait_for(|up| *up)).await;
        matches!(up, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_survives_its_payload_which_carries_no_client_text() {
        let change = Change {
            event_id: Uuid::now_v7(),
            partner_id: Uuid::now_v7(),
            client_uuid: Uuid::now_v7(),
            client_id: "a-long-client-id-of-sixty-four-characters-0123456789-abcdefghijk".into(),
            action: AuditAction::UserUnassigned,
            actor_id: Some(Uuid::now_v7()),
            subject_user_id: None,
            occurred_at: crate::service::now(),
        };
        let payload = change.to_payload();
        assert_eq!(Change::from_payload(&payload), Some(change));
        assert!(payload.len() < 400, "{} bytes: {payload}", payload.len());
        assert_eq!(Change::from_payload(r#"{"event":"x"}"#), None);
        let unknown = payload.replace("USER_UNASSIGNED", "CLIENT_DELETED");
        assert_eq!(Change::from_payload(&unknown), None);
    }
}
