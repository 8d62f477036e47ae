//! Relay cursor connections, and what their `totalCount` counts.

use super::{AuditEvent, Client, PartnerUser};
use crate::domain::SearchTerm;
use crate::error::AppError;
use crate::graphql::context::{env, principal};
use crate::page::Page;
use crate::service::{audit, clients, users};
use async_graphql::{Context, Object, Result, SimpleObject};
use entity::{audit_event, client, user};
use uuid::Uuid;

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

/// A connection of `$node`s built from a page of `$row`s, each row wrapped
/// (and its stored enums parsed) once by `$node::new`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ident, $row:ty) => {
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
            pub fn new(page: Page<$row>, count: Count) -> Result<Self, AppError> {
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

connection!(ClientConnection, ClientEdge, Client, client::Model);
connection!(PartnerUserConnection, PartnerUserEdge, PartnerUser, user::Model);
connection!(AuditEventConnection, AuditEventEdge, AuditEvent, audit_event::Model);
