//! Bulk loads for operator tooling (`serve --demo`, `seed-bench`): many rows
//! at once, outside any principal's scope, with the per-partner counters
//! rebuilt afterwards ([`super::counts::recount`]).

use crate::error::{AppError, Result};
use entity::{client, client_assignment};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Iterable, TransactionTrait,
};

/// SQLite binds at most 32,766 parameters per statement (PostgreSQL 65,535).
const MAX_PARAMETERS: usize = 32_766;

/// Insert `rows` with multi-row INSERTs, as many rows per statement as the
/// parameter limit allows.
pub async fn insert_all<A: ActiveModelTrait>(db: &impl ConnectionTrait, rows: &[A]) -> Result<()> {
    let per_statement = (MAX_PARAMETERS / <A::Entity as EntityTrait>::Column::iter().count().max(1)).max(1);
    for chunk in rows.chunks(per_statement) {
        A::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Clients and their assignments: on PostgreSQL with `COPY`, elsewhere with
/// multi-row INSERTs in one transaction.
pub async fn clients_and_assignments(
    db: &DatabaseConnection,
    clients: Vec<client::ActiveModel>,
    assignments: Vec<client_assignment::ActiveModel>,
) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        return copy_postgres(db, clients, assignments).await.map_err(AppError::internal);
    }
    let txn = db.begin().await?;
    insert_all(&txn, &clients).await?;
    insert_all(&txn, &assignments).await?;
    txn.commit().await?;
    Ok(())
}

/// PostgreSQL: fresh planner statistics after a bulk load.
pub async fn analyze(db: &impl ConnectionTrait) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// A value in PostgreSQL's COPY text format.
fn copy_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
}

/// PostgreSQL: `COPY ... FROM STDIN`, several times faster than multi-row
/// INSERTs for a million rows.
async fn copy_postgres(
    db: &DatabaseConnection,
    clients: Vec<client::ActiveModel>,
    assignments: Vec<client_assignment::ActiveModel>,
) -> anyhow::Result<()> {
    use sea_orm::TryIntoModel;
    let mut conn = db.get_postgres_connection_pool().acquire().await?;
    // Generated rows reference rows made above: skip the per-row foreign-key
    // triggers where the role may (superuser); ~3 checks per row otherwise
    // dominate the load. Without the privilege the load is just slower.
    let skip_triggers =
        sea_orm::sqlx::query("SET session_replication_role = replica").execute(&mut *conn).await.is_ok();
    let ts = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut buf = String::with_capacity(clients.len() * 400);
    for c in clients {
        let c = c.try_into_model()?;
        let cols = [
            c.id.to_string(),
            c.partner_id.to_string(),
            copy_text(&c.client_id),
            copy_text(&c.business_name),
            copy_text(&c.web_domain),
            copy_text(&c.contact_name),
            copy_text(&c.business_email),
            copy_text(&c.timezone),
            c.status.clone(),
            c.support_contact_required.to_string(),
            copy_text(&c.sort_name),
            copy_text(&c.search_public),
            copy_text(&c.search_contact),
            ts(c.created_at),
            ts(c.updated_at),
        ];
        buf.push_str(&cols.join("\t"));
        buf.push('\n');
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY clients (id, partner_id, client_id, business_name, web_domain, contact_name, business_email, \
             timezone, status, support_contact_required, sort_name, search_public, search_contact, created_at, updated_at) \
             FROM STDIN",
        )
        .await?;
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;

    let mut buf = String::with_capacity(assignments.len() * 120);
    for a in assignments {
        let a = a.try_into_model()?;
        let by = a.assigned_by.map(|u| u.to_string()).unwrap_or_else(|| "\\N".into());
        buf.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            a.client_uuid,
            a.user_id,
            a.support_contact,
            by,
            ts(a.assigned_at)
        ));
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY client_assignments (client_uuid, user_id, support_contact, assigned_by, assigned_at) FROM STDIN",
        )
        .await?;
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    if skip_triggers {
        sea_orm::sqlx::query("SET session_replication_role = DEFAULT").execute(&mut *conn).await?;
    }
    Ok(())
}
