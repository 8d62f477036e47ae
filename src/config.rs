//! Configuration: flags with environment fallbacks. Secrets are wrapped in
//! [`Secret`], whose `Debug` and `Display` never show the value.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://partner-clients.db?mode=rwc";

/// A secret string; prints as `[redacted]`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// PostgreSQL `statement_timeout`, in seconds.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_SECS", default_value_t = 5)]
    pub db_statement_timeout_secs: u64,
    /// How long to wait for a pooled connection (or a new one), in seconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,
    /// PostgreSQL: the least-privilege role `migrate` creates and every
    /// pooled connection of `serve` runs as (DESIGN §8); default
    /// `partner_clients_app`. The `DATABASE_URL` user must be a member of it.
    #[arg(long, env = "DB_APP_ROLE")]
    pub db_app_role: Option<String>,
    /// PostgreSQL: where `serve`'s live-update listener connects, when not
    /// where the pool does: LISTEN needs a session of its own, so behind a
    /// transaction-mode pooler point this at PostgreSQL itself or at a
    /// session-mode pool. Default: `DATABASE_URL`. Runs as `DB_APP_ROLE`.
    #[arg(long, env = "LISTEN_DATABASE_URL")]
    pub listen_database_url: Option<String>,
}

impl DbArgs {
    pub fn for_url(url: impl Into<String>) -> Self {
        DbArgs {
            database_url: url.into(),
            db_max_connections: 10,
            db_statement_timeout_secs: 5,
            db_acquire_timeout_secs: 3,
            db_app_role: None,
            listen_database_url: None,
        }
    }
}

#[derive(Args, Clone, Debug, Default)]
pub struct JwtArgs {
    /// HS256 shared secret, at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// RS256 or ES256 public key (PEM) to verify tokens with.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", conflicts_with = "jwt_secret")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Private key (PEM) matching JWT_PUBLIC_KEY_FILE; only `token` uses it.
    #[arg(long, env = "JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// Every limit of DESIGN.md §6, each a named value with its default.
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Largest request body, in bytes (HTTP 413 beyond).
    #[arg(long, env = "LIMIT_BODY_BYTES", default_value_t = Limits::DEFAULT.body_bytes)]
    pub body_bytes: usize,
    /// Longest query document, in characters.
    #[arg(long, env = "LIMIT_QUERY_CHARS", default_value_t = Limits::DEFAULT.query_chars)]
    pub query_chars: usize,
    /// Deepest selection nesting.
    #[arg(long, env = "LIMIT_DEPTH", default_value_t = Limits::DEFAULT.depth)]
    pub depth: usize,
    /// Highest query complexity (a connection costs `first` × its selection).
    #[arg(long, env = "LIMIT_COMPLEXITY", default_value_t = Limits::DEFAULT.complexity)]
    pub complexity: usize,
    /// Most aliases in one operation.
    #[arg(long, env = "LIMIT_ALIASES", default_value_t = Limits::DEFAULT.aliases)]
    pub aliases: usize,
    /// Most directives in one operation.
    #[arg(long, env = "LIMIT_DIRECTIVES", default_value_t = Limits::DEFAULT.directives)]
    pub directives: usize,
    /// Most selections a document may expand to once its fragments are spread
    /// (fields, spreads and inline fragments, with their argument values).
    #[arg(long, env = "LIMIT_EXPANDED_FIELDS", default_value_t = Limits::DEFAULT.expanded_fields)]
    pub expanded_fields: usize,
    /// Longest a request may run, in seconds.
    #[arg(long, env = "LIMIT_REQUEST_SECS", default_value_t = Limits::DEFAULT.request_secs)]
    pub request_secs: u64,
    /// Requests a minute per principal.
    #[arg(long, env = "LIMIT_REQUESTS_PER_MINUTE", default_value_t = Limits::DEFAULT.requests_per_minute)]
    pub requests_per_minute: u32,
    /// Mutations a minute per principal.
    #[arg(long, env = "LIMIT_MUTATIONS_PER_MINUTE", default_value_t = Limits::DEFAULT.mutations_per_minute)]
    pub mutations_per_minute: u32,
    /// Requests a minute per client address without a valid token.
    #[arg(long, env = "LIMIT_ANONYMOUS_PER_MINUTE", default_value_t = Limits::DEFAULT.anonymous_per_minute)]
    pub anonymous_per_minute: u32,
    /// Largest page (`first` / `last`).
    #[arg(long, env = "LIMIT_PAGE_SIZE", default_value_t = Limits::DEFAULT.max_page_size)]
    pub max_page_size: u32,
    /// Most user ids in one assignPartnerUsers call.
    #[arg(long, env = "LIMIT_ASSIGN_IDS", default_value_t = Limits::DEFAULT.assign_ids)]
    pub assign_ids: usize,
    /// Most WebSockets (subscriptions, DESIGN §10) open at once per principal.
    #[arg(long, env = "LIMIT_WS_SOCKETS_PER_PRINCIPAL", default_value_t = Limits::DEFAULT.ws_sockets_per_principal)]
    pub ws_sockets_per_principal: usize,
    /// Most subscriptions running at once on one WebSocket.
    #[arg(long, env = "LIMIT_WS_SUBSCRIPTIONS_PER_SOCKET", default_value_t = Limits::DEFAULT.ws_subscriptions_per_socket)]
    pub ws_subscriptions_per_socket: usize,
    /// Seconds a new WebSocket has to send a valid `connection_init`.
    #[arg(long, env = "LIMIT_WS_INIT_SECS", default_value_t = Limits::DEFAULT.ws_init_secs)]
    pub ws_init_secs: u64,
    /// Seconds between keep-alive pings on an idle WebSocket; a peer silent
    /// for three of them is disconnected.
    #[arg(long, env = "WS_KEEPALIVE_SECS", default_value_t = Limits::DEFAULT.ws_keepalive_secs)]
    pub ws_keepalive_secs: u64,
    /// Seconds between two checks of a WebSocket's token and account
    /// (expired, deactivated: the socket closes).
    #[arg(long, env = "WS_RECHECK_SECS", default_value_t = Limits::DEFAULT.ws_recheck_secs)]
    pub ws_recheck_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    /// The defaults of DESIGN.md §6; the flags above take theirs from here.
    pub const DEFAULT: Limits = Limits {
        body_bytes: 64 * 1024,
        query_chars: 15_000,
        depth: 10,
        complexity: 1_000,
        aliases: 30,
        directives: 10,
        expanded_fields: 2_000,
        request_secs: 10,
        requests_per_minute: 600,
        mutations_per_minute: 60,
        anonymous_per_minute: 120,
        max_page_size: 100,
        assign_ids: 100,
        ws_sockets_per_principal: 5,
        ws_subscriptions_per_socket: 10,
        ws_init_secs: 5,
        ws_keepalive_secs: 15,
        ws_recheck_secs: 30,
    };

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_secs)
    }
}

/// Rate limits shared by every replica (README, "Replicas").
#[derive(Args, Clone, Debug)]
pub struct RateArgs {
    /// Redis that holds the rate-limit counters and the per-principal
    /// WebSocket counts of all replicas (`redis://[:PASSWORD@]HOST[:PORT][/DB]`).
    /// Without it, each replica limits and counts on its own.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Prefix of the rate-limit and socket-count keys in Redis: replicas
    /// that share limits share it; another deployment on the same Redis
    /// picks its own.
    #[arg(long, env = "RATE_LIMIT_PREFIX", default_value = RateArgs::DEFAULT_PREFIX)]
    pub rate_limit_prefix: String,
    /// Longest wait for Redis per check, in milliseconds; slower or failed
    /// checks are decided by this replica's own limiter instead.
    #[arg(long, env = "RATE_LIMIT_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub rate_limit_redis_timeout_ms: u64,
}

impl RateArgs {
    pub const DEFAULT_PREFIX: &str = "partner-clients:rl:";
}

/// Which documents a request may run (DESIGN §9, README "Trusted documents").
#[derive(clap::ValueEnum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustedDocuments {
    /// A `documentId` from the manifest or a free-form `query`.
    #[default]
    Accept,
    /// Partner users may send manifest ids only; administrators may still
    /// send free-form documents (GraphiQL).
    RequireForUsers,
    /// Manifest ids only, for everyone (GraphiQL's free-form queries too).
    Require,
}

/// Trusted documents: the manifest and who may bypass it.
#[derive(Args, Clone, Debug, Default)]
pub struct TrustedDocumentsArgs {
    /// Who may send a free-form `query` instead of a manifest `documentId`.
    #[arg(long, env = "TRUSTED_DOCUMENTS", value_enum, default_value_t = TrustedDocuments::Accept)]
    pub trusted_documents: TrustedDocuments,
    /// The manifest (graphql-codegen's `persisted-documents.json`) to serve
    /// instead of the one built into the binary; read once at start-up.
    #[arg(long, env = "TRUSTED_DOCUMENTS_FILE")]
    pub trusted_documents_file: Option<PathBuf>,
}

/// Everything `serve` needs.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Seed demo data, use a development key when none is configured, and print tokens.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Proxies whose `X-Forwarded-For` is believed, comma-separated
    /// addresses or CIDR ranges (e.g. `10.0.0.0/8,127.0.0.1`). Requests from
    /// anywhere else are keyed by their peer address alone.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve `/metrics` on this separate (internal) address instead of the main one.
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Do not apply migrations at start (run `partner-clients migrate` as the
    /// tables' owner instead): for a `DATABASE_URL` role that is only a member
    /// of the least-privilege role. Ignored with `--demo`, which seeds as the owner.
    #[arg(long, env = "SKIP_MIGRATIONS")]
    pub skip_migrations: bool,
    /// Refuse introspection queries entirely.
    #[arg(long, env = "NO_INTROSPECTION")]
    pub no_introspection: bool,
    /// Serve GraphiQL's files from this directory instead of the copies in the binary.
    #[arg(long, env = "GRAPHIQL_ASSETS")]
    pub graphiql_assets: Option<PathBuf>,
    /// Seconds from SIGTERM / SIGINT to exit: `/readyz` answers 503 at once,
    /// the listener closes after a quarter of it (at most 5 s), and in-flight
    /// requests may finish until it runs out.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub rate: RateArgs,
    #[command(flatten)]
    pub trusted: TrustedDocumentsArgs,
}

/// An address (`10.1.2.3`, `::1`) or a CIDR range (`10.0.0.0/8`).
pub fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let args = JwtArgs {
            jwt_secret: Some("super-secret-value-super-secret-value".parse().unwrap()),
            ..Default::default()
        };
        let shown = format!("{args:?} {}", args.jwt_secret.as_ref().unwrap());
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
