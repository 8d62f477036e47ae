//! Live updates (DESIGN §10): `Subscription.clientEvents`.
//!
//! Scope is decided for each event and each subscriber when the event is
//! sent, never only at subscribe time:
//! 1. a change of another partner is dropped before anything else (no
//!    database read, whatever the subscription);
//! 2. the client is read through the subscriber's own principal, as its
//!    socket last re-authenticated it, in a [`TenantDb`] of the event's own
//!    (row-level security on PostgreSQL): visible, the event is sent with
//!    the client as the viewer sees it now, masked as in queries;
//! 3. not visible, nothing is sent, except the one thing the policy lets a
//!    principal hear of a client out of its scope: its own unassignment
//!    ([`Principal::hears_of_departure`]), with `client: null`.
//!
//! The event's fields then resolve in that same `TenantDb`: [`PerEvent`]
//! hands it to async-graphql's per-event execution (as execution data,
//! which resolvers read before the subscription's own), and ends its read
//! transaction once the event is resolved. A subscription therefore never
//! holds a transaction or a pooled connection between events.

use super::context::{env, loaders};
use super::types::{Client, PartnerUser};
use crate::domain::AuditAction;
use crate::error::AppError;
use crate::graphql::context::Loaders;
use crate::live::{Change, Close, Session, Signal};
use crate::metrics::Metrics;
use crate::policy::Principal;
use crate::service::clients;
use crate::tenant::TenantDb;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Context, Data, Object, Response, Result};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

pub struct Subscription;

/// Live updates over a WebSocket on `/graphql` (subprotocol
/// `graphql-transport-ws`; the bearer token goes in `connection_init`'s
/// payload as `{"Authorization": "Bearer …"}`). Events are sent only for
/// committed changes, at most once, in commit order per client. After a
/// reconnect, re-query: changes made while disconnected are not replayed.
#[async_graphql::Subscription]
impl Subscription {
    /// One event per committed change to a client in the viewer's scope:
    /// provisioning, assignment and support-contact changes, status changes
    /// made by AiDial. Each event is checked against the viewer's scope when
    /// it is sent. With `clientId`, only that client's events; a clientId
    /// that does not exist or is not visible to the viewer is refused with
    /// NOT_FOUND, exactly like `client(clientId:)`.
    async fn client_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this client's events (`Client.clientId`); omitted: every client the viewer sees.")]
        client_id: Option<String>,
    ) -> Result<impl Stream<Item = ClientEvent>> {
        let session = ctx
            .data::<Arc<Session>>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("a subscription without its socket's session")))?
            .clone();
        let slot = ctx
            .data::<Arc<EventSlot>>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("a subscription without its event slot")))?
            .clone();
        let p = session.principal();
        // Subscribe first: a change committed while the clientId is checked
        // is not lost.
        let rx = session.hub.subscribe();
        let only = match client_id {
            Some(id) => Some(visible_client(&session, &p, &id).await?),
            None => None,
        };
        let metrics = env(ctx)?.metrics.clone();
        let feed = Feed { active: Active::new(metrics), session, rx, only, slot };
        Ok(futures_util::stream::unfold(feed, |mut feed| async move {
            let event = feed.next().await?;
            Some((event, feed))
        }))
    }
}

/// The client's row id, or NOT_FOUND: `client(clientId:)`'s own lookup.
async fn visible_client(session: &Session, p: &Principal, client_id: &str) -> Result<Uuid, AppError> {
    let tenant = TenantDb::new(session.db.clone(), p.clone(), false, Some(session.metrics.clone()));
    let found = async { clients::get(&tenant.reader().await?, p, client_id).await }.await;
    tenant.finish().await;
    Ok(found?.id)
}

/// One subscription's source of events.
struct Feed {
    session: Arc<Session>,
    rx: broadcast::Receiver<Signal>,
    only: Option<Uuid>,
    slot: Arc<EventSlot>,
    active: Active,
}

impl Feed {
    /// The next event for this subscriber; `None` ends the subscription
    /// (and, when events may have been missed, asks the socket to close).
    async fn next(&mut self) -> Option<ClientEvent> {
        loop {
            let change = match self.rx.recv().await {
                Ok(Signal::Change(change)) => change,
                Ok(Signal::Gap) | Err(RecvError::Lagged(_)) => {
                    self.session.close(Close::TRY_AGAIN);
                    return None;
                }
                Err(RecvError::Closed) => return None,
            };
            if self.only.is_some_and(|c| c != change.client_uuid) {
                continue;
            }
            // Another tenant's change never reaches the database (policy).
            let p = self.session.principal();
            if !p.sees_partner(change.partner_id) {
                continue;
            }
            match self.scoped(&p, &change).await {
                Ok(Some(event)) => {
                    self.active.metrics.ws_events_sent.inc();
                    return Some(event);
                }
                Ok(None) => continue,
                Err(e) => {
                    // Unchecked, an event is not sent; the page must not
                    // silently miss it either.
                    tracing::warn!(error = %e.chain(), "live updates: an event could not be checked; closing the socket");
                    self.session.close(Close::TRY_AGAIN);
                    return None;
                }
            }
        }
    }

    /// The event as `p` may see it, or `None` when it may not.
    async fn scoped(&self, p: &Principal, change: &Arc<Change>) -> Result<Option<ClientEvent>, AppError> {
        let tenant = TenantDb::new(self.session.db.clone(), p.clone(), false, Some(self.session.metrics.clone()));
        let found = async {
            let row = clients::find_by_uuid(&tenant.reader().await?, p, change.client_uuid).await?;
            row.map(Client::new).transpose()
        }
        .await;
        let client = match found {
            Ok(Some(client)) => Some(client),
            Ok(None) if p.hears_of_departure(change.action, change.subject_user_id) => None,
            Ok(None) => {
                tenant.finish().await;
                return Ok(None);
            }
            Err(e) => {
                tenant.finish().await;
                return Err(e);
            }
        };
        self.slot.put(tenant, p.clone());
        Ok(Some(ClientEvent { change: change.clone(), client }))
    }
}

/// Counts a running subscription in the `ws_subscriptions_active` gauge.
struct Active {
    metrics: Arc<Metrics>,
}

impl Active {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.ws_subscriptions.inc();
        Active { metrics }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.metrics.ws_subscriptions.dec();
    }
}

/// A committed change to a client, as the viewer sees it.
pub struct ClientEvent {
    change: Arc<Change>,
    client: Option<Client>,
}

/// One committed change to a client in the viewer's scope, as the viewer
/// sees it when the event is sent; or, once, the viewer's own unassignment
/// from a client, with `client` null.
#[Object]
impl ClientEvent {
    /// What changed: the action the client's audit trail records.
    async fn action(&self) -> AuditAction {
        self.change.action
    }
    /// The partner's identifier of the client that changed
    /// (`Client.clientId`), also when `client` is null: the row a page
    /// updates or removes.
    async fn client_id(&self) -> &str {
        &self.change.client_id
    }
    /// The client as the viewer sees it now, when the event is sent (not as
    /// it was when the change was made), masked as in queries:
    /// `contactName` and `businessEmail` are null for partner users. Null
    /// when the client has left the viewer's scope: a partner user's own
    /// `USER_UNASSIGNED`, after which nothing more is sent about that
    /// client.
    async fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }
    /// Who made the change; null when AiDial's own workflows did (the ops
    /// CLI's status changes).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        user(ctx, self.change.actor_id).await
    }
    /// The user the change was about: set for `USER_ASSIGNED`,
    /// `USER_UNASSIGNED`, `SUPPORT_CONTACT_SET` and `SUPPORT_CONTACT_UNSET`;
    /// null for the other actions.
    async fn subject_user(&self, ctx: &Context<'_>) -> Result<Option<PartnerUser>> {
        user(ctx, self.change.subject_user_id).await
    }
    /// When the change was committed (its audit event's `occurredAt`).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.change.occurred_at
    }
}

/// A user through the event's loader, within the viewer's user scope.
async fn user(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<PartnerUser>> {
    let Some(id) = id else { return Ok(None) };
    Ok(loaders(ctx)?.users.load_one(id).await?.map(PartnerUser::new).transpose()?)
}

/// Hands an event's `TenantDb` and principal from its subscription's
/// stream to the event's execution ([`PerEvent`]). One per subscription
/// (request data, see [`per_subscription`]); async-graphql resolves a
/// subscription's events one after the other, so one slot suffices.
#[derive(Default)]
pub struct EventSlot(Mutex<Option<(Arc<TenantDb>, Principal)>>);

impl EventSlot {
    fn put(&self, tenant: Arc<TenantDb>, p: Principal) {
        // A poisoned lock only means a panic elsewhere; the value is whole.
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((tenant, p));
    }

    fn take(&self) -> Option<(Arc<TenantDb>, Principal)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What a subscription request needs beside its socket's session.
pub fn per_subscription(request: async_graphql::Request) -> async_graphql::Request {
    request.data(Arc::new(EventSlot::default()))
}

/// The schema extension that runs each event's resolution with the event's
/// own `TenantDb`, loaders and principal (see the module docs). Every other
/// execution passes through untouched.
pub struct PerEvent;

impl ExtensionFactory for PerEvent {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerEvent)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerEvent {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Some((tenant, principal)) = ctx.data_opt::<Arc<EventSlot>>().and_then(|slot| slot.take()) else {
            return next.run(ctx, operation_name).await;
        };
        let mut data = Data::default();
        data.insert(Loaders::new(tenant.clone(), principal.clone()));
        data.insert(tenant.clone());
        data.insert(principal);
        let resp = next.run_with_data(ctx, operation_name, data).await;
        // The event is resolved: end its read transaction.
        tenant.finish().await;
        resp
    }
}
