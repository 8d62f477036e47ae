//! GraphQL output and input types: thin wrappers around rows, kept apart
//! from the entities so that a new column never becomes API by accident.
//!
//! The schema's enums (`ClientStatus`, `AuditAction`, `PartnerRole`,
//! `UserErrorCode`, `ClientOrderField`) are the domain's own types
//! (`crate::domain`), deriving `async_graphql::Enum`: one definition each.
//! A wrapper parses its row's stored enum once, when it is built; a value
//! the domain does not know is an INTERNAL error.
//!
//! - `user`: the viewer, partners and partner users;
//! - `client`: clients, their assignments, the list's filter and order;
//! - `audit`: audit events;
//! - `connection`: Relay connections and what `totalCount` counts;
//! - `payloads`: mutation inputs, payloads and user errors.

mod audit;
mod client;
mod connection;
mod payloads;
mod user;

pub use audit::AuditEvent;
pub use client::{Client, ClientAssignment, ClientFilter, ClientOrder, OrderDirection};
pub use connection::{
    AuditEventConnection, AuditEventEdge, ClientConnection, ClientEdge, Count, CountPrecision, Counter, PageInfo,
    PartnerUserConnection, PartnerUserEdge,
};
pub use payloads::{
    AssignPartnerUsersInput, AssignmentPayload, ProvisionClientPayload, SetSupportContactInput,
    UnassignPartnerUserInput, UserError,
};
pub use user::{Partner, PartnerUser, Viewer, ViewerPermissions};

use super::context::loaders;
use crate::domain::{self, SearchTerm};
use crate::error::AppError;
use async_graphql::{Context, Enum, Interface, Result, SimpleObject, ID};
use uuid::Uuid;

/// Anything with a global id: fetch it again with `node(id:)` or, many at
/// once, `nodes(ids:)` (the Relay object-identification contract). A node
/// outside the viewer's scope is `null` there, like one that does not exist.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Opaque global id, stable for the object's lifetime; pass it to `node(id:)`. Do not parse it or build one: its format may change."
))]
pub enum Node {
    Client(Client),
    PartnerUser(PartnerUser),
    Partner(Partner),
    AuditEvent(AuditEvent),
}

/// Something this page does not do, and which AiDial workflow does it.
/// The same for every viewer; the page shows the list beside provisioning.
#[derive(SimpleObject, Clone)]
pub struct EscalationBoundary {
    /// Which boundary: switch on it (the list's order is not part of the contract).
    pub kind: EscalationKind,
    /// What goes through AiDial instead, in one English sentence to show as is.
    pub description: String,
}

/// The kinds of work provisioning leaves to AiDial's own workflows (see
/// `Query.escalationBoundaries`). New kinds may be added: show an unknown
/// one by its `description`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum EscalationKind {
    /// Creating customer users and recovering customer passwords.
    CustomerUserAccounts,
    /// Production call routing.
    CallRouting,
    /// Provisioning and registering phone numbers.
    PhoneNumberProvisioning,
    /// Billing configuration and billing-plan activation.
    BillingSetup,
    /// Migrating historical call data.
    CallDataMigration,
    /// Importing client data: contacts, knowledge, history.
    DataImport,
    /// Connecting a client to runtime integrations.
    RuntimeWiring,
    /// DNS changes for a client's domain.
    Dns,
    /// Deploying an assistant to production and cutting over.
    ProductionCutover,
    /// Customer contract and legal-entity changes.
    ContractOrLegalEntity,
    /// Deleting or restoring a tenant.
    TenantDeletionOrRestoration,
}

/// A stored enum column, parsed: the database's CHECK constraints make a
/// failure a bug or a corrupt row, never the client's fault.
fn parse_stored<T: std::str::FromStr<Err = domain::Invalid>>(s: &str) -> Result<T, AppError> {
    s.parse().map_err(|e: domain::Invalid| AppError::internal(anyhow::anyhow!("stored value: {e}")))
}

fn search_term(search: Option<&str>) -> Result<Option<SearchTerm>, AppError> {
    search.map(SearchTerm::parse).transpose().map(Option::flatten).map_err(|e| AppError::BadUserInput(e.0))
}

/// A user through the request's loader; `None` when absent or out of scope.
async fn load_user(ctx: &Context<'_>, id: Uuid) -> Result<Option<PartnerUser>> {
    Ok(loaders(ctx)?.users.load_one(id).await?.map(PartnerUser::new).transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditAction, ClientStatus, Role};
    use crate::error::Code;
    use chrono::Utc;
    use entity::{audit_event, client, user};

    fn client_row(status: &str) -> client::Model {
        client::Model {
            id: Uuid::nil(),
            partner_id: Uuid::nil(),
            client_id: "acme".into(),
            business_name: "Acme".into(),
            web_domain: "acme.example".into(),
            contact_name: "Ann".into(),
            business_email: "ann@acme.example".into(),
            timezone: "UTC".into(),
            status: status.into(),
            support_contact_required: true,
            sort_name: "acme".into(),
            search_public: String::new(),
            search_contact: String::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn user_row(role: &str) -> user::Model {
        user::Model {
            id: Uuid::nil(),
            partner_id: Some(Uuid::nil()),
            email: "ann@partner.example".into(),
            display_name: "Ann".into(),
            role: role.into(),
            active: true,
            created_at: Utc::now(),
        }
    }

    fn audit_row(action: &str) -> audit_event::Model {
        audit_event::Model {
            id: Uuid::nil(),
            partner_id: Uuid::nil(),
            client_uuid: None,
            actor_id: None,
            subject_user_id: None,
            action: action.into(),
            details: serde_json::json!({}),
            occurred_at: Utc::now(),
        }
    }

    fn is_internal<T>(r: Result<T, AppError>) -> bool {
        matches!(r, Err(e) if e.code() == Code::Internal)
    }

    #[test]
    fn every_stored_spelling_builds_its_wrapper() {
        for s in ClientStatus::ALL {
            assert!(Client::new(client_row(s.as_str())).is_ok(), "{s}");
        }
        for r in Role::ALL.iter().filter(|r| r.is_partner()) {
            assert!(PartnerUser::new(user_row(r.as_str())).is_ok(), "{r}");
        }
        for a in AuditAction::ALL {
            assert!(AuditEvent::new(audit_row(a.as_str())).is_ok(), "{a}");
        }
    }

    #[test]
    fn a_corrupt_stored_value_is_an_internal_error() {
        assert!(is_internal(Client::new(client_row("active"))));
        assert!(is_internal(Client::new(client_row(""))));
        assert!(is_internal(PartnerUser::new(user_row("PARTNER_ADMIN"))));
        // A real role, but not a partner's: never in a partner's scope.
        assert!(is_internal(PartnerUser::new(user_row("customer_admin"))));
        assert!(is_internal(AuditEvent::new(audit_row("DELETED"))));
    }
}
