//! Clients, their assignments, and the client list's filter and order.

use super::{load_user, parse_stored, search_term};
use super::{AuditEventConnection, Counter, PartnerUser, PartnerUserConnection};
use crate::domain::{ClientStatus, OrderField};
use crate::error::AppError;
use crate::graphql::context::{db, env, loaders, principal};
use crate::graphql::errors::nullable;
use crate::graphql::ids::{self, Kind};
use crate::page::PageArgs;
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

/// A client account managed by a partner. Partner administrators see every
/// client of their partner; partner users only those they are assigned to.
#[Object]
impl Client {
    /// Global id: fetch the client again with `node(id:)`. For URLs and
    /// display, use `clientId`.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Client, self.row.id)
    }
    /// The partner's own identifier for the client, unique within the
    /// partner (not across partners): 3 to 64 characters of `a-z`, `0-9` and
    /// `-`, starting and ending with a letter or digit. Set at provisioning;
    /// no mutation changes it. `client(clientId:)` takes it.
    async fn client_id(&self) -> &str {
        &self.row.client_id
    }
    /// The client's business name as entered, trimmed: 1 to 200 characters.
    async fn business_name(&self) -> &str {
        &self.row.business_name
    }
    /// The client's web host name: lower-case, no scheme, path or port. An
    /// internationalised name is in its ASCII (punycode, `xn--…`) form;
    /// decode it for display if you need to.
    async fn web_domain(&self) -> &str {
        &self.row.web_domain
    }
    /// The client's IANA time-zone name, e.g. `Europe/Berlin`.
    async fn timezone(&self) -> &str {
        &self.row.timezone
    }
    /// Where the client is in its lifecycle. Partners cannot change it
    /// through this API; AiDial's own workflows do.
    async fn status(&self) -> ClientStatus {
        self.status
    }
    /// When true, a client that has a support contact must keep at least
    /// one: a change that would remove the last is refused with
    /// `SUPPORT_CONTACT_REQUIRED`. Set at provisioning.
    async fn support_contact_required(&self) -> bool {
        self.row.support_contact_required
    }
    /// The client's contact person, 1 to 200 characters. Partner
    /// administrators only: `null` for partner users, with no error (so one
    /// query serves both roles; `viewer.permissions.canViewContactDetails`
    /// says which applies).
    async fn contact_name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.row.contact_name.as_str()))
    }
    /// The client's business e-mail address, its domain in ASCII (punycode)
    /// form. Partner administrators only: `null` for partner users, with no
    /// error, like `contactName`.
    async fn business_email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(principal(ctx)?.can(Capability::ViewContactDetails).then_some(self.row.business_email.as_str()))
    }
    /// When the client was provisioned.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the client's profile last changed: its provisioning, then each
    /// status change. Assignment changes do not move it (see `auditEvents`).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// The partner users working on this client, oldest assignment first;
    /// every one of them, unpaged (a client has a handful). Both roles see it.
    async fn assignments(&self, ctx: &Context<'_>) -> Result<Vec<ClientAssignment>> {
        let rows = loaders(ctx)?.assignments.load_one(self.row.id).await?.unwrap_or_default();
        Ok(rows.into_iter().map(ClientAssignment).collect())
    }
    /// The users who could be assigned to this client: active partner
    /// users and administrators of the partner not yet assigned to it,
    /// ordered by e-mail address. Partner administrators only: for partner
    /// users it is `null` with a FORBIDDEN error at this path (the rest of
    /// the query still resolves). A bad cursor, page size or search is
    /// BAD_USER_INPUT.
    async fn eligible_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only users whose display name or e-mail address contains this text, ignoring case (on SQLite, ASCII letters only); trimmed, and empty means no filter. `%`, `_` and `\\` are literal. At most 100 characters and no control characters, else BAD_USER_INPUT."
        )]
        search: Option<String>,
        #[graphql(
            desc = "Page forwards: the first N users after `after` (0 to 100). Not with `last`. When neither `first` nor `last` is given, 20."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.endCursor`) with the same `search`: the page starts after it. A cursor from another list is BAD_USER_INPUT."
        )]
        after: Option<String>,
        #[graphql(desc = "Page backwards: the last N users before `before` (0 to 100). Not with `first`.")]
        last: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.startCursor`) with the same `search`: the page ends before it. A cursor from another list is BAD_USER_INPUT."
        )]
        before: Option<String>,
    ) -> Result<Option<PartnerUserConnection>> {
        let run = async {
            let (env, p) = (env(ctx)?, principal(ctx)?);
            let search = search_term(search.as_deref())?;
            let args = PageArgs { first, after, last, before };
            let page = users::list_eligible(
                &db(ctx)?.reader().await?,
                p,
                self.row.id,
                search.as_ref(),
                &args,
                env.limits.max_page_size,
            )
            .await?;
            let count = Counter::Eligible { client_uuid: self.row.id, search };
            Ok(Some(PartnerUserConnection::new(page, count)?))
        };
        nullable(ctx, run.await)
    }
    /// What happened to this client, newest first: every change, written in
    /// the same transaction as the change itself. Partner administrators
    /// only: for partner users it is `null` with a FORBIDDEN error at this
    /// path (the rest of the query still resolves). A bad cursor or page
    /// size is BAD_USER_INPUT.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Page forwards (towards older events): the first N events after `after` (0 to 100). Not with `last`. When neither `first` nor `last` is given, 20."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.endCursor`): the page starts after it. A cursor from another list is BAD_USER_INPUT."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page backwards (towards newer events): the last N events before `before` (0 to 100). Not with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.startCursor`): the page ends before it. A cursor from another list is BAD_USER_INPUT."
        )]
        before: Option<String>,
    ) -> Result<Option<AuditEventConnection>> {
        let run = async {
            let (env, p) = (env(ctx)?, principal(ctx)?);
            let args = PageArgs { first, after, last, before };
            let page =
                audit::list_for_client(&db(ctx)?.reader().await?, p, self.row.id, &args, env.limits.max_page_size)
                    .await?;
            Ok(Some(AuditEventConnection::new(page, Counter::Audit { client_uuid: self.row.id })?))
        };
        nullable(ctx, run.await)
    }
}

/// A partner user working on a client.
pub struct ClientAssignment(pub client_assignment::Model);

/// A partner user working on a client, and whether AiDial support contacts
/// them about it. Not a `Node`: it is only ever read through its client.
#[Object]
impl ClientAssignment {
    /// The assigned user (possibly inactive since: they keep their
    /// assignments until unassigned).
    async fn user(&self, ctx: &Context<'_>) -> Result<PartnerUser> {
        load_user(ctx, self.0.user_id)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("assigned user {} outside scope", self.0.user_id)).into())
    }
    /// True when this user is one of the people AiDial support contacts
    /// about this client.
    async fn support_contact(&self) -> bool {
        self.0.support_contact
    }
    /// When the user was assigned to this client.
    async fn assigned_at(&self) -> DateTime<Utc> {
        self.0.assigned_at
    }
    /// Who assigned them; `null` when AiDial's own workflows did.
    async fn assigned_by(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        match self.0.assigned_by {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
}

/// Which way a list is sorted.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Ascending: A to Z, oldest first. The default.
    #[default]
    Asc,
    /// Descending: Z to A, newest first.
    Desc,
}

/// Which clients `Query.clients` returns, within those the viewer sees.
/// Both conditions must hold; omit the filter for every visible client.
#[derive(InputObject, Clone, Debug)]
pub struct ClientFilter {
    /// Only clients whose clientId, businessName or webDomain (and, for
    /// administrators, contactName or businessEmail) contains this text,
    /// ignoring case. Trimmed; empty means no filter. `%`, `_` and `\` are
    /// literal characters. At most 100 characters and no control
    /// characters, else BAD_USER_INPUT.
    pub search: Option<String>,
    /// Only clients in one of these statuses. Omitted, null or empty: every
    /// status.
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
        Ok(clients::Filter::new(search_term(f.search.as_deref())?, statuses))
    }
}

/// How `Query.clients` is sorted; ties are broken by the client's id, so
/// the order is total and pages are stable. Default: `BUSINESS_NAME`,
/// `ASC`. A cursor belongs to one order: changing the order means starting
/// again from the first page.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ClientOrder {
    /// The sort key.
    pub field: OrderField,
    /// Ascending or descending.
    pub direction: OrderDirection,
}

impl ClientOrder {
    pub fn parse(o: Option<ClientOrder>) -> clients::Order {
        let o = o.unwrap_or(ClientOrder { field: OrderField::default(), direction: OrderDirection::default() });
        clients::Order { field: o.field, descending: o.direction == OrderDirection::Desc }
    }
}
