//! The viewer, partners and partner users.

use super::parse_stored;
use crate::domain::PartnerRole;
use crate::error::AppError;
use crate::graphql::context::{db, principal};
use crate::graphql::ids::{self, Kind};
use crate::policy::Capability;
use crate::service::users;
use async_graphql::{Context, Object, Result, SimpleObject, ID};
use entity::{partner, user};

/// A partner organisation.
pub struct Partner(pub partner::Model);

/// A partner organisation: the tenant. A viewer sees only their own partner
/// (`viewer.partner`); any other partner's id resolves to `null` in
/// `node(id:)`.
#[Object]
impl Partner {
    /// Global id: fetch the partner again with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Partner, self.0.id)
    }
    /// The partner's short unique handle, set by AiDial when it created the
    /// partner.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// The partner's display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A person in a partner organisation.
pub struct PartnerUser {
    row: user::Model,
    role: PartnerRole,
}

impl PartnerUser {
    /// Wrap a user row, parsing its stored role once. A role that is not a
    /// partner role cannot be in a partner's scope: an internal error.
    pub fn new(row: user::Model) -> Result<Self, AppError> {
        let role = PartnerRole::from_role(parse_stored(&row.role)?)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("non-partner user in partner scope")))?;
        Ok(PartnerUser { row, role })
    }
}

/// A person in a partner organisation: an administrator or a partner user.
/// Viewers see the people of their own partner only (as assignees, actors,
/// eligible users, `node(id:)`); customer and AiDial staff accounts never
/// appear.
#[Object]
impl PartnerUser {
    /// Global id: fetch the user again with `node(id:)`; the assignment
    /// mutations take it as `userId`/`userIds`.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::PartnerUser, self.row.id)
    }
    /// The person's name as AiDial recorded it.
    async fn display_name(&self) -> &str {
        &self.row.display_name
    }
    /// The person's sign-in e-mail address, unique across AiDial.
    async fn email(&self) -> &str {
        &self.row.email
    }
    /// What the person may do in their partner organisation.
    async fn role(&self) -> PartnerRole {
        self.role
    }
    /// False once AiDial deactivated the account: an inactive user keeps
    /// their history and existing assignments, but cannot sign in and is
    /// never eligible for a new assignment.
    async fn active(&self) -> bool {
        self.row.active
    }
}

/// What the signed-in viewer may do; the UI shows or hides controls by it.
/// A read-only token (`scope: clients:read`) turns the two write
/// permissions off, whatever the role.
#[derive(SimpleObject)]
pub struct ViewerPermissions {
    /// True when `provisionClient` is allowed: partner administrators with a
    /// full-access token. Otherwise the mutation is FORBIDDEN.
    pub can_provision_clients: bool,
    /// True when `assignPartnerUsers`, `unassignPartnerUser` and
    /// `setSupportContact` are allowed: partner administrators with a
    /// full-access token. Otherwise they are FORBIDDEN.
    pub can_manage_assignments: bool,
    /// True for partner administrators. False for partner users:
    /// `contactName` and `businessEmail` are `null` for them, and
    /// `eligibleUsers` and `auditEvents` are `null` with FORBIDDEN.
    pub can_view_contact_details: bool,
}

/// The signed-in person, their organisation and permissions.
pub struct Viewer;

/// The signed-in person, their organisation and what they may do: the
/// first query a page makes. Every request needs a bearer token of an
/// active partner account (no or a bad token: HTTP 401, UNAUTHENTICATED;
/// any other account: FORBIDDEN).
#[Object]
impl Viewer {
    /// The signed-in person.
    async fn user(&self, ctx: &Context<'_>) -> Result<PartnerUser> {
        Ok(PartnerUser::new(users::me(&db(ctx)?.reader().await?, principal(ctx)?).await?)?)
    }
    /// The viewer's partner organisation.
    async fn partner(&self, ctx: &Context<'_>) -> Result<Partner> {
        Ok(Partner(users::own_partner(&db(ctx)?.reader().await?, principal(ctx)?).await?))
    }
    /// The viewer's role, read from the user record on every request (never
    /// from the token).
    async fn role(&self, ctx: &Context<'_>) -> Result<PartnerRole> {
        Ok(principal(ctx)?.role)
    }
    /// What the viewer may do, for showing or hiding controls.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<ViewerPermissions> {
        let p = principal(ctx)?;
        Ok(ViewerPermissions {
            can_provision_clients: p.can(Capability::ProvisionClients),
            can_manage_assignments: p.can(Capability::ManageAssignments),
            can_view_contact_details: p.can(Capability::ViewContactDetails),
        })
    }
}
