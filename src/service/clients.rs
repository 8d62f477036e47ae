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
    repo::clients::page(db, p, filter, order, &req).await
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
    let key = count_key(db, p, filter, None).await?;
    if let Some(n) = cache.get(&key) {
        return Ok(n);
    }
    let n = repo::clients::count_matching(db, p, filter).await?;
    cache.put(key, n);
    Ok(n)
}

/// The cache key of a count: the partner's current version, whose scope
/// (the whole partner, or a partner user's), the filter, and the limit.
async fn count_key(db: &impl ConnectionTrait, p: &Principal, filter: &Filter, limit: Option<u64>) -> Result<CountKey> {
    Ok(CountKey {
        partner: p.partner_id,
        version: repo::counts::version(db, p.partner_id).await?,
        viewer: (!p.sees_whole_partner()).then_some(p.user_id),
        statuses: filter.statuses.clone(),
        search: filter.search.as_ref().map(|s| s.as_str().to_owned()),
        limit,
    })
}

/// A count that stops at a limit (DESIGN §11).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BoundedCount {
    pub count: u64,
    /// `false`: at least `count` match (the limit was reached).
    pub exact: bool,
}

/// The bounds of `count(limit:)`.
pub const COUNT_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 1..=10_000;

/// How many clients match, counting at most `limit` (1 to 10,000): exact
/// when fewer match, else `limit` and not exact. Its cost is bounded by the
/// limit: where the partner's counters answer (whole partner, no search)
/// they are used; otherwise at most `limit` rows are visited. Cached like
/// [`count`].
pub async fn count_upto(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: &Filter,
    limit: u64,
    cache: &CountCache,
) -> Result<BoundedCount> {
    if !COUNT_LIMIT_RANGE.contains(&limit) {
        return Err(AppError::BadUserInput(format!(
            "`limit` must be between {} and {}",
            COUNT_LIMIT_RANGE.start(),
            COUNT_LIMIT_RANGE.end()
        )));
    }
    let n = if filter.search.is_none() && p.sees_whole_partner() {
        repo::counts::sum(db, p.partner_id, &filter.statuses).await?.min(limit)
    } else {
        let key = count_key(db, p, filter, Some(limit)).await?;
        match cache.get(&key) {
            Some(n) => n,
            None => {
                let n = repo::clients::count_matching_upto(db, p, filter, limit).await?;
                cache.put(key, n);
                n
            }
        }
    };
    Ok(BoundedCount { count: n, exact: n < limit })
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
