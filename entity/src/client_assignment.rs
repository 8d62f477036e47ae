//! A partner user working on a client. `client_uuid` is the client's row id
//! (`clients.id`), not the partner-facing `clients.client_id`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_uuid: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub support_contact: bool,
    pub assigned_by: Option<Uuid>,
    pub assigned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
