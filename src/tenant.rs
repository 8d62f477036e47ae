//! One request's view of the database: the second tenant wall's entry
//! point (DESIGN §8).
//!
//! On PostgreSQL every statement of a request runs inside a transaction that
//! first set `app.partner_id`, `app.user_id` and `app.role`
//! ([`crate::db::begin_tenant`]), on a pool whose connections run as the
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

use crate::db::begin_tenant;
use crate::error::{AppError, Result};
use crate::policy::Principal;
use sea_orm::{DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend};
use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct TenantDb {
    pool: DatabaseConnection,
    principal: Principal,
    /// A mutation request: no read transaction is shared across its writes.
    writes: bool,
    read: OnceCell<DatabaseTransaction>,
}

impl TenantDb {
    /// `writes`: the request is a mutation.
    pub fn new(pool: DatabaseConnection, principal: Principal, writes: bool) -> Arc<Self> {
        Arc::new(TenantDb { pool, principal, writes, read: OnceCell::new() })
    }

    /// Where the request's reads run.
    pub async fn reader(&self) -> Result<DatabaseExecutor<'_>> {
        if self.pool.get_database_backend() != DbBackend::Postgres {
            return Ok(DatabaseExecutor::Connection(&self.pool));
        }
        if self.writes {
            // Dropped after use: sqlx rolls it back before the connection's next statement.
            return Ok(DatabaseExecutor::OwnedTransaction(begin_tenant(&self.pool, &self.principal, false).await?));
        }
        let txn = self.read.get_or_try_init(|| begin_tenant(&self.pool, &self.principal, false)).await?;
        Ok(DatabaseExecutor::Transaction(txn))
    }

    /// A write transaction with the request's tenant settings (SQLite: one
    /// that takes the write lock at BEGIN).
    pub async fn writer(&self) -> Result<DatabaseTransaction> {
        Ok(begin_tenant(&self.pool, &self.principal, true).await?)
    }

    /// End the request's read transaction, if one was begun. Called once the
    /// request's resolvers are gone (the schema's data dropped with them); if
    /// a clone is still alive somewhere, dropping the transaction starts the
    /// same rollback.
    pub async fn finish(self: Arc<Self>) {
        let Ok(me) = Arc::try_unwrap(self) else { return };
        if let Some(txn) = me.read.into_inner() {
            if let Err(e) = txn.rollback().await {
                tracing::warn!(error = %AppError::from(e).chain(), "ending a request's read transaction");
            }
        }
    }
}
