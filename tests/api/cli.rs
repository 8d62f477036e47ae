//! The ops CLI, run as the real binary against a fresh SQLite file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli { dir: tempfile::tempdir().unwrap() }
    }
    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.dir.path().join("cli.db").display())
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_partner-clients"));
        c.args(args)
            .env("DATABASE_URL", self.url())
            .env("JWT_SECRET", crate::helpers::TEST_SECRET)
            .env("RUST_LOG", "warn")
            .env_remove("JWT_PUBLIC_KEY_FILE");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }
    /// Fails with exactly one line on stderr.
    #[track_caller]
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one-line reason expected, got {err:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout when failing");
        lines[0].to_owned()
    }
}

#[test]
fn admin_commands_print_what_they_made_and_refuse_bad_input() {
    let cli = Cli::new();
    assert_eq!(cli.ok(&["migrate"]), "migrations applied");
    let partner_id = cli.ok(&["admin", "create-partner", "--slug", "acme-agency", "--name", "Acme Agency"]);
    assert!(uuid::Uuid::parse_str(&partner_id).is_ok(), "{partner_id}");
    assert!(cli
        .fails(&["admin", "create-partner", "--slug", "acme-agency", "--name", "Again"])
        .contains("already exists"));
    assert!(cli.fails(&["admin", "create-partner", "--slug", "Bad Slug", "--name", "X"]).contains("--slug"));

    let user_id = cli.ok(&[
        "admin",
        "create-user",
        "--partner",
        "acme-agency",
        "--email",
        "Ada@Acme.example",
        "--name",
        "Ada",
        "--role",
        "partner_admin",
    ]);
    assert!(uuid::Uuid::parse_str(&user_id).is_ok());
    assert!(cli
        .fails(&["admin", "create-user", "--email", "x@acme.example", "--name", "X", "--role", "partner_user"])
        .contains("--partner"));
    assert!(cli
        .fails(&[
            "admin",
            "create-user",
            "--partner",
            "acme-agency",
            "--email",
            "y@acme.example",
            "--name",
            "Y",
            "--role",
            "wizard"
        ])
        .contains("--role"));
    assert!(cli
        .fails(&[
            "admin",
            "create-user",
            "--partner",
            "nope",
            "--email",
            "z@acme.example",
            "--name",
            "Z",
            "--role",
            "partner_user"
        ])
        .contains("nope"));
    assert!(cli
        .fails(&[
            "admin",
            "create-user",
            "--partner",
            "acme-agency",
            "--email",
            "ada@acme.example",
            "--name",
            "Dup",
            "--role",
            "partner_user"
        ])
        .contains("already exists"));
    // Customer and staff accounts need no partner.
    cli.ok(&["admin", "create-user", "--email", "ops@aidial.example", "--name", "Ops", "--role", "aidial_staff"]);

    // A token for the user, read-only when asked.
    let token = cli.ok(&["token", "--email", "ada@acme.example", "--ttl", "30m", "--scope", "clients:read"]);
    assert_eq!(token.split('.').count(), 3);
    assert!(cli.fails(&["token", "--email", "nobody@acme.example"]).contains("nobody@acme.example"));
    assert!(cli.fails(&["token", "--email", "ada@acme.example", "--ttl", "forever"]).contains("ttl"));

    assert_eq!(cli.ok(&["admin", "deactivate-user", "--email", "ada@acme.example"]), user_id);
    assert!(cli.fails(&["admin", "deactivate-user", "--email", "ghost@acme.example"]).contains("ghost"));

    assert!(cli
        .fails(&["admin", "set-client-status", "--partner", "acme-agency", "--client-id", "nope", "--status", "ACTIVE"])
        .contains("nope"));
    assert!(cli
        .fails(&["admin", "set-client-status", "--partner", "acme-agency", "--client-id", "x", "--status", "DONE"])
        .contains("--status"));
}

#[test]
fn serve_refuses_to_start_without_a_key() {
    let cli = Cli::new();
    let mut cmd = cli.cmd(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env_remove("JWT_SECRET");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("JWT_SECRET"), "{err}");
    // A short secret is refused too, and never echoed.
    let mut cmd = cli.cmd(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("JWT_SECRET", "short-secret-value");
    let out = cmd.output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(err.contains("at least 32 bytes"), "{err}");
    assert!(!err.contains("short-secret-value"));
}

/// `serve --demo` seeds once, prints working tokens, and a second run adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_seeds_once_and_prints_working_tokens() {
    let cli = Cli::new();
    for run in 0..2 {
        let mut child = cli
            .cmd(&["serve", "--demo", "--bind", "127.0.0.1:0"])
            .env_remove("JWT_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lines.iter().any(|l: &String| l.starts_with("Tokens last")) {
            let left = deadline.saturating_duration_since(Instant::now());
            lines.push(rx.recv_timeout(left).expect("demo banner"));
        }
        let url = lines.iter().find_map(|l| l.strip_prefix("partner-clients demo on ")).unwrap().to_owned();
        assert!(lines
            .iter()
            .any(|l| l == if run == 0 { "Seeded demo data." } else { "Demo data already present; nothing added." }));
        let token_after = |label: &str| {
            let i = lines.iter().position(|l| l.contains(label)).unwrap();
            let v: serde_json::Value = serde_json::from_str(&lines[i + 1]).unwrap();
            v["Authorization"].as_str().unwrap().trim_start_matches("Bearer ").to_owned()
        };
        let http = reqwest::Client::new();
        let ask = |token: String, q: &'static str| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.post(&url).bearer_auth(token).json(&serde_json::json!({ "query": q })).send().await.unwrap() }
        };
        let r = ask(token_after("<ada@northwind.example>"), "{ viewer { role } clients { totalCount } }").await;
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["data"]["viewer"]["role"], "PARTNER_ADMIN");
        assert_eq!(v["data"]["clients"]["totalCount"], 180, "run {run}: demo data is not duplicated");
        let r = ask(token_after("<ben@northwind.example>"), "{ viewer { role } }").await;
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["data"]["viewer"]["role"], "PARTNER_USER");
        let r = ask(token_after("<owner@acme-dental.example>"), "{ viewer { role } }").await;
        assert_eq!(r.status().as_u16(), 403);
        // GraphiQL for a browser.
        let page = http.get(&url).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
        assert!(page.contains("GraphiQL") && page.contains("Authorization"));
        child.kill().unwrap();
        let _ = child.wait();
    }
}
