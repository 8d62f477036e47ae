//! The request's shared read transaction (`TenantDb::reader` on
//! PostgreSQL: `BEGIN` and the tenant settings in one round trip, on a
//! connection taken from the pool for the request) ends without leaving a
//! setting, a transaction or a tenant's rows on any pooled connection,
//! however the request ends: finished, an error, a cancelled statement, a
//! statement timeout, or dropped without finishing (a panic). One pooled
//! connection throughout, so every check sees the connection the previous
//! request used (or its replacement).

use crate::rls::{app_pool, assert_clean, client_ids, count, one, principal, stmt, world, PID};
use partner_clients::policy::PartnerRole;
use partner_clients::tenant::TenantDb;
use sea_orm::ConnectionTrait;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_read_transaction_leaves_nothing_behind() {
    let Some(w) = world().await else { return };
    let pool = app_pool(&w.app, 1).await;
    let ada = principal(&w.ada, &w.a, PartnerRole::PartnerAdmin);
    let bea = principal(&w.bea, &w.b, PartnerRole::PartnerAdmin);
    let backend = one::<i32>(&pool, PID).await.unwrap();

    // Finished: rolled back, the connection back in the pool.
    let t = TenantDb::new(pool.clone(), ada.clone(), false, None);
    {
        let r = t.reader().await.unwrap();
        assert_eq!(count(&r, "clients").await, 2);
        assert_eq!(one::<i32>(&r, PID).await.unwrap(), backend, "the pool's one connection");
        let again = t.reader().await.unwrap();
        assert_eq!(one::<i32>(&again, PID).await.unwrap(), backend, "shared by the request's reads");
    }
    t.finish().await;
    assert_clean(&pool, "after finish").await;
    assert_eq!(one::<i32>(&pool, PID).await.unwrap(), backend, "returned to the pool, not closed");

    // An error inside, then finished.
    let t = TenantDb::new(pool.clone(), ada.clone(), false, None);
    assert!(t.reader().await.unwrap().execute_raw(stmt("SELECT 1 / 0")).await.is_err());
    t.finish().await;
    assert_clean(&pool, "after an error").await;

    // A statement timeout inside, then finished.
    let t = TenantDb::new(pool.clone(), ada.clone(), false, None);
    {
        let r = t.reader().await.unwrap();
        r.execute_raw(stmt("SET LOCAL statement_timeout = 50")).await.unwrap();
        assert!(r.execute_raw(stmt("SELECT pg_sleep(2)")).await.is_err(), "statement timeout");
    }
    t.finish().await;
    assert_clean(&pool, "after a statement timeout").await;

    // A statement cancelled mid-flight (the request's timeout drops its
    // future), then finished while the server may still be running it.
    let t = TenantDb::new(pool.clone(), ada.clone(), false, None);
    {
        let r = t.reader().await.unwrap();
        let slow = r.execute_raw(stmt("SELECT pg_sleep(1)"));
        assert!(tokio::time::timeout(Duration::from_millis(100), slow).await.is_err());
    }
    t.finish().await;
    assert_clean(&pool, "after a cancelled statement").await;

    // Dropped without finishing (what a panic leaves): the connection is
    // closed, not pooled inside the transaction.
    let t = TenantDb::new(pool.clone(), ada.clone(), false, None);
    let inside = one::<i32>(&t.reader().await.unwrap(), PID).await.unwrap();
    drop(t);
    assert_clean(&pool, "after a drop without finishing").await;
    assert_ne!(one::<i32>(&pool, PID).await.unwrap(), inside, "a new connection replaced the dropped one");

    // The next tenant on the pool's connection sees its own rows only.
    let t = TenantDb::new(pool.clone(), bea, false, None);
    assert_eq!(client_ids(&t.reader().await.unwrap()).await, ["bolt".to_owned()].into());
    t.finish().await;
    assert_clean(&pool, "at the end").await;
}
