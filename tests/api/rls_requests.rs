//! The second tenant wall through the server's own connection path
//! (issue 13 proofs a, c, d over HTTP): a probe extension runs a deliberately
//! UNSCOPED query (`SELECT client_id FROM clients`, no partner condition)
//! on each request's own database view (`TenantDb::reader`), so only
//! row-level security can keep foreign rows out of its answer. PostgreSQL
//! only: SQLite has the application wall alone.

use crate::helpers::{spawn_with, Backend, Options, TestApp, UserFx};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use partner_clients::policy::Principal;
use partner_clients::tenant::TenantDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// What the probe saw, by the requesting user.
static SEEN: Mutex<Option<HashMap<Uuid, Vec<BTreeSet<String>>>>> = Mutex::new(None);

struct Probe;
struct ProbeExt;

impl ExtensionFactory for Probe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ProbeExt)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ProbeExt {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if let (Some(tenant), Some(p)) = (ctx.data_opt::<Arc<TenantDb>>(), ctx.data_opt::<Principal>()) {
            let rows = match tenant.reader().await {
                Ok(db) => db
                    .query_all_raw(Statement::from_string(DbBackend::Postgres, "SELECT client_id FROM clients"))
                    .await
                    .map(|rows| rows.iter().filter_map(|r| r.try_get::<String>("", "client_id").ok()).collect())
                    .unwrap_or_default(),
                Err(_) => BTreeSet::new(),
            };
            SEEN.lock().unwrap().get_or_insert_with(HashMap::new).entry(p.user_id).or_default().push(rows);
        }
        next.run(ctx, operation_name).await
    }
}

fn seen_by(user: &UserFx) -> Vec<BTreeSet<String>> {
    SEEN.lock().unwrap().as_ref().and_then(|m| m.get(&user.id).cloned()).unwrap_or_default()
}

/// Drop what the probe saw so far (the fixtures' own requests).
fn forget(users: &[&UserFx]) {
    if let Some(m) = SEEN.lock().unwrap().as_mut() {
        for u in users {
            m.remove(&u.id);
        }
    }
}

async fn probed(pool_size: u32, request_secs: u64) -> Option<TestApp> {
    let mut opts = Options { extend_schema: |b| b.extension(Probe), pool_size: Some(pool_size), ..Options::default() };
    opts.limits.request_secs = request_secs;
    spawn_with(Backend::Postgres, opts).await
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// (a) and (c): 1,000 interleaved requests of two tenants (and a partner
/// user) over a pool of 2 connections; the unscoped query of every one of
/// them returns exactly its principal's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscoped_queries_see_only_the_principals_rows_under_interleaving() {
    let Some(app) = probed(2, 10).await else { return };
    let (a, b) = (app.partner("alpha").await, app.partner("beta").await);
    let (ada, bob) = (app.admin_of(&a, "ada").await, app.admin_of(&b, "bob").await);
    let uma = app.member_of(&a, "uma").await;
    for id in ["a-one", "a-two", "a-three"] {
        app.provision(&ada, id, id).await;
    }
    for id in ["b-one", "b-two"] {
        app.provision(&bob, id, id).await;
    }
    app.assign(&ada, "a-two", &[&uma], true).await;
    forget(&[&ada, &bob, &uma]);

    let q = "{ clients(first: 5) { nodes { clientId } } }";
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let who = [&ada, &bob, &uma][i % 3].clone();
        let (http, url) = (app.http.clone(), app.url("/graphql"));
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).bearer_auth(&who.token).json(&json!({ "query": q })).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body:#}");
        }));
        if tasks.len() == 16 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (user, want, n) in [
        (&ada, set(&["a-one", "a-two", "a-three"]), 334),
        (&bob, set(&["b-one", "b-two"]), 333),
        (&uma, set(&["a-two"]), 333),
    ] {
        let seen = seen_by(user);
        assert_eq!(seen.len(), n, "{}: requests probed", user.email);
        assert!(
            seen.iter().all(|s| *s == want),
            "{}: an unscoped query saw {:?}",
            user.email,
            seen.iter().find(|s| **s != want)
        );
    }
}

/// (d): a request cut off by its timeout in the middle of its transaction,
/// on a pool of one connection, leaves no tenant setting behind: the next
/// request (another tenant's) on that same connection sees only its own rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_leaves_no_setting_on_its_connection() {
    let Some(app) = probed(1, 1).await else { return };
    let (a, b) = (app.partner("alpha").await, app.partner("beta").await);
    let (ada, bob) = (app.admin_of(&a, "ada").await, app.admin_of(&b, "bob").await);
    app.provision(&ada, "a-one", "A one").await;
    app.provision(&bob, "b-one", "B one").await;

    // Hold the clients table: ada's page blocks after its settings were set.
    let locker = sea_orm::Database::connect(std::env::var("TEST_DATABASE_URL").unwrap()).await.unwrap();
    let db_name: String = app
        .db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_database() AS d"))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "d")
        .unwrap();
    drop(locker);
    let url = std::env::var("TEST_DATABASE_URL").unwrap();
    let url = format!("{}/{db_name}", url.rsplit_once('/').unwrap().0);
    let locker = sea_orm::Database::connect(url).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(&locker).await.unwrap();
    txn.execute_unprepared("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE").await.unwrap();

    let r = app.gql(&ada.token, "{ clients { nodes { clientId } } }", json!({})).await;
    assert_eq!(r.codes(), ["TIMEOUT"], "{:#}", r.body);
    txn.rollback().await.unwrap();

    // The one pooled connection, reused by another tenant.
    let r = app.gql(&bob.token, "{ clients { nodes { clientId } } }", json!({})).await;
    assert_eq!(r.ok()["clients"]["nodes"], json!([{ "clientId": "b-one" }]));
    assert_eq!(seen_by(&bob).last(), Some(&set(&["b-one"])), "bob's unscoped query");
    let r = app.gql(&ada.token, "{ clients { nodes { clientId } } }", json!({})).await;
    assert_eq!(r.ok()["clients"]["nodes"], json!([{ "clientId": "a-one" }]));
}
