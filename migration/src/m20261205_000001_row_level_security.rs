//! The second tenant wall (DESIGN §8): a least-privilege role and row-level
//! security. PostgreSQL only; on SQLite this migration does nothing (the
//! application's scope conditions are the only wall there).
//!
//! **The role** (`partner_clients_app`, renamed by `DB_APP_ROLE`) is created
//! `NOLOGIN NOBYPASSRLS` unless it exists; roles are cluster-wide, so creation
//! tolerates a concurrent `migrate` of another database creating it too. It
//! gets only what `serve` does (read from the repo layer):
//!
//! | table | grants | why |
//! |---|---|---|
//! | clients | SELECT, INSERT, UPDATE | provisioning; `SELECT … FOR UPDATE` needs UPDATE. Never deleted by the server |
//! | client_assignments | SELECT, INSERT, UPDATE, DELETE | assign, support contact, unassign |
//! | audit_events | SELECT, INSERT | append-only: the server cannot rewrite history |
//! | partner_client_counts | SELECT, INSERT, UPDATE | counter upserts; recounts are operator tooling |
//! | partners | SELECT, UPDATE (clients_version) | the change version bump |
//! | users | SELECT | accounts are managed by the operator CLI |
//!
//! No sequences: every id is minted by the server (audit ids are UUIDv7s).
//!
//! **Policies** read the transaction-local settings `app.partner_id`,
//! `app.user_id` and `app.role` (`db::begin_tenant` sets them), each through
//! `(SELECT current_setting(…))` so the planner evaluates it once per query.
//! A row is admitted only when it belongs to `app.partner_id`; a
//! `partner_user` sees clients only when assigned to `app.user_id`, and the
//! assignments and audit events of those clients only; only a
//! `partner_admin` writes. A missing setting or an unknown role admits
//! nothing. Row-level security is also FORCEd, so the tables' owner is held to
//! the policies unless it bypasses them (which this migration requires of it:
//! `migrate`, `admin` and `seed-bench` must see every row).
//!
//! **Helpers** (`SECURITY DEFINER`, owned by the migrating role, which
//! bypasses row security, `search_path` pinned, EXECUTE for the app role
//! only): `app_assigned_client_ids()`, the principal's assigned clients, so the
//! clients and assignments policies need no subquery that would recurse into
//! their own policies; `app_principal(uuid)`, the one `users` row
//! authentication reads before any tenant is known.
//!
//! A later migration that rebuilds one of these tables must restore its
//! grants, row security and policies.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000001_row_level_security"
    }
}

/// The role `serve` runs as unless `DB_APP_ROLE` names another.
pub const DEFAULT_APP_ROLE: &str = "partner_clients_app";

/// The session setting through which `db::connect` hands a `--db-app-role`
/// flag to this migration (the environment variable alone would miss it).
pub const APP_ROLE_SETTING: &str = "partner_clients.app_role";

/// A role name this project accepts: lower-case letters, digits and `_`, not
/// starting with a digit, at most 63 bytes. It is spliced into DDL (quoted).
pub fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

/// Tables with row security, each with its policies.
const TABLES: [&str; 6] =
    ["clients", "client_assignments", "audit_events", "partner_client_counts", "users", "partners"];

const PARTNER: &str = "(SELECT nullif(current_setting('app.partner_id', true), '')::uuid)";
const ROLE: &str = "(SELECT current_setting('app.role', true))";

/// `(name, table, command, USING, WITH CHECK)`; `{P}` is the principal's
/// partner, `{R}` its role, `{A}` the clients assigned to it, `{OWN}`
/// [`ASSIGNMENT_OF_PARTNER`].
type Policy = (&'static str, &'static str, &'static str, Option<&'static str>, Option<&'static str>);

const POLICIES: [Policy; 17] = [
    (
        "clients_select",
        "clients",
        "SELECT",
        Some("partner_id = {P} AND ({R} = 'partner_admin' OR ({R} = 'partner_user' AND id IN {A}))"),
        None,
    ),
    ("clients_insert", "clients", "INSERT", None, Some("partner_id = {P} AND {R} = 'partner_admin'")),
    (
        "clients_update",
        "clients",
        "UPDATE",
        Some("partner_id = {P} AND {R} = 'partner_admin'"),
        Some("partner_id = {P} AND {R} = 'partner_admin'"),
    ),
    (
        "client_assignments_select",
        "client_assignments",
        "SELECT",
        Some("({OWN}) OR ({R} = 'partner_user' AND client_uuid IN {A})"),
        None,
    ),
    ("client_assignments_insert", "client_assignments", "INSERT", None, Some(ASSIGNMENT_WRITE)),
    ("client_assignments_update", "client_assignments", "UPDATE", Some(ASSIGNMENT_OF_PARTNER), Some(ASSIGNMENT_WRITE)),
    ("client_assignments_delete", "client_assignments", "DELETE", Some(ASSIGNMENT_OF_PARTNER), None),
    (
        "audit_events_select",
        "audit_events",
        "SELECT",
        Some("partner_id = {P} AND ({R} = 'partner_admin' OR ({R} = 'partner_user' AND client_uuid IN {A}))"),
        None,
    ),
    ("audit_events_insert", "audit_events", "INSERT", None, Some("partner_id = {P} AND {R} = 'partner_admin'")),
    // The counters cover the whole partner: administrators only.
    ("partner_client_counts_select", "partner_client_counts", "SELECT", Some(ADMIN_OF_PARTNER), None),
    ("partner_client_counts_insert", "partner_client_counts", "INSERT", None, Some(ADMIN_OF_PARTNER)),
    ("partner_client_counts_update", "partner_client_counts", "UPDATE", Some(ADMIN_OF_PARTNER), Some(ADMIN_OF_PARTNER)),
    // What `Principal::user_scope` shows: the partner accounts of the partner.
    (
        "users_select",
        "users",
        "SELECT",
        Some(
            "partner_id = {P} AND {R} IN ('partner_admin', 'partner_user') \
             AND role IN ('partner_admin', 'partner_user')",
        ),
        None,
    ),
    ("partners_select", "partners", "SELECT", Some("id = {P} AND {R} IN ('partner_admin', 'partner_user')"), None),
    (
        "partners_update",
        "partners",
        "UPDATE",
        Some("id = {P} AND {R} = 'partner_admin'"),
        Some("id = {P} AND {R} = 'partner_admin'"),
    ),
    // Never reached (no DELETE grant): listed so that a grant added by
    // mistake still admits no row.
    ("clients_delete", "clients", "DELETE", Some("false"), None),
    ("partner_client_counts_delete", "partner_client_counts", "DELETE", Some("false"), None),
];

const ADMIN_OF_PARTNER: &str = "partner_id = {P} AND {R} = 'partner_admin'";
/// An administrator, and an assignment of its own partner's client.
const ASSIGNMENT_OF_PARTNER: &str =
    "{R} = 'partner_admin' AND EXISTS (SELECT 1 FROM clients c WHERE c.id = client_uuid AND c.partner_id = {P})";
/// ... that also names a user of its own partner.
const ASSIGNMENT_WRITE: &str = "{OWN} \
     AND EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND u.partner_id = {P})";

fn expand(expr: &str) -> String {
    expr.replace("{OWN}", ASSIGNMENT_OF_PARTNER)
        .replace("{P}", PARTNER)
        .replace("{R}", ROLE)
        .replace("{A}", "(SELECT app_assigned_client_ids())")
}

/// Quote an identifier for DDL.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The role to create and grant to: the `--db-app-role` flag (through the
/// session setting `db::connect` passes), else `DB_APP_ROLE`, else the default.
pub(crate) async fn app_role(db: &SchemaManagerConnection<'_>) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT current_setting('{APP_ROLE_SETTING}', true) AS r"),
        ))
        .await?;
    let from_session = row.map(|r| r.try_get::<Option<String>>("", "r")).transpose()?.flatten();
    let name = from_session
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("DB_APP_ROLE").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_APP_ROLE.to_owned());
    if !valid_role_name(&name) {
        return Err(DbErr::Migration(format!(
            "DB_APP_ROLE {name:?} is not a plain role name (lower-case letters, digits, _)"
        )));
    }
    Ok(name)
}

/// Row security is FORCEd: an owner held to the policies would see no row
/// (and this migration's helpers would recurse). Refuse loudly instead.
pub(crate) const REQUIRE_BYPASS: &str = "DO $$ BEGIN
  IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'migrate must run as a role that bypasses row-level security: a superuser, or one given BYPASSRLS (as a superuser: ALTER ROLE % BYPASSRLS)',
      quote_ident(current_user);
  END IF;
END $$";

/// Create the role unless it exists; refuse one that could bypass the wall.
fn create_role(role: &str) -> String {
    let q = ident(role);
    format!(
        "DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    BEGIN
      CREATE ROLE {q} NOLOGIN NOBYPASSRLS;
    EXCEPTION
      -- Another database's migrate created it meanwhile.
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'cannot create role {role}: migrate needs CREATEROLE, or create it first (CREATE ROLE {role} NOLOGIN NOBYPASSRLS)';
    END;
  END IF;
  IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '{role}') THEN
    RAISE EXCEPTION 'role {role} bypasses row-level security; it must not';
  END IF;
END $$"
    )
}

fn functions(schema: &str, role: &str) -> Vec<String> {
    let (s, r) = (ident(schema), ident(role));
    vec![
        format!(
            "CREATE FUNCTION app_assigned_client_ids() RETURNS SETOF uuid \
             LANGUAGE sql STABLE SECURITY DEFINER ROWS 20 SET search_path = {s}, pg_temp AS $$ \
             SELECT a.client_uuid FROM client_assignments a JOIN clients c ON c.id = a.client_uuid \
             WHERE a.user_id = nullif(current_setting('app.user_id', true), '')::uuid \
             AND c.partner_id = nullif(current_setting('app.partner_id', true), '')::uuid $$"
        ),
        format!(
            "CREATE FUNCTION app_principal(user_uuid uuid) \
             RETURNS TABLE (id uuid, partner_id uuid, role text, email text, active boolean) \
             LANGUAGE sql STABLE SECURITY DEFINER ROWS 1 SET search_path = {s}, pg_temp AS $$ \
             SELECT u.id, u.partner_id, u.role::text, u.email::text, u.active FROM users u WHERE u.id = user_uuid $$"
        ),
        "COMMENT ON FUNCTION app_principal(uuid) IS \
         'Authentication''s lookup of the token''s user before the tenant is known: that one row, nothing else.'"
            .to_owned(),
        "REVOKE ALL ON FUNCTION app_assigned_client_ids() FROM PUBLIC".to_owned(),
        "REVOKE ALL ON FUNCTION app_principal(uuid) FROM PUBLIC".to_owned(),
        format!("GRANT EXECUTE ON FUNCTION app_assigned_client_ids() TO {r}"),
        format!("GRANT EXECUTE ON FUNCTION app_principal(uuid) TO {r}"),
    ]
}

fn grants(schema: &str, role: &str) -> Vec<String> {
    let (s, r) = (ident(schema), ident(role));
    vec![
        format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
        format!("GRANT SELECT, INSERT, UPDATE ON clients TO {r}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON client_assignments TO {r}"),
        format!("GRANT SELECT, INSERT ON audit_events TO {r}"),
        format!("GRANT SELECT, INSERT, UPDATE ON partner_client_counts TO {r}"),
        format!("GRANT SELECT, UPDATE (clients_version) ON partners TO {r}"),
        format!("GRANT SELECT ON users TO {r}"),
    ]
}

/// Run statements in order (built eagerly: no iterator lives across an await).
async fn run(db: &SchemaManagerConnection<'_>, sql: Vec<String>) -> Result<(), DbErr> {
    for s in sql {
        db.execute_unprepared(&s).await?;
    }
    Ok(())
}

async fn current_schema(db: &SchemaManagerConnection<'_>) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, "SELECT current_schema() AS s"))
        .await?
        .ok_or_else(|| DbErr::Migration("no current schema".into()))?;
    row.try_get::<String>("", "s")
}

/// Enable and force row security on every table (or undo it).
fn row_security(on: bool) -> Vec<String> {
    let (enable, force) = if on { ("ENABLE", "FORCE") } else { ("DISABLE", "NO FORCE") };
    TABLES
        .iter()
        .flat_map(|t| {
            [
                format!("ALTER TABLE {t} {enable} ROW LEVEL SECURITY"),
                format!("ALTER TABLE {t} {force} ROW LEVEL SECURITY"),
            ]
        })
        .collect()
}

fn create_policies() -> Vec<String> {
    policies_on(|_| true)
}

/// `CREATE POLICY` for this migration's policies on the tables `on` picks
/// (a later migration that replaces some restores them from here).
pub(crate) fn policies_on(on: impl Fn(&str) -> bool) -> Vec<String> {
    POLICIES
        .iter()
        .filter(|(_, table, ..)| on(table))
        .map(|(name, table, command, using, check)| create_policy(name, table, command, *using, *check))
        .collect()
}

/// `CREATE POLICY name ON table FOR command`, its conditions [`expand`]ed.
pub(crate) fn create_policy(
    name: &str,
    table: &str,
    command: &str,
    using: Option<&str>,
    check: Option<&str>,
) -> String {
    let mut sql = format!("CREATE POLICY {name} ON {table} FOR {command} TO PUBLIC");
    if let Some(u) = using {
        sql += &format!(" USING ({})", expand(u));
    }
    if let Some(c) = check {
        sql += &format!(" WITH CHECK ({})", expand(c));
    }
    sql
}

/// A SECURITY DEFINER function's `search_path`: the schema, then `pg_temp`
/// (left out, `pg_temp` is searched first for tables).
pub(crate) fn pinned_path(schema: &str) -> String {
    format!("{}, pg_temp", ident(schema))
}

/// For the migrations after this one that only touch PostgreSQL's wall: the
/// statements `sql` builds from the current schema, in order; SQLite:
/// nothing.
pub(crate) async fn run_on_postgres(
    manager: &SchemaManager<'_>,
    sql: impl FnOnce(&str) -> Vec<String>,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    run(db, sql(&current_schema(db).await?)).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // PostgreSQL runs it in one transaction (sea-orm-migration's default there).
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        let (role, schema) = (app_role(db).await?, current_schema(db).await?);
        run(db, vec![REQUIRE_BYPASS.to_owned(), create_role(&role)]).await?;
        run(db, functions(&schema, &role)).await?;
        run(db, grants(&schema, &role)).await?;
        run(db, row_security(true)).await?;
        run(db, create_policies()).await
    }

    /// Everything but the role itself: it is cluster-wide, may serve other
    /// databases (or predate this migration), and dropping it is the
    /// operator's call (`DROP OWNED BY` in each database, then `DROP ROLE`).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        let (role, schema) = (app_role(db).await?, current_schema(db).await?);
        let drop_policies =
            POLICIES.iter().map(|(name, table, ..)| format!("DROP POLICY IF EXISTS {name} ON {table}")).collect();
        run(db, drop_policies).await?;
        run(db, row_security(false)).await?;
        let drop_functions =
            ["DROP FUNCTION IF EXISTS app_principal(uuid)", "DROP FUNCTION IF EXISTS app_assigned_client_ids()"];
        run(db, drop_functions.map(str::to_owned).to_vec()).await?;
        let exists = db
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT 1 AS x FROM pg_roles WHERE rolname = $1",
                [role.clone().into()],
            ))
            .await?
            .is_some();
        if exists {
            let r = ident(&role);
            let mut revokes: Vec<String> = TABLES.iter().map(|t| format!("REVOKE ALL ON {t} FROM {r}")).collect();
            revokes.push(format!("REVOKE ALL ON SCHEMA {} FROM {r}", ident(&schema)));
            run(db, revokes).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers() {
        for ok in ["partner_clients_app", "_x", "app2"] {
            assert!(valid_role_name(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "2app", "App", "a-b", "a b", "a\"b", "a;drop", long.as_str()] {
            assert!(!valid_role_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_policy_is_on_a_table_with_row_security_and_fully_expanded() {
        for (name, table, _, using, check) in POLICIES {
            assert!(TABLES.contains(&table), "{name}");
            assert!(name.starts_with(table), "{name}");
            for e in [using, check].into_iter().flatten() {
                assert!(!expand(e).contains('{'), "{name}: {}", expand(e));
            }
        }
    }
}
