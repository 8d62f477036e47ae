//! User accounts as a principal may see them ([`Principal::user_scope`]),
//! the account behind a token, and accounts by e-mail for operators.

use crate::domain::SearchTerm;
use crate::error::Result;
use crate::page::{col, KeyPart, Keyset, Page, PageRequest};
use crate::policy::Principal;
use entity::{client_assignment, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryResult, Select, Statement,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

fn scoped(p: &Principal) -> Select<user::Entity> {
    user::Entity::find().filter(p.user_scope())
}

pub async fn find(db: &impl ConnectionTrait, p: &Principal, id: Uuid) -> Result<Option<user::Model>> {
    Ok(scoped(p).filter(user::Column::Id.eq(id)).one(db).await?)
}

/// Many users at once (the DataLoader's batch).
pub async fn find_many(db: &impl ConnectionTrait, p: &Principal, ids: &[Uuid]) -> Result<HashMap<Uuid, user::Model>> {
    Ok(scoped(p)
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// Which of `ids` the principal may assign ([`Principal::assignable_user_scope`]).
pub async fn assignable(txn: &impl ConnectionTrait, p: &Principal, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
    Ok(user::Entity::find()
        .filter(p.assignable_user_scope())
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// Users who could be assigned to the client: assignable, not yet assigned.
fn eligible(p: &Principal, client_uuid: Uuid, search: Option<&SearchTerm>) -> Select<user::Entity> {
    let mut q = user::Entity::find().filter(p.assignable_user_scope()).filter(
        user::Column::Id.not_in_subquery(
            Query::select()
                .column(client_assignment::Column::UserId)
                .from(client_assignment::Entity)
                .and_where(Expr::col(client_assignment::Column::ClientUuid).eq(client_uuid))
                .to_owned(),
        ),
    );
    if let Some(term) = search {
        let like = || LikeExpr::new(term.like_pattern()).escape('\\');
        q = q.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(user::Column::DisplayName))).like(like()))
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Email))).like(like())),
        );
    }
    q
}

/// Eligible users are ordered by e-mail address (unique and lower-case, so
/// the order is the same on both databases).
pub fn eligible_keyset() -> Keyset<user::Model> {
    Keyset {
        name: "eligible:EMAIL:ASC",
        columns: vec![col(user::Column::Email)],
        descending: false,
        key: |u| vec![KeyPart::Text(u.email.clone())],
        to_value: |_, p| p.text_value(),
    }
}

pub async fn eligible_page(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
    req: &PageRequest,
) -> Result<Page<user::Model>> {
    let ks = eligible_keyset();
    Ok(req.finish(&ks, req.apply(&ks, eligible(p, client_uuid, search)).all(db).await?))
}

pub async fn eligible_count(
    db: &impl ConnectionTrait,
    p: &Principal,
    client_uuid: Uuid,
    search: Option<&SearchTerm>,
) -> Result<u64> {
    Ok(eligible(p, client_uuid, search).count(db).await?)
}

/// What authentication reads about a token's user.
pub struct Account {
    pub email: String,
    pub role: String,
    pub partner_id: Option<Uuid>,
    pub active: bool,
}

/// PostgreSQL: the simple-protocol message that begins a query request's
/// read transaction, reads the account behind its token through
/// `app_principal` (as [`account`] does) and, in the same statement, sets
/// the tenant settings from that row: one round trip where the lookup and
/// `BEGIN` with the settings took two (`tenant::TenantDb::authenticated`).
/// The settings are those `db::role_setting` would give the principal the
/// row makes (`app.role` is the row's role, a partner role whenever the
/// principal is accepted); a row the authenticator refuses has its
/// transaction rolled back before any other statement runs in it. What is
/// spliced in is a UUID's canonical text: nothing to quote. Its one row,
/// if any, is read by [`account_of`].
pub fn begin_as_account_sql(user_id: Uuid) -> String {
    format!(
        "BEGIN; SELECT email, role, partner_id, active, \
         set_config('app.partner_id', coalesce(partner_id::text, ''), true), \
         set_config('app.user_id', '{user_id}', true), set_config('app.role', role, true) \
         FROM app_principal('{user_id}')"
    )
}

/// The account in a row of [`account`]'s statement or of
/// [`begin_as_account_sql`]'s.
pub fn account_of(r: &QueryResult) -> std::result::Result<Account, DbErr> {
    Ok(Account {
        email: r.try_get("", "email")?,
        role: r.try_get("", "role")?,
        partner_id: r.try_get("", "partner_id")?,
        active: r.try_get("", "active")?,
    })
}

/// The user row behind a token, read before any tenant is known (so before
/// any scope applies). On PostgreSQL `serve`'s role sees no `users` row
/// without a tenant setting (row-level security, DESIGN §8): the one narrow
/// path is the SECURITY DEFINER function `app_principal(id)`, which returns
/// that row and nothing else. SQLite has no row security: the entity query.
pub async fn account(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Account>> {
    if db.get_database_backend() == DbBackend::Postgres {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT email, role, partner_id, active FROM app_principal($1)",
                [id.into()],
            ))
            .await?;
        return Ok(row.as_ref().map(account_of).transpose()?);
    }
    Ok(user::Entity::find_by_id(id).one(db).await?.map(|u| Account {
        email: u.email,
        role: u.role,
        partner_id: u.partner_id,
        active: u.active,
    }))
}

/// The account with this e-mail address, as stored (lower case), whatever
/// its partner (operator tooling).
pub async fn by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await?)
}

/// A new account (operator tooling), as stored.
pub async fn insert(db: &impl ConnectionTrait, row: user::ActiveModel) -> Result<user::Model> {
    Ok(user::Entity::insert(row).exec_with_returning(db).await?)
}

/// The account, inactive from now on.
pub async fn deactivate(db: &impl ConnectionTrait, u: user::Model) -> Result<user::Model> {
    let mut am: user::ActiveModel = u.into();
    am.active = Set(false);
    Ok(user::Entity::update(am).exec(db).await?)
}

/// How many accounts have none of these e-mail addresses (`serve --demo`
/// refuses a database holding any account it did not seed).
pub async fn count_other_than(db: &impl ConnectionTrait, emails: &[String]) -> Result<u64> {
    Ok(user::Entity::find().filter(user::Column::Email.is_not_in(emails.iter().cloned())).count(db).await?)
}
