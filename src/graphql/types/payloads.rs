//! Mutation inputs, payloads and the user errors they carry.

use super::Client;
use crate::domain::UserErrorCode;
use crate::service;
use async_graphql::{InputObject, SimpleObject, ID};

/// A problem with the input that the user can fix; nothing was written.
/// Show `message` beside the form field that `field` names.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path into the mutation's arguments, e.g. `["input", "webDomain"]`,
    /// or `["input", "userIds", "2"]` for the third id of a list. `null` is
    /// kept for a problem not tied to one field (no mutation reports one
    /// today).
    pub field: Option<Vec<String>>,
    /// What is wrong, in English, fit to show the user.
    pub message: String,
    /// What is wrong, for code: switch on this, not on `message`.
    pub code: UserErrorCode,
}

impl From<service::UserError> for UserError {
    fn from(e: service::UserError) -> Self {
        UserError { field: Some(e.field), message: e.message, code: e.code }
    }
}

/// The result of `provisionClient`: the client, or what to fix.
#[derive(SimpleObject)]
pub struct ProvisionClientPayload {
    /// The client, new or (for a repeated identical request) existing;
    /// `null` when `userErrors` is not empty.
    pub client: Option<Client>,
    /// True when this call created the client; false when an identical
    /// earlier request had already created it, or when nothing was created.
    pub created: bool,
    /// What the user can fix; empty on success. Codes: `INVALID` (a field
    /// fails its rule), `TAKEN` (the clientId belongs to a different client).
    pub user_errors: Vec<UserError>,
}

/// Whom to assign to which client.
#[derive(InputObject, Clone, Debug)]
pub struct AssignPartnerUsersInput {
    /// The client's clientId; an unknown or out-of-scope one is NOT_FOUND.
    pub client_id: String,
    /// PartnerUser ids (`PartnerUser.id`), 1 to 100. Each must be an active
    /// user of the viewer's partner, else `USER_NOT_ELIGIBLE` at its index;
    /// an empty list is `INVALID`, more than 100 `TOO_MANY`.
    pub user_ids: Vec<ID>,
    /// Make the users this call adds support contacts. Users already
    /// assigned keep theirs; `setSupportContact` changes it.
    #[graphql(default_with = "Some(false)")]
    pub support_contact: Option<bool>,
}

/// Whom to remove from which client.
#[derive(InputObject, Clone, Debug)]
pub struct UnassignPartnerUserInput {
    /// The client's clientId; an unknown or out-of-scope one is NOT_FOUND.
    pub client_id: String,
    /// The PartnerUser id to remove; a user not assigned to the client
    /// (or no PartnerUser id at all) is `NOT_ASSIGNED`.
    pub user_id: ID,
}

/// Whose support-contact flag to change on which client.
#[derive(InputObject, Clone, Debug)]
pub struct SetSupportContactInput {
    /// The client's clientId; an unknown or out-of-scope one is NOT_FOUND.
    pub client_id: String,
    /// The PartnerUser id of an assigned user; anyone else is
    /// `NOT_ASSIGNED`.
    pub user_id: ID,
    /// True to make the user a support contact, false to stop. Setting the
    /// value the user already has changes nothing and records no event.
    pub support_contact: bool,
}

/// The result of an assignment mutation: the client as it is now, or what
/// to fix.
#[derive(SimpleObject)]
pub struct AssignmentPayload {
    /// The client as it is after the call (unchanged when `userErrors` is
    /// not empty), so the page can re-render from it without refetching.
    pub client: Option<Client>,
    /// What the user can fix; empty on success, and then the change was
    /// made. Codes: `INVALID`, `TOO_MANY`, `USER_NOT_ELIGIBLE`,
    /// `NOT_ASSIGNED`, `SUPPORT_CONTACT_REQUIRED`.
    pub user_errors: Vec<UserError>,
}
