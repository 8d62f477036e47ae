//! One limit for the sum of the replicas (issue 16 items 1 and 4): a
//! principal's requests alternated between two replicas are refused at the
//! limit, not at twice it; another principal is unaffected; mutations and
//! the anonymous per-address limit are shared too.

use super::{limiter, test_redis, unique_prefix, Replica};
use crate::db_tests;
use crate::helpers::{client_input, spawn_with, Options, TestApp};
use partner_clients::config::Limits;
use serde_json::json;
use std::time::{Duration, Instant};

const VIEWER: &str = "{ viewer { role } }";
const PROVISION: &str = "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created } }";

/// `n` requests alternating between the replicas, one at a time: the
/// statuses in order, and the most the limit could have let through in the
/// time they took (`limit` plus one per interval of 60 s / `limit`).
async fn alternate(
    sides: &[&Replica],
    n: usize,
    limit: u32,
    send: impl AsyncFn(&Replica, usize) -> u16,
) -> (Vec<u16>, usize) {
    let started = Instant::now();
    let mut statuses = Vec::new();
    for i in 0..n {
        statuses.push(send(sides[i % sides.len()], i).await);
    }
    let interval = Duration::from_secs(60) / limit;
    let refilled = (started.elapsed().as_secs_f64() / interval.as_secs_f64()) as usize;
    (statuses, limit as usize + refilled)
}

#[track_caller]
fn assert_refused_at(statuses: &[u16], limit: usize, at_most: usize, allowed: u16) {
    let ok = statuses.iter().filter(|s| **s == allowed).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + refused, statuses.len(), "only {allowed} and 429: {statuses:?}");
    assert!((limit..=at_most).contains(&ok), "{ok} let through, limit {limit} (at most {at_most}): {statuses:?}");
    assert!(statuses[..limit].iter().all(|s| *s == allowed), "the first {limit} pass: {statuses:?}");
    // Both replicas refuse once the shared allowance is spent.
    assert_eq!(statuses[statuses.len() - 2..], [429, 429], "{statuses:?}");
}

async fn limits_are_shared_across_replicas(app: TestApp) {
    let Some(url) = test_redis().await else { return };
    let prefix = unique_prefix();
    let opts = || Options {
        limits: Limits {
            requests_per_minute: 10,
            mutations_per_minute: 3,
            anonymous_per_minute: 10,
            ..Limits::DEFAULT
        },
        shared_limits: Some(limiter(&url, &prefix)),
        ..Options::default()
    };
    let a = spawn_with(app.backend, opts()).await.unwrap();
    let b = Replica::start(&a, opts()).await;
    let sides = [&Replica::of(&a), &b];
    let alpha = a.partner("alpha").await;
    let (ada, ben, cy) =
        (a.admin_of(&alpha, "ada").await, a.member_of(&alpha, "ben").await, a.admin_of(&alpha, "cy").await);

    // Requests: 10 a minute for the sum, not 10 per replica.
    let (statuses, at_most) =
        alternate(&sides, 20, 10, async |r: &Replica, _| r.gql(Some(&ada.token), VIEWER, json!({})).await.status).await;
    assert_refused_at(&statuses, 10, at_most, 200);
    let refused = b.gql(Some(&ada.token), VIEWER, json!({})).await;
    assert_eq!(refused.codes(), ["RATE_LIMITED"]);
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "one interval at most: {retry}");
    // Another principal has its own allowance, on either replica.
    for side in sides {
        side.gql(Some(&ben.token), VIEWER, json!({})).await.ok();
    }

    // Mutations: 3 a minute for the sum.
    let (statuses, at_most) = alternate(&sides, 8, 3, async |r: &Replica, i| {
        r.gql(Some(&cy.token), PROVISION, json!({ "i": client_input(&format!("m-{i}"), "M") })).await.status
    })
    .await;
    assert_refused_at(&statuses, 3, at_most, 200);

    // Requests without a valid token: 10 a minute per address, shared.
    let (statuses, at_most) =
        alternate(&sides, 20, 10, async |r: &Replica, _| r.gql(None, VIEWER, json!({})).await.status).await;
    assert_refused_at(&statuses, 10, at_most, 401);

    // Every decision came from Redis: no check fell back to a local limiter.
    for side in sides {
        assert_eq!(side.backend_errors().await, 0);
    }
    // The keys expire on their own, within a minute.
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    for key in [format!("req:{}", ada.id), format!("req:{}", ben.id), format!("mut:{}", cy.id), "anon:127.0.0.1".into()]
    {
        let ttl: i64 = redis::cmd("PTTL").arg(format!("{prefix}{key}")).query_async(&mut conn).await.unwrap();
        assert!((1..=60_000).contains(&ttl), "{key}: PTTL {ttl}");
    }
}

db_tests!(limits_are_shared_across_replicas);
