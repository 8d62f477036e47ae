//! Parse, don't validate: value types that can only hold valid values, and
//! the enumerations stored as text in the database.
mod enums;
mod values;

pub use enums::{AuditAction, ClientStatus, OrderField, PartnerRole, Role, UserErrorCode};
pub use values::{search_text, BusinessEmail, ClientId, PlainText, SearchTerm, Timezone, WebDomain};

/// Why a value was refused; the message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    fn new(msg: impl Into<String>) -> Self {
        Invalid(msg.into())
    }
}

/// A client profile whose every field has parsed: what provisioning
/// (`service::provision`) makes of its input and a client row is built from
/// (`repo::clients::row`).
#[derive(Clone, Debug)]
pub struct NewClient {
    pub client_id: ClientId,
    pub business_name: PlainText,
    pub web_domain: WebDomain,
    pub contact_name: PlainText,
    pub business_email: BusinessEmail,
    pub timezone: Timezone,
    pub support_contact_required: bool,
}
