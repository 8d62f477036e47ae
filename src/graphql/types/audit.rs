//! Audit events.

use super::{load_user, parse_stored, PartnerUser};
use crate::domain::AuditAction;
use crate::error::AppError;
use crate::graphql::ids::{self, Kind};
use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::audit_event;

/// One change to a client.
pub struct AuditEvent {
    row: audit_event::Model,
    action: AuditAction,
}

impl AuditEvent {
    /// Wrap an audit row, parsing its stored action once.
    pub fn new(row: audit_event::Model) -> Result<Self, AppError> {
        Ok(AuditEvent { action: parse_stored(&row.action)?, row })
    }
}

/// One change to a client, recorded in the same transaction as the change.
/// Partner administrators only (`Client.auditEvents`, `node(id:)`); for
/// anyone else an event's id resolves to `null`.
#[Object]
impl AuditEvent {
    /// Global id: fetch the event again with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.row.id)
    }
    /// What changed.
    async fn action(&self) -> AuditAction {
        self.action
    }
    /// Who made the change; `null` when AiDial's own workflows did.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.row.actor_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The user the change was about: set for `USER_ASSIGNED`,
    /// `USER_UNASSIGNED`, `SUPPORT_CONTACT_SET` and `SUPPORT_CONTACT_UNSET`;
    /// `null` for the other actions.
    async fn subject_user(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.row.subject_user_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// When the change was made (its transaction commits at about that time).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
}
