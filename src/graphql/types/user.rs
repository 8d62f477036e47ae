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

#[Object]
impl Partner {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Partner, self.0.id)
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
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

#[Object]
impl PartnerUser {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::PartnerUser, self.row.id)
    }
    async fn display_name(&self) -> &str {
        &self.row.display_name
    }
    async fn email(&self) -> &str {
        &self.row.email
    }
    async fn role(&self) -> PartnerRole {
        self.role
    }
    /// Inactive users keep their history but cannot sign in or be assigned.
    async fn active(&self) -> bool {
        self.row.active
    }
}

/// What the signed-in viewer may do; the UI shows or hides controls by it.
#[derive(SimpleObject)]
pub struct ViewerPermissions {
    pub can_provision_clients: bool,
    pub can_manage_assignments: bool,
    /// False for partner users: `contactName` and `businessEmail` are null.
    pub can_view_contact_details: bool,
}

/// The signed-in person, their organisation and permissions.
pub struct Viewer;

#[Object]
impl Viewer {
    async fn user(&self, ctx: &Context<'_>) -> Result<PartnerUser> {
        Ok(PartnerUser::new(users::me(&db(ctx)?.reader().await?, principal(ctx)?).await?)?)
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Partner> {
        Ok(Partner(users::own_partner(&db(ctx)?.reader().await?, principal(ctx)?).await?))
    }
    async fn role(&self, ctx: &Context<'_>) -> Result<PartnerRole> {
        Ok(principal(ctx)?.role)
    }
    async fn permissions(&self, ctx: &Context<'_>) -> Result<ViewerPermissions> {
        let p = principal(ctx)?;
        Ok(ViewerPermissions {
            can_provision_clients: p.can(Capability::ProvisionClients),
            can_manage_assignments: p.can(Capability::ManageAssignments),
            can_view_contact_details: p.can(Capability::ViewContactDetails),
        })
    }
}
