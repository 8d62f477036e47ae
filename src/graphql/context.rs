//! What resolvers read from the context: the shared [`Env`] (schema data)
//! and, per request, the [`Principal`], the request's [`TenantDb`] (every
//! read and write goes through it: `db(ctx)?.reader()`) and the [`Loaders`].

use crate::config::Limits;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::page::Page;
use crate::policy::Principal;
use crate::service::{assignments, users};
use crate::tenant::TenantDb;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::Context;
use entity::{client, client_assignment, user};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Process-wide dependencies, set once as schema data. (The database is
/// reached per request, through [`db`].)
#[derive(Clone)]
pub struct Env {
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub counts: Arc<crate::service::count_cache::CountCache>,
}

pub fn env<'a>(ctx: &Context<'a>) -> Result<&'a Env, AppError> {
    ctx.data::<Env>().map_err(|_| AppError::internal(anyhow::anyhow!("Env missing from schema data")))
}

/// The request's principal. Requests only reach the schema authenticated,
/// so its absence (e.g. during `export-schema`) is UNAUTHENTICATED.
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    ctx.data::<Principal>().map_err(|_| AppError::Unauthenticated)
}

/// The request's database view: its tenant's settings on PostgreSQL.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a TenantDb, AppError> {
    ctx.data::<Arc<TenantDb>>()
        .map(|t| t.as_ref())
        .map_err(|_| AppError::internal(anyhow::anyhow!("TenantDb missing from request data")))
}

pub fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>().map_err(|_| AppError::internal(anyhow::anyhow!("Loaders missing from request data")))
}

/// Batches every list-of-children field of one request into one query per
/// level, whatever the page size. Caches live for one request; mutations
/// clear them before resolving their payload.
pub struct Loaders {
    pub assignments: DataLoader<AssignmentLoader, HashMapCache>,
    pub users: DataLoader<UserLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(db: Arc<TenantDb>, principal: Principal) -> Self {
        Loaders {
            assignments: DataLoader::with_cache(
                AssignmentLoader { db: db.clone() },
                tokio::spawn,
                HashMapCache::default(),
            ),
            users: DataLoader::with_cache(UserLoader { db, principal }, tokio::spawn, HashMapCache::default()),
        }
    }

    /// Forget cached rows (after a write in the same request).
    pub fn clear(&self) {
        self.assignments.clear::<Uuid>();
        self.users.clear::<Uuid>();
    }
}

/// Load a page's assignments (and their users) in one query each, before
/// the page's fields resolve, when the selection asks for them.
///
/// A DataLoader alone batches whatever arrives within its delay window, so
/// a large page can split into several batches on a busy machine; priming
/// from the look-ahead makes the statement count exact. Anything the
/// look-ahead does not see still goes through the loaders.
pub async fn prime_assignments(ctx: &Context<'_>, clients: &Page<client::Model>) -> Result<(), AppError> {
    if clients.edges.is_empty() {
        return Ok(());
    }
    let la = ctx.look_ahead();
    let selections = [la.field("nodes").field("assignments"), la.field("edges").field("node").field("assignments")];
    if !selections.iter().any(|s| s.exists()) {
        return Ok(());
    }
    let (p, loaders) = (principal(ctx)?, loaders(ctx)?);
    let reader = db(ctx)?.reader().await?;
    let ids: Vec<Uuid> = clients.rows().map(|c| c.id).collect();
    let mut by_client = assignments::for_clients(&reader, &ids).await?;
    if selections.iter().any(|s| s.field("user").exists() || s.field("assignedBy").exists()) {
        let mut user_ids: Vec<Uuid> =
            by_client.values().flatten().flat_map(|a| std::iter::once(a.user_id).chain(a.assigned_by)).collect();
        user_ids.sort();
        user_ids.dedup();
        if !user_ids.is_empty() {
            loaders.users.feed_many(users::find_many(&reader, p, &user_ids).await?).await;
        }
    }
    loaders.assignments.feed_many(ids.into_iter().map(|id| (id, by_client.remove(&id).unwrap_or_default()))).await;
    Ok(())
}

/// Assignments by client row id. Only ever asked for clients the principal
/// has already resolved through the row scope.
pub struct AssignmentLoader {
    db: Arc<TenantDb>,
}

impl Loader<Uuid> for AssignmentLoader {
    type Value = Vec<client_assignment::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, AppError> {
        assignments::for_clients(&self.db.reader().await?, keys).await
    }
}

/// Users by id, within the principal's user scope.
pub struct UserLoader {
    db: Arc<TenantDb>,
    principal: Principal,
}

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, AppError> {
        users::find_many(&self.db.reader().await?, &self.principal, keys).await
    }
}
