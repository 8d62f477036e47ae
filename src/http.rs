//! The HTTP surface: router, GraphQL transport rules, authentication,
//! rate limits, request ids, health, readiness and metrics.
//!
//! Transport rules (DESIGN.md §5–6): `POST /graphql` takes one JSON
//! operation (arrays: 400; not JSON: 415; too large: 413); `GET /graphql`
//! serves GraphiQL to a browser and runs queries, never mutations (405).
//! Who-are-you failures are HTTP 401, refused accounts HTTP 403, rate limits
//! HTTP 429 with `Retry-After`; every one of them has a GraphQL-shaped body
//! with `errors[0].extensions.code`.

use crate::auth::Authenticator;
use crate::config::{Limits, ServeArgs};
use crate::error::{AppError, Code};
use crate::graphql::context::{Env, Loaders};
use crate::graphql::errors::{error_response, finalize, OperationSlot};
use crate::graphql::{self, AppSchema};
use crate::metrics::Metrics;
use async_graphql::parser::types::OperationType;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::FutureExt;
use governor::{DefaultKeyedRateLimiter, Quota};
use sea_orm::DatabaseConnection;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// The operation label of requests refused before their document was read.
const UNPARSED: &str = "-";

/// Per-principal limits. Each replica keeps its own counts.
pub struct RateLimits {
    requests: DefaultKeyedRateLimiter<Uuid>,
    mutations: DefaultKeyedRateLimiter<Uuid>,
}

impl RateLimits {
    fn new(limits: &Limits) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        RateLimits {
            requests: DefaultKeyedRateLimiter::keyed(per_minute(limits.requests_per_minute)),
            mutations: DefaultKeyedRateLimiter::keyed(per_minute(limits.mutations_per_minute)),
        }
    }

    /// `Err(seconds to wait)` when the principal is over its limit.
    fn check(limiter: &DefaultKeyedRateLimiter<Uuid>, key: Uuid) -> Result<(), u64> {
        use governor::clock::{Clock, DefaultClock};
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

pub struct AppState {
    pub db: DatabaseConnection,
    pub auth: Authenticator,
    pub schema: AppSchema,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    rate: RateLimits,
    parsed: ParseCache,
    graphiql_assets: Option<PathBuf>,
}

/// Parsed documents by query text. Frontends send the same few operations
/// over and over (codegen), and parsing is a measurable share of a small
/// request's CPU; validation and execution still run every time. Bounded:
/// cleared when full; documents over 8 KiB are not kept.
#[derive(Default)]
struct ParseCache(
    std::sync::Mutex<std::collections::HashMap<String, async_graphql::parser::types::ExecutableDocument>>,
);

impl ParseCache {
    const MAX_ENTRIES: usize = 256;
    const MAX_QUERY_BYTES: usize = 8 * 1024;

    fn get(&self, query: &str) -> Option<async_graphql::parser::types::ExecutableDocument> {
        self.0.lock().ok()?.get(query).cloned()
    }

    fn put(&self, query: &str, doc: &async_graphql::parser::types::ExecutableDocument) {
        if query.len() > Self::MAX_QUERY_BYTES {
            return;
        }
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::MAX_ENTRIES {
                m.clear();
            }
            if !m.contains_key(query) {
                m.insert(query.to_owned(), doc.clone());
            }
        }
    }
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        metrics: Arc<Metrics>,
        limits: Limits,
        introspection: bool,
        graphiql_assets: Option<PathBuf>,
    ) -> Arc<Self> {
        Self::with_schema(db, auth, metrics, limits, introspection, graphiql_assets, |b| b)
    }

    /// [`AppState::new`], letting the caller add to the schema (tests inject
    /// faults through an extension this way).
    pub fn with_schema(
        db: DatabaseConnection,
        auth: Authenticator,
        metrics: Arc<Metrics>,
        limits: Limits,
        introspection: bool,
        graphiql_assets: Option<PathBuf>,
        extend: impl FnOnce(graphql::AppSchemaBuilder) -> graphql::AppSchemaBuilder,
    ) -> Arc<Self> {
        let env = Env { db: db.clone(), limits: limits.clone(), metrics: metrics.clone(), counts: Default::default() };
        let schema = extend(graphql::builder(&limits, introspection)).data(env).finish();
        Arc::new(AppState {
            rate: RateLimits::new(&limits),
            parsed: ParseCache::default(),
            db,
            auth,
            schema,
            metrics,
            limits,
            graphiql_assets,
        })
    }

    /// Connect, migrate and assemble everything `serve` needs.
    pub async fn from_args(args: &ServeArgs) -> anyhow::Result<Arc<Self>> {
        use migration::MigratorTrait;
        let auth = Authenticator::from_args(&args.jwt, args.demo)?;
        let metrics = Arc::new(Metrics::new());
        let db = crate::db::connect(&args.db, Some(metrics.clone())).await?;
        migration::Migrator::up(&db, None).await?;
        Ok(AppState::new(db, auth, metrics, args.limits.clone(), !args.no_introspection, args.graphiql_assets.clone()))
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if let Some(dir) = &state.graphiql_assets {
        r = r.nest_service("/graphiql-assets", tower_http::services::ServeDir::new(dir));
    }
    r.with_state(state)
        .layer(PropagateRequestIdLayer::new(header::HeaderName::from_static(REQUEST_ID)))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
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
}

fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON))
}

/// Serialize a GraphQL response with a status and the negotiated media type.
fn reply(status: StatusCode, resp: &async_graphql::Response, gql_media: bool) -> Response {
    let body = serde_json::to_vec(resp)
        .unwrap_or_else(|_| br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec());
    let media = if gql_media { GRAPHQL_RESPONSE_JSON } else { "application/json" };
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(media))], body).into_response()
}

fn refuse(status: StatusCode, code: Code, message: &str, gql_media: bool) -> Response {
    reply(status, &error_response(code, message), gql_media)
}

fn app_error_status(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    }
}

async fn graphql_post(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let gql_media = wants_graphql_response(&headers);
    let is_json =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
            |m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || m == GRAPHQL_RESPONSE_JSON
            },
        );
    if !is_json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadUserInput,
            "send the request as application/json",
            gql_media,
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, state.limits.body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BadUserInput,
                &format!("request body is larger than {} bytes", state.limits.body_bytes),
                gql_media,
            )
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refuse(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "batched requests are not supported: send one operation per request",
            gql_media,
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Code::BadUserInput,
                "the body must be a JSON object with `query` and optional `operationName` and `variables`",
                gql_media,
            )
        }
    };
    if request.query.trim().is_empty() {
        return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, "the body has no `query`", gql_media);
    }
    execute(&state, &headers, request, Method::POST, gql_media).await
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let gql_media = wants_graphql_response(&headers);
    let Some(query) = params.query else {
        let browser =
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if browser {
            return Html(graphiql_page(state.graphiql_assets.is_some())).into_response();
        }
        return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, "missing `query` parameter", gql_media);
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        match serde_json::from_str(&vars) {
            Ok(v) => request = request.variables(async_graphql::Variables::from_json(v)),
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    Code::BadUserInput,
                    "`variables` must be a JSON object",
                    gql_media,
                )
            }
        }
    }
    execute(&state, &headers, request, Method::GET, gql_media).await
}

/// Everything after transport: authenticate, rate-limit, parse, run with a
/// time limit, catch panics, code every error, count and log.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
    method: Method,
    gql_media: bool,
) -> Response {
    let started = Instant::now();
    let span = tracing::Span::current();

    if request.query.chars().count() > state.limits.query_chars {
        state.metrics.observe_request(UNPARSED, Code::GraphqlValidationFailed.as_str(), 0.0);
        let msg = format!("query document is longer than {} characters", state.limits.query_chars);
        return refuse(StatusCode::BAD_REQUEST, Code::GraphqlValidationFailed, &msg, gql_media);
    }

    let authz = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.auth.authenticate(&state.db, authz).await {
        Ok(p) => p,
        Err(e) => {
            state.metrics.observe_request(UNPARSED, e.code().as_str(), started.elapsed().as_secs_f64());
            tracing::info!(reason = %e.detail(), "request refused");
            let mut resp = refuse(app_error_status(&e), e.code(), &e.to_string(), gql_media);
            if matches!(e, AppError::Unauthenticated) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return resp;
        }
    };
    span.record("principal", tracing::field::display(principal.user_id));

    if let Err(wait) = RateLimits::check(&state.rate.requests, principal.user_id) {
        Metrics::count(&state.metrics.rate_limited, "request", 1);
        return too_many(wait, gql_media);
    }

    // Parse once here (async-graphql reuses it) to learn the operation type;
    // documents seen before come from the parse cache.
    let uncached = match state.parsed.get(&request.query) {
        Some(doc) => {
            request.set_parsed_query(doc);
            None
        }
        None => Some(request.query.clone()),
    };
    let op_name = request.operation_name.clone();
    let op_type = match request.parsed_query() {
        Ok(doc) => {
            if let Some(query) = &uncached {
                state.parsed.put(query, doc);
            }
            let name = op_name.as_deref();
            let op = doc.operations.iter().find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name);
            op.map(|(_, o)| o.node.ty)
        }
        Err(e) => {
            let resp = async_graphql::Response::from_errors(vec![crate::graphql::errors::with_code(
                e,
                Code::GraphqlParseFailed,
            )]);
            state.metrics.observe_request(UNPARSED, Code::GraphqlParseFailed.as_str(), started.elapsed().as_secs_f64());
            return reply(if gql_media { StatusCode::BAD_REQUEST } else { StatusCode::OK }, &resp, gql_media);
        }
    };
    if op_type == Some(OperationType::Mutation) {
        if method == Method::GET {
            let mut resp = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::BadUserInput,
                "mutations must be sent with POST",
                gql_media,
            );
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
        if let Err(wait) = RateLimits::check(&state.rate.mutations, principal.user_id) {
            Metrics::count(&state.metrics.rate_limited, "mutation", 1);
            return too_many(wait, gql_media);
        }
    }

    let slot = OperationSlot::default();
    let request = request.data(Loaders::new(state.db.clone(), principal.clone())).data(principal).data(slot.clone());
    let run = AssertUnwindSafe(state.schema.execute(request)).catch_unwind();
    let mut resp = match tokio::time::timeout(state.limits.request_timeout(), run).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "resolver panicked");
            error_response(Code::Internal, "internal error")
        }
        Err(_) => {
            tracing::warn!("request timed out");
            error_response(Code::Timeout, AppError::Timeout.to_string())
        }
    };
    finalize(&mut resp);

    let operation = slot.get().unwrap_or_else(|| "anonymous".to_owned());
    span.record("operation", tracing::field::display(&operation));
    let outcome = resp
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_else(|| "OK".to_owned());
    let elapsed = started.elapsed();
    state.metrics.observe_request(&operation, &outcome, elapsed.as_secs_f64());
    tracing::info!(
        operation = %operation,
        outcome = %outcome,
        duration_ms = elapsed.as_millis() as u64,
        "graphql request"
    );
    let status = if gql_media && resp.data == async_graphql::Value::Null && !resp.errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    reply(status, &resp, gql_media)
}

fn too_many(wait_secs: u64, gql_media: bool) -> Response {
    let mut resp = refuse(
        StatusCode::TOO_MANY_REQUESTS,
        Code::RateLimited,
        &format!("too many requests: retry in {wait_secs} s"),
        gql_media,
    );
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    resp
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
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

/// GraphiQL, from this service's `/graphiql-assets/` when configured,
/// otherwise from the public CDN.
fn graphiql_page(local: bool) -> String {
    let base = if local { "/graphiql-assets" } else { "https://unpkg.com" };
    let (react, react_dom, gq_js, gq_css) = if local {
        (
            format!("{base}/react.production.min.js"),
            format!("{base}/react-dom.production.min.js"),
            format!("{base}/graphiql.min.js"),
            format!("{base}/graphiql.min.css"),
        )
    } else {
        (
            format!("{base}/react@18.3.1/umd/react.production.min.js"),
            format!("{base}/react-dom@18.3.1/umd/react-dom.production.min.js"),
            format!("{base}/graphiql@3.8.3/graphiql.min.js"),
            format!("{base}/graphiql@3.8.3/graphiql.min.css"),
        )
    };
    GRAPHIQL_HTML
        .replace("{{REACT}}", &react)
        .replace("{{REACT_DOM}}", &react_dom)
        .replace("{{GRAPHIQL_JS}}", &gq_js)
        .replace("{{GRAPHIQL_CSS}}", &gq_css)
}

const GRAPHIQL_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>partner-clients · GraphiQL</title>
  <link rel="stylesheet" href="{{GRAPHIQL_CSS}}">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="{{REACT}}"></script>
  <script src="{{REACT_DOM}}"></script>
  <script src="{{GRAPHIQL_JS}}"></script>
  <script>
    // Paste a token from `partner-clients token --email …` (or the demo
    // banner) into the Headers tab below: {"Authorization": "Bearer <token>"}
    const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
    const defaultQuery = `# Paste your token into the Headers tab first:
# {"Authorization": "Bearer <token>"}
query Viewer {
  viewer { user { displayName email } partner { name } role permissions { canProvisionClients canManageAssignments canViewContactDetails } }
}
`;
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery,
        defaultHeaders: '{"Authorization": "Bearer <paste token here>"}',
        defaultEditorToolsVisibility: 'headers',
        // Tokens stay out of localStorage.
        shouldPersistHeaders: false,
      })
    );
  </script>
</body>
</html>
"#;
