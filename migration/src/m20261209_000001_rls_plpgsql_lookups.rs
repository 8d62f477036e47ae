//! PostgreSQL: the wall's two lookup functions in PL/pgSQL, whose plans are
//! kept per connection.
//!
//! `app_principal(id)` (authentication's one read before the tenant is
//! known) and `app_assigned_client_ids()` (a partner user's clients, in the
//! policies) were `LANGUAGE sql` functions. A SQL function marked SECURITY
//! DEFINER is never inlined, and PostgreSQL plans its body again on every
//! call: every request paid that for its authentication. Measured on a
//! 100,000-client seed-bench database as `partner_clients_app` (pgbench, one
//! connection, prepared): `app_principal` 0.117 ms a call before, 0.066 ms
//! after (a plain `SELECT … FROM users WHERE id = $1` is 0.051 ms);
//! `app_assigned_client_ids` 0.554 ms before, 0.322 ms after; the client
//! panel under load (bench/wall.sh's workload) used about 160 µs less CPU
//! per request. PL/pgSQL prepares the body's query once per connection and
//! keeps its plan. Same signatures, same rows, same grants (`CREATE OR
//! REPLACE` keeps them); `down` restores the SQL bodies. SQLite: nothing to
//! do.
//!
//! Also: `app_search_client_ids` (m20261208) was created with `SET
//! search_path FROM CURRENT`, which leaves `pg_temp` out of the path and so
//! searched first for tables: a session that may create temporary tables
//! could shadow `clients` inside the owner's function. It is pinned like the
//! others here, to the schema and then `pg_temp`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261205_000001_row_level_security::{current_schema, ident};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) const ASSIGNED: &str =
    "SELECT a.client_uuid FROM client_assignments a JOIN clients c ON c.id = a.client_uuid \
     WHERE a.user_id = nullif(current_setting('app.user_id', true), '')::uuid \
     AND c.partner_id = nullif(current_setting('app.partner_id', true), '')::uuid";
const PRINCIPAL: &str =
    "SELECT u.id, u.partner_id, u.role::text, u.email::text, u.active FROM users u WHERE u.id = user_uuid";

/// The two functions in PL/pgSQL (or SQL), their `search_path` pinned to
/// `schema` and then `pg_temp`.
fn create(schema: &str, plpgsql: bool) -> Vec<String> {
    let path = format!("{}, pg_temp", ident(schema));
    let language = if plpgsql { "plpgsql" } else { "sql" };
    let body = |q: &str| if plpgsql { format!("BEGIN RETURN QUERY {q}; END") } else { q.to_owned() };
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION app_assigned_client_ids() RETURNS SETOF uuid \
             LANGUAGE {language} STABLE SECURITY DEFINER ROWS 20 SET search_path = {path} AS $fn$ {} $fn$",
            body(ASSIGNED)
        ),
        format!(
            "CREATE OR REPLACE FUNCTION app_principal(user_uuid uuid) \
             RETURNS TABLE (id uuid, partner_id uuid, role text, email text, active boolean) \
             LANGUAGE {language} STABLE SECURITY DEFINER ROWS 1 SET search_path = {path} AS $fn$ {} $fn$",
            body(PRINCIPAL)
        ),
        format!(
            "ALTER FUNCTION app_search_client_ids(text, boolean, text[], text, boolean, text, uuid, bigint) \
             SET search_path = {path}"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, false).await
    }
}

async fn run(manager: &SchemaManager<'_>, plpgsql: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in create(&current_schema(db).await?, plpgsql) {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
