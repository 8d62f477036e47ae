//! Listing, reading and provisioning clients. Every read goes through
//! [`scoped`], which starts from the principal's row scope.

use super::{audit, UserError, UserErrorCode};
use crate::db::begin_write;
use crate::domain::{
    search_text, AuditAction, BusinessEmail, ClientId, ClientStatus, PlainText, SearchTerm, Timezone, WebDomain,
};
use crate::error::{AppError, Result};
use crate::page::{col, encode_cursor, KeyPart, Keyset, Page, PageArgs, PageRequest};
use crate::policy::{Capability, Principal};
use entity::{client, partner, partner_client_count};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select, Value,
};
use uuid::Uuid;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OrderField {
    #[default]
    BusinessName,
    ClientId,
    CreatedAt,
}

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
}

/// The principal's clients: the row scope from the policy module. Every
/// client query in the service starts here.
pub fn scoped(p: &Principal) -> Select<client::Entity> {
    client::Entity::find().filter(p.client_scope())
}

fn filtered(p: &Principal, f: &Filter) -> Select<client::Entity> {
    let mut q = scoped(p);
    if !f.statuses.is_empty() {
        q = q.filter(client::Column::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(term) = &f.search {
        let like = || LikeExpr::new(term.like_pattern()).escape('\\');
        // A viewer who cannot read the contact fields must not be able to
        // probe them through search either.
        let mut any = Condition::any().add(Expr::col(client::Column::SearchPublic).like(like()));
        if p.can(Capability::ViewContactDetails) {
            any = any.add(Expr::col(client::Column::SearchContact).like(like()));
        }
        q = q.filter(any);
    }
    q
}

fn keyset(order: Order) -> Keyset {
    let (name, key) = match order.field {
        OrderField::BusinessName => ("BUSINESS_NAME", col(client::Column::SortName)),
        OrderField::ClientId => ("CLIENT_ID", col(client::Column::ClientId)),
        OrderField::CreatedAt => ("CREATED_AT", col(client::Column::CreatedAt)),
    };
    let dir = if order.descending { "DESC" } else { "ASC" };
    let to_value: fn(usize, &KeyPart) -> Option<Value> = match order.field {
        OrderField::CreatedAt => |i, p| match (i, p) {
            (0, KeyPart::Text(t)) => {
                chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| Value::from(d.with_timezone(&chrono::Utc)))
            }
            (1, KeyPart::Text(t)) => Uuid::parse_str(t).ok().map(Value::from),
            _ => None,
        },
        _ => |i, p| match (i, p) {
            (0, KeyPart::Text(t)) => Some(Value::from(t.clone())),
            (1, KeyPart::Text(t)) => Uuid::parse_str(t).ok().map(Value::from),
            _ => None,
        },
    };
    Keyset {
        name: format!("clients:{name}:{dir}"),
        columns: vec![key, col(client::Column::Id)],
        descending: order.descending,
        to_value,
    }
}

pub fn cursor(order: Order, c: &client::Model) -> String {
    let key = match order.field {
        OrderField::BusinessName => c.sort_name.clone(),
        OrderField::ClientId => c.client_id.clone(),
        OrderField::CreatedAt => c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    };
    encode_cursor(&keyset(order).name, vec![KeyPart::Text(key), KeyPart::Text(c.id.to_string())])
}

pub async fn list(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: &Filter,
    order: Order,
    args: &PageArgs,
    max: u32,
) -> Result<Page<client::Model>> {
    let ks = keyset(order);
    let req = PageRequest::parse(args, max, crate::config::Limits::DEFAULT_PAGE_SIZE, &ks)?;
    // Pick the page's ids first, then fetch those rows: on PostgreSQL the
    // inner query is an index-only scan of (partner_id, sort_name, id)
    // INCLUDE (status, search columns), so filtering visits no heap rows;
    // only the page itself is read from the table.
    let ids = req.apply(&ks, filtered(p, filter).select_only().column(client::Column::Id));
    let rows = req.order(&ks, client::Entity::find().filter(client::Column::Id.in_subquery(ids.into_query())));
    Ok(req.finish(rows.all(db).await?))
}

/// How many clients match, exactly. An administrator's unsearched count is
/// read from the per-status counters (a handful of rows, whatever the size
/// of the partner); everything else counts the matching rows.
/// Exact counts, cached under the partner's `clients_version`, which every
/// change to the partner's client set (provisioning, status, assignments)
/// bumps in its own transaction. A count read under version v was computed
/// from data at least as new as v, so a cached count is never older than
/// the version a reader sees; entries of older versions are simply never
/// asked for again. Per process (each replica has its own), bounded.
#[derive(Default)]
pub struct CountCache(std::sync::Mutex<std::collections::HashMap<CountKey, u64>>);

#[derive(Hash, PartialEq, Eq)]
struct CountKey {
    partner: Uuid,
    version: i64,
    /// `None`: the whole partner (administrators); else the partner user.
    viewer: Option<Uuid>,
    statuses: Vec<ClientStatus>,
    search: Option<String>,
}

impl CountCache {
    const MAX_ENTRIES: usize = 10_000;

    fn get(&self, k: &CountKey) -> Option<u64> {
        self.0.lock().ok()?.get(k).copied()
    }

    fn put(&self, k: CountKey, n: u64) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::MAX_ENTRIES {
                m.clear();
            }
            m.insert(k, n);
        }
    }
}

/// Record a change to a partner's client set, on the change's transaction.
pub async fn bump_version(txn: &impl ConnectionTrait, partner_id: Uuid) -> Result<()> {
    partner::Entity::update_many()
        .col_expr(partner::Column::ClientsVersion, Expr::col(partner::Column::ClientsVersion).add(1))
        .filter(partner::Column::Id.eq(partner_id))
        .exec(txn)
        .await?;
    Ok(())
}

pub async fn count(db: &impl ConnectionTrait, p: &Principal, filter: &Filter, cache: &CountCache) -> Result<u64> {
    if filter.search.is_none() && p.can(Capability::ViewContactDetails) {
        // Administrators' scope is exactly "own partner", which the counters cover.
        let mut q =
            partner_client_count::Entity::find().filter(partner_client_count::Column::PartnerId.eq(p.partner_id));
        if !filter.statuses.is_empty() {
            q = q.filter(partner_client_count::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
        }
        let total: Option<i64> = q
            .select_only()
            // SUM(bigint) is NUMERIC on PostgreSQL: cast it back.
            .column_as(
                Expr::expr(Func::cast_as(Func::sum(Expr::col(partner_client_count::Column::Count)), "BIGINT")),
                "total",
            )
            .into_tuple::<Option<i64>>()
            .one(db)
            .await?
            .flatten();
        return Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0));
    }
    let version: i64 = partner::Entity::find_by_id(p.partner_id)
        .select_only()
        .column(partner::Column::ClientsVersion)
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or(0);
    let key = CountKey {
        partner: p.partner_id,
        version,
        viewer: (!p.can(Capability::ViewContactDetails)).then_some(p.user_id),
        statuses: filter.statuses.clone(),
        search: filter.search.as_ref().map(|s| s.as_str().to_owned()),
    };
    if let Some(n) = cache.get(&key) {
        return Ok(n);
    }
    let n = filtered(p, filter).count(db).await?;
    cache.put(key, n);
    Ok(n)
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

/// [`find`], or NOT_FOUND: the same error for absent and out-of-scope.
pub async fn get(db: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<client::Model> {
    find(db, p, client_id).await?.ok_or(AppError::NotFound("client"))
}

pub async fn find_by_uuid(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<client::Model>> {
    Ok(scoped(p).filter(client::Column::Id.eq(id)).one(db).await?)
}

/// Lock the client's row for the rest of the transaction (PostgreSQL
/// `FOR UPDATE`; SQLite's IMMEDIATE transaction already holds the write lock).
pub async fn lock(txn: &impl ConnectionTrait, p: &Principal, client_id: &str) -> Result<client::Model> {
    let q = by_client_id(p, client_id).ok_or(AppError::NotFound("client"))?;
    q.lock_exclusive().one(txn).await?.ok_or(AppError::NotFound("client"))
}

/// provisionClient's input as the client sent it.
#[derive(Clone, Debug)]
pub struct ProvisionInput {
    pub client_id: String,
    pub business_name: String,
    pub web_domain: String,
    pub contact_name: String,
    pub business_email: String,
    pub timezone: String,
    pub support_contact_required: bool,
}

/// The input once every field has parsed.
struct NewClient {
    client_id: ClientId,
    business_name: PlainText,
    web_domain: WebDomain,
    contact_name: PlainText,
    business_email: BusinessEmail,
    timezone: Timezone,
    support_contact_required: bool,
}

impl NewClient {
    /// Parse every field, reporting all problems at once.
    fn parse(i: &ProvisionInput) -> Result<Self, Vec<UserError>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, r: Result<(), crate::domain::Invalid>| {
            if let Err(e) = r {
                errors.push(UserError::new(&[field], UserErrorCode::Invalid, e.0));
            }
        };
        let client_id = ClientId::parse(&i.client_id);
        let business_name = PlainText::parse(&i.business_name);
        let web_domain = WebDomain::parse(&i.web_domain);
        let contact_name = PlainText::parse(&i.contact_name);
        let business_email = BusinessEmail::parse(&i.business_email);
        let timezone = Timezone::parse(&i.timezone);
        check("clientId", client_id.as_ref().map(|_| ()).map_err(Clone::clone));
        check("businessName", business_name.as_ref().map(|_| ()).map_err(Clone::clone));
        check("webDomain", web_domain.as_ref().map(|_| ()).map_err(Clone::clone));
        check("contactName", contact_name.as_ref().map(|_| ()).map_err(Clone::clone));
        check("businessEmail", business_email.as_ref().map(|_| ()).map_err(Clone::clone));
        check("timezone", timezone.as_ref().map(|_| ()).map_err(Clone::clone));
        match (client_id, business_name, web_domain, contact_name, business_email, timezone) {
            (Ok(client_id), Ok(business_name), Ok(web_domain), Ok(contact_name), Ok(business_email), Ok(timezone)) => {
                Ok(NewClient {
                    client_id,
                    business_name,
                    web_domain,
                    contact_name,
                    business_email,
                    timezone,
                    support_contact_required: i.support_contact_required,
                })
            }
            _ => Err(errors),
        }
    }

    fn same_as(&self, c: &client::Model) -> bool {
        c.client_id == self.client_id.as_str()
            && c.business_name == self.business_name.as_str()
            && c.web_domain == self.web_domain.as_str()
            && c.contact_name == self.contact_name.as_str()
            && c.business_email == self.business_email.as_str()
            && c.timezone == self.timezone.as_str()
            && c.support_contact_required == self.support_contact_required
    }

    fn to_row(&self, partner_id: Uuid) -> client::ActiveModel {
        let now = super::now();
        client::ActiveModel {
            id: Set(Uuid::now_v7()),
            partner_id: Set(partner_id),
            sort_name: Set(self.business_name.as_str().to_lowercase()),
            search_public: Set(search_text(&[
                self.client_id.as_str(),
                self.business_name.as_str(),
                self.web_domain.as_str(),
            ])),
            search_contact: Set(search_text(&[self.contact_name.as_str(), self.business_email.as_str()])),
            client_id: Set(self.client_id.as_str().to_owned()),
            business_name: Set(self.business_name.as_str().to_owned()),
            web_domain: Set(self.web_domain.as_str().to_owned()),
            contact_name: Set(self.contact_name.as_str().to_owned()),
            business_email: Set(self.business_email.as_str().to_owned()),
            timezone: Set(self.timezone.as_str().to_owned()),
            status: Set(ClientStatus::Provisioned.as_str().to_owned()),
            support_contact_required: Set(self.support_contact_required),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

/// A client row built from provisioning input, for bulk loaders (demo and
/// benchmark data) that insert many rows at once and then call [`recount`].
pub fn row_for(
    partner_id: Uuid,
    input: &ProvisionInput,
    status: ClientStatus,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<client::ActiveModel, Vec<UserError>> {
    let mut row = NewClient::parse(input)?.to_row(partner_id);
    row.status = Set(status.as_str().to_owned());
    row.created_at = Set(created_at);
    row.updated_at = Set(created_at);
    Ok(row)
}

/// Rebuild every partner's per-status counters from the clients table.
pub async fn recount(db: &impl ConnectionTrait) -> Result<()> {
    partner_client_count::Entity::delete_many().exec(db).await?;
    db.execute_unprepared(
        "INSERT INTO partner_client_counts (partner_id, status, count) \
         SELECT partner_id, status, COUNT(*) FROM clients GROUP BY partner_id, status",
    )
    .await?;
    Ok(())
}

pub enum ProvisionOutcome {
    Created(client::Model),
    /// The same input again: the existing client, nothing written.
    Existing(client::Model),
    Rejected(Vec<UserError>),
}

pub async fn provision(db: &DatabaseConnection, p: &Principal, input: &ProvisionInput) -> Result<ProvisionOutcome> {
    p.require(Capability::ProvisionClients)?;
    let new = match NewClient::parse(input) {
        Ok(n) => n,
        Err(errors) => return Ok(ProvisionOutcome::Rejected(errors)),
    };
    let txn = begin_write(db).await?;
    // Look first: a retry must not depend on the insert failing.
    if let Some(existing) = find(&txn, p, new.client_id.as_str()).await? {
        return Ok(same_or_taken(&new, existing));
    }
    let row = new.to_row(p.partner_id);
    let id = row.id.clone().unwrap();
    let inserted = client::Entity::insert(row)
        .on_conflict_do_nothing_on([client::Column::PartnerId, client::Column::ClientId])
        .exec_without_returning(&txn)
        .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        // A concurrent request won the race; it has committed by now
        // (PostgreSQL waited for it), so a fresh read sees its row.
        txn.rollback().await?;
        let existing = find(db, p, new.client_id.as_str())
            .await?
            .ok_or(AppError::internal(anyhow::anyhow!("client vanished after a conflicting insert")))?;
        return Ok(same_or_taken(&new, existing));
    }
    bump_count(&txn, p.partner_id, ClientStatus::Provisioned, 1).await?;
    bump_version(&txn, p.partner_id).await?;
    let created = client::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::internal(anyhow::anyhow!("inserted client not found")))?;
    audit::record(
        &txn,
        audit::Event {
            partner_id: p.partner_id,
            client_uuid: Some(created.id),
            actor_id: Some(p.user_id),
            subject_user_id: None,
            action: AuditAction::ClientProvisioned,
            details: serde_json::json!({ "clientId": created.client_id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ProvisionOutcome::Created(created))
}

fn same_or_taken(new: &NewClient, existing: client::Model) -> ProvisionOutcome {
    if new.same_as(&existing) {
        ProvisionOutcome::Existing(existing)
    } else {
        ProvisionOutcome::Rejected(vec![UserError::new(
            &["clientId"],
            UserErrorCode::Taken,
            "this client ID is already in use for a different client",
        )])
    }
}

/// Move a partner's per-status counter by `delta`, on the caller's transaction.
pub async fn bump_count(txn: &impl ConnectionTrait, partner_id: Uuid, status: ClientStatus, delta: i64) -> Result<()> {
    let count = Expr::col((partner_client_count::Entity, partner_client_count::Column::Count)).add(delta);
    if delta < 0 {
        // A decrement always has a row to move (the client being moved was
        // counted), and an upsert would check `count >= 0` on the proposed
        // row before resolving the conflict.
        partner_client_count::Entity::update_many()
            .col_expr(partner_client_count::Column::Count, count)
            .filter(partner_client_count::Column::PartnerId.eq(partner_id))
            .filter(partner_client_count::Column::Status.eq(status.as_str()))
            .exec(txn)
            .await?;
        return Ok(());
    }
    partner_client_count::Entity::insert(partner_client_count::ActiveModel {
        partner_id: Set(partner_id),
        status: Set(status.as_str().to_owned()),
        count: Set(delta),
    })
    .on_conflict(
        OnConflict::columns([partner_client_count::Column::PartnerId, partner_client_count::Column::Status])
            .value(partner_client_count::Column::Count, count)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
