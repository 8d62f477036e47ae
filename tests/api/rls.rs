//! The second tenant wall (DESIGN §8, issue 13): on PostgreSQL, `serve`'s
//! pool (`db::connect_as_app`) runs as `partner_clients_app` under forced
//! row-level security, and `db::begin_tenant` scopes a transaction to one
//! principal. These tests run deliberately unscoped SQL through that path.
//! PostgreSQL only: without TEST_DATABASE_URL they return at once.

use crate::helpers::{spawn_postgres, PartnerFx, TestApp, UserFx};
use partner_clients::config::DbArgs;
use partner_clients::db::{begin_tenant, connect_as_app};
use partner_clients::policy::{PartnerRole, Principal, TokenScope};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use std::collections::BTreeSet;
use uuid::Uuid;

pub(crate) const PID: &str = "SELECT pg_backend_pid() AS v";
const TABLES: [&str; 6] =
    ["clients", "client_assignments", "audit_events", "partner_client_counts", "users", "partners"];

/// Two partners with rows in every table: alpha (admin ada; members ben and
/// cy on acme, dee on nothing; apex unassigned) and beta (admin bea, member
/// bo on bolt).
pub(crate) struct World {
    pub app: TestApp,
    pub a: PartnerFx,
    pub b: PartnerFx,
    pub ada: UserFx,
    ben: UserFx,
    dee: UserFx,
    pub bea: UserFx,
    bo: UserFx,
}

pub(crate) async fn world() -> Option<World> {
    let app = spawn_postgres().await?;
    let (a, b) = (app.partner("alpha").await, app.partner("beta").await);
    let (ada, ben, cy, dee) = (
        app.admin_of(&a, "ada").await,
        app.member_of(&a, "ben").await,
        app.member_of(&a, "cy").await,
        app.member_of(&a, "dee").await,
    );
    let (bea, bo) = (app.admin_of(&b, "bea").await, app.member_of(&b, "bo").await);
    for id in ["acme", "apex"] {
        app.provision(&ada, id, &format!("{id} Ltd")).await;
    }
    app.provision(&bea, "bolt", "Bolt Ltd").await;
    app.assign(&ada, "acme", &[&ben, &cy], false).await;
    app.assign(&bea, "bolt", &[&bo], false).await;
    Some(World { app, a, b, ada, ben, dee, bea, bo })
}

pub(crate) fn principal(user: &UserFx, partner: &PartnerFx, role: PartnerRole) -> Principal {
    Principal { user_id: user.id, partner_id: partner.id, role, scope: TokenScope::Full }
}

/// `serve`'s pool on the test's database, `size` connections.
pub(crate) async fn app_pool(app: &TestApp, size: u32) -> DatabaseConnection {
    let name: String = one(&app.db, "SELECT current_database()::text AS v").await.unwrap();
    let base = std::env::var("TEST_DATABASE_URL").unwrap();
    let (prefix, _) = base.split('?').next().unwrap().rsplit_once('/').unwrap();
    let mut args = DbArgs::for_url(format!("{prefix}/{name}"));
    args.db_max_connections = size;
    connect_as_app(&args, None).await.unwrap()
}

pub(crate) fn stmt(sql: &str) -> Statement {
    Statement::from_string(DbBackend::Postgres, sql)
}

/// The column `v` of a one-row query.
pub(crate) async fn one<T: sea_orm::TryGetable>(c: &impl ConnectionTrait, sql: &str) -> Result<T, DbErr> {
    let row = c.query_one_raw(stmt(sql)).await?.expect("one row");
    row.try_get("", "v")
}

pub(crate) async fn count(c: &impl ConnectionTrait, table: &str) -> i64 {
    one(c, &format!("SELECT count(*)::bigint AS v FROM {table}")).await.unwrap()
}

/// The column `v` of every row of a query.
async fn all<T: sea_orm::TryGetable>(c: &impl ConnectionTrait, sql: &str) -> Vec<T> {
    c.query_all_raw(stmt(sql)).await.unwrap().iter().map(|r| r.try_get("", "v").unwrap()).collect()
}

/// The `partner_id`s (partners: `id`s; assignments: client uuids) of every
/// row an unscoped query sees in `table`.
async fn partners_seen(c: &impl ConnectionTrait, table: &str) -> Vec<Uuid> {
    let sql = match table {
        "partners" => "SELECT id AS v FROM partners".to_owned(),
        "client_assignments" => "SELECT client_uuid AS v FROM client_assignments".to_owned(),
        t => format!("SELECT partner_id AS v FROM {t}"),
    };
    all(c, &sql).await
}

pub(crate) async fn client_ids(c: &impl ConnectionTrait) -> BTreeSet<String> {
    all(c, "SELECT client_id AS v FROM clients").await.into_iter().collect()
}

/// A digest of every table's contents, read as the owner.
async fn digest(app: &TestApp) -> Vec<String> {
    let mut out = vec![];
    for t in TABLES {
        let sql = format!("SELECT coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS v FROM {t} x");
        out.push(one(&app.db, &sql).await.unwrap());
    }
    out
}

/// Run `sql` in its own transaction on `pool` (scoped to `who` when given),
/// committing it when it succeeds: rows affected, or the error.
async fn write(pool: &DatabaseConnection, who: Option<&Principal>, sql: &str) -> Result<u64, DbErr> {
    let txn = match who {
        Some(p) => begin_tenant(pool, p, true).await?,
        None => pool.begin().await?,
    };
    let n = txn.execute_raw(stmt(sql)).await?.rows_affected();
    txn.commit().await?;
    Ok(n)
}

/// Refused outright or a no-op: never a changed row.
#[track_caller]
fn refused(r: Result<u64, DbErr>, sql: &str) {
    match r {
        Ok(n) => assert_eq!(n, 0, "{sql} changed {n} rows"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("row-level security") || e.contains("permission denied"), "{sql}: {e}");
        }
    }
}

/// Statements that would change (or add) rows of every table.
fn writes(w: &World, acme: Uuid) -> Vec<String> {
    let (a, ada) = (w.a.id, w.ada.id);
    vec![
        format!("INSERT INTO partners (id, slug, name, created_at, clients_version) VALUES ('{}', 'x', 'x', now(), 0)", Uuid::new_v4()),
        "UPDATE partners SET clients_version = clients_version + 1".into(),
        "UPDATE partners SET name = 'pwned'".into(),
        "DELETE FROM partners".into(),
        format!(
            "INSERT INTO clients (id, partner_id, client_id, business_name, web_domain, contact_name, business_email, \
             timezone, status, support_contact_required, sort_name, search_public, search_contact, created_at, updated_at) \
             VALUES ('{}', '{a}', 'evil', 'Evil', 'evil.example', 'E', 'e@evil.example', 'UTC', 'ACTIVE', false, \
             'evil', 'evil', 'e', now(), now())",
            Uuid::new_v4()
        ),
        "UPDATE clients SET business_name = 'pwned'".into(),
        "DELETE FROM clients".into(),
        format!("INSERT INTO client_assignments (client_uuid, user_id, support_contact, assigned_at) VALUES ('{acme}', '{ada}', false, now())"),
        "UPDATE client_assignments SET support_contact = true".into(),
        "DELETE FROM client_assignments".into(),
        format!(
            "INSERT INTO audit_events (id, partner_id, action, details, occurred_at) \
             VALUES ('{}', '{a}', 'USER_ASSIGNED', '{{}}', now())",
            Uuid::new_v4()
        ),
        "UPDATE audit_events SET action = 'USER_ASSIGNED'".into(),
        "DELETE FROM audit_events".into(),
        format!("INSERT INTO partner_client_counts (partner_id, status, count) VALUES ('{a}', 'SUSPENDED', 7)"),
        "UPDATE partner_client_counts SET count = 0".into(),
        "DELETE FROM partner_client_counts".into(),
        format!("INSERT INTO users (id, partner_id, email, display_name, role, active, created_at) VALUES ('{}', '{a}', 'x@x.example', 'x', 'partner_admin', true, now())", Uuid::new_v4()),
        "UPDATE users SET active = false".into(),
        "DELETE FROM users".into(),
    ]
}

async fn uuid_of(app: &TestApp, client_id: &str) -> Uuid {
    one(&app.db, &format!("SELECT id AS v FROM clients WHERE client_id = '{client_id}'")).await.unwrap()
}

/// (b) As the role with no settings: every table reads empty, no write lands.
async fn no_settings_no_rows(w: World) {
    let pool = app_pool(&w.app, 1).await;
    let who: String = one(&pool, "SELECT current_user::text AS v").await.unwrap();
    assert_eq!(who, migration::DEFAULT_APP_ROLE);
    for t in TABLES {
        assert!(count(&w.app.db, t).await > 0, "the owner sees {t} rows");
        assert_eq!(count(&pool, t).await, 0, "{t} outside a transaction");
        let txn = pool.begin().await.unwrap();
        assert_eq!(count(&txn, t).await, 0, "{t} in a transaction without settings");
    }
    let before = digest(&w.app).await;
    for sql in writes(&w, uuid_of(&w.app, "acme").await) {
        refused(write(&pool, None, &sql).await, &sql);
    }
    assert_eq!(digest(&w.app).await, before, "no table changed");
}

/// (a) Unscoped queries through `begin_tenant` return the principal's rows only.
async fn settings_scope_unscoped_queries(w: World) {
    let pool = app_pool(&w.app, 2).await;
    let (a, b) = (w.a.id, w.b.id);
    let admin = principal(&w.ada, &w.a, PartnerRole::PartnerAdmin);
    let txn = begin_tenant(&pool, &admin, false).await.unwrap();
    let acme = uuid_of(&w.app, "acme").await;
    let a_clients: BTreeSet<Uuid> = [acme, uuid_of(&w.app, "apex").await].into_iter().collect();
    for t in TABLES {
        let seen = partners_seen(&txn, t).await;
        assert!(!seen.is_empty(), "{t}: the admin sees its partner's rows");
        match t {
            "client_assignments" => assert!(seen.iter().all(|c| a_clients.contains(c)), "{t}: {seen:?}"),
            _ => assert!(seen.iter().all(|p| *p == a), "{t}: {seen:?}"),
        }
        let own = match t {
            "partners" => format!("SELECT count(*)::bigint AS v FROM partners WHERE id = '{a}'"),
            "client_assignments" => format!(
                "SELECT count(*)::bigint AS v FROM client_assignments ca JOIN clients c ON c.id = ca.client_uuid \
                 WHERE c.partner_id = '{a}'"
            ),
            _ => format!("SELECT count(*)::bigint AS v FROM {t} WHERE partner_id = '{a}'"),
        };
        assert_eq!(seen.len() as i64, one::<i64>(&w.app.db, &own).await.unwrap(), "{t}: all of them");
    }
    assert_eq!(client_ids(&txn).await, ["acme", "apex"].map(String::from).into());
    drop(txn);

    // A partner user: assigned clients, their assignments and events only.
    let ben = principal(&w.ben, &w.a, PartnerRole::PartnerUser);
    let txn = begin_tenant(&pool, &ben, false).await.unwrap();
    assert_eq!(client_ids(&txn).await, ["acme".to_owned()].into());
    let assigned = partners_seen(&txn, "client_assignments").await;
    assert_eq!(assigned, vec![acme, acme], "ben's and cy's assignments of acme");
    let events: Vec<Uuid> = all(&txn, "SELECT client_uuid AS v FROM audit_events").await;
    assert!(!events.is_empty() && events.iter().all(|c| *c == acme), "{events:?}");
    assert_eq!(count(&txn, "partner_client_counts").await, 0, "counters cover the whole partner");
    assert!(partners_seen(&txn, "users").await.iter().all(|p| *p == a));
    assert_eq!(partners_seen(&txn, "partners").await, vec![a]);
    drop(txn);
    let dee = principal(&w.dee, &w.a, PartnerRole::PartnerUser);
    let txn = begin_tenant(&pool, &dee, false).await.unwrap();
    assert_eq!(count(&txn, "clients").await, 0, "a partner user without assignments");
    assert_eq!(count(&txn, "client_assignments").await, 0);
    drop(txn);
    // A user id paired with another partner sees none of either's clients.
    let crossed = principal(&w.bo, &w.a, PartnerRole::PartnerUser);
    let txn = begin_tenant(&pool, &crossed, false).await.unwrap();
    assert_eq!(count(&txn, "clients").await, 0);
    drop(txn);

    // Writes the server makes, as its administrator: allowed (then undone).
    let txn = begin_tenant(&pool, &admin, true).await.unwrap();
    for sql in [
        format!("SELECT id FROM clients WHERE id = '{acme}' FOR UPDATE"),
        format!("UPDATE partners SET clients_version = clients_version + 1 WHERE id = '{a}'"),
        format!(
            "INSERT INTO partner_client_counts (partner_id, status, count) VALUES ('{a}', 'PROVISIONED', 1) \
             ON CONFLICT (partner_id, status) DO UPDATE SET count = partner_client_counts.count + 1"
        ),
        format!(
            "UPDATE client_assignments SET support_contact = true WHERE client_uuid = '{acme}' AND user_id = '{}'",
            w.ben.id
        ),
        format!(
            "INSERT INTO audit_events (id, partner_id, client_uuid, action, details, occurred_at) \
             VALUES ('{}', '{a}', '{acme}', 'USER_ASSIGNED', '{{}}', now())",
            Uuid::new_v4()
        ),
    ] {
        assert_eq!(txn.execute_raw(stmt(&sql)).await.unwrap().rows_affected(), 1, "{sql}");
    }
    txn.rollback().await.unwrap();

    // Across the wall: nothing of beta's can be written from alpha.
    let before = digest(&w.app).await;
    let (bolt, bo) = (uuid_of(&w.app, "bolt").await, w.bo.id);
    for sql in [
        format!("UPDATE clients SET business_name = 'pwned' WHERE partner_id = '{b}'"),
        format!("UPDATE partners SET clients_version = 0 WHERE id = '{b}'"),
        format!("DELETE FROM client_assignments WHERE client_uuid = '{bolt}'"),
        format!(
            "INSERT INTO client_assignments (client_uuid, user_id, assigned_at) VALUES ('{bolt}', '{}', now())",
            w.ada.id
        ),
        format!("INSERT INTO client_assignments (client_uuid, user_id, assigned_at) VALUES ('{acme}', '{bo}', now())"),
        format!("INSERT INTO partner_client_counts (partner_id, status, count) VALUES ('{b}', 'SUSPENDED', 1)"),
        format!(
            "INSERT INTO audit_events (id, partner_id, action, details, occurred_at) \
             VALUES ('{}', '{b}', 'USER_ASSIGNED', '{{}}', now())",
            Uuid::new_v4()
        ),
    ] {
        refused(write(&pool, Some(&admin), &sql).await, &sql);
    }
    // A partner user writes nothing, not even of its own assigned client.
    for sql in writes(&w, acme) {
        refused(write(&pool, Some(&ben), &sql).await, &sql);
    }
    assert_eq!(digest(&w.app).await, before, "no table changed");
}

/// The connection's settings and what it sees, outside any transaction.
pub(crate) async fn assert_clean(pool: &DatabaseConnection, when: &str) {
    let setting: Option<String> = one(pool, "SELECT current_setting('app.partner_id', true) AS v").await.unwrap();
    assert!(setting.as_deref().unwrap_or("").is_empty(), "{when}: app.partner_id = {setting:?}");
    assert_eq!(count(pool, "clients").await, 0, "{when}: clients visible");
}

/// (d) However a transaction ends, its settings end with it (one connection).
async fn settings_never_outlive_the_transaction(w: World) {
    let pool = app_pool(&w.app, 1).await;
    let admin = principal(&w.ada, &w.a, PartnerRole::PartnerAdmin);
    let backend = one::<i32>(&pool, PID).await.unwrap();

    let txn = begin_tenant(&pool, &admin, false).await.unwrap();
    assert_eq!(count(&txn, "clients").await, 2);
    assert_eq!(one::<i32>(&txn, PID).await.unwrap(), backend, "one connection throughout");
    txn.commit().await.unwrap();
    assert_clean(&pool, "after commit").await;

    let txn = begin_tenant(&pool, &admin, true).await.unwrap();
    assert_eq!(count(&txn, "clients").await, 2);
    txn.rollback().await.unwrap();
    assert_clean(&pool, "after rollback").await;

    let txn = begin_tenant(&pool, &admin, false).await.unwrap();
    assert!(txn.execute_raw(stmt("SELECT 1 / 0")).await.is_err());
    drop(txn);
    assert_clean(&pool, "after an error, dropped").await;

    let txn = begin_tenant(&pool, &admin, false).await.unwrap();
    txn.execute_raw(stmt("SET LOCAL statement_timeout = 50")).await.unwrap();
    assert!(txn.execute_raw(stmt("SELECT pg_sleep(2)")).await.is_err(), "statement timeout");
    drop(txn);
    assert_clean(&pool, "after a statement timeout").await;
    assert_eq!(one::<i32>(&pool, PID).await.unwrap(), backend, "the same connection was reused");

    // A request timing out mid-statement drops its future.
    let txn = begin_tenant(&pool, &admin, false).await.unwrap();
    let slow = txn.execute_raw(stmt("SELECT pg_sleep(1)"));
    assert!(tokio::time::timeout(std::time::Duration::from_millis(100), slow).await.is_err());
    drop(txn);
    assert_clean(&pool, "after a cancelled request").await;

    // The next tenant on the same connection sees its own rows only.
    let bea = principal(&w.bea, &w.b, PartnerRole::PartnerAdmin);
    let txn = begin_tenant(&pool, &bea, false).await.unwrap();
    assert_eq!(client_ids(&txn).await, ["bolt".to_owned()].into());
    drop(txn);
    assert_clean(&pool, "at the end").await;
}

/// (c) Interleaved transactions of two tenants over two connections never
/// see a foreign row.
async fn interleaved_tenants_never_mix(w: World) {
    let pool = app_pool(&w.app, 2).await;
    let tenants = [
        (principal(&w.ada, &w.a, PartnerRole::PartnerAdmin), w.a.id),
        (principal(&w.bea, &w.b, PartnerRole::PartnerAdmin), w.b.id),
        (principal(&w.ben, &w.a, PartnerRole::PartnerUser), w.a.id),
        (principal(&w.bo, &w.b, PartnerRole::PartnerUser), w.b.id),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8usize {
        let (pool, tenants) = (pool.clone(), tenants.clone());
        tasks.spawn(async move {
            for i in 0..125usize {
                let (who, partner) = &tenants[(worker + i) % tenants.len()];
                let txn = begin_tenant(&pool, who, i % 3 == 0).await.unwrap();
                let seen = partners_seen(&txn, "clients").await;
                assert!(!seen.is_empty() && seen.iter().all(|p| p == partner), "{seen:?} for {partner}");
                if i % 5 == 0 {
                    drop(txn); // abandoned mid-request
                } else {
                    txn.commit().await.unwrap();
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_clean(&pool, "after 1000 transactions").await;
}

/// Every SECURITY DEFINER function of the wall pins its `search_path` to the
/// schema and then `pg_temp` (left out, `pg_temp` is searched first for
/// tables, and a session could shadow `clients` inside the owner's
/// function); the two lookups run on every request and are PL/pgSQL, whose
/// plans are kept (a SQL SECURITY DEFINER body is planned on every call).
async fn definer_functions_are_pinned_and_planned_once(w: World) {
    let rows = w
        .app
        .db
        .query_all_raw(stmt(
            "SELECT p.proname::text AS name, l.lanname::text AS lang, array_to_string(p.proconfig, ';') AS config \
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang \
             WHERE p.prosecdef AND p.pronamespace = current_schema()::regnamespace ORDER BY 1",
        ))
        .await
        .unwrap();
    let found: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.try_get("", "name").unwrap(), r.try_get("", "lang").unwrap(), r.try_get("", "config").unwrap()))
        .collect();
    let names: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["app_assigned_client_ids", "app_principal", "app_search_client_ids"]);
    let schema: String = one(&w.app.db, "SELECT current_schema()::text AS v").await.unwrap();
    for (name, lang, config) in &found {
        assert_eq!(lang, "plpgsql", "{name}");
        assert_eq!(config, &format!("search_path={schema}, pg_temp"), "{name}");
    }
}

/// `client_assignments.partner_id` (m20261210): filled from the client's row
/// by the database, and held to the client's and the user's partner by
/// foreign keys, whoever writes (here the owner, outside the wall).
async fn assignment_partner_is_the_clients(w: World) {
    let (acme, bolt) = (uuid_of(&w.app, "acme").await, uuid_of(&w.app, "bolt").await);
    let txn = w.app.db.begin().await.unwrap();
    let insert = |client: Uuid, user: Uuid| {
        format!(
            "INSERT INTO client_assignments (client_uuid, user_id, assigned_at) VALUES ('{client}', '{user}', now())"
        )
    };
    txn.execute_raw(stmt(&insert(acme, w.dee.id))).await.unwrap();
    let partner: Uuid = one(
        &txn,
        &format!(
            "SELECT partner_id AS v FROM client_assignments WHERE client_uuid = '{acme}' AND user_id = '{}'",
            w.dee.id
        ),
    )
    .await
    .unwrap();
    assert_eq!(partner, w.a.id, "the trigger's partner is the client's");
    txn.rollback().await.unwrap();
    for (client, user, what) in
        [(bolt, w.dee.id, "alpha's user on beta's client"), (acme, w.bo.id, "beta's user on alpha's client")]
    {
        let txn = w.app.db.begin().await.unwrap();
        let e = txn.execute_raw(stmt(&insert(client, user))).await.unwrap_err().to_string();
        assert!(e.contains("client_assignments_user_partner_fkey"), "{what}: {e}");
        txn.rollback().await.unwrap();
    }
    let txn = w.app.db.begin().await.unwrap();
    let e = txn
        .execute_raw(stmt(&format!(
            "INSERT INTO client_assignments (client_uuid, user_id, partner_id, assigned_at) \
             VALUES ('{acme}', '{}', '{}', now())",
            w.bo.id, w.b.id
        )))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("client_assignments_client_partner_fkey"), "a partner that is not the client's: {e}");
    txn.rollback().await.unwrap();
}

macro_rules! pg_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(w) = world().await {
                    super::$name(w).await
                }
            }
        )*
    };
}

mod postgres {
    use super::world;
    pg_tests!(
        no_settings_no_rows,
        settings_scope_unscoped_queries,
        settings_never_outlive_the_transaction,
        interleaved_tenants_never_mix,
        definer_functions_are_pinned_and_planned_once,
        assignment_partner_is_the_clients
    );
}
