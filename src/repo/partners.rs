//! Partner organisations.

use crate::error::{AppError, Result};
use entity::partner;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The principal's own partner (it exists: users reference it).
pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<partner::Model> {
    partner::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("partner {id} is missing")))
}

/// The partner with this slug (operator tooling names partners by slug).
pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<partner::Model>> {
    Ok(partner::Entity::find().filter(partner::Column::Slug.eq(slug)).one(db).await?)
}

/// A new partner (operator tooling), as stored.
pub async fn insert(db: &impl ConnectionTrait, row: partner::ActiveModel) -> Result<partner::Model> {
    Ok(partner::Entity::insert(row).exec_with_returning(db).await?)
}

/// Whether the database holds any partner yet (`seed-bench` wants none).
pub async fn any(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(partner::Entity::find().one(db).await?.is_some())
}
