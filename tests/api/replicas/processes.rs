//! Two real `serve` processes on one database and one Redis, configured the
//! way operators configure them (`REDIS_URL`, `RATE_LIMIT_PREFIX`): a
//! principal's requests alternated between them are refused at the limit
//! for the sum (issue 16 item 4).

use super::{test_redis, unique_prefix, Replica};
use crate::db_tests;
use crate::helpers::{TestApp, TEST_SECRET};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `serve` process; killed when dropped.
struct Serve {
    child: Child,
    replica: Replica,
}

impl Serve {
    /// Start `serve` on `app`'s database; wait for its "listening" line.
    fn start(app: &TestApp, envs: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_partner-clients"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &app.db_url)
            .env("JWT_SECRET", TEST_SECRET)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("JWT_PUBLIC_KEY_FILE")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Read the log on a thread of its own for as long as the process
        // lives (a full pipe would block the server).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            let line =
                rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no 'listening' in {seen:#?}"));
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            seen.push(line);
            if event["message"] == "listening" {
                break event["addr"].as_str().unwrap().parse().unwrap();
            }
        };
        let shared = seen.iter().any(|l| l.contains("rate limits shared through Redis"));
        assert!(shared, "serve reached Redis at start-up: {seen:#?}");
        Serve { child, replica: Replica::at(addr) }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn two_serve_processes_share_one_limit(app: TestApp) {
    let Some(url) = test_redis().await else { return };
    let prefix = unique_prefix();
    let alpha = app.partner("alpha").await;
    let ada = app.admin_of(&alpha, "ada").await;
    let ben = app.member_of(&alpha, "ben").await;
    // The default limit, 600 a minute: two processes must refuse at about
    // 600 together, not 1,200.
    let envs = [("REDIS_URL", url.as_str()), ("RATE_LIMIT_PREFIX", &prefix), ("LIMIT_REQUESTS_PER_MINUTE", "600")];
    let (a, b) = (Serve::start(&app, &envs), Serve::start(&app, &envs));
    let sides = [&a.replica, &b.replica];

    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for i in 0..1_200 {
        statuses.push(sides[i % 2].gql(Some(&ada.token), "{ viewer { role } }", json!({})).await.status);
    }
    let took = started.elapsed();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    // The burst of 600, plus one for each interval (100 ms) the test took.
    let refills = (took.as_millis() / 100) as usize + 1;
    // Counted apart, the two would let about 1,200 through.
    assert!((600..=600 + refills).contains(&ok), "{ok} let through in {took:?}");
    // Both processes refuse (a refill every 100 ms may still let one of the
    // last requests through, so not necessarily the very last two).
    for side in 0..2 {
        let refused = statuses.iter().skip(side).step_by(2).filter(|s| **s == 429).count();
        assert!(refused >= 100, "process {side} refused {refused} of its 600");
    }
    // Another principal is unaffected, on either process.
    for side in sides {
        side.gql(Some(&ben.token), "{ viewer { role } }", json!({})).await.ok();
    }
    // The keys are where the operator said.
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}req:{}", ada.id);
    let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(exists, "{key}");
}

db_tests!(two_serve_processes_share_one_limit);
