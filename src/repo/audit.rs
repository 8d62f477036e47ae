//! Audit events: inserted on the change's transaction, read newest first
//! within the principal's [`Principal::audit_scope`].

use crate::domain::AuditAction;
use crate::error::Result;
use crate::page::{col, KeyPart, Keyset, Page, PageRequest};
use crate::policy::Principal;
use entity::audit_event;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select};
use uuid::Uuid;

pub struct Event {
    pub partner_id: Uuid,
    pub client_uuid: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub action: AuditAction,
    pub details: serde_json::Value,
}

impl Event {
    /// The row it is stored as, under `id`, having occurred at `at`.
    pub fn row(self, id: Uuid, at: chrono::DateTime<chrono::Utc>) -> audit_event::ActiveModel {
        audit_event::ActiveModel {
            id: Set(id),
            partner_id: Set(self.partner_id),
            client_uuid: Set(self.client_uuid),
            actor_id: Set(self.actor_id),
            subject_user_id: Set(self.subject_user_id),
            action: Set(self.action.as_str().to_owned()),
            details: Set(self.details),
            occurred_at: Set(at),
        }
    }
}

/// Insert an event, with a UUIDv7 id (returned): no global counter ever
/// leaves the server.
pub async fn insert(txn: &impl ConnectionTrait, e: Event, at: chrono::DateTime<chrono::Utc>) -> Result<Uuid> {
    let id = Uuid::now_v7();
    audit_event::Entity::insert(e.row(id, at)).exec_without_returning(txn).await?;
    Ok(id)
}

/// Newest first by `(occurred_at, id)`: the order of the `occurredAt`s the
/// list shows, whichever clock minted the v7 id; the unique id breaks ties
/// (events of one transaction), so pages are deterministic. The cursor holds
/// the time and the uuid, never a counter.
pub fn keyset() -> Keyset<audit_event::Model> {
    Keyset {
        name: "audit:OCCURRED_AT:DESC",
        columns: vec![col(audit_event::Column::OccurredAt), col(audit_event::Column::Id)],
        descending: true,
        key: |e| vec![KeyPart::time(&e.occurred_at), KeyPart::uuid(e.id)],
        to_value: |i, p| match i {
            0 => p.time_value(),
            _ => p.uuid_value(),
        },
    }
}

fn of_client(p: &Principal, client_uuid: Uuid) -> Select<audit_event::Entity> {
    audit_event::Entity::find().filter(p.audit_scope()).filter(audit_event::Column::ClientUuid.eq(client_uuid))
}

pub async fn page_for_client(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    req: &PageRequest,
) -> Result<Page<audit_event::Model>> {
    let ks = keyset();
    Ok(req.finish(&ks, req.apply(&ks, of_client(p, client_uuid)).all(db).await?))
}

pub async fn count_for_client(db: &impl ConnectionTrait, p: &Principal, client_uuid: Uuid) -> Result<u64> {
    Ok(of_client(p, client_uuid).count(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<audit_event::Model>> {
    Ok(audit_event::Entity::find_by_id(id).filter(p.audit_scope()).one(db).await?)
}
