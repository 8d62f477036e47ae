//! The audit trail: written on the caller's transaction, read newest first.

use crate::domain::AuditAction;
use crate::error::Result;
use crate::page::{col, KeyPart, Keyset, Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use entity::audit_event;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub struct Event {
    pub partner_id: Uuid,
    pub client_uuid: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub action: AuditAction,
    pub details: serde_json::Value,
}

/// Record an event. Call it with the transaction that makes the change.
pub async fn record(txn: &impl ConnectionTrait, e: Event) -> Result<()> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(e.partner_id),
        client_uuid: Set(e.client_uuid),
        actor_id: Set(e.actor_id),
        subject_user_id: Set(e.subject_user_id),
        action: Set(e.action.as_str().to_owned()),
        details: Set(e.details),
        occurred_at: Set(super::now()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Newest first by `(occurred_at, id)`: the order of the `occurredAt`s the
/// list shows, whichever clock minted the v7 id; the unique id breaks ties
/// (events of one transaction), so pages are deterministic. The cursor holds
/// the time and the uuid, never a counter.
fn keyset() -> Keyset {
    Keyset {
        name: "audit:OCCURRED_AT:DESC".into(),
        columns: vec![col(audit_event::Column::OccurredAt), col(audit_event::Column::Id)],
        descending: true,
        to_value: |i, p| match i {
            0 => p.time_value(),
            _ => p.uuid_value(),
        },
    }
}

pub fn cursor(e: &audit_event::Model) -> String {
    crate::page::encode_cursor(&keyset().name, vec![KeyPart::time(&e.occurred_at), KeyPart::uuid(e.id)])
}

/// A client's events, newest first. The caller has already resolved the
/// client through the row scope.
pub async fn list_for_client(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    args: &PageArgs,
    max: u32,
) -> Result<Page<audit_event::Model>> {
    p.require(Capability::ViewAuditEvents)?;
    let ks = keyset();
    let req = PageRequest::parse(args, max, crate::config::Limits::DEFAULT_PAGE_SIZE, &ks)?;
    let select = audit_event::Entity::find()
        .filter(audit_event::Column::PartnerId.eq(p.partner_id))
        .filter(audit_event::Column::ClientUuid.eq(client_uuid));
    Ok(req.finish(req.apply(&ks, select).all(db).await?))
}

pub async fn count_for_client(db: &impl ConnectionTrait, p: &Principal, client_uuid: Uuid) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    p.require(Capability::ViewAuditEvents)?;
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::PartnerId.eq(p.partner_id))
        .filter(audit_event::Column::ClientUuid.eq(client_uuid))
        .count(db)
        .await?)
}

/// One event by id, for `node(id:)`: administrators of its partner only.
pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<audit_event::Model>> {
    if !p.can(Capability::ViewAuditEvents) {
        return Ok(None);
    }
    Ok(audit_event::Entity::find_by_id(id).filter(audit_event::Column::PartnerId.eq(p.partner_id)).one(db).await?)
}
