//! Redis slow, down, and back (issue 16 item 1): every request is still
//! answered, quickly, by each replica's own limiter (never unlimited); the
//! failures are counted; once Redis is back the limit is shared again.
//!
//! The test runs its own `redis-server` on a free port, so that it can stop
//! it; without the binary it fails in CI and is skipped elsewhere.

use super::{in_ci, ping, unique_prefix, Replica};
use crate::helpers::{spawn_with, Backend, Options, UserFx};
use partner_clients::config::Limits;
use partner_clients::http::RedisLimiter;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const VIEWER: &str = "{ viewer { role } }";

/// A `redis-server` of the test's own, without persistence.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    async fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let redis = OwnRedis { port, dir: tempfile::tempdir().unwrap() };
        match redis.launch().await {
            Ok(()) => Some(redis),
            Err(e) if in_ci() => panic!("cannot run redis-server: {e}"),
            Err(e) => {
                eprintln!("skipped: cannot run redis-server ({e})");
                None
            }
        }
    }

    async fn launch(&self) -> Result<(), String> {
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().unwrap();
        let args = ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
        let status = Command::new("redis-server")
            .args(args)
            .args(["--daemonize", "yes", "--enable-debug-command", "yes"])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("redis-server exited with {status}"));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match ping(&self.url()).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new("redis-cli");
        c.args(["-p", &self.port.to_string()]).args(args);
        c
    }

    fn stop(&self) {
        let _ = self.cli(&["shutdown", "nosave"]).output();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `n` requests as `who` through `replica`: how many were let through.
/// Each one must be answered, 200 or 429, well within a second.
async fn let_through(replica: &Replica, who: &UserFx, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        let started = Instant::now();
        let r = replica.gql(Some(&who.token), VIEWER, json!({})).await;
        assert!(r.status == 200 || r.status == 429, "{}: {:#}", r.status, r.body);
        assert!(started.elapsed() < Duration::from_millis(800), "answered in {:?}", started.elapsed());
        ok += usize::from(r.status == 200);
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_open_to_each_replicas_own_limit() {
    let Some(redis) = OwnRedis::start().await else { return };
    let prefix = unique_prefix();
    let opts = || Options {
        limits: Limits { requests_per_minute: 10, ..Options::default().limits },
        shared_limits: Some(RedisLimiter::new(&redis.url(), &prefix, Duration::from_millis(50)).unwrap()),
        ..Options::default()
    };
    let app = spawn_with(Backend::Sqlite, opts()).await.unwrap();
    let (a, b) = (Replica::of(&app), Replica::start(&app, opts()).await);
    let alpha = app.partner("alpha").await;
    let mut people = Vec::new();
    for name in ["ada", "ben", "cy", "dee", "eve", "fay"] {
        people.push(app.admin_of(&alpha, name).await);
    }
    let [ada, ben, cy, dee, eve, fay] = &people[..] else { unreachable!() };

    // Up: one allowance of 10 for both replicas.
    assert_eq!(let_through(&a, ada, 6).await + let_through(&b, ada, 6).await, 10);
    assert_eq!(a.backend_errors().await + b.backend_errors().await, 0);

    // Slow: Redis busy for 1.5 s. Checks give up after 50 ms and the
    // replica's own limiter decides.
    let mut sleeper = redis.cli(&["debug", "sleep", "1.5"]).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(let_through(&a, ben, 3).await, 3);
    assert!(a.backend_errors().await >= 1, "the timeout is counted");
    sleeper.wait().unwrap();

    // Down: each replica holds every principal to its own limit of 10.
    redis.stop();
    assert_eq!(let_through(&a, cy, 12).await, 10, "A: its own limit, not unlimited");
    assert_eq!(let_through(&b, cy, 12).await, 10, "B: its own limit, not unlimited");
    assert!(b.backend_errors().await >= 1, "the outage is counted");

    // Back (empty): once each replica's checks reach Redis again (a probe
    // principal's key appears there), the limit is shared again.
    redis.launch().await.unwrap();
    let mut conn = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for (side, probe) in [(&a, dee), (&b, eve)] {
        let key = format!("{prefix}req:{}", probe.id);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            side.gql(Some(&probe.token), VIEWER, json!({})).await;
            let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
            if exists {
                break;
            }
            assert!(Instant::now() < deadline, "the replica did not reconnect to Redis");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let errors = a.backend_errors().await + b.backend_errors().await;
    assert_eq!(let_through(&a, fay, 6).await + let_through(&b, fay, 6).await, 10, "shared again");
    assert_eq!(a.backend_errors().await + b.backend_errors().await, errors, "no new failures");
}
