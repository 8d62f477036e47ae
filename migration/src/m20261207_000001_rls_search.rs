//! PostgreSQL: client search through its trigram indexes under row-level
//! security.
//!
//! With the policies forced, the planner may not evaluate a query's own
//! conditions before the policy's unless they are leakproof, and `LIKE` is
//! not: a search turned into a sequential scan of the table (a 100,000-client
//! partner: 3 ms before the wall, 42-63 ms under it, measured with EXPLAIN
//! ANALYZE). `app_search_client_ids(pattern, contact)` runs the search as the
//! tables' owner (the one who migrates, who bypasses row security), confined
//! by the same settings the policies read: the ids of the current
//! `app.partner_id`'s clients whose public search text matches, and whose
//! contact text matches only when `contact` is asked for by a
//! `partner_admin`. The caller joins the ids back to `clients`, where the
//! policies still filter every row (a partner user still sees only assigned
//! clients), so the function widens nothing: it only lets the index answer.
//! With no settings it returns nothing. SQLite: nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261205_000001_row_level_security::{app_role, ident};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) fn create(role: &str) -> Vec<String> {
    let r = ident(role);
    vec![
        "CREATE FUNCTION app_search_client_ids(pattern text, contact boolean) RETURNS SETOF uuid \
         LANGUAGE sql STABLE SECURITY DEFINER ROWS 1000 SET search_path FROM CURRENT AS $$ \
         SELECT c.id FROM clients c \
         WHERE c.partner_id = nullif(current_setting('app.partner_id', true), '')::uuid \
           AND (c.search_public LIKE pattern ESCAPE '\\' \
             OR (contact AND current_setting('app.role', true) = 'partner_admin' \
                 AND c.search_contact LIKE pattern ESCAPE '\\')) $$"
            .to_owned(),
        "COMMENT ON FUNCTION app_search_client_ids(text, boolean) IS \
         'Search through the trigram indexes under row-level security: ids of app.partner_id''s matching clients; \
          the caller''s policies still filter the rows.'"
            .to_owned(),
        "REVOKE ALL ON FUNCTION app_search_client_ids(text, boolean) FROM PUBLIC".to_owned(),
        format!("GRANT EXECUTE ON FUNCTION app_search_client_ids(text, boolean) TO {r}"),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        let role = app_role(db).await?;
        for sql in create(&role) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP FUNCTION IF EXISTS app_search_client_ids(text, boolean)")
            .await?;
        Ok(())
    }
}
