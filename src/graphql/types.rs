//! GraphQL output and input types: thin wrappers around rows, kept apart
//! from the entities so that a new column never becomes API by accident.

use super::context::{env, loaders, principal};
use super::errors::nullable;
use super::ids::{self, Kind};
use crate::domain::{self, SearchTerm};
use crate::error::AppError;
use crate::page::{Page, PageArgs};
use crate::policy::{Capability, PartnerRole as PolicyRole};
use crate::service::{self, audit, clients, users};
use async_graphql::{Context, Enum, InputObject, Interface, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{audit_event, client, client_assignment, partner, user};
use uuid::Uuid;

/// Anything with a global id; fetch it back with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    Client(Client),
    PartnerUser(PartnerUser),
    Partner(Partner),
    AuditEvent(AuditEvent),
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PartnerRole {
    PartnerAdmin,
    PartnerUser,
}

impl From<PolicyRole> for PartnerRole {
    fn from(r: PolicyRole) -> Self {
        match r {
            PolicyRole::PartnerAdmin => PartnerRole::PartnerAdmin,
            PolicyRole::PartnerUser => PartnerRole::PartnerUser,
        }
    }
}

/// A client's lifecycle. Partners cannot change it through this API.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ClientStatus {
    /// Profile only: what provisioning creates.
    Provisioned,
    Onboarding,
    Active,
    Suspended,
    Offboarded,
}

impl From<domain::ClientStatus> for ClientStatus {
    fn from(s: domain::ClientStatus) -> Self {
        use domain::ClientStatus as D;
        match s {
            D::Provisioned => ClientStatus::Provisioned,
            D::Onboarding => ClientStatus::Onboarding,
            D::Active => ClientStatus::Active,
            D::Suspended => ClientStatus::Suspended,
            D::Offboarded => ClientStatus::Offboarded,
        }
    }
}

impl From<ClientStatus> for domain::ClientStatus {
    fn from(s: ClientStatus) -> Self {
        use domain::ClientStatus as D;
        match s {
            ClientStatus::Provisioned => D::Provisioned,
            ClientStatus::Onboarding => D::Onboarding,
            ClientStatus::Active => D::Active,
            ClientStatus::Suspended => D::Suspended,
            ClientStatus::Offboarded => D::Offboarded,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuditAction {
    ClientProvisioned,
    UserAssigned,
    UserUnassigned,
    SupportContactSet,
    SupportContactUnset,
    ClientStatusChanged,
}

impl From<domain::AuditAction> for AuditAction {
    fn from(a: domain::AuditAction) -> Self {
        use domain::AuditAction as D;
        match a {
            D::ClientProvisioned => AuditAction::ClientProvisioned,
            D::UserAssigned => AuditAction::UserAssigned,
            D::UserUnassigned => AuditAction::UserUnassigned,
            D::SupportContactSet => AuditAction::SupportContactSet,
            D::SupportContactUnset => AuditAction::SupportContactUnset,
            D::ClientStatusChanged => AuditAction::ClientStatusChanged,
        }
    }
}

fn parse_stored<T: std::str::FromStr<Err = domain::Invalid>>(s: &str) -> Result<T, AppError> {
    s.parse().map_err(|e: domain::Invalid| AppError::internal(anyhow::anyhow!("stored value: {e}")))
}

/// A partner organisation.
pub struct Partner(pub partner::Model);

#[Object]
impl Partner {
    async fn id(&self) -> ID {
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
pub struct PartnerUser(pub user::Model);

#[Object]
impl PartnerUser {
    async fn id(&self) -> ID {
        ids::encode(Kind::PartnerUser, self.0.id)
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Result<PartnerRole> {
        let role: domain::Role = parse_stored(&self.0.role)?;
        Ok(PolicyRole::from_role(role)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("non-partner user in partner scope")))?
            .into())
    }
    /// Inactive users keep their history but cannot sign in or be assigned.
    async fn active(&self) -> bool {
        self.0.active
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
        Ok(PartnerUser(users::me(&env(ctx)?.db, principal(ctx)?).await?))
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Partner> {
        Ok(Partner(users::own_partner(&env(ctx)?.db, principal(ctx)?).await?))
    }
    async fn role(&self, ctx: &Context<'_>) -> Result<PartnerRole> {
        Ok(principal(ctx)?.role.into())
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

/// A partner-managed client profile.
pub struct Client(pub client::Model);

fn page_args(first: Option<i32>, after: Option<String>) -> PageArgs {
    PageArgs { first, after, last: None, before: None }
}

fn search_term(search: Option<&str>) -> Result<Option<SearchTerm>, AppError> {
    search.map(SearchTerm::parse).transpose().map(Option::flatten).map_err(|e| AppError::BadUserInput(e.0))
}

#[Object]
impl Client {
    async fn id(&self) -> ID {
        ids::encode(Kind::Client, self.0.id)
    }
    /// The partner's own identifier, unique within the partner.
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    async fn business_name(&self) -> &str {
        &self.0.business_name
    }
    /// Host name, in ASCII (punycode) form.
    async fn web_domain(&self) -> &str {
        &self.0.web_domain
    }
    /// IANA time-zone name.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn status(&self) -> Result<ClientStatus> {
        Ok(parse_stored::<domain::ClientStatus>(&self.0.status)?.into())
    }
    /// When true, the last support contact cannot be removed.
    async fn support_contact_required(&self) -> bool {
        self.0.support_contact_required
    }
    /// Partner administrators only; `null` for partner users (no error).
    async fn contact_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.0.contact_name.as_str()))
    }
    /// Partner administrators only; `null` for partner users (no error).
    async fn business_email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.0.business_email.as_str()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Partner users working on this client, oldest assignment first.
    async fn assignments(&self, ctx: &Context<'_>) -> Result<Vec<ClientAssignment>> {
        let rows = loaders(ctx)?.assignments.load_one(self.0.id).await?.unwrap_or_default();
        Ok(rows.into_iter().map(ClientAssignment).collect())
    }
    /// Active users of the partner not yet assigned to this client, by
    /// e-mail address. Partner administrators only: `null` and FORBIDDEN
    /// for partner users.
    async fn eligible_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case-insensitive substring of the name or e-mail address, at most 100 characters.")]
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<PartnerUserConnection>> {
        let run = async {
            let (env, p) = (env(ctx)?, principal(ctx)?);
            let search = search_term(search.as_deref())?;
            let args = page_args(first, after);
            let page =
                users::list_eligible(&env.db, p, self.0.id, search.as_ref(), &args, env.limits.max_page_size).await?;
            Ok(Some(PartnerUserConnection::new(
                page.map(PartnerUser),
                Count::Eligible { client_uuid: self.0.id, search },
            )))
        };
        nullable(ctx, run.await)
    }
    /// What happened to this client, newest first. Partner administrators
    /// only: `null` and FORBIDDEN for partner users.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<AuditEventConnection>> {
        let run = async {
            let (env, p) = (env(ctx)?, principal(ctx)?);
            let args = page_args(first, after);
            let page = audit::list_for_client(&env.db, p, self.0.id, &args, env.limits.max_page_size).await?;
            Ok(Some(AuditEventConnection::new(page.map(AuditEvent), Count::Audit { client_uuid: self.0.id })))
        };
        nullable(ctx, run.await)
    }
}

/// A partner user working on a client.
pub struct ClientAssignment(pub client_assignment::Model);

async fn load_user(ctx: &Context<'_>, id: Uuid) -> Result<Option<PartnerUser>> {
    Ok(loaders(ctx)?.users.load_one(id).await?.map(PartnerUser))
}

#[Object]
impl ClientAssignment {
    async fn user(&self, ctx: &Context<'_>) -> Result<PartnerUser> {
        load_user(ctx, self.0.user_id)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("assigned user {} outside scope", self.0.user_id)).into())
    }
    /// The people AiDial support contacts about this client.
    async fn support_contact(&self) -> bool {
        self.0.support_contact
    }
    async fn assigned_at(&self) -> DateTime<Utc> {
        self.0.assigned_at
    }
    async fn assigned_by(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.0.assigned_by {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
}

/// One change to a client.
pub struct AuditEvent(pub audit_event::Model);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.0.id)
    }
    async fn action(&self) -> Result<AuditAction> {
        Ok(parse_stored::<domain::AuditAction>(&self.0.action)?.into())
    }
    /// Who did it; `null` for AiDial's own workflows.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.0.actor_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The user the change was about, for assignment events.
    async fn subject_user(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.0.subject_user_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

/// Something this page does not do, and which AiDial workflow does it.
#[derive(SimpleObject, Clone)]
pub struct EscalationBoundary {
    /// Stable identifier, e.g. `BILLING_SETUP`.
    pub kind: String,
    pub description: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// What `totalCount` counts, run only when the field is selected.
pub enum Count {
    Clients(clients::Filter),
    Eligible { client_uuid: Uuid, search: Option<SearchTerm> },
    Audit { client_uuid: Uuid },
}

impl Count {
    async fn run(&self, ctx: &Context<'_>) -> Result<i64> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let n = match self {
            Count::Clients(f) => clients::count(&env.db, p, f, &env.counts).await?,
            Count::Eligible { client_uuid, search } => {
                users::count_eligible(&env.db, p, *client_uuid, search.as_ref()).await?
            }
            Count::Audit { client_uuid } => audit::count_for_client(&env.db, p, *client_uuid).await?,
        };
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ident) => {
        #[derive(SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        pub struct $conn {
            edges: Vec<$edge>,
            page_info: PageInfo,
            count: Count,
        }

        impl $conn {
            pub fn new(page: Page<$node>, count: Count) -> Self {
                let edges: Vec<$edge> = page.edges.into_iter().map(|(cursor, node)| $edge { cursor, node }).collect();
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                $conn { edges, page_info, count }
            }
        }

        #[Object]
        impl $conn {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            /// Exact number of matching items; its query runs only when this field is selected.
            async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
                self.count.run(ctx).await
            }
        }
    };
}

connection!(ClientConnection, ClientEdge, Client);
connection!(PartnerUserConnection, PartnerUserEdge, PartnerUser);
connection!(AuditEventConnection, AuditEventEdge, AuditEvent);

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum ClientOrderField {
    #[default]
    BusinessName,
    ClientId,
    CreatedAt,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

#[derive(InputObject, Clone, Debug)]
pub struct ClientFilter {
    /// Case-insensitive substring of clientId, businessName or webDomain (and,
    /// for administrators, contactName or businessEmail). `%`, `_` and `\`
    /// are literal. At most 100 characters.
    pub search: Option<String>,
    /// Omitted, null or empty: every status.
    pub status: Option<Vec<ClientStatus>>,
}

impl ClientFilter {
    pub fn parse(f: Option<ClientFilter>) -> Result<clients::Filter, AppError> {
        let Some(f) = f else {
            return Ok(clients::Filter::default());
        };
        let mut statuses: Vec<domain::ClientStatus> =
            f.status.unwrap_or_default().into_iter().map(Into::into).collect();
        statuses.sort();
        statuses.dedup();
        Ok(clients::Filter { search: search_term(f.search.as_deref())?, statuses })
    }
}

/// Sort order; ties are broken by the client's id. Default: BUSINESS_NAME ASC.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ClientOrder {
    pub field: ClientOrderField,
    pub direction: OrderDirection,
}

impl ClientOrder {
    pub fn parse(o: Option<ClientOrder>) -> clients::Order {
        let o = o.unwrap_or(ClientOrder { field: ClientOrderField::default(), direction: OrderDirection::default() });
        clients::Order {
            field: match o.field {
                ClientOrderField::BusinessName => crate::domain::OrderField::BusinessName,
                ClientOrderField::ClientId => crate::domain::OrderField::ClientId,
                ClientOrderField::CreatedAt => crate::domain::OrderField::CreatedAt,
            },
            descending: o.direction == OrderDirection::Desc,
        }
    }
}

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

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserErrorCode {
    Invalid,
    Taken,
    UserNotEligible,
    NotAssigned,
    SupportContactRequired,
    TooMany,
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
        use service::UserErrorCode as S;
        UserError {
            field: Some(e.field),
            message: e.message,
            code: match e.code {
                S::Invalid => UserErrorCode::Invalid,
                S::Taken => UserErrorCode::Taken,
                S::UserNotEligible => UserErrorCode::UserNotEligible,
                S::NotAssigned => UserErrorCode::NotAssigned,
                S::SupportContactRequired => UserErrorCode::SupportContactRequired,
                S::TooMany => UserErrorCode::TooMany,
            },
        }
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
