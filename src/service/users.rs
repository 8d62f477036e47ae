//! Partner users and partners as the principal may see them.

use crate::domain::SearchTerm;
use crate::error::{AppError, Result};
use crate::page::{Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use crate::repo;
use entity::{partner, user};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use uuid::Uuid;

pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<user::Model>> {
    repo::users::find(db, p, id).await
}

/// Many users at once (the DataLoader's batch).
pub async fn find_many(db: &impl ConnectionTrait, p: &Principal, ids: &[Uuid]) -> Result<HashMap<Uuid, user::Model>> {
    repo::users::find_many(db, p, ids).await
}

/// The principal's own user row.
pub async fn me(db: &impl ConnectionTrait, p: &Principal) -> Result<user::Model> {
    find(db, p, p.user_id).await?.ok_or(AppError::Unauthenticated)
}

pub async fn own_partner(db: &impl ConnectionTrait, p: &Principal) -> Result<partner::Model> {
    repo::partners::by_id(db, p.partner_id).await
}

/// Users who could be assigned to the client, by e-mail address.
pub async fn list_eligible(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
    args: &PageArgs,
    max: u32,
) -> Result<Page<user::Model>> {
    p.require(Capability::ViewEligibleUsers)?;
    let req = PageRequest::parse(args, max, &repo::users::eligible_keyset())?;
    repo::users::eligible_page(db, p, client_uuid, search, &req).await
}

pub async fn count_eligible(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
) -> Result<u64> {
    p.require(Capability::ViewEligibleUsers)?;
    repo::users::eligible_count(db, p, client_uuid, search).await
}
