//! The audit trail: recorded on the caller's transaction, read newest first
//! by administrators. Recording also announces the change to live
//! subscribers (DESIGN §10), from the same transaction.

use crate::domain::AuditAction;
use crate::error::Result;
use crate::live::{self, Change};
use crate::page::{Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use crate::repo;
use entity::{audit_event, client};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// What happened to a client, by whom and to whom (the client is
/// [`record`]'s argument).
pub struct Event {
    pub actor_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub action: AuditAction,
    pub details: serde_json::Value,
}

/// Record an event about `client` with the transaction that makes the
/// change, and queue its live announcement on it. Commit that transaction
/// with [`live::commit`], passing the returned change: subscribers hear of
/// it only once it committed.
pub async fn record(txn: &impl ConnectionTrait, client: &client::Model, e: Event) -> Result<Change> {
    let at = super::now();
    let row = repo::audit::Event {
        partner_id: client.partner_id,
        client_uuid: Some(client.id),
        actor_id: e.actor_id,
        subject_user_id: e.subject_user_id,
        action: e.action,
        details: e.details,
    };
    let event_id = repo::audit::insert(txn, row, at).await?;
    let change = Change {
        event_id,
        partner_id: client.partner_id,
        client_uuid: client.id,
        client_id: client.client_id.clone(),
        action: e.action,
        actor_id: e.actor_id,
        subject_user_id: e.subject_user_id,
        occurred_at: at,
    };
    live::announce(txn, &change).await?;
    Ok(change)
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
    let req = PageRequest::parse(args, max, &repo::audit::keyset())?;
    repo::audit::page_for_client(db, p, client_uuid, &req).await
}

pub async fn count_for_client(db: &impl ConnectionTrait, p: &Principal, client_uuid: Uuid) -> Result<u64> {
    p.require(Capability::ViewAuditEvents)?;
    repo::audit::count_for_client(db, p, client_uuid).await
}

/// One event by id, for `node(id:)`: `None` when out of the audit scope.
pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<audit_event::Model>> {
    repo::audit::find(db, p, id).await
}
