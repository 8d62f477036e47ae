//! PostgreSQL: a search under row-level security picks its page the way it
//! did before the wall.
//!
//! `app_search_client_ids(pattern, contact)` (m20261207) returned every
//! match of a term, and the caller sorted them and kept a page: a term
//! matching 1,700 of a big partner's clients read all 1,700 rows to show 20
//! (0.20x the wall-less service's rate, measured; issue 13's budget is 10 %).
//! Without the wall the planner could instead walk the partner's
//! `(partner_id, sort_name, id)` index in page order and stop at the 20th
//! match. This version takes the page's order, keyset bound, statuses and
//! limit, and runs the same query the service ran before the wall, as the
//! tables' owner, so the planner again chooses between the trigram indexes
//! and the ordered walk:
//!
//! - `sort`: `sort_name`, `client_id`, `created_at`, or NULL for no order
//!   (a count); anything else is an error, never spliced;
//! - `descending`, and `after_key`/`after_id`: the scan's direction and the
//!   key it starts after (a cursor's parts; the caller passes the bound of
//!   its own scan direction), or NULLs;
//! - `lim`: at most this many ids (NULL: all).
//!
//! Confinement is the settings' and the policies': only the current
//! `app.partner_id`'s clients; for a `partner_user` only those
//! `app_assigned_client_ids()` names (the clients policy's own rule, so the
//! limit counts rows the caller can see); contact text only for a
//! `partner_admin` who asks; no settings, no rows. The caller joins the ids
//! back to `clients`, where the policies filter every row again. SQLite:
//! nothing to do.
//!
//! `ROWS 10`: the planner's estimate of what it returns. The server's
//! statements are prepared, and after five runs PostgreSQL may keep a
//! generic plan, which cannot see the partner: with a larger estimate it
//! preferred scanning the whole partner's name index and hashing the
//! function's ids (31 ms for a 50,000-client partner, EXPLAIN ANALYZE) to
//! looking the ids up by primary key (3 ms). A page asks for 21.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261205_000001_row_level_security::{app_role, ident};

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) const SIGNATURE: &str = "app_search_client_ids(text, boolean, text[], text, boolean, text, uuid, bigint)";

pub(crate) const BODY: &str = r#"
DECLARE
  partner uuid := nullif(current_setting('app.partner_id', true), '')::uuid;
  who text := current_setting('app.role', true);
  key_type text;
  sql text;
BEGIN
  IF partner IS NULL OR who IS NULL OR who NOT IN ('partner_admin', 'partner_user') THEN
    RETURN;
  END IF;
  sql := 'SELECT c.id FROM clients c WHERE c.partner_id = $1 AND (c.search_public LIKE $2 ESCAPE ''\''';
  IF contact AND who = 'partner_admin' THEN
    sql := sql || ' OR c.search_contact LIKE $2 ESCAPE ''\''';
  END IF;
  sql := sql || ')';
  IF cardinality(statuses) > 0 THEN
    sql := sql || ' AND c.status = ANY ($3)';
  END IF;
  IF who = 'partner_user' THEN
    sql := sql || ' AND c.id IN (SELECT app_assigned_client_ids())';
  END IF;
  IF sort IS NOT NULL THEN
    key_type := CASE sort WHEN 'sort_name' THEN 'text' WHEN 'client_id' THEN 'text'
                          WHEN 'created_at' THEN 'timestamptz' END;
    IF key_type IS NULL THEN
      RAISE EXCEPTION 'app_search_client_ids: unknown sort %', sort;
    END IF;
    IF after_id IS NOT NULL THEN
      sql := sql || format(' AND (c.%I, c.id) %s ($4::%s, $5)', sort,
                           CASE WHEN descending THEN '<' ELSE '>' END, key_type);
    END IF;
    sql := sql || format(' ORDER BY c.%1$I %2$s, c.id %2$s', sort,
                         CASE WHEN descending THEN 'DESC' ELSE 'ASC' END);
  END IF;
  RETURN QUERY EXECUTE sql || ' LIMIT $6' USING partner, pattern, statuses, after_key, after_id, lim;
END
"#;

fn create(role: &str) -> Vec<String> {
    let r = ident(role);
    vec![
        "DROP FUNCTION IF EXISTS app_search_client_ids(text, boolean)".to_owned(),
        format!(
            "CREATE FUNCTION app_search_client_ids(pattern text, contact boolean, statuses text[], sort text, \
             descending boolean, after_key text, after_id uuid, lim bigint) RETURNS SETOF uuid \
             LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10 SET search_path FROM CURRENT AS $fn${BODY}$fn$"
        ),
        format!(
            "COMMENT ON FUNCTION {SIGNATURE} IS \
             'Search through the indexes under row-level security: ids of app.partner_id''s matching clients \
              visible to the principal, in page order from a keyset bound, at most lim; the caller''s policies \
              still filter the rows.'"
        ),
        format!("REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC"),
        format!("GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {r}"),
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
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {SIGNATURE}")).await?;
        let role = app_role(db).await?;
        for sql in crate::m20261207_000001_rls_search::create(&role) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
