//! The PostgreSQL listener: one task per process, LISTENing on a connection
//! of its own.
//!
//! The connection is opened with the options of `serve`'s pool, or, with
//! `LISTEN_DATABASE_URL`, with that URL's ([`ListenOptions`]: a
//! transaction-mode pooler in front of the request pool cannot carry a
//! LISTEN, which needs a session). Either way it runs as the
//! least-privilege role (DESIGN §8): LISTEN and NOTIFY need no grant, and
//! the payloads carry no row data. It sits in a pool of one
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

/// Where the listener connects when not where the pool does
/// (`LISTEN_DATABASE_URL`): that URL's server, database, user and TLS
/// settings, as the pool's role. Its `Debug` shows no password.
#[derive(Clone)]
pub struct ListenOptions(PgConnectOptions);

impl ListenOptions {
    /// `url` (a `postgres://` URL), its sessions run as `role` (a startup
    /// parameter, like the pool's: `db::connect_as_app`).
    pub fn new(url: &str, role: &str) -> Result<Self, String> {
        if !url.starts_with("postgres") {
            return Err("LISTEN_DATABASE_URL must be a postgres:// URL".to_owned());
        }
        let options: PgConnectOptions =
            url.parse().map_err(|e| format!("LISTEN_DATABASE_URL is not a usable PostgreSQL URL: {e}"))?;
        Ok(ListenOptions(options.options([("role", role)])))
    }

    pub(super) fn into_inner(self) -> PgConnectOptions {
        self.0
    }
}

impl std::fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.0;
        f.debug_struct("ListenOptions")
            .field("host", &o.get_host())
            .field("port", &o.get_port())
            .field("database", &o.get_database())
            .field("user", &o.get_username())
            .finish()
    }
}

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
                    let (host, port) = (options.get_host(), options.get_port());
                    tracing::info!(channel = CHANNEL, host, port, "live updates: listening");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_options_keep_the_role_and_print_no_password() {
        let o =
            ListenOptions::new("postgres://app:hunter2@pg-direct:6432/clients?sslmode=disable", "app_role").unwrap();
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("pg-direct") && shown.contains("6432"), "{shown}");
        let inner = o.into_inner();
        assert_eq!(inner.get_options(), Some("-c role=app_role"), "the pool's role, as a startup parameter");
        assert_eq!((inner.get_database(), inner.get_username()), (Some("clients"), "app"));
        assert!(ListenOptions::new("sqlite://x.db", "app_role").is_err());
        assert!(ListenOptions::new("postgres://[::1", "app_role").is_err());
    }

    #[test]
    fn listen_database_url_is_for_postgresql_and_optional() {
        let mut args = crate::config::DbArgs::for_url("postgres://app@pg/clients");
        assert!(crate::db::listen_options(&args).unwrap().is_none(), "default: where the pool connects");
        args.listen_database_url = Some("postgres://app@pg-direct/clients".into());
        let o = crate::db::listen_options(&args).unwrap().unwrap().into_inner();
        assert_eq!(o.get_options(), Some("-c role=partner_clients_app"));
        args.database_url = "sqlite://x.db?mode=rwc".into();
        assert!(crate::db::listen_options(&args).is_err(), "SQLite has no listener");
    }
}
