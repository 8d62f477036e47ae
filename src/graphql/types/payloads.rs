//! Mutation inputs, payloads and the user errors they carry.

use super::Client;
use crate::domain::UserErrorCode;
use crate::service::{self, provision::ProvisionInput};
use async_graphql::{InputObject, SimpleObject, ID};

#[derive(InputObject, Clone, Debug)]
pub struct ProvisionClientInput {
    pub client_id: String,
    pub business_name: String,
    pub web_domain: String,
    pub contact_name: String,
    pub business_email: String,
    pub timezone: String,
    /// Defaults to true; null means the default.
    #[graphql(default_with = "Some(true)")]
    pub support_contact_required: Option<bool>,
}

/// The schema's input is the service's, but for the GraphQL default
/// (nullable, `true` when null), which the service does not know about.
impl From<ProvisionClientInput> for ProvisionInput {
    fn from(i: ProvisionClientInput) -> Self {
        ProvisionInput {
            client_id: i.client_id,
            business_name: i.business_name,
            web_domain: i.web_domain,
            contact_name: i.contact_name,
            business_email: i.business_email,
            timezone: i.timezone,
            support_contact_required: i.support_contact_required.unwrap_or(true),
        }
    }
}

/// A problem with the input that the user can fix; nothing was written.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path into the mutation's arguments, e.g. `["input", "webDomain"]`.
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: UserErrorCode,
}

impl From<service::UserError> for UserError {
    fn from(e: service::UserError) -> Self {
        UserError { field: Some(e.field), message: e.message, code: e.code }
    }
}

#[derive(SimpleObject)]
pub struct ProvisionClientPayload {
    /// The client, new or (for a repeated identical request) existing.
    pub client: Option<Client>,
    /// False when an identical earlier request had already created it.
    pub created: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject, Clone, Debug)]
pub struct AssignPartnerUsersInput {
    pub client_id: String,
    /// PartnerUser ids, at most 100.
    pub user_ids: Vec<ID>,
    /// Applies to the users this call adds.
    #[graphql(default_with = "Some(false)")]
    pub support_contact: Option<bool>,
}

#[derive(InputObject, Clone, Debug)]
pub struct UnassignPartnerUserInput {
    pub client_id: String,
    pub user_id: ID,
}

#[derive(InputObject, Clone, Debug)]
pub struct SetSupportContactInput {
    pub client_id: String,
    pub user_id: ID,
    pub support_contact: bool,
}

#[derive(SimpleObject)]
pub struct AssignmentPayload {
    /// The client as it is after the call.
    pub client: Option<Client>,
    pub user_errors: Vec<UserError>,
}
