//! At most 5 WebSockets per principal for the sum of the replicas (issue 17
//! item 5): with Redis, a principal's sockets opened alternately on two
//! replicas are refused at the sixth, on either replica, exactly as one
//! replica refuses them; a closed socket's place is free on both; another
//! principal is unaffected; places whose lease ran out (a crashed replica's)
//! do not count; an open socket renews its lease.

use super::{limiter, test_redis, unique_prefix, Replica};
use crate::db_tests;
use crate::helpers::{spawn_with, Backend, Options, TestApp};
use crate::subscriptions::client::{until, Ws, PATIENCE};
use partner_clients::config::Limits;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// How one replica alone refuses a principal's sixth socket.
const REFUSED: (u16, &str) = (4429, "Too many connections or requests");

/// `connection_init` on a new socket, expecting the refusal.
async fn refused(addr: SocketAddr, token: &str) -> (u16, String) {
    let mut ws = Ws::open(addr).await;
    ws.init(json!({ "Authorization": format!("Bearer {token}") })).await;
    ws.closed(PATIENCE).await
}

type Conn = redis::aio::MultiplexedConnection;

/// The set's members and their scores (lease ends, ms of Redis's clock).
async fn leases(conn: &mut Conn, key: &str) -> Vec<(String, i64)> {
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query_async(conn).await.unwrap()
}

/// Redis's clock in milliseconds.
async fn redis_now(conn: &mut Conn) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    secs * 1000 + micros / 1000
}

async fn sockets_per_principal_are_counted_across_replicas(app: TestApp) {
    let Some(url) = test_redis().await else { return };
    let prefix = unique_prefix();
    let opts = || Options { shared_limits: Some(limiter(&url, &prefix)), ..Options::default() };
    let a = spawn_with(app.backend, opts()).await.unwrap();
    let b = Replica::start(&a, opts()).await;
    let sides = [a.addr, b.addr];
    let alpha = a.partner("alpha").await;
    let (ada, ben) = (a.admin_of(&alpha, "ada").await, a.admin_of(&alpha, "ben").await);
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}ws:{}", ada.id);

    // Five places left by a replica that crashed: their leases ran out.
    for i in 0..5 {
        let _: i64 =
            redis::cmd("ZADD").arg(&key).arg(1).arg(format!("crashed-{i}")).query_async(&mut conn).await.unwrap();
    }

    // Five sockets, alternately on A and B (three on A, two on B) ...
    let mut open = Vec::new();
    for i in 0..5 {
        open.push(Ws::connect(sides[i % 2], &ada.token).await);
    }
    // ... and the sixth is refused on either, though neither holds five.
    for side in sides {
        let (code, reason) = refused(side, &ada.token).await;
        assert_eq!((code, reason.as_str()), REFUSED, "on {side}");
    }
    let held = leases(&mut conn, &key).await;
    assert_eq!(held.len(), 5, "the expired places were dropped: {held:?}");
    assert!(held.iter().all(|(member, _)| !member.starts_with("crashed-")), "{held:?}");
    let now = redis_now(&mut conn).await;
    for (member, ends) in &held {
        assert!((50_000..=60_000).contains(&(ends - now)), "{member}: a lease of 60 s, {} ms left", ends - now);
    }
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!((50_000..=60_000).contains(&ttl), "the set expires on its own: PTTL {ttl}");

    // Another principal is unaffected, on either replica.
    let mut bens = Vec::new();
    for side in sides {
        bens.push(Ws::connect(side, &ben.token).await);
    }

    // A socket closed on A frees a place, taken on B; then full again.
    drop(open.remove(0));
    until(|| a.state.metrics.ws_sockets.get() == 3, "A's sockets: Ada's two and Ben's").await;
    open.push(Ws::connect(b.addr, &ada.token).await);
    let (code, reason) = refused(a.addr, &ada.token).await;
    assert_eq!((code, reason.as_str()), REFUSED);
    assert_eq!(leases(&mut conn, &key).await.len(), 5);

    // Every decision came from Redis.
    for side in [&Replica::of(&a), &b] {
        assert_eq!(side.backend_errors().await, 0);
    }
}

db_tests!(sockets_per_principal_are_counted_across_replicas);

/// A lease is renewed at every keep-alive tick (here 1 s, so a lease of
/// 4 s) and given back when the socket closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_socket_renews_its_lease_and_a_closed_one_gives_it_back() {
    let Some(url) = test_redis().await else { return };
    let prefix = unique_prefix();
    let opts = Options {
        limits: Limits { ws_keepalive_secs: 1, ..Options::default().limits },
        shared_limits: Some(limiter(&url, &prefix)),
        ..Options::default()
    };
    let app = spawn_with(Backend::Sqlite, opts).await.unwrap();
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}ws:{}", ada.id);

    let mut ws = Ws::connect(app.addr, &ada.token).await;
    let first = leases(&mut conn, &key).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let left = first[0].1 - redis_now(&mut conn).await;
    assert!((3_000..=4_000).contains(&left), "four keep-alive intervals: {left} ms left");
    // Listen (answering pings) for a few ticks: the lease moves on.
    assert!(ws.next(Duration::from_millis(2_500)).await.is_none(), "nothing but pings");
    let later = leases(&mut conn, &key).await;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(later[0].0, first[0].0, "the same socket");
    assert!(later[0].1 >= first[0].1 + 1_000, "renewed: {first:?} then {later:?}");

    drop(ws);
    until(|| app.state.metrics.ws_sockets.get() == 0, "the socket to close").await;
    let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(!exists, "the place was given back (and the set, empty, is gone)");
}
