//! The PostgreSQL listener: one task per process, LISTENing on a connection
//! of its own.
//!
//! The connection is opened with the options of `serve`'s pool, so it runs
//! as the least-privilege role (DESIGN §8): LISTEN and NOTIFY need no
//! grant, and the payloads carry no row data. It sits in a pool of one
//! (not the request pool, where it would hold a connection forever), which
//! `PgListener` also reconnects through. A lost connection costs the
//! notifications sent meanwhile: the hub then broadcasts [`Signal::Gap`] so
//! that sockets close and pages re-query, and stops admitting new sockets
//! until it listens again.

use super::{Change, Inner, Signal, CHANNEL};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Longest pause between two attempts to reach the database.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Listen until the hub is gone (its app dropped) or the runtime ends.
pub(super) async fn listen(options: Arc<PgConnectOptions>, hub: Weak<Inner>, ready: watch::Sender<bool>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with((*options).clone());
    let mut backoff = Duration::from_millis(200);
    let mut listener: Option<PgListener> = None;
    let mut lost = false;
    loop {
        let Some(inner) = hub.upgrade() else { return };
        let l = match &mut listener {
            Some(l) => l,
            None => match connect(&pool).await {
                Ok(l) => {
                    tracing::info!(channel = CHANNEL, "live updates: listening");
                    backoff = Duration::from_millis(200);
                    listener.insert(l)
                }
                Err(error) => {
                    tracing::warn!(%error, retry_ms = backoff.as_millis() as u64, "live updates: cannot listen");
                    drop(inner);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        if lost {
            // Listening again: whatever was committed meanwhile is gone.
            let _ = inner.tx.send(Signal::Gap);
            lost = false;
        }
        ready.send_if_modified(|up| !std::mem::replace(up, true));
        drop(inner);
        match l.try_recv().await {
            Ok(Some(n)) => match Change::from_payload(n.payload()) {
                Some(change) => {
                    if let Some(inner) = hub.upgrade() {
                        let _ = inner.tx.send(Signal::Change(Arc::new(change)));
                    }
                }
                None => {
                    tracing::warn!(len = n.payload().len(), "live updates: a notification this version cannot read")
                }
            },
            // The connection dropped; PgListener has reconnected (and
            // listens again) or reports why not on the next call.
            Ok(None) => {
                tracing::warn!("live updates: the listener's connection dropped; notifications may have been lost");
                lost = true;
            }
            Err(error) => {
                tracing::warn!(%error, "live updates: the listener failed; reconnecting");
                ready.send_replace(false);
                listener = None;
                lost = true;
            }
        }
    }
}

async fn connect(pool: &sea_orm::sqlx::PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}
