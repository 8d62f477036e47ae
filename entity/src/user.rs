//! Every account the auth layer knows; only partner roles use this surface.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `None` for customer and AiDial staff accounts.
    pub partner_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    /// One of `partner_admin`, `partner_user`, `customer_admin`,
    /// `customer_user`, `aidial_staff` (CHECK constraint).
    pub role: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
