//! The ops CLI, run as the real binary against a fresh SQLite file (and,
//! for the shutdown and demo-safety tests, also a fresh PostgreSQL database
//! when `TEST_DATABASE_URL` is set). These tests spawn processes, so they are
//! not `db_tests!`; each database gets its own `_sqlite` / `_postgres` test.

use partner_clients::auth::Authenticator;
use partner_clients::config::JwtArgs;
use partner_clients::error::AppError;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Cli {
    dir: tempfile::TempDir,
    postgres: Option<crate::helpers::FreshPostgres>,
}

impl Cli {
    fn new() -> Self {
        Cli { dir: tempfile::tempdir().unwrap(), postgres: None }
    }
    /// On a fresh PostgreSQL database; `None` when `TEST_DATABASE_URL` is not set.
    async fn postgres() -> Option<Self> {
        let postgres = crate::helpers::fresh_postgres().await?;
        Some(Cli { dir: tempfile::tempdir().unwrap(), postgres: Some(postgres) })
    }
    fn url(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.dir.path().join("cli.db").display()),
        }
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
    /// `serve --demo` on port 0 with the public demo key; stderr to a file.
    fn spawn_demo(&self, env: &[(&str, &str)]) -> Child {
        let err = std::fs::File::create(self.dir.path().join("serve.err")).unwrap();
        let mut cmd = self.cmd(&["serve", "--demo", "--bind", "127.0.0.1:0"]);
        cmd.env_remove("JWT_SECRET").envs(env.iter().copied()).stdout(Stdio::piped()).stderr(err);
        cmd.spawn().unwrap()
    }
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.err")).unwrap()
    }
    /// [`Cli::spawn_demo`], once its banner is out.
    fn demo(&self, env: &[(&str, &str)]) -> Demo {
        let mut child = self.spawn_demo(env);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lines.iter().any(|l: &String| l.starts_with("Tokens last")) {
            let left = deadline.saturating_duration_since(Instant::now());
            lines.push(rx.recv_timeout(left).unwrap_or_else(|_| panic!("demo banner: {}", self.stderr())));
        }
        let url = lines.iter().find_map(|l| l.strip_prefix("partner-clients demo on ")).unwrap().to_owned();
        Demo { child, url, lines }
    }
}

/// Tests of the binary that take a [`Cli`]: each runs on a fresh SQLite
/// file and, when `TEST_DATABASE_URL` is set, on a fresh PostgreSQL database
/// (`<name>::sqlite`, `<name>::postgres`, as `db_tests!` names them).
macro_rules! cli_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Cli::new()).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(cli) = super::Cli::postgres().await {
                        super::$name(cli).await;
                    }
                }
            }
        )*
    };
}

cli_tests!(
    sigterm_drains_in_flight_requests_then_exits_0,
    shutdown_gives_up_after_the_grace_period,
    demo_refuses_a_database_with_accounts_it_did_not_create,
);

/// Wait for `child` to exit; kill it and fail after `limit`.
#[track_caller]
fn exit_within(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("still running after {limit:?}");
}

/// A running `serve --demo`; killed when dropped.
struct Demo {
    child: Child,
    url: String,
    lines: Vec<String>,
}

impl Demo {
    fn addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").trim_end_matches("/graphql").parse().unwrap()
    }
    /// The banner's token for the account whose label line contains `label`.
    fn token(&self, label: &str) -> String {
        let i = self.lines.iter().position(|l| l.contains(label)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&self.lines[i + 1]).unwrap();
        v["Authorization"].as_str().unwrap().trim_start_matches("Bearer ").to_owned()
    }
    fn sigterm(&self) {
        self.signal("-TERM");
    }
    fn signal(&self, which: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([which, &pid]).status().unwrap().success());
    }
    /// A raw connection that has sent a POST's headers and half its body.
    async fn half_sent_request(&self, token: &str) -> (TcpStream, String) {
        let body = serde_json::json!({ "query": "{ viewer { role } }" }).to_string();
        let (head, tail) = body.split_at(body.len() / 2);
        let mut conn = TcpStream::connect(self.addr()).await.unwrap();
        let request = format!(
            "POST /graphql HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
            self.addr(),
            body.len()
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        // Let the server read the headers: the request is now in flight.
        tokio::time::sleep(Duration::from_millis(300)).await;
        (conn, tail.to_owned())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let demo = cli.demo(&[]);
        let (url, lines) = (demo.url.clone(), &demo.lines);
        assert!(lines
            .iter()
            .any(|l| l == if run == 0 { "Seeded demo data." } else { "Demo data already present; nothing added." }));
        let http = reqwest::Client::new();
        let ask = |token: String, q: &'static str| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.post(&url).bearer_auth(token).json(&serde_json::json!({ "query": q })).send().await.unwrap() }
        };
        let r = ask(demo.token("<ada@northwind.example>"), "{ viewer { role } clients { totalCount } }").await;
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["data"]["viewer"]["role"], "PARTNER_ADMIN");
        assert_eq!(v["data"]["clients"]["totalCount"], 180, "run {run}: demo data is not duplicated");
        let r = ask(demo.token("<ben@northwind.example>"), "{ viewer { role } }").await;
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["data"]["viewer"]["role"], "PARTNER_USER");
        let r = ask(demo.token("<owner@acme-dental.example>"), "{ viewer { role } }").await;
        assert_eq!(r.status().as_u16(), 403);
        // GraphiQL for a browser.
        let page = http.get(&url).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
        // (The token hint moved into GraphiQL's boot script with the CSP work.)
        assert!(page.contains("GraphiQL"), "{page}");
    }
}

/// SIGTERM drains: `/readyz` turns 503 while the listener still accepts, the
/// listener closes, a request already in flight gets its whole answer, and
/// the process exits 0.
async fn sigterm_drains_in_flight_requests_then_exits_0(cli: Cli) {
    let mut demo = cli.demo(&[("SHUTDOWN_GRACE_SECS", "8")]);
    let (mut conn, tail) = demo.half_sent_request(&demo.token("<ada@northwind.example>")).await;
    let http = reqwest::Client::new();
    let readyz = format!("http://{}/readyz", demo.addr());
    assert_eq!(http.get(&readyz).send().await.unwrap().status(), 200);

    demo.sigterm();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = http.get(&readyz).send().await.expect("the listener accepts while /readyz reports draining");
        if r.status() == 503 {
            assert_eq!(r.text().await.unwrap(), "draining\n");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never reported draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while TcpStream::connect(demo.addr()).await.is_ok() {
        assert!(Instant::now() < deadline + Duration::from_secs(5), "the listener never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The listener is closed; the request begun before the signal finishes.
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut resp = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut resp)).await.unwrap().unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(r#"{"data":{"viewer":{"role":"PARTNER_ADMIN"}}}"#), "{resp}");
    let status = exit_within(&mut demo.child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}: {}", cli.stderr());
}

/// A request that never finishes does not hold the process past the grace
/// period; cutting it is reported (non-zero exit, the reason on stderr).
/// Sent SIGINT, so both signals are covered (the drain test sends SIGTERM).
async fn shutdown_gives_up_after_the_grace_period(cli: Cli) {
    let mut demo = cli.demo(&[("SHUTDOWN_GRACE_SECS", "2")]);
    let (_conn, _never_sent) = demo.half_sent_request(&demo.token("<ada@northwind.example>")).await;
    let started = Instant::now();
    demo.signal("-INT"); // Ctrl-C drains the same way as SIGTERM
    assert!(!exit_within(&mut demo.child, Duration::from_secs(15)).success());
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    assert!(cli.stderr().contains("SHUTDOWN_GRACE_SECS"), "{}", cli.stderr());
}

/// The demo key is public: `serve --demo` will not run beside real accounts.
/// Refused before anything is migrated: a real database the demo was pointed
/// at is left exactly as it was (here: one migration short, and still so).
async fn demo_refuses_a_database_with_accounts_it_did_not_create(cli: Cli) {
    use sea_orm::ConnectionTrait;
    cli.ok(&["migrate"]); // `admin` never creates or migrates a database
    cli.ok(&["admin", "create-user", "--email", "ops@aidial.com", "--name", "Ops", "--role", "aidial_staff"]);
    let db = sea_orm::Database::connect(cli.url()).await.unwrap();
    let applied = |db: sea_orm::DatabaseConnection| async move {
        let sql = "SELECT count(*) AS n FROM seaql_migrations";
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        row.unwrap().try_get_by_index::<i64>(0).unwrap()
    };
    let last = "DELETE FROM seaql_migrations WHERE version = (SELECT max(version) FROM seaql_migrations)";
    db.execute_unprepared(last).await.unwrap();
    let before = applied(db.clone()).await;
    let (status, out) = tokio::task::block_in_place(|| {
        let mut child = cli.spawn_demo(&[]);
        let status = exit_within(&mut child, Duration::from_secs(60));
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        (status, out)
    });
    assert!(!status.success());
    assert!(out.is_empty(), "nothing on stdout: {out}");
    let err = cli.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("--demo") && lines[0].contains("1 account"), "{err}");
    assert_eq!(applied(db.clone()).await, before, "the refused database was migrated");
    db.close().await.unwrap();
}

/// An account created while the demo runs is out of the demo key's reach:
/// its token is the same 401 as a forged one, and `token --demo` won't sign it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_key_signs_in_demo_accounts_only() {
    let cli = Cli::new();
    let demo = cli.demo(&[]);
    let eve = "admin create-user --partner northwind --email eve@northwind-agency.com --name Eve --role partner_admin";
    let id = cli.ok(&eve.split(' ').collect::<Vec<_>>());
    let demo_key = Authenticator::from_args(&JwtArgs::default(), true).unwrap();
    let forged = demo_key.issue(id.parse().unwrap(), Duration::from_secs(600), None).unwrap();
    let http = reqwest::Client::new();
    let ask = |token: String| {
        let (http, url) = (http.clone(), demo.url.clone());
        async move {
            let r = http.post(&url).bearer_auth(token).json(&serde_json::json!({ "query": "{ viewer { role } }" }));
            let r = r.send().await.unwrap();
            let auth = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            (r.status().as_u16(), auth, r.text().await.unwrap())
        }
    };
    let refused = ask(forged).await;
    assert_eq!(refused.0, 401, "{refused:?}");
    assert_eq!(refused, ask("not-a-token".into()).await, "the same 401 as any bad token");
    assert_eq!(ask(demo.token("<ada@northwind.example>")).await.0, 200);

    let out = cli.cmd(&["token", "--demo", "--email", "eve@northwind-agency.com"]).env_remove("JWT_SECRET").output();
    let out = out.unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo accounts only"));
}

/// A transport refusal is logged once, under the request id its response
/// carries in `x-request-id`, with the reason it is counted under.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_refusals_are_logged_with_the_request_id() {
    let cli = Cli::new();
    let demo = cli.demo(&[("RUST_LOG", "info"), ("LOG_FORMAT", "json")]);
    let http = reqwest::Client::new();
    let r = http.put(&demo.url).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let r = http.post(&demo.url).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let id415 = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged: Vec<serde_json::Value> =
            cli.stderr().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let refusal = |id: &str, reason: &str| {
            logged.iter().any(|l| {
                l.to_string().contains(id)
                    && l["reason"] == reason
                    && l["message"] == "request refused by the transport"
            })
        };
        if refusal(&id, "method") && refusal(&id415, "not_json") {
            break;
        }
        assert!(Instant::now() < deadline, "no refusal logged under {id} / {id415}:\n{}", cli.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same rule in process, on both databases: the demo key authenticates
/// a seeded address and nobody else.
async fn demo_key_refuses_accounts_the_demo_did_not_create(app: crate::helpers::TestApp) {
    let northwind = app.partner("northwind").await;
    let ada = app.admin_of(&northwind, "ada").await; // ada@northwind.example, a demo address
    let eve = app.admin_of(&northwind, "eve").await;
    let demo_key = Authenticator::from_args(&JwtArgs::default(), true).unwrap();
    let bearer = |id| format!("Bearer {}", demo_key.issue(id, Duration::from_secs(600), None).unwrap());
    assert_eq!(demo_key.authenticate(&app.db, Some(&bearer(ada.id))).await.unwrap().user_id, ada.id);
    let err = demo_key.authenticate(&app.db, Some(&bearer(eve.id))).await.unwrap_err();
    assert!(matches!(err, AppError::Unauthenticated), "{err:?}");
    // The configured key is not restricted.
    assert!(!app.state.auth.uses_demo_key());
    assert!(app.state.auth.authenticate(&app.db, Some(&format!("Bearer {}", eve.token))).await.is_ok());
}

crate::db_tests!(demo_key_refuses_accounts_the_demo_did_not_create);
