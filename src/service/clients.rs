//! Reading clients: the scoped list, its counts, single lookups. Every
//! query goes through `repo::clients`, which starts from the principal's
//! row scope.

use super::count_cache::{CountCache, CountKey};
use crate::error::{AppError, Result};
use crate::page::{Page, PageArgs, PageRequest};
use crate::policy::Principal;
use crate::repo;
pub use crate::repo::clients::{Filter, Order};
use entity::client;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub async fn list(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: &Filter,
    order: Order,
    args: &PageArgs,
    max: u32,
) -> Result<Page<client::Model>> {
    let ks = repo::clients::keyset(order);
    let req = PageRequest::parse(args, max, &ks)?;
    repo::clients::page(db, p, filter, &ks, &req).await
}

/// How many clients match, exactly. When the principal sees its whole
/// partner and does not search, the per-status counters answer (a handful of
/// rows, whatever the size of the partner); everything else counts the
/// matching rows, cached under the partner's change version (see
/// [`CountCache`]).
pub async fn count(db: &impl ConnectionTrait, p: &Principal, filter: &Filter, cache: &CountCache) -> Result<u64> {
    if filter.search.is_none() && p.sees_whole_partner() {
        return repo::counts::sum(db, p.partner_id, &filter.statuses).await;
    }
    let key = CountKey {
        partner: p.partner_id,
        version: repo::counts::version(db, p.partner_id).await?,
        viewer: (!p.sees_whole_partner()).then_some(p.user_id),
        statuses: filter.statuses.clone(),
        search: filter.search.as_ref().map(|s| s.as_str().to_owned()),
    };
    if let Some(n) = cache.get(&key) {
        return Ok(n);
    }
    let n = repo::clients::count_matching(db, p, filter).await?;
    cache.put(key, n);
    Ok(n)
}

pub async fn find(db: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<Option<client::Model>> {
    repo::clients::find(db, p, client_id).await
}

/// [`find`], or NOT_FOUND: the same error for absent and out-of-scope.
pub async fn get(db: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<client::Model> {
    find(db, p, client_id).await?.ok_or(AppError::NotFound("client"))
}

pub async fn find_by_uuid(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<client::Model>> {
    repo::clients::find_by_uuid(db, p, id).await
}
