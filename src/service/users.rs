//! Partner users and partners as the principal may see them.

use crate::domain::{Role, SearchTerm};
use crate::error::{AppError, Result};
use crate::page::{col, encode_cursor, KeyPart, Keyset, Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use entity::{client_assignment, partner, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// Users the principal may see: its own partner's partner accounts.
pub fn scoped(p: &Principal) -> Select<user::Entity> {
    user::Entity::find()
        .filter(p.user_scope())
        .filter(user::Column::Role.is_in([Role::PartnerAdmin.as_str(), Role::PartnerUser.as_str()]))
}

pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<user::Model>> {
    Ok(scoped(p).filter(user::Column::Id.eq(id)).one(db).await?)
}

/// Many users at once (the DataLoader's batch).
pub async fn find_many(db: &impl ConnectionTrait, p: &Principal, ids: &[Uuid]) -> Result<HashMap<Uuid, user::Model>> {
    Ok(scoped(p)
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// The principal's own user row.
pub async fn me(db: &impl ConnectionTrait, p: &Principal) -> Result<user::Model> {
    find(db, p, p.user_id).await?.ok_or(AppError::Unauthenticated)
}

pub async fn own_partner(db: &impl ConnectionTrait, p: &Principal) -> Result<partner::Model> {
    partner::Entity::find_by_id(p.partner_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("principal's partner is missing")))
}

/// Users who could be assigned to the client: active partner accounts of the
/// same partner, not yet assigned to it.
fn eligible(p: &Principal, client_uuid: Uuid, search: Option<&SearchTerm>) -> Select<user::Entity> {
    let mut q = scoped(p).filter(user::Column::Active.eq(true)).filter(
        user::Column::Id.not_in_subquery(
            Query::select()
                .column(client_assignment::Column::UserId)
                .from(client_assignment::Entity)
                .and_where(Expr::col(client_assignment::Column::ClientUuid).eq(client_uuid))
                .to_owned(),
        ),
    );
    if let Some(term) = search {
        let like = || LikeExpr::new(term.like_pattern()).escape('\\');
        q = q.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(user::Column::DisplayName))).like(like()))
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Email))).like(like())),
        );
    }
    q
}

fn keyset() -> Keyset {
    Keyset {
        name: "eligible:EMAIL:ASC".into(),
        columns: vec![col(user::Column::Email)],
        descending: false,
        to_value: |_, p| match p {
            KeyPart::Text(t) => Some(Value::from(t.clone())),
            KeyPart::Int(_) => None,
        },
    }
}

pub fn eligible_cursor(u: &user::Model) -> String {
    encode_cursor(&keyset().name, vec![KeyPart::Text(u.email.clone())])
}

/// Eligible users, ordered by e-mail address (unique and lower-case, so the
/// order is the same on both databases).
pub async fn list_eligible(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
    args: &PageArgs,
    max: u32,
) -> Result<Page<user::Model>> {
    p.require(Capability::ViewEligibleUsers)?;
    let ks = keyset();
    let req = PageRequest::parse(args, max, crate::config::Limits::DEFAULT_PAGE_SIZE, &ks)?;
    Ok(req.finish(req.apply(&ks, eligible(p, client_uuid, search)).all(db).await?))
}

pub async fn count_eligible(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
) -> Result<u64> {
    p.require(Capability::ViewEligibleUsers)?;
    Ok(eligible(p, client_uuid, search).count(db).await?)
}
