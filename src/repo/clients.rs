//! Client rows. Every read starts from [`scoped`], the principal's row scope
//! from the policy.

use crate::domain::{search_text, ClientId, ClientStatus, NewClient, OrderField, SearchTerm};
use crate::error::{AppError, Result};
use crate::page::{col, KeyPart, Keyset, Page, PageRequest};
use crate::policy::Principal;
use entity::client;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select, Statement, Value,
};
use uuid::Uuid;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Order {
    pub field: OrderField,
    pub descending: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<SearchTerm>,
    /// Empty: every status.
    pub statuses: Vec<ClientStatus>,
    /// SQLite: how the search index serves this filter, worked out by the
    /// first query that needs it ([`index_query`]: one probe statement) and
    /// kept for the request's others (the page, then its count).
    index: tokio::sync::OnceCell<Option<IndexSearch>>,
}

impl Filter {
    pub fn new(search: Option<SearchTerm>, statuses: Vec<ClientStatus>) -> Filter {
        Filter { search, statuses, index: Default::default() }
    }
}

/// The principal's clients: the row scope from the policy module. Every
/// client query starts here.
pub fn scoped(p: &Principal) -> Select<client::Entity> {
    client::Entity::find().filter(p.client_scope())
}

/// How a PostgreSQL search picks its ids: the page's scan (the sort
/// column, descending, the key it starts after) or none for a count, and at
/// most how many.
#[derive(Clone, Copy, Debug, Default)]
struct Scan<'a> {
    sort: Option<(client::Column, bool, Option<&'a [KeyPart]>)>,
    limit: Option<u64>,
}

/// The principal's clients that match the filter. `index`: on SQLite, how
/// the trigram index picks the search's candidates (from [`index_query`]);
/// `None`, the `LIKE` conditions alone.
///
/// On PostgreSQL a search goes through `app_search_client_ids` (migrations
/// `m20261207_000001_rls_search`, `m20261208_000001_rls_search_page`, and
/// `m20261211_000001_search_capped_walk` for how a sorted page is picked):
/// under forced row-level security `LIKE` (not leakproof) may not run before
/// the policies, so the trigram indexes would go unused and every search
/// would scan the table. The function runs the search as the tables' owner,
/// confined to the settings' tenant, in the `scan`'s order from its bound and
/// up to its limit, so a page stops at its last match; the
/// policies and the scope above still filter every row it names.
fn filtered(
    p: &Principal,
    f: &Filter,
    index: Option<&IndexSearch>,
    scan: Scan<'_>,
    backend: DbBackend,
) -> Select<client::Entity> {
    let mut q = scoped(p);
    if let (Some(term), DbBackend::Postgres) = (&f.search, backend) {
        // The statuses are the function's to apply (it filters on them in the
        // same index path as the term): repeating them here would make a count
        // read every match's row again, where the scope alone (id, partner)
        // is an index-only scan of `clients_id_partner_id_key` (issue 15:
        // at 100k, 995 matches counted in ~14 ms instead of ~20).
        let statuses = f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
        let (sort, descending, bound) = match scan.sort {
            Some((column, descending, start)) => {
                // A cursor's parts as the function takes them: the sort key as
                // text (cast to the column's type there), then the id.
                let bound = start.and_then(|k| Some((k.first()?.text_value()?, k.get(1)?.uuid_value()?)));
                (Some(column.as_str()), descending, bound)
            }
            None => (None, false, None),
        };
        let (after_key, after_id) = bound.unwrap_or((Value::from(None::<String>), Value::from(None::<Uuid>)));
        // `= ANY ((SELECT array(…))::uuid[])`, not `IN (SELECT …)`: a scalar subquery
        // is an InitPlan, run once per statement whatever plan is chosen. As
        // a semi-join a generic plan could rescan the function for every row
        // of the partner (seen on unanalysed tables: 1,933 calls, 0.7 s).
        let ids = Expr::cust_with_values(
            "\"clients\".\"id\" = ANY ((SELECT array(SELECT app_search_client_ids($1, $2, string_to_array($3, ','), \
             $4, $5, $6, $7, $8)))::uuid[])",
            [
                Value::from(term.like_pattern()),
                Value::from(p.searches_contact_fields()),
                Value::from(statuses),
                Value::from(sort.map(str::to_owned)),
                Value::from(descending),
                after_key,
                after_id,
                Value::from(scan.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX))),
            ],
        );
        return q.filter(ids);
    }
    if !f.statuses.is_empty() {
        q = q.filter(client::Column::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(term) = &f.search {
        let like = || LikeExpr::new(term.like_pattern()).escape('\\');
        let mut any = Condition::any().add(Expr::col(client::Column::SearchPublic).like(like()));
        if p.searches_contact_fields() {
            any = any.add(Expr::col(client::Column::SearchContact).like(like()));
        }
        q = q.filter(any);
        if let Some(ix) = index {
            // The index's matches in the partner's key range drive the query
            // and each is looked up by rowid; the LIKE above still decides,
            // so the results are the plain LIKE's. CROSS JOIN keeps SQLite
            // from reordering the join: without statistics it would rather
            // walk the partner's index in page order and probe the matches,
            // reading every row of a big partner when the term is rare.
            let hits = Query::select()
                .expr_as(Expr::cust("rowid"), Alias::new("hit"))
                .from(Alias::new("client_search_index"))
                .and_where(Expr::cust_with_values(
                    "client_search_index MATCH ? AND rowid BETWEEN ? AND ?",
                    [Value::from(ix.fts.clone()), ix.keys.0.into(), ix.keys.1.into()],
                ))
                .to_owned();
            QueryTrait::query(&mut q)
                .from_clear()
                .from_subquery(hits, Alias::new("search_hits"))
                .cross_join(client::Entity)
                .and_where(Expr::cust("\"clients\".rowid = \"search_hits\".\"hit\" & 4294967295"));
        }
    }
    q
}

/// Terms at least this long can go through the SQLite trigram index (FTS5
/// matches nothing for shorter ones: they keep the `LIKE` scan).
const INDEX_MIN_CHARS: usize = 3;
/// The index picks a search's candidates when the term matches fewer of the
/// partner's clients than it has, divided by this. Each match costs a lookup
/// by rowid; a term that matches more is cheaper to check row by row along
/// the partner's own index in page order. (A page alone might seem to favour
/// that walk for mid-frequency terms too, but matches cluster in name order,
/// e.g. a word that starts business names, so the walk can read most of a
/// big partner before its first match.)
const INDEX_SHARE: i64 = 4;

/// How the SQLite index serves one search: the FTS5 query and the
/// principal's partner's range of index keys (migration
/// `m20261206_000001_sqlite_search_index`: partner rowid << 32 | client rowid).
#[derive(Clone, Debug)]
struct IndexSearch {
    fts: String,
    keys: (i64, i64),
}

/// The FTS5 query for a term: the whole term as one phrase (a run of
/// consecutive trigrams: a substring), `"` doubled, in the columns the
/// principal may search. Every other character is literal inside the quotes.
fn fts_query(term: &SearchTerm, contact: bool) -> String {
    let columns = if contact { "{search_public search_contact}" } else { "{search_public}" };
    format!("{columns} : \"{}\"", term.as_str().replace('"', "\"\""))
}

/// SQLite: how the index should pick this search's candidates, or `None`
/// for the `LIKE` scan: on PostgreSQL, without a search, for terms under
/// [`INDEX_MIN_CHARS`], and for terms too common in the partner for the
/// index to pay. One statement: the partner's key range, and its matches
/// counted up to the threshold against its size from the counters.
async fn index_query(db: &impl ConnectionTrait, p: &Principal, f: &Filter) -> Result<Option<IndexSearch>> {
    f.index.get_or_try_init(|| probe_index(db, p, f)).await.cloned()
}

async fn probe_index(db: &impl ConnectionTrait, p: &Principal, f: &Filter) -> Result<Option<IndexSearch>> {
    let Some(term) = &f.search else { return Ok(None) };
    if db.get_database_backend() != DbBackend::Sqlite || term.as_str().chars().count() < INDEX_MIN_CHARS {
        return Ok(None);
    }
    let fts = fts_query(term, p.searches_contact_fields());
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "WITH k(lo, n) AS (SELECT (SELECT rowid FROM partners WHERE id = ?) << 32, \
               (SELECT max(1, coalesce(sum(count), 0) / ?) FROM partner_client_counts WHERE partner_id = ?)) \
             SELECT (SELECT lo FROM k) AS lo, (SELECT count(*) FROM (SELECT 1 FROM client_search_index \
               WHERE client_search_index MATCH ? AND rowid BETWEEN (SELECT lo FROM k) AND (SELECT lo FROM k) + 4294967295 \
               LIMIT (SELECT n FROM k))) < (SELECT n FROM k) AS selective",
            [p.partner_id.into(), INDEX_SHARE.into(), p.partner_id.into(), fts.clone().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (lo, selective): (Option<i64>, bool) = (row.try_get("", "lo")?, row.try_get("", "selective")?);
    Ok(match lo {
        Some(lo) if selective => Some(IndexSearch { fts, keys: (lo, lo + 0xFFFF_FFFF) }),
        _ => None,
    })
}

/// The column a list ordered by `field` sorts on (then by id).
fn sort_column(field: OrderField) -> client::Column {
    match field {
        OrderField::BusinessName => client::Column::SortName,
        OrderField::ClientId => client::Column::ClientId,
        OrderField::CreatedAt => client::Column::CreatedAt,
    }
}

/// The ordering's keyset: the sort column, then the id.
pub fn keyset(order: Order) -> Keyset<client::Model> {
    fn uuid_at_1(i: usize, p: &KeyPart) -> Option<Value> {
        if i == 1 {
            p.uuid_value()
        } else {
            p.text_value()
        }
    }
    let (name, key, to_value): (_, fn(&client::Model) -> Vec<KeyPart>, fn(usize, &KeyPart) -> Option<Value>) =
        match (order.field, order.descending) {
            (OrderField::BusinessName, d) => (
                if d { "clients:BUSINESS_NAME:DESC" } else { "clients:BUSINESS_NAME:ASC" },
                |c| vec![KeyPart::Text(c.sort_name.clone()), KeyPart::uuid(c.id)],
                uuid_at_1,
            ),
            (OrderField::ClientId, d) => (
                if d { "clients:CLIENT_ID:DESC" } else { "clients:CLIENT_ID:ASC" },
                |c| vec![KeyPart::Text(c.client_id.clone()), KeyPart::uuid(c.id)],
                uuid_at_1,
            ),
            (OrderField::CreatedAt, d) => (
                if d { "clients:CREATED_AT:DESC" } else { "clients:CREATED_AT:ASC" },
                |c| vec![KeyPart::time(&c.created_at), KeyPart::uuid(c.id)],
                |i, p| if i == 1 { p.uuid_value() } else { p.time_value() },
            ),
        };
    let columns = vec![col(sort_column(order.field)), col(client::Column::Id)];
    Keyset { name, columns, descending: order.descending, key, to_value }
}

/// One page of the principal's clients that match.
pub async fn page(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: &Filter,
    order: Order,
    req: &PageRequest,
) -> Result<Page<client::Model>> {
    let ks = &keyset(order);
    let (descending, start) = req.scan(ks.descending);
    let scan = Scan { sort: Some((sort_column(order.field), descending, start)), limit: Some(req.limit + 1) };
    // Pick the page's ids first, then fetch those rows: on PostgreSQL the
    // inner query is an index-only scan of (partner_id, sort_name, id)
    // INCLUDE (status, search columns), so filtering visits no heap rows;
    // only the page itself is read from the table.
    let index = index_query(db, p, filter).await?;
    let ids = req.apply(
        ks,
        filtered(p, filter, index.as_ref(), scan, db.get_database_backend()).select_only().column(client::Column::Id),
    );
    let rows = req.order(ks, client::Entity::find().filter(client::Column::Id.in_subquery(ids.into_query())));
    Ok(req.finish(ks, rows.all(db).await?))
}

/// How many of the principal's clients match, counted row by row.
pub async fn count_matching(db: &impl ConnectionTrait, p: &Principal, filter: &Filter) -> Result<u64> {
    let index = index_query(db, p, filter).await?;
    Ok(filtered(p, filter, index.as_ref(), Scan::default(), db.get_database_backend()).count(db).await?)
}

/// How many of the principal's clients match, counting at most `limit`
/// rows: the cost is bounded by the limit, whatever the partner's size.
pub async fn count_matching_upto(db: &impl ConnectionTrait, p: &Principal, filter: &Filter, limit: u64) -> Result<u64> {
    let index = index_query(db, p, filter).await?;
    let scan = Scan { sort: None, limit: Some(limit) };
    Ok(filtered(p, filter, index.as_ref(), scan, db.get_database_backend())
        .select_only()
        .column(client::Column::Id)
        .limit(limit)
        .count(db)
        .await?)
}

/// The principal's client with this clientId, as a query; `None` for a
/// malformed id, which cannot exist and so answers exactly as an absent one.
fn by_client_id(p: &Principal, client_id: &str) -> Option<Select<client::Entity>> {
    let id = ClientId::parse(client_id).ok()?;
    Some(scoped(p).filter(client::Column::ClientId.eq(id.as_str())))
}

pub async fn find(db: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<Option<client::Model>> {
    match by_client_id(p, client_id) {
        Some(q) => Ok(q.one(db).await?),
        None => Ok(None),
    }
}

pub async fn find_by_uuid(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<client::Model>> {
    Ok(scoped(p).filter(client::Column::Id.eq(id)).one(db).await?)
}

/// Lock the client's row for the rest of the transaction (PostgreSQL
/// `FOR UPDATE`; SQLite's IMMEDIATE transaction already holds the write lock).
/// NOT_FOUND when absent or out of scope.
pub async fn lock(txn: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<client::Model> {
    let q = by_client_id(p, client_id).ok_or(AppError::NotFound("client"))?;
    q.lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("client"))
}

/// A partner's client by clientId, locked for the rest of the transaction,
/// with no principal's scope: operator tooling (`admin set-client-status`)
/// names the partner itself.
pub async fn lock_of_partner(
    txn: &impl ConnectionTrait,
    partner_id: Uuid,
    client_id: &str,
) -> Result<Option<client::Model>> {
    Ok(client::Entity::find()
        .filter(client::Column::PartnerId.eq(partner_id))
        .filter(client::Column::ClientId.eq(client_id))
        .lock_exclusive()
        .one(txn)
        .await?)
}

/// The client with a new status, updated at `at`.
pub async fn set_status(
    txn: &impl ConnectionTrait,
    c: client::Model,
    status: ClientStatus,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<client::Model> {
    let mut am: client::ActiveModel = c.into();
    am.status = Set(status.as_str().to_owned());
    am.updated_at = Set(at);
    Ok(client::Entity::update(am).exec(txn).await?)
}

/// The row a new client is stored as, with its derived columns (sort key,
/// search text).
pub fn row(
    partner_id: Uuid,
    n: &NewClient,
    status: ClientStatus,
    created_at: chrono::DateTime<chrono::Utc>,
) -> client::ActiveModel {
    let (client_id, business_name, web_domain) =
        (n.client_id.as_str(), n.business_name.as_str(), n.web_domain.as_str());
    let (contact_name, business_email) = (n.contact_name.as_str(), n.business_email.as_str());
    client::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner_id),
        sort_name: Set(business_name.to_lowercase()),
        search_public: Set(search_text(&[client_id, business_name, web_domain])),
        search_contact: Set(search_text(&[contact_name, business_email])),
        client_id: Set(client_id.to_owned()),
        business_name: Set(business_name.to_owned()),
        web_domain: Set(web_domain.to_owned()),
        contact_name: Set(contact_name.to_owned()),
        business_email: Set(business_email.to_owned()),
        timezone: Set(n.timezone.as_str().to_owned()),
        status: Set(status.as_str().to_owned()),
        support_contact_required: Set(n.support_contact_required),
        created_at: Set(created_at),
        updated_at: Set(created_at),
    }
}

/// Insert unless the partner already has this clientId; the new row, or
/// `None` when a concurrent insert won.
pub async fn insert_new(txn: &impl ConnectionTrait, row: client::ActiveModel) -> Result<Option<client::Model>> {
    let id = match &row.id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => *id,
        sea_orm::ActiveValue::NotSet => return Err(AppError::internal(anyhow::anyhow!("client row without an id"))),
    };
    let inserted = client::Entity::insert(row)
        .on_conflict_do_nothing_on([client::Column::PartnerId, client::Column::ClientId])
        .exec_without_returning(txn)
        .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Ok(None);
    }
    let created = client::Entity::find_by_id(id).one(txn).await?;
    created.map(Some).ok_or_else(|| AppError::internal(anyhow::anyhow!("inserted client not found")))
}
