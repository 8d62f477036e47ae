//! Several replicas of the app on one database (issue 16): shared rate
//! limits and socket counts through Redis, Redis outages, and replicas
//! agreeing on data.
//!
//! A replica here is a second `AppState` (its own pool, rate limiters,
//! count and parse caches, Redis connection) served on its own port, on the
//! database of a [`TestApp`]: the code path of a second `serve` process;
//! `processes` also runs two real ones.
//!
//! Shared-limit tests need Redis: `REDIS_URL_TEST`, else
//! `redis://127.0.0.1:6379`. Unreachable, they fail when `CI` is set (`.ci/run`
//! starts Redis) and are skipped with a printed reason elsewhere.

mod coherence;
mod limits;
mod outage;
mod processes;
mod sockets;

use crate::helpers::{Gql, Options, TestApp};
use partner_clients::auth::Authenticator;
use partner_clients::config::DbArgs;
use partner_clients::http::{app, AppConfig, AppState, RedisLimiter};
use partner_clients::metrics::Metrics;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A second app on `TestApp`'s database.
pub struct Replica {
    pub addr: SocketAddr,
    http: reqwest::Client,
}

impl Replica {
    /// `opts`' limits, JWT settings and shared limiter; the rest default.
    pub async fn start(of: &TestApp, opts: Options) -> Replica {
        let metrics = Arc::new(Metrics::new());
        let db =
            partner_clients::db::connect(&DbArgs::for_url(of.db_url.clone()), Some(metrics.clone())).await.unwrap();
        let auth = Authenticator::from_args(&opts.jwt, false).unwrap();
        let config = AppConfig { limits: opts.limits, shared_limits: opts.shared_limits, ..AppConfig::default() };
        let state = AppState::new(db, auth, metrics, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = app(state);
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Replica::at(addr)
    }

    /// The `TestApp` itself, seen as a replica.
    pub fn of(app: &TestApp) -> Replica {
        Replica { addr: app.addr, http: app.http.clone() }
    }

    /// A server at `addr` (e.g. a `serve` process).
    pub fn at(addr: SocketAddr) -> Replica {
        Replica { addr, http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap() }
    }

    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut req = self.http.post(format!("http://{}/graphql", self.addr));
        req = req.json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Gql { status, headers, body }
    }

    /// A counter from `/metrics`, by its full name.
    pub async fn metric(&self, name: &str) -> u64 {
        let url = format!("http://{}/metrics", self.addr);
        let text = self.http.get(url).send().await.unwrap().text().await.unwrap();
        metric(&text, name)
    }

    /// `rate_limit_backend_errors_total`.
    pub async fn backend_errors(&self) -> u64 {
        self.metric("partner_clients_rate_limit_backend_errors_total").await
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The Redis the shared-limit tests use, or `None` (skip) when it cannot be
/// reached outside CI.
pub async fn test_redis() -> Option<String> {
    let url = std::env::var("REDIS_URL_TEST").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(e) if in_ci() => panic!("Redis at {url} is unreachable ({e}); CI needs it (.ci/run starts it)"),
        Err(e) => {
            eprintln!("skipped: Redis at {url} is unreachable ({e}); start it or set REDIS_URL_TEST");
            None
        }
    }
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

pub async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

/// A fresh key prefix, so that tests running at the same time (and earlier
/// runs' keys, until they expire) never share counters.
pub fn unique_prefix() -> String {
    format!("pc-test:{}:", uuid::Uuid::new_v4().simple())
}

/// A shared limiter; the generous timeout keeps a busy test machine from
/// turning into fallbacks (the outage tests set their own).
pub fn limiter(url: &str, prefix: &str) -> RedisLimiter {
    RedisLimiter::new(url, prefix, Duration::from_secs(2)).unwrap()
}
