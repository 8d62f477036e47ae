//! The HTTP surface: the router, its state, health, readiness and metrics.
//! The rest lives beside it, one concern a file:
//! - `transport`: GraphQL over HTTP (methods, media types, body rules);
//! - `pipeline`: authenticate, rate-limit, parse, check, run, count;
//! - `reply`: the response's media type and body, and the refusals both
//!   of those answer with;
//! - `rate`: per-principal and per-address limits, the client's address;
//! - `rate_redis`: those limits (and `ws`'s socket count) shared by every
//!   replica through Redis;
//! - `parse_cache`: parsed documents of the frontend's repeated operations
//!   (trusted documents are parsed once, in `crate::operations`);
//! - `graphiql`: the page administrators explore the API with;
//! - `ws`: subscriptions over a WebSocket on the same path (live updates).
//!
//! Who-are-you failures are HTTP 401, refused accounts HTTP 403, rate limits
//! HTTP 429 with `Retry-After`; every one of them has a GraphQL-shaped body
//! with `errors[0].extensions.code` and no `data` entry.

mod graphiql;
mod parse_cache;
mod pipeline;
mod rate;
mod rate_redis;
mod reply;
mod transport;
mod ws;

pub use rate_redis::RedisLimiter;
pub use reply::GRAPHQL_RESPONSE_JSON;

use crate::auth::Authenticator;
use crate::config::{Limits, ServeArgs, TrustedDocuments};
use crate::graphql::context::Env;
use crate::graphql::limits::Rules;
use crate::graphql::{self, AppSchema};
use crate::live::ListenOptions;
use crate::metrics::Metrics;
use crate::operations::Manifest;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parse_cache::ParseCache;
use rate::RateLimits;
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: &str = "x-request-id";

/// What the HTTP surface is configured with (the `serve` flags it reads).
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub limits: Limits,
    pub introspection: bool,
    pub graphiql_assets: Option<PathBuf>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `/metrics` is served elsewhere (`METRICS_BIND`), not on the main router.
    pub metrics_elsewhere: bool,
    /// Rate limits and socket counts shared with the other replicas (`REDIS_URL`).
    pub shared_limits: Option<RedisLimiter>,
    /// PostgreSQL: where the live-update listener connects
    /// (`LISTEN_DATABASE_URL`); `None`: where the pool does.
    pub listen: Option<ListenOptions>,
    /// Who may send free-form documents (`TRUSTED_DOCUMENTS`).
    pub trusted_documents: TrustedDocuments,
    /// The trusted documents: the embedded manifest or `TRUSTED_DOCUMENTS_FILE`.
    pub manifest: &'static Manifest,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            limits: Limits::DEFAULT,
            introspection: true,
            graphiql_assets: None,
            trusted_proxies: vec![],
            metrics_elsewhere: false,
            shared_limits: None,
            listen: None,
            trusted_documents: TrustedDocuments::Accept,
            manifest: Manifest::embedded(),
        }
    }
}

impl AppConfig {
    /// Inside a tokio runtime (the Redis connection manager lives on it).
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        let rate = &args.rate;
        let timeout = Duration::from_millis(rate.rate_limit_redis_timeout_ms);
        let shared_limits = match &rate.redis_url {
            Some(url) => Some(RedisLimiter::new(url.expose(), &rate.rate_limit_prefix, timeout)?),
            None => None,
        };
        let manifest = match &args.trusted.trusted_documents_file {
            Some(path) => Manifest::load(path)?,
            None => Manifest::embedded(),
        };
        Ok(AppConfig {
            limits: args.limits.clone(),
            introspection: !args.no_introspection,
            graphiql_assets: args.graphiql_assets.clone(),
            trusted_proxies: args.trusted_proxies.clone(),
            metrics_elsewhere: args.metrics_bind.is_some(),
            shared_limits,
            listen: crate::db::listen_options(&args.db)?,
            trusted_documents: args.trusted.trusted_documents,
            manifest,
        })
    }
}

pub struct AppState {
    pub db: DatabaseConnection,
    pub auth: Authenticator,
    /// Queries and mutations (no extension: see `graphql::builder`).
    pub schema: AppSchema,
    /// Subscriptions over the WebSocket: the same types and data, with the
    /// per-event extension (`graphql::for_subscriptions`).
    pub live_schema: AppSchema,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Set on SIGTERM / SIGINT: `/readyz` answers 503 from then on, while
    /// the listener still accepts for a moment, so load balancers stop
    /// routing here before connections would be refused (`cli::run_server`).
    pub draining: std::sync::atomic::AtomicBool,
    rules: Rules,
    rate: RateLimits,
    parsed: ParseCache,
    /// Live updates: the hub and the open WebSockets.
    live: ws::Live,
    trusted_documents: TrustedDocuments,
    manifest: &'static Manifest,
    graphiql_assets: Option<PathBuf>,
    trusted_proxies: Vec<ipnet::IpNet>,
    metrics_elsewhere: bool,
}

impl AppState {
    pub fn new(db: DatabaseConnection, auth: Authenticator, metrics: Arc<Metrics>, config: AppConfig) -> Arc<Self> {
        Self::with_schema(db, auth, metrics, config, |b| b)
    }

    /// [`AppState::new`], letting the caller add to the schema (tests inject
    /// faults through an extension this way).
    pub fn with_schema(
        db: DatabaseConnection,
        auth: Authenticator,
        metrics: Arc<Metrics>,
        config: AppConfig,
        extend: impl Fn(graphql::AppSchemaBuilder) -> graphql::AppSchemaBuilder,
    ) -> Arc<Self> {
        let limits = config.limits;
        let env = Env { limits: limits.clone(), metrics: metrics.clone(), counts: Default::default() };
        let schema = extend(graphql::builder(config.introspection)).data(env.clone()).finish();
        let live_schema = extend(graphql::for_subscriptions(graphql::builder(config.introspection))).data(env).finish();
        for name in config.manifest.names() {
            metrics.create_operation_series(name);
        }
        let rate = RateLimits::new(&limits, config.shared_limits, metrics.rate_limit_backend_errors.clone());
        Arc::new(AppState {
            rules: Rules::new(&limits, config.introspection),
            live: ws::Live::start(&db, config.listen, rate.shared(), &limits),
            rate,
            parsed: ParseCache::default(),
            trusted_documents: config.trusted_documents,
            manifest: config.manifest,
            db,
            auth,
            schema,
            live_schema,
            metrics,
            limits,
            draining: Default::default(),
            graphiql_assets: config.graphiql_assets,
            trusted_proxies: config.trusted_proxies,
            metrics_elsewhere: config.metrics_elsewhere,
        })
    }

    /// Connect (as the least-privilege role) and assemble everything `serve` needs.
    pub async fn from_args(args: &ServeArgs) -> anyhow::Result<Arc<Self>> {
        let auth = Authenticator::from_args(&args.jwt, args.demo)?;
        let metrics = Arc::new(Metrics::new());
        // The least-privilege pool (DESIGN §8); migrations ran before, as the owner.
        let db = crate::db::connect_as_app(&args.db, Some(metrics.clone())).await?;
        let config = AppConfig::from_args(args)?;
        tracing::info!(documents = config.manifest.len(), mode = ?config.trusted_documents, "trusted documents");
        if let Some(redis) = &config.shared_limits {
            // Not fatal: until Redis answers, each replica limits on its own.
            match redis.ping().await {
                Ok(()) => tracing::info!("rate limits shared through Redis"),
                Err(error) => {
                    tracing::warn!(%error, "rate limits: Redis unreachable at start-up, limits are per replica until it answers")
                }
            }
        }
        Ok(AppState::new(db, auth, metrics, config))
    }
}

/// The router as a service that knows each connection's peer address (the
/// anonymous rate limit is keyed by it): what `axum::serve` should run.
pub fn app(state: Arc<AppState>) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    router(state).into_make_service_with_connect_info::<SocketAddr>()
}

/// `/metrics` alone, for `METRICS_BIND`'s internal listener.
pub fn metrics_app(state: Arc<AppState>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

pub fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        // GET: a WebSocket upgrade (subscriptions) or `transport::graphql_get`.
        .route("/graphql", get(ws::graphql_get).post(transport::graphql_post).fallback(transport::other_method))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/readyz", get(readyz))
        .merge(graphiql::routes());
    if !state.metrics_elsewhere {
        r = r.route("/metrics", get(metrics));
    }
    if let Some(dir) = &state.graphiql_assets {
        r = r.nest_service("/graphiql-assets", tower_http::services::ServeDir::new(dir));
    }
    r.with_state(state)
        .layer(PropagateRequestIdLayer::new(header::HeaderName::from_static(REQUEST_ID)))
        // Failures are logged by the pipeline with their code (a 503 while
        // draining or during a database outage is not an ERROR of ours).
        .layer(TraceLayer::new_for_http().on_failure(()).make_span_with(|req: &Request<Body>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %id,
                operation = tracing::field::Empty,
                principal = tracing::field::Empty,
            )
        }))
        .layer(SetRequestIdLayer::new(header::HeaderName::from_static(REQUEST_ID), MakeRequestUuid))
        // No response is for content sniffing (the GraphiQL page sets its own headers).
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let (size, idle) = crate::db::pool_stats(&state.db);
    state.metrics.db_pool_idle.set(idle as i64);
    state.metrics.db_pool_in_use.set(i64::from(size) - idle as i64);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
        .into_response()
}
