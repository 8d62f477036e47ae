//! The write side: each mutation is one service call and one transaction.

use super::context::{db, env, loaders, principal};
use super::ids::{self, Kind};
use super::types::*;
use crate::service::assignments::{self, AssignInput};
use crate::service::provision::{self, ProvisionInput, ProvisionOutcome};
use async_graphql::{Context, Object, Result};

pub struct Mutation;

fn payload(ctx: &Context<'_>, o: assignments::Outcome) -> Result<AssignmentPayload> {
    // The payload shows the client as it is now, not as cached earlier.
    loaders(ctx)?.clear();
    Ok(AssignmentPayload {
        client: Some(Client::new(o.client)?),
        user_errors: o.errors.into_iter().map(Into::into).collect(),
    })
}

/// Every write. Partner administrators with a full-access token only:
/// partner users and read-only tokens (`scope: clients:read`) get FORBIDDEN
/// (and `data` is `null`). What a form can fix comes back as `userErrors`,
/// with nothing written; every change writes its audit event in the same
/// transaction.
#[Object]
impl Mutation {
    /// Create a client profile, status `PROVISIONED` (partner
    /// administrators). Sending the same input again returns the existing
    /// client with `created: false`, so a retry is safe. Creates no customer
    /// users, numbers, billing or deployments: see `escalationBoundaries`.
    async fn provision_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new client's profile.")] input: ProvisionInput,
    ) -> Result<ProvisionClientPayload> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        Ok(match provision::provision(db(ctx)?, &env.metrics, p, &input).await? {
            ProvisionOutcome::Created(c) => {
                ProvisionClientPayload { client: Some(Client::new(c)?), created: true, user_errors: vec![] }
            }
            ProvisionOutcome::Existing(c) => {
                ProvisionClientPayload { client: Some(Client::new(c)?), created: false, user_errors: vec![] }
            }
            ProvisionOutcome::Rejected(errors) => ProvisionClientPayload {
                client: None,
                created: false,
                user_errors: errors.into_iter().map(Into::into).collect(),
            },
        })
    }

    /// Assign partner users to a client, all or nothing (at most 100 ids).
    /// Users already assigned are left as they are. NOT_FOUND when the
    /// client does not exist or is not visible.
    async fn assign_partner_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client and the users to assign to it.")] input: AssignPartnerUsersInput,
    ) -> Result<AssignmentPayload> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let ids: Vec<_> = input.user_ids.iter().map(|id| ids::decode_uuid(id, Kind::PartnerUser)).collect();
        let outcome = assignments::assign(
            db(ctx)?,
            &env.metrics,
            p,
            AssignInput {
                client_id: &input.client_id,
                user_ids: &ids,
                support_contact: input.support_contact.unwrap_or(false),
            },
            env.limits.assign_ids,
        )
        .await?;
        payload(ctx, outcome)
    }

    /// Remove a user from a client. Refused with `SUPPORT_CONTACT_REQUIRED`
    /// when it would leave a client that requires a support contact without
    /// one. NOT_FOUND when the client does not exist or is not visible.
    async fn unassign_partner_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client and the user to remove from it.")] input: UnassignPartnerUserInput,
    ) -> Result<AssignmentPayload> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let user = ids::decode_uuid(&input.user_id, Kind::PartnerUser);
        let outcome = assignments::unassign(db(ctx)?, &env.metrics, p, &input.client_id, user).await?;
        payload(ctx, outcome)
    }

    /// Make an assigned user a support contact, or stop them being one
    /// (refused with `SUPPORT_CONTACT_REQUIRED` for the last one of a client
    /// that requires one). NOT_FOUND when the client does not exist or is
    /// not visible.
    async fn set_support_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client, the assigned user and the new flag.")] input: SetSupportContactInput,
    ) -> Result<AssignmentPayload> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let user = ids::decode_uuid(&input.user_id, Kind::PartnerUser);
        let outcome =
            assignments::set_support_contact(db(ctx)?, &env.metrics, p, &input.client_id, user, input.support_contact)
                .await?;
        payload(ctx, outcome)
    }
}
