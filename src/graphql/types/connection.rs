//! Relay cursor connections, and what their `totalCount` counts.

use super::{AuditEvent, Client, PartnerUser};
use crate::domain::SearchTerm;
use crate::error::AppError;
use crate::graphql::context::{db, env, principal};
use crate::page::Page;
use crate::service::{audit, clients, users};
use async_graphql::{Context, Object, Result, SimpleObject};
use entity::{audit_event, client, user};
use uuid::Uuid;

/// Where a page sits in its list (the Relay `PageInfo`). Page forwards with
/// `first` and `after: endCursor` while `hasNextPage`; backwards with `last`
/// and `before: startCursor` while `hasPreviousPage`. Keyset pages: rows
/// added between requests never shift or repeat the rest of a walk.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// True when more items follow this page. When paging backwards
    /// (`last`), true when `before` was given (items follow it).
    pub has_next_page: bool,
    /// True when more items precede this page. When paging forwards
    /// (`first`), true when `after` was given (items precede it).
    pub has_previous_page: bool,
    /// The first edge's cursor: pass it as `before` for the previous page.
    /// `null` when the page is empty.
    pub start_cursor: Option<String>,
    /// The last edge's cursor: pass it as `after` for the next page. `null`
    /// when the page is empty.
    pub end_cursor: Option<String>,
}

/// How far a bounded count got.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CountPrecision {
    /// Every match was counted.
    Exact,
    /// The count stopped at the limit: at least this many match (show "1,000+").
    AtLeast,
}

/// A count that stops at a limit, so its cost is bounded whatever the
/// partner's size.
#[derive(SimpleObject, Clone, Debug)]
pub struct Count {
    /// Matches counted: the exact number, or the limit when `precision` is `AT_LEAST`.
    pub count: i64,
    /// `EXACT` when fewer than the limit matched, else `AT_LEAST`.
    pub precision: CountPrecision,
}

/// What `totalCount` counts, run only when the field is selected.
pub enum Counter {
    Clients(clients::Filter),
    Eligible { client_uuid: Uuid, search: Option<SearchTerm> },
    Audit { client_uuid: Uuid },
}

impl Counter {
    async fn run(&self, ctx: &Context<'_>) -> Result<i64> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let n = match self {
            Counter::Clients(f) => clients::count(&db(ctx)?.reader().await?, p, f, &env.counts).await?,
            Counter::Eligible { client_uuid, search } => {
                users::count_eligible(&db(ctx)?.reader().await?, p, *client_uuid, search.as_ref()).await?
            }
            Counter::Audit { client_uuid } => {
                audit::count_for_client(&db(ctx)?.reader().await?, p, *client_uuid).await?
            }
        };
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// `count(limit:)`: clients only (the other lists are small).
    async fn run_bounded(&self, ctx: &Context<'_>, limit: i32) -> Result<Count> {
        let (env, p) = (env(ctx)?, principal(ctx)?);
        let Counter::Clients(f) = self else {
            return Err(AppError::internal(anyhow::anyhow!("a bounded count of something other than clients")).into());
        };
        let limit = u64::try_from(limit).unwrap_or(0);
        let c = clients::count_upto(&db(ctx)?.reader().await?, p, f, limit, &env.counts).await?;
        Ok(Count {
            count: i64::try_from(c.count).unwrap_or(i64::MAX),
            precision: if c.exact { CountPrecision::Exact } else { CountPrecision::AtLeast },
        })
    }
}

/// A connection of `$node`s built from a page of `$row`s, each row wrapped
/// (and its stored enums parsed) once by `$node::new`.
macro_rules! connection {
    ($conn:ident, $conn_doc:literal, $edge:ident, $edge_doc:literal, $node:ident, $row:ty $(, $bounded:ident)?) => {
        #[doc = $edge_doc]
        #[derive(SimpleObject)]
        pub struct $edge {
            /// Opaque cursor of this item, for `after` or `before`: valid only for the list (and order, and
            /// search) it came from, and it does not expire.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        pub struct $conn {
            edges: Vec<$edge>,
            page_info: PageInfo,
            count: Counter,
        }

        impl $conn {
            pub fn new(page: Page<$row>, count: Counter) -> Result<Self, AppError> {
                let edges = page
                    .edges
                    .into_iter()
                    .map(|(cursor, row)| Ok($edge { cursor, node: $node::new(row)? }))
                    .collect::<Result<Vec<$edge>, AppError>>()?;
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                Ok($conn { edges, page_info, count })
            }
        }

        #[doc = $conn_doc]
        #[Object]
        impl $conn {
            /// This page's items, in list order, each with its cursor.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            /// This page's items without their cursors (the same items as `edges`), for
            /// a page that needs only `pageInfo`'s cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            /// Where this page sits in the list, and the cursors for the next and previous pages.
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            /// Exact number of items in the whole list (every page, not only this one),
            /// after any search or filter. Its query runs only when this field is
            /// selected.
            async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
                self.count.run(ctx).await
            }
            $(
            /// Matching items counted up to `limit` (1 to 10,000; default 1,000):
            /// `EXACT` when fewer matched, else `count` = `limit` and `AT_LEAST`.
            /// Its cost is bounded by the limit, whatever the partner's size: the list
            /// page's own operation uses it. A `limit` outside 1–10,000 is `BAD_USER_INPUT`.
            async fn count(
                &self,
                ctx: &Context<'_>,
                #[graphql(default = 1000, desc = "Stop counting here: 1 to 10,000 (default 1,000).")] limit: Option<i32>,
            ) -> Result<Count> {
                self.count.$bounded(ctx, limit.unwrap_or(1000)).await
            }
            )?
        }
    };
}

connection!(
    ClientConnection,
    "A page of clients (a Relay connection), from `Query.clients`.",
    ClientEdge,
    "A client in a `ClientConnection`, with its cursor.",
    Client,
    client::Model,
    run_bounded
);
connection!(
    PartnerUserConnection,
    "A page of partner users (a Relay connection), from `Client.eligibleUsers`.",
    PartnerUserEdge,
    "A partner user in a `PartnerUserConnection`, with its cursor.",
    PartnerUser,
    user::Model
);
connection!(
    AuditEventConnection,
    "A page of audit events (a Relay connection), from `Client.auditEvents`.",
    AuditEventEdge,
    "An audit event in an `AuditEventConnection`, with its cursor.",
    AuditEvent,
    audit_event::Model
);
