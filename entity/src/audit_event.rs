//! One change, written in the same transaction as the change itself.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// A UUIDv7 (`Uuid::now_v7()`), the only id that leaves the server: no
    /// global counter (DESIGN §7). Newest first is `(occurred_at, id) DESC`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    pub client_uuid: Option<Uuid>,
    /// `None` for AiDial's own workflows (the ops CLI).
    pub actor_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub action: String,
    pub details: Json,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
