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

#[Object]
impl AuditEvent {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.row.id)
    }
    async fn action(&self) -> AuditAction {
        self.action
    }
    /// Who did it; `null` for AiDial's own workflows.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.row.actor_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The user the change was about, for assignment events.
    async fn subject_user(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.row.subject_user_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }
}
