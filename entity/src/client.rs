//! A partner-managed client profile.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    /// The partner's own identifier for the client; unique per partner only.
    pub client_id: String,
    pub business_name: String,
    pub web_domain: String,
    pub contact_name: String,
    pub business_email: String,
    pub timezone: String,
    /// One of `PROVISIONED`, `ONBOARDING`, `ACTIVE`, `SUSPENDED`, `OFFBOARDED`.
    pub status: String,
    pub support_contact_required: bool,
    /// Lower-cased business name: the BUSINESS_NAME sort key (byte order on
    /// both databases).
    pub sort_name: String,
    /// Lower-cased fields every viewer may search (client id, business name,
    /// web domain), joined by U+001F.
    pub search_public: String,
    /// Lower-cased contact fields (contact name, business email), searched
    /// only for viewers allowed to read them.
    pub search_contact: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
