//! `seed-bench --clients N`: a deterministic synthetic data set for
//! benchmarks. 50 partners with 20 users each; one partner owns N/2 clients,
//! the other 49 share the rest; each client has 1-4 assignments, exactly one
//! of them a support contact. One business in 30 is a dental practice, so
//! the search `dent` matches about 3.3 % of a partner's clients.
//!
//! Rows go in with multi-row INSERTs in one transaction per batch; the
//! per-status counters are rebuilt at the end.

use super::synthetic::{self, Rng};
use crate::domain::ClientStatus;
use crate::repo::counts::recount;
use anyhow::{bail, Context, Result};
use entity::{client, client_assignment, partner, user};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait};
use uuid::Uuid;

pub struct Report {
    pub big_partner_slug: String,
    pub admin_email: String,
}

const PARTNERS: u64 = 50;
const USERS_PER_PARTNER: usize = 20;
const BATCH: usize = 5000;

pub async fn seed(db: &DatabaseConnection, n_clients: u64) -> Result<Report> {
    if n_clients < PARTNERS * 2 {
        bail!("--clients must be at least {}", PARTNERS * 2);
    }
    if partner::Entity::find().one(db).await?.is_some() {
        bail!("the database already has data: seed-bench needs an empty database");
    }
    let mut rng = Rng::new(0x5eed);
    let now = crate::service::now();
    let mut partners = Vec::new();
    let mut users: Vec<Vec<Uuid>> = Vec::new();
    let txn = db.begin().await?;
    let mut user_rows = Vec::new();
    for p in 0..PARTNERS {
        let id = rng.uuid();
        let slug = if p == 0 { "bench-big".to_owned() } else { format!("bench-{p:02}") };
        partner::Entity::insert(partner::ActiveModel {
            id: Set(id),
            slug: Set(slug.clone()),
            name: Set(format!("Bench Partner {p:02}")),
            created_at: Set(now),
            clients_version: Set(0),
        })
        .exec_without_returning(&txn)
        .await?;
        let mut ids = Vec::new();
        for u in 0..USERS_PER_PARTNER {
            let uid = rng.uuid();
            ids.push(uid);
            user_rows.push(user::ActiveModel {
                id: Set(uid),
                partner_id: Set(Some(id)),
                email: Set(format!("user{u:02}@{slug}.example")),
                display_name: Set(synthetic::person(u, u + p as usize)),
                role: Set(if u < 2 { "partner_admin" } else { "partner_user" }.to_owned()),
                active: Set(u != USERS_PER_PARTNER - 1),
                created_at: Set(now),
            });
        }
        partners.push((id, slug));
        users.push(ids);
    }
    synthetic::insert_all(&txn, &user_rows).await?;
    txn.commit().await?;

    let big = n_clients / 2;
    let mut clients = Vec::with_capacity(BATCH);
    let mut assignments = Vec::with_capacity(BATCH * 3);
    for i in 0..n_clients {
        let p = if i < big { 0 } else { 1 + ((i - big) % (PARTNERS - 1)) as usize };
        let seq = if i < big { i } else { (i - big) / (PARTNERS - 1) };
        let input = synthetic::profile(&mut rng, seq);
        let status = ClientStatus::ALL[rng.below(ClientStatus::ALL.len())];
        let created = now - chrono::Duration::seconds((n_clients - i) as i64);
        let cid = rng.uuid();
        let row = synthetic::client_row(cid, partners[p].0, &input, status, created)?;
        let team = &users[p];
        let k = 1 + rng.below(4);
        let start = rng.below(team.len() - 1);
        for j in 0..k {
            assignments.push(synthetic::assignment(
                cid,
                team[(start + j) % (team.len() - 1)],
                j == 0,
                team[0],
                created,
            ));
        }
        clients.push(row);
        if clients.len() == BATCH {
            flush(db, &mut clients, &mut assignments).await?;
        }
    }
    flush(db, &mut clients, &mut assignments).await?;
    recount(db).await.context("rebuilding the per-status client counters")?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(Report { big_partner_slug: partners[0].1.clone(), admin_email: "user00@bench-big.example".into() })
}

async fn flush(
    db: &DatabaseConnection,
    clients: &mut Vec<client::ActiveModel>,
    assignments: &mut Vec<client_assignment::ActiveModel>,
) -> Result<()> {
    if clients.is_empty() {
        return Ok(());
    }
    let (clients, assignments) = (std::mem::take(clients), std::mem::take(assignments));
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        return copy_postgres(db, clients, assignments).await;
    }
    let txn = db.begin().await?;
    synthetic::insert_all(&txn, &clients).await?;
    synthetic::insert_all(&txn, &assignments).await?;
    txn.commit().await?;
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
) -> Result<()> {
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
