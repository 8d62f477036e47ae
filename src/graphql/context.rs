//! What resolvers read from the context: the shared [`Env`] (schema data)
//! and, per request, the [`Principal`] and the [`Loaders`].

use crate::config::Limits;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::policy::Principal;
use crate::service::{assignments, users};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use entity::{client_assignment, user};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Process-wide dependencies, set once as schema data.
#[derive(Clone)]
pub struct Env {
    pub db: DatabaseConnection,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}

pub fn env<'a>(ctx: &Context<'a>) -> Result<&'a Env, AppError> {
    ctx.data::<Env>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("Env missing from schema data")))
}

/// The request's principal. Requests only reach the schema authenticated,
/// so its absence (e.g. during `export-schema`) is UNAUTHENTICATED.
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    ctx.data::<Principal>()
        .map_err(|_| AppError::Unauthenticated)
}

pub fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("Loaders missing from request data")))
}

/// Batches every list-of-children field of one request into one query per
/// level, whatever the page size.
pub struct Loaders {
    pub assignments: DataLoader<AssignmentLoader>,
    pub users: DataLoader<UserLoader>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, principal: Principal) -> Self {
        Loaders {
            assignments: DataLoader::new(AssignmentLoader { db: db.clone() }, tokio::spawn),
            users: DataLoader::new(UserLoader { db, principal }, tokio::spawn),
        }
    }
}

/// Assignments by client row id. Only ever asked for clients the principal
/// has already resolved through the row scope.
pub struct AssignmentLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for AssignmentLoader {
    type Value = Vec<client_assignment::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, AppError> {
        assignments::for_clients(&self.db, keys).await
    }
}

/// Users by id, within the principal's user scope.
pub struct UserLoader {
    db: DatabaseConnection,
    principal: Principal,
}

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, AppError> {
        users::find_many(&self.db, &self.principal, keys).await
    }
}
