//! `spawn_app()`: the real router on 127.0.0.1:0 against a fresh database,
//! plus typed fixtures and a GraphQL client. SQLite always; PostgreSQL too
//! when `TEST_DATABASE_URL` is set (a fresh database per test, dropped
//! afterwards).

use partner_clients::auth::Authenticator;
use partner_clients::config::{DbArgs, JwtArgs, Limits, Secret};
use partner_clients::graphql::AppSchemaBuilder;
use partner_clients::http::{app, AppConfig, AppState};
use partner_clients::metrics::Metrics;
use partner_clients::ops::admin;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run one test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::spawn_postgres().await {
                        super::$name(app).await
                    }
                }
            }
        )*
    };
}

/// Options for apps that need non-default configuration.
#[derive(Clone)]
pub struct Options {
    pub jwt: JwtArgs,
    pub limits: Limits,
    pub introspection: bool,
    /// Reach PostgreSQL through a [`TcpProxy`] on this port.
    pub proxy_port: Option<u16>,
    pub statement_timeout_secs: u64,
    pub extend_schema: fn(AppSchemaBuilder) -> AppSchemaBuilder,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `METRICS_BIND`: serve `/metrics` on a second listener ([`TestApp::metrics_addr`]).
    pub metrics_elsewhere: bool,
    /// `REDIS_URL` and `RATE_LIMIT_PREFIX`: rate limits shared through Redis.
    pub shared_limits: Option<partner_clients::http::RedisLimiter>,
    /// `DB_MAX_CONNECTIONS` of the server's pool (default 10).
    pub pool_size: Option<u32>,
    /// `TRUSTED_DOCUMENTS` (default `accept`).
    pub trusted_documents: partner_clients::config::TrustedDocuments,
    /// PostgreSQL: `ALTER DATABASE … SET name = value` before the server's
    /// pool connects (an operator's tuning, such as `app.search_walk_cap`).
    pub database_settings: Vec<(&'static str, &'static str)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jwt: JwtArgs { jwt_secret: Some(TEST_SECRET.parse::<Secret>().unwrap()), ..Default::default() },
            // Tests hammer one principal; the rate-limit tests set their own.
            limits: Limits {
                requests_per_minute: 100_000,
                mutations_per_minute: 100_000,
                anonymous_per_minute: 100_000,
                ..Limits::DEFAULT
            },
            introspection: true,
            proxy_port: None,
            statement_timeout_secs: 5,
            extend_schema: |b| b,
            trusted_proxies: vec![],
            metrics_elsewhere: false,
            shared_limits: None,
            pool_size: None,
            trusted_documents: Default::default(),
            database_settings: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    /// The `METRICS_BIND` listener, when [`Options::metrics_elsewhere`].
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub backend: Backend,
    /// The database's URL (what a second replica connects to).
    pub db_url: String,
    pub db: DatabaseConnection,
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
    _guard: DbGuard,
}

enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(db) = sea_orm::Database::connect(&admin_url).await {
                        let _ =
                            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Options::default()).await.expect("backend available")
}

/// An empty PostgreSQL database of its own, dropped with this value; for
/// tests that run the binary rather than an in-process app.
pub struct FreshPostgres {
    pub url: String,
    _guard: DbGuard,
}

/// `None` when `TEST_DATABASE_URL` is not set.
pub async fn fresh_postgres() -> Option<FreshPostgres> {
    let (url, guard) = new_postgres_database().await?;
    Some(FreshPostgres { url, _guard: guard })
}

async fn new_postgres_database() -> Option<(String, DbGuard)> {
    let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
    let name = format!("pc_test_{}", Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url).await.expect("connect TEST_DATABASE_URL");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    admin.close().await.unwrap();
    Some((with_db_name(&admin_url, &name), DbGuard::Postgres { admin_url, name }))
}

/// `None` when `TEST_DATABASE_URL` is not set.
pub async fn spawn_postgres() -> Option<TestApp> {
    spawn_with(Backend::Postgres, Options::default()).await
}

/// The same PostgreSQL URL with `127.0.0.1:port` as its host.
pub fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (authority, path) = rest.split_once('/').expect("path");
    let creds = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
    format!("{scheme}://{creds}127.0.0.1:{port}/{path}")
}

/// A TCP proxy in front of PostgreSQL that a test can take down (refusing
/// new connections and cutting open ones) and bring back.
pub struct TcpProxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl TcpProxy {
    pub async fn start(target: &'static str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Default::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        TcpProxy { port, up, conns }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            for t in self.conns.lock().unwrap().drain(..) {
                t.abort();
            }
        }
    }
}

/// A fresh PostgreSQL database that the app reaches through a proxy port.
pub async fn spawn_postgres_via(port: u16, mut opts: Options, _base: &str) -> TestApp {
    opts.proxy_port = Some(port);
    spawn_with(Backend::Postgres, opts).await.expect("TEST_DATABASE_URL")
}

fn with_db_name(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let (prefix, _) = base.rsplit_once('/').expect("database url has a path");
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

pub async fn spawn_with(backend: Backend, opts: Options) -> Option<TestApp> {
    // Server logs go to the test's captured output (shown on failure).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let (url, guard) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, DbGuard::Sqlite(dir))
        }
        Backend::Postgres => new_postgres_database().await?,
    };
    let metrics = Arc::new(Metrics::new());
    let app_url = match opts.proxy_port {
        Some(port) => via_port(&url, port),
        None => url.clone(),
    };
    let mut db_args = DbArgs::for_url(app_url);
    db_args.db_statement_timeout_secs = opts.statement_timeout_secs;
    if let Some(n) = opts.pool_size {
        db_args.db_max_connections = n;
    }
    // The test's own connection (fixtures, migrations) is not counted in the
    // app's metrics.
    let db = partner_clients::db::connect(&DbArgs::for_url(url.clone()), None).await.unwrap();
    {
        use migration::MigratorTrait;
        migration::Migrator::up(&db, None).await.unwrap();
    }
    if let DbGuard::Postgres { name, .. } = &guard {
        for (setting, value) in &opts.database_settings {
            db.execute_unprepared(&format!("ALTER DATABASE \"{name}\" SET {setting} = '{value}'")).await.unwrap();
        }
    }
    // The server's own pool: on PostgreSQL the least-privilege role under
    // row-level security, as `serve` runs (the fixtures above use the owner's).
    let app_db = partner_clients::db::connect_as_app(&db_args, Some(metrics.clone())).await.unwrap();
    let auth = Authenticator::from_args(&opts.jwt, false).unwrap();
    let config = AppConfig {
        limits: opts.limits,
        introspection: opts.introspection,
        trusted_proxies: opts.trusted_proxies,
        metrics_elsewhere: opts.metrics_elsewhere,
        shared_limits: opts.shared_limits,
        trusted_documents: opts.trusted_documents,
        ..AppConfig::default()
    };
    let state = AppState::with_schema(app_db, auth, metrics, config, opts.extend_schema);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let metrics_addr = if opts.metrics_elsewhere {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = partner_clients::http::metrics_app(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Some(addr)
    } else {
        None
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    Some(TestApp { addr, metrics_addr, backend, db_url: url, db, state, http, _guard: guard })
}

/// A GraphQL response: HTTP status, headers and JSON body.
#[derive(Debug)]
pub struct Gql {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }
    /// The codes of all errors, in order.
    pub fn codes(&self) -> Vec<String> {
        self.errors().iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect()
    }
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.errors().is_empty(), "unexpected errors: {:#}", self.body);
        assert_eq!(self.status, 200, "{:#}", self.body);
        self.data()
    }
}

#[derive(Clone, Debug)]
pub struct UserFx {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

impl UserFx {
    /// The PartnerUser global id.
    pub fn gid(&self) -> String {
        partner_clients::graphql::ids::encode(partner_clients::graphql::ids::Kind::PartnerUser, self.id).0
    }
}

#[derive(Clone, Debug)]
pub struct PartnerFx {
    pub id: Uuid,
    pub slug: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Gql {
        self.post_json(Some(token), &json!({ "query": query, "variables": variables })).await
    }

    pub async fn post_json(&self, token: Option<&str>, body: &Value) -> Gql {
        let mut req = self.http.post(self.url("/graphql")).json(body);
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

    pub fn token_for(&self, user: Uuid) -> String {
        self.state.auth.issue(user, Duration::from_secs(3600), None).unwrap()
    }

    pub fn read_only_token_for(&self, user: Uuid) -> String {
        self.state.auth.issue(user, Duration::from_secs(3600), Some("clients:read")).unwrap()
    }

    pub async fn partner(&self, slug: &str) -> PartnerFx {
        let p = admin::create_partner(&self.db, slug, &format!("{slug} partner")).await.unwrap();
        PartnerFx { id: p.id, slug: p.slug }
    }

    pub async fn user(&self, partner: Option<&PartnerFx>, handle: &str, role: &str) -> UserFx {
        let email = format!("{handle}@{}.example", partner.map(|p| p.slug.as_str()).unwrap_or("aidial"));
        let u = admin::create_user(&self.db, partner.map(|p| p.slug.as_str()), &email, handle, role).await.unwrap();
        UserFx { id: u.id, token: self.token_for(u.id), email: u.email }
    }

    pub async fn admin_of(&self, p: &PartnerFx, handle: &str) -> UserFx {
        self.user(Some(p), handle, "partner_admin").await
    }

    pub async fn member_of(&self, p: &PartnerFx, handle: &str) -> UserFx {
        self.user(Some(p), handle, "partner_user").await
    }

    /// Provision a client through the API as `admin`; returns its clientId.
    pub async fn provision(&self, admin: &UserFx, client_id: &str, business_name: &str) -> String {
        let r = self
            .gql(
                &admin.token,
                "mutation($i: ProvisionClientInput!) { provisionClient(input: $i) { created userErrors { field code message } client { clientId } } }",
                json!({ "i": client_input(client_id, business_name) }),
            )
            .await;
        let d = r.ok();
        assert_eq!(d["provisionClient"]["userErrors"], json!([]), "{:#}", r.body);
        client_id.to_owned()
    }

    /// Assign users to a client through the API.
    pub async fn assign(&self, admin: &UserFx, client_id: &str, users: &[&UserFx], support: bool) {
        let ids: Vec<String> = users.iter().map(|u| u.gid()).collect();
        let r = self
            .gql(
                &admin.token,
                "mutation($i: AssignPartnerUsersInput!) { assignPartnerUsers(input: $i) { userErrors { field code } } }",
                json!({ "i": { "clientId": client_id, "userIds": ids, "supportContact": support } }),
            )
            .await;
        assert_eq!(r.ok()["assignPartnerUsers"]["userErrors"], json!([]), "{:#}", r.body);
    }

    /// SQL statements executed so far, read from `/metrics`.
    pub async fn statements(&self) -> u64 {
        let text = self.http.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find(|l| l.starts_with("partner_clients_db_statements_total "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .expect("db statements metric")
    }
}

/// A valid provisioning input.
pub fn client_input(client_id: &str, business_name: &str) -> Value {
    json!({
        "clientId": client_id,
        "businessName": business_name,
        "webDomain": format!("{client_id}.example.com"),
        "contactName": "Casey Contact",
        "businessEmail": format!("casey@{client_id}.example.com"),
        "timezone": "Europe/Berlin",
    })
}
