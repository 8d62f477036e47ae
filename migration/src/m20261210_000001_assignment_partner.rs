//! PostgreSQL: `client_assignments.partner_id`, so that the assignments'
//! policies compare a column instead of looking each row's client up.
//!
//! m20261205's policies admitted an assignment row when `EXISTS (SELECT 1
//! FROM clients c WHERE c.id = client_uuid AND c.partner_id = <setting>)`:
//! one index probe into `clients` (itself under its policy) per row read.
//! The clients page reads the assignments of 20 clients; measured at 100k as
//! `partner_clients_app` (pgbench, one connection), 50 assignment rows took
//! 0.47-0.50 ms with that policy and 0.30 ms without row security.
//!
//! - `partner_id uuid NOT NULL`, filled by a BEFORE INSERT trigger from the
//!   client's row, read as the inserting role: under the wall a client of
//!   another partner is invisible, `partner_id` stays NULL and the insert is
//!   refused (by the policy's check). The trigger fires in every
//!   `session_replication_role` (`ENABLE ALWAYS`: seed-bench loads with
//!   replica). The application does not know the column (the entity is
//!   shared with SQLite, which has no row security).
//! - Two composite foreign keys keep it true: `(client_uuid, partner_id)` to
//!   `clients (id, partner_id)` and `(user_id, partner_id)` to `users (id,
//!   partner_id)`, so an assignment's user is a user of its client's partner
//!   in the database itself, whoever writes (they check as the owner, outside
//!   row security).
//! - The policies: `partner_id = <app.partner_id>` and, as before, an
//!   administrator, or a partner user for its assigned clients; writes by an
//!   administrator of that partner, naming a user of that partner (as
//!   before: the foreign key is the net under it, not the wall).
//!   `app_assigned_client_ids()` reads the column instead of joining
//!   `clients`.
//!
//! The backfill runs as the tables' owner with `NO FORCE` for the length of
//! this migration's transaction (forced row security hides every row from
//! an owner without settings). `down` restores m20261205's policies and
//! m20261209's function. SQLite: nothing to do.

use sea_orm_migration::prelude::*;

use crate::m20261205_000001_row_level_security::{create_policy, policies_on, run_on_postgres};
use crate::m20261209_000001_rls_plpgsql_lookups::{assigned_function, ASSIGNED};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADMIN: &str = "partner_id = {P} AND {R} = 'partner_admin'";
/// Writes also name a user of the partner: the foreign key holds that too,
/// but the wall refuses it first (a row-security violation, like every
/// other cross-tenant write).
const WRITE: &str = "partner_id = {P} AND {R} = 'partner_admin' \
     AND EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND u.partner_id = {P})";

const POLICIES: [(&str, &str, Option<&str>, Option<&str>); 4] = [
    (
        "client_assignments_select",
        "SELECT",
        Some("partner_id = {P} AND ({R} = 'partner_admin' OR ({R} = 'partner_user' AND client_uuid IN {A}))"),
        None,
    ),
    ("client_assignments_insert", "INSERT", None, Some(WRITE)),
    ("client_assignments_update", "UPDATE", Some(ADMIN), Some(WRITE)),
    ("client_assignments_delete", "DELETE", Some(ADMIN), None),
];

fn drop_policies() -> Vec<String> {
    POLICIES.iter().map(|(name, ..)| format!("DROP POLICY {name} ON client_assignments")).collect()
}

fn up_sql(schema: &str) -> Vec<String> {
    let mut sql: Vec<String> = [
        "ALTER TABLE client_assignments ADD COLUMN partner_id uuid",
        "ALTER TABLE clients NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE client_assignments NO FORCE ROW LEVEL SECURITY",
        "UPDATE client_assignments a SET partner_id = c.partner_id FROM clients c WHERE c.id = a.client_uuid",
        "ALTER TABLE clients FORCE ROW LEVEL SECURITY",
        "ALTER TABLE client_assignments FORCE ROW LEVEL SECURITY",
        "ALTER TABLE client_assignments ALTER COLUMN partner_id SET NOT NULL",
        "CREATE UNIQUE INDEX clients_id_partner_id_key ON clients (id, partner_id)",
        "CREATE UNIQUE INDEX users_id_partner_id_key ON users (id, partner_id)",
        "ALTER TABLE client_assignments ADD CONSTRAINT client_assignments_client_partner_fkey \
         FOREIGN KEY (client_uuid, partner_id) REFERENCES clients (id, partner_id) ON DELETE RESTRICT",
        "ALTER TABLE client_assignments ADD CONSTRAINT client_assignments_user_partner_fkey \
         FOREIGN KEY (user_id, partner_id) REFERENCES users (id, partner_id) ON DELETE RESTRICT",
        "CREATE FUNCTION app_assignment_partner() RETURNS trigger LANGUAGE plpgsql AS $fn$ \
         BEGIN \
           IF NEW.partner_id IS NULL THEN \
             NEW.partner_id := (SELECT c.partner_id FROM clients c WHERE c.id = NEW.client_uuid); \
           END IF; \
           RETURN NEW; \
         END $fn$",
        "CREATE TRIGGER client_assignments_partner BEFORE INSERT ON client_assignments \
         FOR EACH ROW EXECUTE FUNCTION app_assignment_partner()",
        "ALTER TABLE client_assignments ENABLE ALWAYS TRIGGER client_assignments_partner",
    ]
    .map(str::to_owned)
    .to_vec();
    sql.extend(drop_policies());
    sql.extend(
        POLICIES
            .iter()
            .map(|(name, command, using, check)| create_policy(name, "client_assignments", command, *using, *check)),
    );
    sql.push(assigned_function(
        schema,
        true,
        "SELECT a.client_uuid FROM client_assignments a \
         WHERE a.user_id = nullif(current_setting('app.user_id', true), '')::uuid \
         AND a.partner_id = nullif(current_setting('app.partner_id', true), '')::uuid",
    ));
    sql
}

fn down_sql(schema: &str) -> Vec<String> {
    let mut sql = drop_policies();
    sql.extend(policies_on(|t| t == "client_assignments"));
    sql.push(assigned_function(schema, true, ASSIGNED));
    sql.extend(
        [
            "DROP TRIGGER client_assignments_partner ON client_assignments",
            "DROP FUNCTION app_assignment_partner()",
            "ALTER TABLE client_assignments DROP CONSTRAINT client_assignments_user_partner_fkey",
            "ALTER TABLE client_assignments DROP CONSTRAINT client_assignments_client_partner_fkey",
            "DROP INDEX users_id_partner_id_key",
            "DROP INDEX clients_id_partner_id_key",
            "ALTER TABLE client_assignments DROP COLUMN partner_id",
        ]
        .map(str::to_owned),
    );
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, up_sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, down_sql).await
    }
}
