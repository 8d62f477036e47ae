//! Clients, their assignments, and the client list's filter and order.

use super::{load_user, page_args, parse_stored, search_term};
use super::{AuditEventConnection, Counter, PartnerUser, PartnerUserConnection};
use crate::domain::{ClientStatus, OrderField};
use crate::error::AppError;
use crate::graphql::context::{db, env, loaders, principal};
use crate::graphql::errors::nullable;
use crate::graphql::ids::{self, Kind};
use crate::policy::Capability;
use crate::service::{audit, clients, users};
use async_graphql::{Context, Enum, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::{client, client_assignment};

/// A partner-managed client profile.
pub struct Client {
    row: client::Model,
    status: ClientStatus,
}

impl Client {
    /// Wrap a client row, parsing its stored status once.
    pub fn new(row: client::Model) -> Result<Self, AppError> {
        Ok(Client { status: parse_stored(&row.status)?, row })
    }
}

#[Object]
impl Client {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Client, self.row.id)
    }
    /// The partner's own identifier, unique within the partner.
    async fn client_id(&self) -> &str {
        &self.row.client_id
    }
    async fn business_name(&self) -> &str {
        &self.row.business_name
    }
    /// Host name, in ASCII (punycode) form.
    async fn web_domain(&self) -> &str {
        &self.row.web_domain
    }
    /// IANA time-zone name.
    async fn timezone(&self) -> &str {
        &self.row.timezone
    }
    async fn status(&self) -> ClientStatus {
        self.status
    }
    /// When true, the last support contact cannot be removed.
    async fn support_contact_required(&self) -> bool {
        self.row.support_contact_required
    }
    /// Partner administrators only; `null` for partner users (no error).
    async fn contact_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.row.contact_name.as_str()))
    }
    /// Partner administrators only; `null` for partner users (no error).
    async fn business_email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.row.business_email.as_str()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Partner users working on this client, oldest assignment first.
    async fn assignments(&self, ctx: &Context<'_>) -> Result<Vec<ClientAssignment>> {
        let rows = loaders(ctx)?.assignments.load_one(self.row.id).await?.unwrap_or_default();
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
                users::list_eligible(&db(ctx)?.reader().await?, p, self.row.id, search.as_ref(), &args, env.limits.max_page_size).await?;
            let count = Counter::Eligible { client_uuid: self.row.id, search };
            Ok(Some(PartnerUserConnection::new(page, count)?))
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
            let page = audit::list_for_client(&db(ctx)?.reader().await?, p, self.row.id, &args, env.limits.max_page_size).await?;
            Ok(Some(AuditEventConnection::new(page, Counter::Audit { client_uuid: self.row.id })?))
        };
        nullable(ctx, run.await)
    }
}

/// A partner user working on a client.
pub struct ClientAssignment(pub client_assignment::Model);

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
        let mut statuses = f.status.unwrap_or_default();
        statuses.sort();
        statuses.dedup();
        Ok(clients::Filter { search: search_term(f.search.as_deref())?, statuses })
    }
}

/// Sort order; ties are broken by the client's id. Default: BUSINESS_NAME ASC.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ClientOrder {
    pub field: OrderField,
    pub direction: OrderDirection,
}

impl ClientOrder {
    pub fn parse(o: Option<ClientOrder>) -> clients::Order {
        let o = o.unwrap_or(ClientOrder { field: OrderField::default(), direction: OrderDirection::default() });
        clients::Order { field: o.field, descending: o.direction == OrderDirection::Desc }
    }
}
