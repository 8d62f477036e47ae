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
