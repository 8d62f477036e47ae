//! Connecting to SQLite or PostgreSQL, and starting transactions.
//!
//! SQLite runs in WAL mode with several pooled connections (sea-orm's default
//! of one connection would make every request wait behind any open
//! transaction) and a busy timeout; write transactions begin IMMEDIATE, so a
//! racing writer waits for the lock at BEGIN instead of failing later with
//! "database is locked". On PostgreSQL, writers lock the rows they check
//! (`SELECT ... FOR UPDATE`) inside READ COMMITTED transactions.
//!
//! Two kinds of pool (DESIGN §8). [`connect`] keeps the rights of the
//! `DATABASE_URL` user, the tables' owner: `migrate`, `admin`, `seed-bench`
//! and demo seeding. [`connect_as_app`] is `serve`'s: on PostgreSQL every
//! connection runs as the least-privilege role (`DB_APP_ROLE`, default
//! `partner_clients_app`) under forced row-level security, and sees tenant
//! rows only inside a [`begin_tenant`] transaction.

use crate::config::DbArgs;
use crate::domain::Role;
use crate::live::ListenOptions;
use crate::metrics::Metrics;
use crate::policy::{PartnerRole, Principal};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;

/// A pool with the owner's rights (the `DATABASE_URL` user's own).
pub async fn connect(args: &DbArgs, metrics: Option<Arc<Metrics>>) -> Result<DatabaseConnection, DbErr> {
    let mut startup = Vec::new();
    if let Some(role) = args.db_app_role.as_ref().filter(|_| is_postgres(args)) {
        // `migrate` reads the role to create from here: a `--db-app-role`
        // flag never reaches the environment variable the migration reads.
        startup.push((migration::APP_ROLE_SETTING, checked_role(role)?));
    }
    let db = pool(args, startup).await?;
    Ok(with_metrics(db, metrics))
}

/// `serve`'s pool. On PostgreSQL every connection is opened with the startup
/// parameter `role` = [`app_role`] (a `SET ROLE` before the first query, and
/// what `RESET ROLE` returns to), and is refused unless that role is what the
/// session runs as and it cannot bypass row-level security. SQLite: the same
/// as [`connect`] (it has no roles; the application's scopes are its wall).
pub async fn connect_as_app(args: &DbArgs, metrics: Option<Arc<Metrics>>) -> Result<DatabaseConnection, DbErr> {
    if !is_postgres(args) {
        return connect(args, metrics).await;
    }
    let role = app_role(args)?;
    let db = pool(args, vec![("role", role.clone())]).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS name, rolsuper OR rolbypassrls AS bypass \
             FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the session's role is not in pg_roles".into()))?;
    let (name, bypass): (String, bool) = (row.try_get("", "name")?, row.try_get("", "bypass")?);
    if name != role || bypass {
        return Err(DbErr::Custom(format!(
            "serve must run as {role}, a role held to row-level security; the session runs as {name} (bypasses: {bypass})"
        )));
    }
    Ok(with_metrics(db, metrics))
}

/// Where `serve`'s live-update listener connects when `LISTEN_DATABASE_URL`
/// is set (`None`: where the pool does), as the same role as the pool.
pub fn listen_options(args: &DbArgs) -> Result<Option<ListenOptions>, DbErr> {
    let Some(url) = &args.listen_database_url else { return Ok(None) };
    if !is_postgres(args) {
        return Err(DbErr::Custom("LISTEN_DATABASE_URL needs a PostgreSQL DATABASE_URL".into()));
    }
    ListenOptions::new(url, &app_role(args)?).map(Some).map_err(DbErr::Custom)
}

fn is_postgres(args: &DbArgs) -> bool {
    args.database_url.starts_with("postgres")
}

/// The role `serve` runs as: `DB_APP_ROLE`, else `partner_clients_app`.
pub fn app_role(args: &DbArgs) -> Result<String, DbErr> {
    checked_role(args.db_app_role.as_deref().unwrap_or(migration::DEFAULT_APP_ROLE))
}

fn checked_role(role: &str) -> Result<String, DbErr> {
    if migration::valid_role_name(role) {
        Ok(role.to_owned())
    } else {
        Err(DbErr::Custom(format!("DB_APP_ROLE {role:?} is not a plain role name (lower-case letters, digits, _)")))
    }
}

/// SQLite's memory map (`PRAGMA mmap_size`): 256 MiB, more than the
/// demo's and a 100,000-client database's size.
const SQLITE_MMAP_BYTES: u64 = 256 << 20;

/// The pool; `startup` are PostgreSQL run-time parameters every connection
/// is opened with.
async fn pool(args: &DbArgs, startup: Vec<(&'static str, String)>) -> Result<DatabaseConnection, DbErr> {
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
                // Reads through a memory map instead of copying each page
                // into every connection's own 2 MiB page cache: a search that
                // looks up a few thousand rows by rowid (the FTS5 index's
                // matches) halved its time with it. The mapped pages are the
                // OS page cache's, shared by the pool's connections; they show
                // in RSS as file-backed memory, up to the database's size.
                .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
        });
    if !startup.is_empty() {
        // Appended to the `statement_timeout` sea-orm already put there.
        opts.map_sqlx_postgres_opts(move |o| o.options(startup.iter().map(|(k, v)| (*k, v.as_str()))));
    }
    Database::connect(opts).await
}

fn with_metrics(mut db: DatabaseConnection, metrics: Option<Arc<Metrics>>) -> DatabaseConnection {
    if let Some(metrics) = metrics {
        db.set_metric_callback(move |info| {
            metrics.db_statements.inc();
            metrics.db_statement_seconds.observe(info.elapsed.as_secs_f64());
            tracing::trace!(target: "partner_clients::sql", elapsed_us = info.elapsed.as_micros() as u64, failed = info.failed, "{}", info.statement.sql);
        });
    }
    db
}

/// Begin a transaction for one request of `principal` (`write`: one that
/// will write; see [`begin_write`]). On PostgreSQL its first statement sets
/// `app.partner_id`, `app.user_id` and `app.role`, the settings the
/// row-level security policies read, transaction-locally: they end with the
/// transaction however it ends (commit, rollback, an error, a dropped
/// future), so a pooled connection never carries one request's tenant into
/// another's.
pub async fn begin_tenant(
    db: &DatabaseConnection,
    principal: &Principal,
    write: bool,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = if write { begin_write(db).await? } else { db.begin().await? };
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.partner_id', $1, true), set_config('app.user_id', $2, true), \
             set_config('app.role', $3, true)",
            [
                principal.partner_id.to_string().into(),
                principal.user_id.to_string().into(),
                role_setting(principal).into(),
            ],
        ))
        .await?;
    }
    Ok(txn)
}

/// The principal's `app.role` setting, which the policies read.
pub fn role_setting(principal: &Principal) -> &'static str {
    match principal.role {
        PartnerRole::PartnerAdmin => Role::PartnerAdmin,
        PartnerRole::PartnerUser => Role::PartnerUser,
    }
    .as_str()
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
