//! Rate limits shared by every replica, kept in Redis (`REDIS_URL`).
//!
//! One check is one round trip: a GCRA script (the algorithm the in-process
//! `governor` limiter uses, so both answer alike) runs inside Redis, reads
//! and moves the key's theoretical arrival time atomically, and sets the
//! key to expire when it would be back to a full allowance (at most a
//! minute). Time comes from Redis's own clock, so replicas whose clocks
//! disagree still share one limit. `Script` sends EVALSHA and, when Redis
//! does not know the script yet (NOSCRIPT, e.g. after a restart), loads it.
//!
//! When Redis is down or slow, checks fail OPEN to the replica's own
//! limiter ([`Shared::check`] says why), with a warning at most every
//! [`WARN_EVERY`] and `rate_limit_backend_errors_total` counting failures.
//! The per-principal socket count (`ws::sockets`) goes through the same
//! connection and the same bookkeeping ([`Shared::call`]).

use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// The key holds the theoretical arrival time (TAT), in microseconds of
/// Redis's clock: the moment the allowance would be full again if every
/// request so far had been spaced evenly. A request is allowed when pushing
/// the TAT by one interval (period / limit) keeps it at most one period
/// ahead of now; that lets a burst of `limit` through, then one request per
/// interval. Returns 0 when allowed, or the microseconds to wait.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local period = tonumber(ARGV[1])
local interval = period / tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - period - now
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
",
    )
});

const PERIOD_MICROS: u64 = 60_000_000;
/// After a failed check, the next ones skip Redis for this long: during an
/// outage requests do not each pay the timeout, and Redis coming back gets
/// a trickle of probes rather than a stampede.
const BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning per this period while Redis fails.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A connection to the Redis that holds the shared counters, with the key
/// prefix and the longest wait per check. Cheap to clone (one multiplexed
/// connection underneath).
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisLimiter {
    // The connection's details may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

impl RedisLimiter {
    /// Call inside a tokio runtime. Does not connect: the connection manager
    /// connects on first use and again after every failure, so a replica
    /// starts (and serves, on its own limits) while Redis is unreachable.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        use anyhow::Context;
        let client = redis::Client::open(url).context("REDIS_URL is not a usable Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_lazy_with_config(client, config).context("Redis connection manager")?;
        Ok(RedisLimiter { conn, prefix: prefix.into(), timeout })
    }

    /// One PING, for a start-up log line.
    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(Duration::from_secs(1), redis::cmd("PING").query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 1 s".to_owned()),
        }
    }

    /// `Ok(Err(seconds to wait))` when over the limit; `Err` when Redis
    /// failed or did not answer in time.
    async fn check(&self, key: &str, per_minute: u32) -> Result<Result<(), u64>, String> {
        let mut call = GCRA.key(self.key(key));
        call.arg(PERIOD_MICROS).arg(per_minute.max(1));
        match self.invoke::<u64>(&call).await? {
            0 => Ok(Ok(())),
            wait_micros => Ok(Err(wait_micros.div_ceil(1_000_000))),
        }
    }

    /// `name` under the configured prefix.
    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Run a script (EVALSHA, loading it on NOSCRIPT), waiting at most the
    /// configured timeout; `Err` says why it failed.
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let mut conn = self.conn.clone();
        self.bounded(call.invoke_async::<T>(&mut conn)).await
    }

    /// Run one command, waiting at most the configured timeout.
    pub(super) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, String> {
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async::<T>(&mut conn)).await
    }

    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }
}

/// The shared limiter plus what failing open needs: a short back-off, a
/// rate-limited warning, the error metric.
pub(super) struct Shared {
    redis: RedisLimiter,
    errors: Counter,
    started: Instant,
    /// Milliseconds since `started` before which checks skip Redis.
    skip_until_ms: AtomicU64,
    /// Milliseconds since `started` of the last warning (0: none yet).
    warned_ms: AtomicU64,
    failing: AtomicBool,
}

impl Shared {
    pub(super) fn new(redis: RedisLimiter, errors: Counter) -> Self {
        Shared {
            redis,
            errors,
            started: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            warned_ms: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// The shared verdict, or `None` when the caller's own limiter must
    /// decide. Failing open (rather than refusing everything) because the
    /// limiter guards the control plane, it is not the thing worth
    /// protecting: a Redis outage should not become an outage of every
    /// replica. Failing open to the *local* limiter, never to "unlimited",
    /// bounds the damage: each replica still holds every principal and
    /// address to the configured limit, as it did before limits were
    /// shared, so the worst case is N replicas × the limit for as long as
    /// Redis is away.
    pub(super) async fn check(&self, key: &str, per_minute: u32) -> Option<Result<(), u64>> {
        self.call(self.redis.check(key, per_minute)).await
    }

    /// The connection, for building a [`Shared::call`].
    pub(super) fn redis(&self) -> &RedisLimiter {
        &self.redis
    }

    /// Redis's answer to `call` (a future of [`RedisLimiter`]'s, not yet
    /// polled), or `None` when the caller must decide on its own: Redis
    /// failed or was too slow (counted, warned about, and left alone for
    /// [`BACKOFF`]) or is being left alone.
    pub(super) async fn call<T>(&self, call: impl Future<Output = Result<T, String>>) -> Option<T> {
        if self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        self.attempt(call).await
    }

    /// [`Shared::call`], even while backing off: for clean-up that runs
    /// off the request path and would otherwise leave an entry behind.
    pub(super) async fn attempt<T>(&self, call: impl Future<Output = Result<T, String>>) -> Option<T> {
        match call.await {
            Ok(answer) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: rate and socket limits are shared across replicas");
                }
                Some(answer)
            }
            Err(error) => {
                self.errors.inc();
                self.failing.store(true, Ordering::Relaxed);
                let now_ms = self.now_ms();
                self.skip_until_ms.fetch_max(now_ms + BACKOFF.as_millis() as u64, Ordering::Relaxed);
                self.warn_now_and_then(now_ms, &error);
                None
            }
        }
    }

    /// A warning at most every [`WARN_EVERY`], however many checks fail;
    /// `true` when this call logged it.
    fn warn_now_and_then(&self, now_ms: u64, error: &str) -> bool {
        let last = self.warned_ms.load(Ordering::Relaxed);
        let due = last == 0 || now_ms >= last + WARN_EVERY.as_millis() as u64;
        // One caller wins the right to log; the others see the new time.
        if due && self.warned_ms.compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(
                %error,
                failed_checks = self.errors.get(),
                "Redis failed: this replica enforces its own rate and socket limits until it answers again"
            );
            return true;
        }
        false
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable_redis() -> (Shared, Counter) {
        // Port 1: nothing listens, connections are refused at once.
        let redis = RedisLimiter::new("redis://127.0.0.1:1", "t:", Duration::from_millis(200)).unwrap();
        let errors = Counter::default();
        (Shared::new(redis, errors.clone()), errors)
    }

    #[tokio::test]
    async fn a_failed_check_is_counted_then_redis_is_left_alone_for_a_while() {
        let (shared, errors) = unreachable_redis();
        assert_eq!(shared.check("req:x", 10).await, None, "the caller's own limiter decides");
        assert_eq!(errors.get(), 1);
        let started = Instant::now();
        assert_eq!(shared.check("req:x", 10).await, None);
        assert_eq!(errors.get(), 1, "backing off: Redis was not asked");
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn warnings_are_rate_limited() {
        let (shared, _) = unreachable_redis();
        assert!(shared.warn_now_and_then(5, "down"));
        assert!(!shared.warn_now_and_then(5_000, "down"));
        assert!(shared.warn_now_and_then(15_005, "down"));
        assert!(!shared.warn_now_and_then(20_000, "down"));
    }
}
