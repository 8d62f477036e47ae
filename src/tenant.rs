//! One request's view of the database: the second tenant wall's entry
//! point (DESIGN §8).
//!
//! On PostgreSQL every statement of a request runs inside a transaction that
//! first set `app.partner_id`, `app.user_id` and `app.role` (the shared read
//! transaction: [`ReadTxn`], `BEGIN` and the settings in one round trip;
//! writes: [`crate::db::begin_tenant`]), on a pool whose connections run as the
//! least-privilege role under forced row-level security. A query's reads
//! share one transaction, begun lazily on the first read; when the request
//! ends (answered, failed, timed out or panicked), [`TenantDb::finish`] rolls
//! it back: the settings are transaction-local, so the pooled connection
//! carries nothing into the next request. Each mutation opens its own write
//! transaction with the same settings, and a mutation request's reads (its
//! payloads) each run in a short transaction of their own: a read
//! transaction held across the next mutation's write would hold a second
//! connection per request, and a full pool of such requests would wait on
//! itself.
//!
//! SQLite has no roles and no row-level security: reads go to the pool
//! directly (a long read transaction there would pin a snapshot and hide the
//! request's own writes), and the application's row scopes are the only wall.

mod read_txn;

use crate::auth::{Authenticator, Bearer};
use crate::db::begin_tenant;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::policy::Principal;
use read_txn::ReadTxn;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct TenantDb {
    pool: DatabaseConnection,
    principal: Principal,
    /// A mutation request: no read transaction is shared across its writes.
    writes: bool,
    /// Where the shared read transaction counts its statements.
    metrics: Option<Arc<Metrics>>,
    read: OnceCell<ReadTxn>,
}

/// Where a request's reads run: the pool (SQLite), a short transaction of
/// their own (a mutation request's reads), or the request's shared read
/// transaction ([`ReadTxn`], PostgreSQL).
pub enum Reader<'a> {
    Pool(&'a DatabaseConnection),
    Owned(DatabaseTransaction),
    Shared(&'a ReadTxn),
}

impl TenantDb {
    /// `writes`: the request is a mutation. `metrics`: where the shared read
    /// transaction counts its statements (the pool counts its own).
    pub fn new(
        pool: DatabaseConnection,
        principal: Principal,
        writes: bool,
        metrics: Option<Arc<Metrics>>,
    ) -> Arc<Self> {
        Arc::new(TenantDb { pool, principal, writes, metrics, read: OnceCell::new() })
    }

    /// A query request's principal and its `TenantDb`, from a verified
    /// token. On PostgreSQL one round trip reads the account and begins the
    /// request's read transaction with the settings from that row
    /// ([`ReadTxn::begin_as_account`]); where authentication and the first
    /// read each took one before. The account is then checked as
    /// [`Authenticator::authenticate`] checks it; a refused one has its
    /// transaction rolled back (in the background: the refusal does not
    /// wait for it). On SQLite: the account lookup, and a `TenantDb` that
    /// reads from the pool.
    pub async fn authenticated(
        pool: &DatabaseConnection,
        auth: &Authenticator,
        bearer: &Bearer,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<(Principal, Arc<TenantDb>)> {
        if pool.get_database_backend() != DbBackend::Postgres {
            let principal = auth.principal(bearer, crate::repo::users::account(pool, bearer.user_id).await?)?;
            return Ok((principal.clone(), TenantDb::new(pool.clone(), principal, false, metrics)));
        }
        let (txn, account) = ReadTxn::begin_as_account(pool, bearer.user_id, metrics.clone()).await?;
        let principal = match auth.principal(bearer, account) {
            Ok(p) => p,
            Err(e) => {
                tokio::spawn(txn.end());
                return Err(e);
            }
        };
        let read = OnceCell::new_with(Some(txn));
        let me = TenantDb { pool: pool.clone(), principal: principal.clone(), writes: false, metrics, read };
        Ok((principal, Arc::new(me)))
    }

    /// Where the request's reads run.
    pub async fn reader(&self) -> Result<Reader<'_>> {
        if self.pool.get_database_backend() != DbBackend::Postgres {
            return Ok(Reader::Pool(&self.pool));
        }
        if self.writes {
            // Dropped after use: sqlx rolls it back before the connection's next statement.
            return Ok(Reader::Owned(begin_tenant(&self.pool, &self.principal, false).await?));
        }
        let txn =
            self.read.get_or_try_init(|| ReadTxn::begin(&self.pool, &self.principal, self.metrics.clone())).await?;
        Ok(Reader::Shared(txn))
    }

    /// A write transaction with the request's tenant settings (SQLite: one
    /// that takes the write lock at BEGIN).
    pub async fn writer(&self) -> Result<DatabaseTransaction> {
        Ok(begin_tenant(&self.pool, &self.principal, true).await?)
    }

    /// End the request's read transaction, if one was begun. Called once the
    /// request's resolvers are gone (the schema's data dropped with them); if
    /// a clone is still alive somewhere, dropping the transaction closes its
    /// connection instead (see [`ReadTxn`]).
    pub async fn finish(self: Arc<Self>) {
        let Ok(me) = Arc::try_unwrap(self) else { return };
        if let Some(txn) = me.read.into_inner() {
            txn.end().await;
        }
    }
}

/// Each call goes to where the reader points.
macro_rules! on_reader {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Reader::Pool($c) => $e,
            Reader::Owned($c) => $e,
            Reader::Shared($c) => $e,
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Reader<'_> {
    fn get_database_backend(&self) -> DbBackend {
        on_reader!(self, c => c.get_database_backend())
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        on_reader!(self, c => c.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        on_reader!(self, c => c.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> std::result::Result<Option<QueryResult>, DbErr> {
        on_reader!(self, c => c.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        on_reader!(self, c => c.query_all_raw(stmt).await)
    }

    fn support_returning(&self) -> bool {
        on_reader!(self, c => c.support_returning())
    }
}
