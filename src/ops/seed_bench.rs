//! `seed-bench --clients N`: a deterministic synthetic data set for
//! benchmarks. 50 partners with 20 users each; one partner owns N/2 clients,
//! the other 49 share the rest; each client has 1-4 assignments, exactly one
//! of them a support contact. One business in 30 is a dental practice, so
//! the search `dent` matches about 3.3 % of a partner's clients.
//!
//! Rows go in by batch through `repo::bulk` (COPY on PostgreSQL, multi-row
//! INSERTs in one transaction per batch on SQLite); the per-status counters
//! are rebuilt at the end.

use super::synthetic::{self, Rng};
use crate::domain::ClientStatus;
use crate::repo::{self, bulk, counts::recount};
use anyhow::{bail, Context, Result};
use entity::{client, client_assignment, partner, user};
use sea_orm::{ActiveValue::Set, DatabaseConnection, TransactionTrait};
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
    if repo::partners::any(db).await? {
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
        let row = partner::ActiveModel {
            id: Set(id),
            slug: Set(slug.clone()),
            name: Set(format!("Bench Partner {p:02}")),
            created_at: Set(now),
            clients_version: Set(0),
        };
        repo::partners::insert(&txn, row).await?;
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
    bulk::insert_all(&txn, &user_rows).await?;
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
    bulk::analyze(db).await?;
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
    Ok(bulk::clients_and_assignments(db, clients, assignments).await?)
}
