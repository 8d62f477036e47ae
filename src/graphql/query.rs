//! The read side. Resolvers read the context, call a service, wrap rows.

use super::context::{db, env, principal};
use super::errors::nullable;
use super::ids::{self, Kind};
use super::types::*;
use crate::error::AppError;
use crate::page::PageArgs;
use crate::service::{audit, clients, users};
use async_graphql::{Context, Object, Result, ID};

pub struct Query;

/// The most ids one `nodes(ids:)` call takes (the largest page, too).
pub const MAX_NODE_IDS: usize = 100;

/// What provisioning does not do, and where each goes instead.
pub const ESCALATION_BOUNDARIES: &[(EscalationKind, &str)] = &[
    (
        EscalationKind::CustomerUserAccounts,
        "Creating customer users and recovering customer passwords goes through AiDial's customer account workflow.",
    ),
    (EscalationKind::CallRouting, "Production call routing is configured by AiDial's runtime team."),
    (
        EscalationKind::PhoneNumberProvisioning,
        "Phone numbers are provisioned and registered through AiDial's telephony workflow.",
    ),
    (
        EscalationKind::BillingSetup,
        "Billing configuration and billing-plan activation go through AiDial's billing workflow.",
    ),
    (EscalationKind::CallDataMigration, "Historical call data is migrated by AiDial's data team."),
    (
        EscalationKind::DataImport,
        "Importing client data (contacts, knowledge, history) goes through AiDial's data-import workflow.",
    ),
    (EscalationKind::RuntimeWiring, "Connecting a client to runtime integrations is done by AiDial's runtime team."),
    (EscalationKind::Dns, "DNS changes for a client's domain go through AiDial's infrastructure workflow."),
    (
        EscalationKind::ProductionCutover,
        "Deploying an assistant to production and cutting over is an approved AiDial release workflow.",
    ),
    (
        EscalationKind::ContractOrLegalEntity,
        "Customer contract and legal-entity changes go through AiDial's account management.",
    ),
    (
        EscalationKind::TenantDeletionOrRestoration,
        "Deleting or restoring a tenant goes through AiDial's tenant lifecycle workflow.",
    ),
];

/// Every read starts here. Every request needs a bearer token of an active
/// partner account: without one (or with a bad one) the HTTP answer is 401
/// with UNAUTHENTICATED; any other account is FORBIDDEN.
#[Object]
impl Query {
    /// The signed-in person, their partner and what they may do.
    async fn viewer(&self) -> Viewer {
        Viewer
    }

    /// The viewer's clients: every client of the partner for administrators,
    /// assigned clients for partner users. Page with `first`/`after` or
    /// `last`/`before` (default 20, at most 100); keyset pages, stable when
    /// clients are added meanwhile. A bad cursor, page size or search is
    /// BAD_USER_INPUT (and, the field being non-null, `data` is `null`).
    async fn clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which clients to list; omitted: every client the viewer sees.")] filter: Option<ClientFilter>,
        #[graphql(desc = "Sort order; omitted: by business name, A to Z.")] order_by: Option<ClientOrder>,
        #[graphql(
            desc = "Page forwards: the first N clients after `after` (0 to 100). Not with `last`. When neither `first` nor `last` is given, 20."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.endCursor`) with the same `filter` and `orderBy`: the page starts after it. A cursor from another list or order is BAD_USER_INPUT."
        )]
        after: Option<String>,
        #[graphql(desc = "Page backwards: the last N clients before `before` (0 to 100). Not with `first`.")]
        last: Option<i32>,
        #[graphql(
            desc = "A cursor from this list (an edge's `cursor` or `pageInfo.startCursor`) with the same `filter` and `orderBy`: the page ends before it. A cursor from another list or order is BAD_USER_INPUT."
        )]
        before: Option<String>,
    ) -> Result<ClientConnection> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let filter = ClientFilter::parse(filter)?;
        let order = ClientOrder::parse(order_by);
        let args = PageArgs { first, after, last, before };
        let page = clients::list(&db(ctx)?.reader().await?, p, &filter, order, &args, env.limits.max_page_size).await?;
        super::context::prime_assignments(ctx, &page).await?;
        Ok(ClientConnection::new(page, Counter::Clients(filter))?)
    }

    /// One client by its clientId: `null` and NOT_FOUND when it does not
    /// exist or is not visible to the viewer (the two are indistinguishable).
    async fn client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's own identifier of the client (`Client.clientId`).")] client_id: String,
    ) -> Result<Option<Client>> {
        let run = async {
            let p = principal(ctx)?;
            Ok(Some(Client::new(clients::get(&db(ctx)?.reader().await?, p, &client_id).await?)?))
        };
        nullable(ctx, run.await)
    }

    /// Any object by its global id (Relay object identification): `null`,
    /// with no error, when it does not exist, is not visible to the viewer
    /// (another partner's, an audit event for a partner user) or the id is
    /// malformed: the three are indistinguishable.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, as read from an object's `id` field.")] id: ID,
    ) -> Result<Option<Node>> {
        nullable(ctx, node(ctx, &id).await)
    }

    /// Many objects by global id, in the order asked: each entry is exactly
    /// what `node(id:)` gives for that id, so `null` when absent, not
    /// visible or malformed. A repeated id gives the object again. More than
    /// 100 ids is BAD_USER_INPUT (and `data` is `null`).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, as read from objects' `id` fields: at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODE_IDS {
            return Err(AppError::BadUserInput(format!("pass at most {MAX_NODE_IDS} ids")).into());
        }
        let mut found = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            // One at a time, as `node` resolves: an error (the database
            // failing, say) nulls that entry and is reported at its index.
            found.push(match node(ctx, id).await {
                Ok(n) => n,
                Err(e) => {
                    let mut err = ctx.set_error_path(async_graphql::Error::from(e).into_server_error(ctx.item.pos));
                    err.path.push(async_graphql::PathSegment::Index(i));
                    ctx.add_error(err);
                    None
                }
            });
        }
        Ok(found)
    }

    /// What provisioning does not do, each with the AiDial workflow that
    /// does it instead: a fixed list, the same for every viewer.
    async fn escalation_boundaries(&self) -> Vec<EscalationBoundary> {
        ESCALATION_BOUNDARIES
            .iter()
            .map(|(kind, description)| EscalationBoundary { kind: *kind, description: (*description).into() })
            .collect()
    }
}

async fn node(ctx: &Context<'_>, id: &str) -> Result<Option<Node>, AppError> {
    let p = principal(ctx)?;
    let Some((kind, key)) = ids::decode(id) else {
        return Ok(None);
    };
    let uuid = || uuid::Uuid::parse_str(&key).ok();
    Ok(match kind {
        Kind::Client => match uuid() {
            Some(u) => clients::find_by_uuid(&db(ctx)?.reader().await?, p, u)
                .await?
                .map(Client::new)
                .transpose()?
                .map(Node::Client),
            None => None,
        },
        Kind::PartnerUser => match uuid() {
            Some(u) => users::find(&db(ctx)?.reader().await?, p, u)
                .await?
                .map(PartnerUser::new)
                .transpose()?
                .map(Node::PartnerUser),
            None => None,
        },
        Kind::Partner => match uuid() {
            Some(u) if p.sees_partner(u) => {
                Some(Node::Partner(Partner(users::own_partner(&db(ctx)?.reader().await?, p).await?)))
            }
            _ => None,
        },
        Kind::AuditEvent => match uuid() {
            Some(u) => audit::find(&db(ctx)?.reader().await?, p, u)
                .await?
                .map(AuditEvent::new)
                .transpose()?
                .map(Node::AuditEvent),
            None => None,
        },
    })
}
