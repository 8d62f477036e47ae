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

/// What provisioning does not do, and where each goes instead.
pub const ESCALATION_BOUNDARIES: &[(&str, &str)] = &[
    (
        "CUSTOMER_USER_ACCOUNTS",
        "Creating customer users and recovering customer passwords goes through AiDial's customer account workflow.",
    ),
    ("CALL_ROUTING", "Production call routing is configured by AiDial's runtime team."),
    ("PHONE_NUMBER_PROVISIONING", "Phone numbers are provisioned and registered through AiDial's telephony workflow."),
    ("BILLING_SETUP", "Billing configuration and billing-plan activation go through AiDial's billing workflow."),
    ("CALL_DATA_MIGRATION", "Historical call data is migrated by AiDial's data team."),
    ("DATA_IMPORT", "Importing client data (contacts, knowledge, history) goes through AiDial's data-import workflow."),
    ("RUNTIME_WIRING", "Connecting a client to runtime integrations is done by AiDial's runtime team."),
    ("DNS", "DNS changes for a client's domain go through AiDial's infrastructure workflow."),
    (
        "PRODUCTION_CUTOVER",
        "Deploying an assistant to production and cutting over is an approved AiDial release workflow.",
    ),
    ("CONTRACT_OR_LEGAL_ENTITY", "Customer contract and legal-entity changes go through AiDial's account management."),
    (
        "TENANT_DELETION_OR_RESTORATION",
        "Deleting or restoring a tenant goes through AiDial's tenant lifecycle workflow.",
    ),
];

#[Object]
impl Query {
    /// The signed-in person.
    async fn viewer(&self) -> Viewer {
        Viewer
    }

    /// The viewer's clients: every client of the partner for administrators,
    /// assigned clients for partner users. Page with `first`/`after` or
    /// `last`/`before` (default 20, at most 100).
    async fn clients(
        &self,
        ctx: &Context<'_>,
        filter: Option<ClientFilter>,
        order_by: Option<ClientOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
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
    async fn client(&self, ctx: &Context<'_>, client_id: String) -> Result<Option<Client>> {
        let run = async {
            let p = principal(ctx)?;
            Ok(Some(Client::new(clients::get(&db(ctx)?.reader().await?, p, &client_id).await?)?))
        };
        nullable(ctx, run.await)
    }

    /// Any object by global id; `null` when absent or not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        nullable(ctx, node(ctx, &id).await)
    }

    /// What this page does not do: each goes through an AiDial workflow.
    async fn escalation_boundaries(&self) -> Vec<EscalationBoundary> {
        ESCALATION_BOUNDARIES
            .iter()
            .map(|(kind, description)| EscalationBoundary { kind: (*kind).into(), description: (*description).into() })
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
            Some(u) => clients::find_by_uuid(&db(ctx)?.reader().await?, p, u).await?.map(Client::new).transpose()?.map(Node::Client),
            None => None,
        },
        Kind::PartnerUser => match uuid() {
            Some(u) => users::find(&db(ctx)?.reader().await?, p, u).await?.map(PartnerUser::new).transpose()?.map(Node::PartnerUser),
            None => None,
        },
        Kind::Partner => match uuid() {
            Some(u) if p.sees_partner(u) => Some(Node::Partner(Partner(users::own_partner(&db(ctx)?.reader().await?, p).await?))),
            _ => None,
        },
        Kind::AuditEvent => match uuid() {
            Some(u) => audit::find(&db(ctx)?.reader().await?, p, u).await?.map(AuditEvent::new).transpose()?.map(Node::AuditEvent),
            None => None,
        },
    })
}
