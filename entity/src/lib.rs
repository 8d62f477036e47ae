//! sea-orm entities for partner-clients.
//!
//! These are storage rows, not API types: the GraphQL layer wraps them in its
//! own types so that adding a column never silently adds a field to the API.
//! Enumerated columns (`role`, `status`, `action`) are stored as text guarded
//! by CHECK constraints; the service parses them into domain enums.

pub mod audit_event;
pub mod client;
pub mod client_assignment;
pub mod partner;
pub mod partner_client_count;
pub mod user;

pub mod prelude {
    pub use super::audit_event::Entity as AuditEvent;
    pub use super::client::Entity as Client;
    pub use super::client_assignment::Entity as ClientAssignment;
    pub use super::partner::Entity as Partner;
    pub use super::partner_client_count::Entity as PartnerClientCount;
    pub use super::user::Entity as User;
}
