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

use crate::m20261205_000001_row_level_security::{pinned_path, run_on_postgres};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) const ASSIGNED: &str =
    "SELECT a.client_uuid FROM client_assignments a JOIN clients c ON c.id = a.client_uuid \
     WHERE a.user_id = nullif(current_setting('app.user_id', true), '')::uuid \
     AND c.partner_id = nullif(current_setting('app.partner_id', true), '')::uuid";
const PRINCIPAL: &str =
    "SELECT u.id, u.partner_id, u.role::text, u.email::text, u.active FROM users u WHERE u.id = user_uuid";

/// `app_assigned_client_ids()` returning `query`'s rows, in PL/pgSQL (or
/// SQL), its `search_path` pinned.
pub(crate) fn assigned_function(schema: &str, plpgsql: bool, query: &str) -> String {
    definer("app_assigned_client_ids() RETURNS SETOF uuid", 20, schema, plpgsql, query)
}

/// `CREATE OR REPLACE FUNCTION head` as a STABLE SECURITY DEFINER function of
/// `rows` estimated rows whose body returns `query`.
fn definer(head: &str, rows: u32, schema: &str, plpgsql: bool, query: &str) -> String {
    let (language, body) =
        if plpgsql { ("plpgsql", format!("BEGIN RETURN QUERY {query}; END")) } else { ("sql", query.to_owned()) };
    format!(
        "CREATE OR REPLACE FUNCTION {head} LANGUAGE {language} STABLE SECURITY DEFINER ROWS {rows} \
         SET search_path = {} AS $fn$ {body} $fn$",
        pinned_path(schema)
    )
}

/// The two functions in PL/pgSQL (or SQL), their `search_path` pinned to
/// `schema` and then `pg_temp`, and the search function's path pinned.
fn create(schema: &str, plpgsql: bool) -> Vec<String> {
    vec![
        assigned_function(schema, plpgsql, ASSIGNED),
        definer(
            "app_principal(user_uuid uuid) \
             RETURNS TABLE (id uuid, partner_id uuid, role text, email text, active boolean)",
            1,
            schema,
            plpgsql,
            PRINCIPAL,
        ),
        format!(
            "ALTER FUNCTION app_search_client_ids(text, boolean, text[], text, boolean, text, uuid, bigint) \
             SET search_path = {}",
            pinned_path(schema)
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, |schema| create(schema, true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, |schema| create(schema, false)).await
    }
}
