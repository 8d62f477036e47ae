//! The audit trail: recorded on the caller's transaction, read newest first
//! by administrators.

use crate::error::Result;
use crate::page::{Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use crate::repo;
pub use crate::repo::audit::Event;
use entity::audit_event;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Record an event. Call it with the transaction that makes the change.
pub async fn record(txn: &impl ConnectionTrait, e: Event) -> Result<()> {
    repo::audit::insert(txn, e, super::now()).await
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
