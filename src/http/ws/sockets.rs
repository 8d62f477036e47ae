//! How many WebSockets each principal has open
//! (`LIMIT_WS_SOCKETS_PER_PRINCIPAL`, 5).
//!
//! Every replica counts its own sockets in memory, and never holds more than
//! the limit of one principal's. With `REDIS_URL` the count is also shared by
//! every replica: one sorted set per principal (`<RATE_LIMIT_PREFIX>ws:<user
//! id>`) whose members are socket ids, each scored with the moment (Redis's
//! clock, in milliseconds) its lease runs out. One script ([`PLACE`]) drops
//! the members whose lease ran out, counts the rest and adds the new socket
//! only when fewer than the limit remain, atomically, so that two replicas
//! admitting sockets of one principal at once cannot both take the last
//! place. A socket renews its lease at every keep-alive tick and removes
//! itself when it closes; the lease ([`LEASE_TICKS`] keep-alive intervals,
//! 60 s by default) is what frees the places of a replica that crashed or
//! lost Redis without saying goodbye. The set itself expires a lease after
//! its last change.
//!
//! Redis slow or down: the same rule as the rate limits (`rate_redis`, whose
//! connection and failure bookkeeping this shares): at most
//! `RATE_LIMIT_REDIS_TIMEOUT_MS` of waiting, then the replica's own count
//! decides (fail open to the per-replica limit, warned about and counted in
//! `rate_limit_backend_errors_total`). A socket admitted that way keeps its
//! lease: its next renewal puts it in the shared set once Redis answers, so
//! that the shared count catches up with the sockets actually open.

use super::super::rate_redis::Shared;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// A lease lasts this many keep-alive intervals: a socket whose replica
/// misses three renewals in a row (Redis slow, the replica busy) keeps its
/// place; one whose replica is gone frees it within a minute.
pub const LEASE_TICKS: u32 = 4;

/// KEYS[1]: the principal's set; ARGV: the socket id, the limit, the lease in
/// milliseconds. Drops the members whose lease ran out, then gives the
/// socket a lease (adding it, or pushing its lease out) unless `limit` others
/// hold one. 1 when the socket holds a lease, 0 when the limit is reached.
/// A renewal is the same call with no limit ([`NO_LIMIT`]): it also adds a
/// socket admitted while Redis was away, or after Redis lost its data.
static PLACE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
",
    )
});

/// The limit a renewal passes to [`PLACE`]: more sockets than a set holds.
const NO_LIMIT: u64 = u32::MAX as u64;

type Counts = Arc<Mutex<HashMap<Uuid, usize>>>;

/// The open sockets per principal: this replica's, and with Redis everyone's.
pub struct Sockets {
    local: Counts,
    shared: Option<Arc<Shared>>,
    lease: Duration,
}

impl Sockets {
    /// `shared`: the rate limits' Redis, when `REDIS_URL` is set.
    pub fn new(shared: Option<Arc<Shared>>, keepalive: Duration) -> Self {
        Sockets { local: Default::default(), shared, lease: keepalive.max(Duration::from_secs(1)) * LEASE_TICKS }
    }

    /// A place for one more socket of `user`, unless `max` are open (on
    /// this replica, or with Redis on all of them).
    pub async fn acquire(&self, user: Uuid, max: usize) -> Option<SocketSlot> {
        // This replica's place first, so that concurrent admissions here
        // never pass `max` whatever Redis says.
        let mut slot = self.acquire_here(user, max)?;
        let Some(shared) = &self.shared else { return Some(slot) };
        let lease = Lease {
            shared: shared.clone(),
            key: shared.redis().key(&format!("ws:{user}")).into(),
            member: Uuid::new_v4().simple().to_string().into(),
            millis: self.lease.as_millis() as u64,
        };
        match shared.call(lease.acquire(max)).await {
            Some(true) => {}
            // Refused: `slot` is dropped, and no lease was taken.
            Some(false) => return None,
            // Redis failed: this replica's count decided. Keep the lease:
            // a call that timed out may still have added the socket, and
            // the renewals add it once Redis answers.
            None => {}
        }
        slot.lease = Some(lease);
        Some(slot)
    }

    fn acquire_here(&self, user: Uuid, max: usize) -> Option<SocketSlot> {
        let mut open = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user).or_default();
        if *n >= max {
            if *n == 0 {
                open.remove(&user);
            }
            return None;
        }
        *n += 1;
        Some(SocketSlot { local: self.local.clone(), user, lease: None })
    }
}

/// One open socket's place; give it back with [`SocketSlot::release`] (a
/// dropped slot gives it back too, Redis's part in a task of its own).
pub struct SocketSlot {
    local: Counts,
    user: Uuid,
    lease: Option<Lease>,
}

impl SocketSlot {
    /// The shared lease, to renew at every keep-alive tick.
    pub fn lease(&self) -> Option<Lease> {
        self.lease.clone()
    }

    /// Give the place back, Redis's part included, before returning.
    pub async fn release(mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
        drop(open);
        if let Some(lease) = self.lease.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { lease.release().await });
            }
        }
    }
}

/// A socket's entry in its principal's shared set.
#[derive(Clone)]
pub struct Lease {
    shared: Arc<Shared>,
    key: Arc<str>,
    member: Arc<str>,
    millis: u64,
}

impl Lease {
    async fn acquire(&self, max: usize) -> Result<bool, String> {
        self.place(max as u64).await
    }

    /// Push the lease out by its length (a failure is counted and warned
    /// about; the lease still has a few ticks to go).
    pub async fn renew(&self) {
        self.shared.call(self.place(NO_LIMIT)).await;
    }

    async fn place(&self, limit: u64) -> Result<bool, String> {
        let mut call = PLACE.key(&*self.key);
        call.arg(&*self.member).arg(limit).arg(self.millis);
        Ok(self.shared.redis().invoke::<i64>(&call).await? == 1)
    }

    /// Remove the socket from the set. Tried even while Redis is being left
    /// alone after a failure: a place not given back stays taken for a lease.
    async fn release(&self) {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(&*self.key).arg(&*self.member);
        self.shared.attempt(self.shared.redis().query::<i64>(&cmd)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::rate_redis::RedisLimiter;
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[tokio::test]
    async fn without_redis_each_replica_counts_its_own() {
        let sockets = Sockets::new(None, Duration::from_secs(15));
        let (ada, ben) = (Uuid::new_v4(), Uuid::new_v4());
        let mut open = Vec::new();
        for _ in 0..5 {
            open.push(sockets.acquire(ada, 5).await.expect("a place"));
        }
        assert!(sockets.acquire(ada, 5).await.is_none());
        assert!(sockets.acquire(ben, 5).await.is_some(), "another principal");
        open.pop().unwrap().release().await;
        assert!(sockets.acquire(ada, 5).await.is_some(), "a place again");
        drop(open);
        assert!(sockets.local.lock().unwrap().is_empty(), "nothing left behind");
    }

    #[tokio::test]
    async fn redis_down_fails_open_to_this_replicas_count() {
        // Port 1: nothing listens, connections are refused at once.
        let redis = RedisLimiter::new("redis://127.0.0.1:1", "t:", Duration::from_millis(200)).unwrap();
        let errors = Counter::default();
        let sockets = Sockets::new(Some(Arc::new(Shared::new(redis, errors.clone()))), Duration::from_secs(15));
        let user = Uuid::new_v4();
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(sockets.acquire(user, 3).await.expect("admitted on this replica's count"));
        }
        assert!(sockets.acquire(user, 3).await.is_none(), "still limited, never unlimited");
        assert!(errors.get() >= 1, "the failure is counted");
        assert!(open[0].lease().is_some(), "kept, for the renewals to add once Redis answers");
    }
}
