//! PostgreSQL: a request's read transaction, begun together with its tenant
//! settings in one round trip.
//!
//! sea-orm sends `BEGIN` on a round trip of its own, and the settings
//! statement then takes another: two round trips before a request's first
//! query (issue 13's cost: the client panel ran at 0.87 of its wall-less
//! rate). Here one simple-protocol message carries both:
//! `BEGIN; SELECT set_config('app.partner_id', …, true), …`. What is spliced
//! into it is a UUID's canonical text and a role's fixed name, never text a
//! client sent.
//!
//! The connection leaves the pool for the request. [`ReadTxn::finish`] rolls
//! the transaction back and returns the connection; if the rollback fails, or
//! the value is dropped without it (a panic), the connection is detached and
//! closed instead: no connection goes back to the pool inside a transaction
//! that carries a tenant's settings. Statements are counted in the same
//! metrics as the pool's own (`db::with_metrics`).

use crate::metrics::Metrics;
use crate::policy::Principal;
use sea_orm::sqlx::{self, pool::PoolConnection, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

pub struct ReadTxn {
    /// `None` once finished.
    conn: Mutex<Option<PoolConnection<Postgres>>>,
    metrics: Option<Arc<Metrics>>,
}

fn runtime(e: sqlx::Error) -> RuntimeErr {
    RuntimeErr::SqlxError(Arc::new(e))
}

fn acquire_err(e: sqlx::Error) -> DbErr {
    match e {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e => DbErr::Conn(runtime(e)),
    }
}

fn finished() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal("the request's read transaction has ended".into()))
}

impl ReadTxn {
    /// Take a connection from `pool` and begin the principal's transaction on it.
    pub async fn begin(
        pool: &DatabaseConnection,
        p: &Principal,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<ReadTxn, DbErr> {
        let role = crate::db::role_setting(p);
        // Uuid's Display is its 36-character canonical form: nothing to quote.
        let sql = format!(
            "BEGIN; SELECT set_config('app.partner_id', '{}', true), set_config('app.user_id', '{}', true), \
             set_config('app.role', '{role}', true)",
            p.partner_id, p.user_id
        );
        Ok(Self::open(pool, sql, metrics).await?.0)
    }

    /// Take a connection from `pool` and begin a transaction on it whose
    /// settings come from the account behind `user_id`, read in the same
    /// round trip (`repo::users::begin_as_account_sql`). The account is
    /// `None` when there is none; the caller checks it before anything else
    /// runs in the transaction, and finishes it if refused.
    pub async fn begin_as_account(
        pool: &DatabaseConnection,
        user_id: uuid::Uuid,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<(ReadTxn, Option<crate::repo::users::Account>), DbErr> {
        let (txn, row) = Self::open(pool, crate::repo::users::begin_as_account_sql(user_id), metrics).await?;
        match row.map(QueryResult::from).as_ref().map(crate::repo::users::account_of).transpose() {
            Ok(account) => Ok((txn, account)),
            Err(e) => {
                txn.finish().await?;
                Err(e)
            }
        }
    }

    /// Run `sql` (it begins the transaction) on a connection of its own;
    /// the transaction and the first row the message returned.
    async fn open(
        pool: &DatabaseConnection,
        sql: String,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<(ReadTxn, Option<sqlx::postgres::PgRow>), DbErr> {
        let mut conn = pool.get_postgres_connection_pool().acquire().await.map_err(acquire_err)?;
        let txn = ReadTxn { conn: Mutex::new(None), metrics };
        let started = Instant::now();
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await;
        txn.count(started, result.is_err());
        match result {
            Ok(rows) => {
                *txn.conn.lock().await = Some(conn);
                Ok((txn, rows.into_iter().next()))
            }
            Err(e) => {
                // It may be inside a transaction now: never back to the pool.
                drop(conn.detach());
                Err(DbErr::Exec(runtime(e)))
            }
        }
    }

    /// Roll back and return the connection to the pool (or close it if the
    /// rollback fails).
    pub async fn finish(&self) -> Result<(), DbErr> {
        let Some(mut conn) = self.conn.lock().await.take() else { return Ok(()) };
        match sqlx::raw_sql(sqlx::AssertSqlSafe("ROLLBACK")).execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                drop(conn.detach());
                Err(DbErr::Exec(runtime(e)))
            }
        }
    }

    /// [`ReadTxn::finish`], logging a failure (the connection is closed
    /// then, never pooled): for callers that have no one to report it to.
    pub async fn end(self) {
        if let Err(e) = self.finish().await {
            tracing::warn!(error = %crate::error::AppError::from(e).chain(), "ending a request's read transaction");
        }
    }

    fn count(&self, started: Instant, failed: bool) {
        if let Some(m) = &self.metrics {
            m.db_statements.inc();
            m.db_statement_seconds.observe(started.elapsed().as_secs_f64());
        }
        if failed {
            tracing::debug!(target: "partner_clients::sql", "a statement of a read transaction failed");
        }
    }

    fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
        let values = stmt.values.clone().unwrap_or(sea_orm::sea_query::Values(Vec::new()));
        sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
    }
}

impl Drop for ReadTxn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().take() {
            // Never rolled back: close it rather than pool it.
            drop(conn.detach());
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for ReadTxn {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(finished)?;
        let started = Instant::now();
        let result = Self::query(&stmt).execute(&mut **conn).await;
        self.count(started, result.is_err());
        result.map(ExecResult::from).map_err(|e| DbErr::Exec(runtime(e)))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(finished)?;
        let started = Instant::now();
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut **conn).await;
        self.count(started, result.is_err());
        result.map(ExecResult::from).map_err(|e| DbErr::Exec(runtime(e)))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(finished)?;
        let started = Instant::now();
        let result = Self::query(&stmt).fetch_optional(&mut **conn).await;
        self.count(started, result.is_err());
        result.map(|r| r.map(QueryResult::from)).map_err(|e| DbErr::Query(runtime(e)))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut guard = self.conn.lock().await;
        let conn = guard.as_mut().ok_or_else(finished)?;
        let started = Instant::now();
        let result = Self::query(&stmt).fetch_all(&mut **conn).await;
        self.count(started, result.is_err());
        result.map(|rows| rows.into_iter().map(QueryResult::from).collect()).map_err(|e| DbErr::Query(runtime(e)))
    }

    fn support_returning(&self) -> bool {
        true
    }
}
