//! Connecting to SQLite or PostgreSQL, and starting write transactions.
//!
//! SQLite runs in WAL mode with several pooled connections (sea-orm's default
//! of one connection would make every request wait behind any open
//! transaction) and a busy timeout; write transactions begin IMMEDIATE, so a
//! racing writer waits for the lock at BEGIN instead of failing later with
//! "database is locked". On PostgreSQL, writers lock the rows they check
//! (`SELECT ... FOR UPDATE`) inside READ COMMITTED transactions.

use crate::config::DbArgs;
use crate::metrics::Metrics;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;

pub async fn connect(args: &DbArgs, metrics: Option<Arc<Metrics>>) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(args.database_url.clone());
    opts.max_connections(args.db_max_connections.max(1))
        .min_connections(0)
        .connect_timeout(Duration::from_secs(args.db_acquire_timeout_secs))
        .acquire_timeout(Duration::from_secs(args.db_acquire_timeout_secs))
        // Ping only connections that sat idle, so that a busy pool pays no
        // round trip and a pool that outlived a database restart heals.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        .statement_timeout(Duration::from_secs(args.db_statement_timeout_secs))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let mut db = Database::connect(opts).await?;
    if let Some(metrics) = metrics {
        db.set_metric_callback(move |info| {
            metrics.db_statements.inc();
            metrics.db_statement_seconds.observe(info.elapsed.as_secs_f64());
            tracing::trace!(target: "partner_clients::sql", elapsed_us = info.elapsed.as_micros() as u64, failed = info.failed, "{}", info.statement.sql);
        });
    }
    Ok(db)
}

/// Begin a transaction that will write. On SQLite it takes the write lock at
/// BEGIN; on PostgreSQL it is an ordinary READ COMMITTED transaction whose
/// invariants are protected by row locks taken by the service.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut options = TransactionOptions::default();
    if db.get_database_backend() == DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
    }
    db.begin_with_options(options).await
}

/// Pool gauges for `/metrics`.
pub fn pool_stats(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        DbBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => (0, 0),
    }
}
