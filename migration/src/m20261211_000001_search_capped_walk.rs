//! PostgreSQL: a sorted search page walks the sort index for a bounded
//! number of rows, then falls back to the trigram indexes.
//!
//! `app_search_client_ids` (m20261208) ran the page's query as one
//! statement and let the planner choose: walk `(partner_id, <sort>, id)` in
//! page order until the page is full, or collect every match through the
//! trigram indexes and sort. For a term whose matches cluster late in sort
//! order the planner's walk read much of a big partner's index before its
//! 21st match (issue 15: p99 of fresh-term pages at 1M clients 41 times the
//! unsearched page's). Now a sorted page with a limit is answered in two
//! steps:
//!
//! 1. the walk, capped: the first `app.search_walk_cap` rows (default 10,000)
//!    of the partner in page order from the keyset bound, statuses and scope
//!    applied, of which the matches are kept up to the limit. It stops as soon
//!    as the page is full. If it found `lim` matches they are exactly the
//!    page's (the rows it skipped come later in order);
//! 2. otherwise every match from the bound through the trigram indexes, in
//!    page order: the order expression (`sort_name || ''`, `created_at +
//!    interval '0'`) sorts exactly as the column does but no index provides
//!    it, so the planner does not start the long walk again.
//!
//! The default, measured at 1M clients (seed-bench, 40 fresh four-letter
//! terms, the page pick alone, warm): the planner's own choice (m20261208)
//! mean 55 ms, median 7, p90 191, max 277; a cap of 2,000 rows mean 35,
//! median 53 (most terms need more than 2,000 rows for 21 matches at that
//! size and took the fallback), p90 60, max 100; 10,000 rows mean 33,
//! median 7, p90 90, max 118.
//!
//! The cap is a setting so that an operator can tune it
//! (`ALTER DATABASE … SET app.search_walk_cap = …`) and a test can force the
//! fallback; anything but a positive integer means the default. Counts (no
//! sort) and unlimited lists are unchanged. Same signature, grants and
//! `search_path`; `down` restores m20261208's body.

use crate::m20261205_000001_row_level_security::{pinned_path, run_on_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BODY: &str = r#"
DECLARE
  partner uuid := nullif(current_setting('app.partner_id', true), '')::uuid;
  who text := current_setting('app.role', true);
  cap_text text := current_setting('app.search_walk_cap', true);
  cap bigint := 10000;
  dir text := CASE WHEN descending THEN 'DESC' ELSE 'ASC' END;
  key_type text;
  match text;
  scope text;
  order_key text;
  ids uuid[];
BEGIN
  IF partner IS NULL OR who IS NULL OR who NOT IN ('partner_admin', 'partner_user') THEN
    RETURN;
  END IF;
  IF cap_text ~ '^[1-9][0-9]{0,8}$' THEN
    cap := cap_text::bigint;
  END IF;
  match := '(c.search_public LIKE $2 ESCAPE ''\''';
  IF contact AND who = 'partner_admin' THEN
    match := match || ' OR c.search_contact LIKE $2 ESCAPE ''\''';
  END IF;
  match := match || ')';
  scope := 'c.partner_id = $1';
  IF cardinality(statuses) > 0 THEN
    scope := scope || ' AND c.status = ANY ($3)';
  END IF;
  IF who = 'partner_user' THEN
    scope := scope || ' AND c.id IN (SELECT app_assigned_client_ids())';
  END IF;
  IF sort IS NULL THEN
    RETURN QUERY EXECUTE format('SELECT c.id FROM clients c WHERE %s AND %s LIMIT $6', scope, match)
      USING partner, pattern, statuses, after_key, after_id, lim;
    RETURN;
  END IF;
  key_type := CASE sort WHEN 'sort_name' THEN 'text' WHEN 'client_id' THEN 'text'
                        WHEN 'created_at' THEN 'timestamptz' END;
  IF key_type IS NULL THEN
    RAISE EXCEPTION 'app_search_client_ids: unknown sort %', sort;
  END IF;
  IF after_id IS NOT NULL THEN
    scope := scope || format(' AND (c.%I, c.id) %s ($4::%s, $5)', sort,
                             CASE WHEN descending THEN '<' ELSE '>' END, key_type);
  END IF;
  IF lim IS NOT NULL THEN
    -- 1. The capped walk in page order; the outer LIMIT stops it at a full page.
    EXECUTE format('SELECT array_agg(w.id) FROM (SELECT c.id FROM (SELECT c.id, c.search_public, c.search_contact '
                   'FROM clients c WHERE %s ORDER BY c.%I %s, c.id %s LIMIT $7) c WHERE %s LIMIT $6) w',
                   scope, sort, dir, dir, match)
      INTO ids USING partner, pattern, statuses, after_key, after_id, lim, cap;
    IF coalesce(cardinality(ids), 0) >= lim THEN
      RETURN QUERY SELECT unnest(ids);
      RETURN;
    END IF;
  END IF;
  -- 2. Every match from the bound, in page order by an expression no index provides.
  order_key := CASE key_type WHEN 'text' THEN format('(c.%I || '''')', sort)
                             ELSE format('(c.%I + interval ''0 seconds'')', sort) END;
  RETURN QUERY EXECUTE format('SELECT c.id FROM clients c WHERE %s AND %s ORDER BY %s %s, c.id %s LIMIT $6',
                              scope, match, order_key, dir, dir)
    USING partner, pattern, statuses, after_key, after_id, lim;
END
"#;

const SIGNATURE: &str = crate::m20261208_000001_rls_search_page::SIGNATURE;

/// `CREATE OR REPLACE` replaces the whole definition, `SET` clauses
/// included: the `search_path` pin (m20261209) is set again. Grants and the
/// comment stay.
fn replace(schema: &str, body: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION app_search_client_ids(pattern text, contact boolean, statuses text[], \
             sort text, descending boolean, after_key text, after_id uuid, lim bigint) RETURNS SETOF uuid \
             LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10 AS $fn${body}$fn$"
        ),
        format!("ALTER FUNCTION {SIGNATURE} SET search_path = {}", pinned_path(schema)),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, |schema| replace(schema, BODY)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, |schema| replace(schema, crate::m20261208_000001_rls_search_page::BODY)).await
    }
}
