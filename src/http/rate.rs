//! Rate limits: per principal (requests, mutations) and, for requests without
//! a valid token, per client address. With `REDIS_URL` the counts are shared
//! by every replica (`rate_redis`); without it, or while Redis fails, each
//! replica keeps its own.
//!
//! The client address is the TCP peer, unless the peer is one of
//! `TRUSTED_PROXIES`: then it is the right-most `X-Forwarded-For` entry that
//! is not itself a trusted proxy (entries to its left are client-written and
//! could be anything).

use super::rate_redis::{RedisLimiter, Shared};
use super::AppState;
use crate::config::Limits;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use prometheus_client::metrics::counter::Counter;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use uuid::Uuid;

/// The per-principal limits.
#[derive(Copy, Clone, Debug)]
pub enum Limit {
    Requests,
    Mutations,
}

pub struct RateLimits {
    /// The shared limiter, when `REDIS_URL` is set (the socket count
    /// shares it: [`RateLimits::shared`]).
    shared: Option<Arc<Shared>>,
    /// This replica's own limiters: the only ones without Redis, the
    /// fallback while Redis fails.
    requests: DefaultKeyedRateLimiter<Uuid>,
    mutations: DefaultKeyedRateLimiter<Uuid>,
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    limits: Limits,
    /// Anonymous checks since the last pruning.
    checks: std::sync::atomic::AtomicU32,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

/// Seconds until the next request would be allowed.
fn wait_secs(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    use governor::clock::{Clock, DefaultClock};
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl RateLimits {
    /// `backend_errors` counts the checks Redis failed.
    pub fn new(limits: &Limits, shared: Option<RedisLimiter>, backend_errors: Counter) -> Self {
        RateLimits {
            shared: shared.map(|redis| Arc::new(Shared::new(redis, backend_errors))),
            requests: DefaultKeyedRateLimiter::keyed(per_minute(limits.requests_per_minute)),
            mutations: DefaultKeyedRateLimiter::keyed(per_minute(limits.mutations_per_minute)),
            anonymous: DefaultKeyedRateLimiter::keyed(per_minute(limits.anonymous_per_minute)),
            limits: limits.clone(),
            checks: Default::default(),
        }
    }

    /// The Redis connection and its failure bookkeeping, for the other
    /// counts replicas share (sockets per principal).
    pub(super) fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.clone()
    }

    /// `Err(seconds to wait)` when the principal is over the limit.
    pub async fn check(&self, limit: Limit, principal: Uuid) -> Result<(), u64> {
        let (name, n, local) = match limit {
            Limit::Requests => ("req", self.limits.requests_per_minute, &self.requests),
            Limit::Mutations => ("mut", self.limits.mutations_per_minute, &self.mutations),
        };
        if let Some(shared) = &self.shared {
            if let Some(verdict) = shared.check(&format!("{name}:{principal}"), n).await {
                return verdict;
            }
        }
        local.check_key(&principal).map_err(wait_secs)
    }

    /// Count a request without a valid token against its client address.
    /// Requests whose address is unknown (no peer information) share one key.
    pub async fn check_anonymous(&self, client: Option<IpAddr>) -> Result<(), u64> {
        let key = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Some(shared) = &self.shared {
            if let Some(verdict) = shared.check(&format!("anon:{key}"), self.limits.anonymous_per_minute).await {
                return verdict;
            }
        }
        self.prune_now_and_then();
        self.anonymous.check_key(&key).map_err(wait_secs)
    }
}

impl RateLimits {
    /// Keys are client-chosen (addresses, and an IPv6 client has many): every
    /// 4,096 anonymous checks, forget keys whose state is back to full, so the
    /// maps hold only recently active keys.
    fn prune_now_and_then(&self) {
        use std::sync::atomic::Ordering;
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.anonymous.retain_recent();
            self.anonymous.shrink_to_fit();
            self.requests.retain_recent();
            self.mutations.retain_recent();
        }
    }
}

/// The client's address, as far as it can be trusted (see the module doc).
#[derive(Copy, Clone, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    pub fn resolve(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpNet]) -> ClientAddr {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let Some(peer) = peer else { return ClientAddr(None) };
        if !is_trusted(&peer) {
            return ClientAddr(Some(peer));
        }
        let hops = forwarded_for.unwrap_or("").split(',').map(str::trim).rev();
        let mut client = peer;
        for hop in hops {
            match hop.parse::<IpAddr>() {
                Ok(ip) if is_trusted(&ip) => client = ip,
                Ok(ip) => return ClientAddr(Some(ip)),
                // A malformed entry: nothing to its left can be believed.
                Err(_) => break,
            }
        }
        ClientAddr(Some(client))
    }
}

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let xff = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        Ok(ClientAddr::resolve(peer, xff, &state.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(ClientAddr::resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), &trusted).0, Some(ip("203.0.113.9")));
        // A trusted proxy: the right-most untrusted hop.
        let r = ClientAddr::resolve(Some(ip("10.0.0.2")), Some("6.6.6.6, 198.51.100.7, 10.0.0.1"), &trusted);
        assert_eq!(r.0, Some(ip("198.51.100.7")));
        // No header behind a trusted proxy: the proxy itself.
        assert_eq!(ClientAddr::resolve(Some(ip("10.0.0.2")), None, &trusted).0, Some(ip("10.0.0.2")));
        // Garbage stops the walk.
        assert_eq!(ClientAddr::resolve(Some(ip("10.0.0.2")), Some("x, 10.0.0.3"), &trusted).0, Some(ip("10.0.0.3")));
    }
}
