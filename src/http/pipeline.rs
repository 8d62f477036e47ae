//! Everything after transport, as small named steps: authenticate,
//! rate-limit, take the trusted document or check that free-form text is
//! allowed, parse, pick the operation, check the document's limits, run
//! it with a time limit, code every error, count and log.
//!
//! The document limits run here, before async-graphql sees the document:
//! its own checks expand fragment spreads without memoising, so a tiny
//! document could otherwise hold a worker thread for minutes, where no
//! timeout can interrupt it (`graphql::limits`).

use super::rate::{ClientAddr, Limit};
use super::reply::{self, refuse, reply, Media, Payload};
use super::AppState;
use crate::config::TrustedDocuments;
use crate::domain::PartnerRole;
use crate::error::{AppError, Code};
use crate::graphql::context::Loaders;
use crate::graphql::errors::{error_response, finalize, with_code};
use crate::metrics::{Metrics, OK, UNPARSED};
use crate::operations::Persisted;
use crate::policy::Principal;
use crate::tenant::TenantDb;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

/// What the transport learnt about a request.
pub struct Call<'a> {
    pub headers: &'a HeaderMap,
    pub client: ClientAddr,
    pub method: Method,
    pub media: Media,
    /// The trusted document the request names instead of sending `query`.
    pub document_id: Option<String>,
}

/// The operation a request runs, as far as metrics and rate limits care.
pub(super) struct Picked {
    pub(super) ty: OperationType,
    /// A known operation's name, or `other` (never client text).
    label: &'static str,
}

pub async fn execute(state: &AppState, call: Call<'_>, mut request: async_graphql::Request) -> Response {
    let started = Instant::now();
    let span = tracing::Span::current();
    let media = call.media;

    if request.query.chars().count() > state.limits.query_chars {
        return reply::query_too_long(state, media);
    }
    let principal = match authenticate(state, &call, started).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    span.record("principal", tracing::field::display(principal.user_id));
    if let Err(wait) = state.rate.check(Limit::Requests, principal.user_id).await {
        Metrics::count(&state.metrics.rate_limited, "request", 1);
        return too_many(wait, media);
    }
    let trusted = match trusted_document(state, &call, &principal, started) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let picked = match parse_and_check(state, &mut request, trusted) {
        Ok(p) => p,
        Err((code, errors)) => {
            state.metrics.observe_request(UNPARSED, code.as_str(), started.elapsed().as_secs_f64());
            tracing::info!(code = code.as_str(), "document refused");
            let status = if media.graphql_response { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            return reply(status, Payload::RequestError(&errors), media);
        }
    };
    span.record("operation", picked.label);
    if picked.ty == OperationType::Mutation {
        if call.method == Method::GET {
            return reply::mutation_over_get(state, media);
        }
        if let Err(wait) = state.rate.check(Limit::Mutations, principal.user_id).await {
            Metrics::count(&state.metrics.rate_limited, "mutation", 1);
            return too_many(wait, media);
        }
    }

    let (resp, code) = run(state, principal, request, picked.ty == OperationType::Mutation).await;
    let outcome = code.map_or(OK, Code::as_str);
    let elapsed = started.elapsed();
    state.metrics.observe_request(picked.label, outcome, elapsed.as_secs_f64());
    tracing::info!(operation = picked.label, outcome, duration_ms = elapsed.as_millis() as u64, "graphql request");
    if matches!(code, Some(Code::GraphqlValidationFailed | Code::GraphqlParseFailed)) {
        let status = if media.graphql_response { StatusCode::BAD_REQUEST } else { StatusCode::OK };
        return reply(status, Payload::RequestError(&resp.errors), media);
    }
    let status = if media.graphql_response && resp.data == async_graphql::Value::Null && !resp.errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    reply(status, Payload::Executed(&resp), media)
}

/// The principal, or the refusal: 401 (or 429 once the client address has
/// sent too many requests without a valid token), 403, 503.
async fn authenticate(state: &AppState, call: &Call<'_>, started: Instant) -> Result<Principal, Response> {
    let authz = call.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let e = match state.auth.authenticate(&state.db, authz).await {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    if matches!(e, AppError::Unauthenticated) {
        if let Err(wait) = state.rate.check_anonymous(call.client.0).await {
            Metrics::count(&state.metrics.rate_limited, "anonymous", 1);
            tracing::info!(client = ?call.client.0, "anonymous rate limit");
            return Err(too_many(wait, call.media));
        }
    }
    state.metrics.observe_request(UNPARSED, e.code().as_str(), started.elapsed().as_secs_f64());
    tracing::info!(reason = %e.chain(), "request refused");
    let mut resp = refuse(e.code().http_status(), e.code(), &e.client_message(), call.media);
    if matches!(e, AppError::Unauthenticated) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Err(resp)
}

/// The manifest's document the request names, or `None` for free-form
/// text where `TRUSTED_DOCUMENTS` allows it (DESIGN §9). Refusals are HTTP
/// 400 with no `data`: an unknown id (`PERSISTED_DOCUMENT_NOT_FOUND`), or
/// free-form text where ids are required (`PERSISTED_DOCUMENT_REQUIRED`).
// The refusal is answered at once: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn trusted_document(
    state: &AppState,
    call: &Call<'_>,
    principal: &Principal,
    started: Instant,
) -> Result<Option<&'static Persisted>, Response> {
    let (code, message) = match &call.document_id {
        Some(id) => match state.manifest.get(id) {
            Some(doc) => return Ok(Some(doc)),
            None => {
                // Only a well-formed id is logged: the rest is client text.
                let id = if crate::operations::is_sha256_id(id) { id.as_str() } else { "(not sha256:<hex>)" };
                tracing::info!(document_id = id, "unknown trusted-document id");
                (Code::PersistedDocumentNotFound, UNKNOWN_DOCUMENT)
            }
        },
        None if free_form_allowed(state.trusted_documents, principal) => return Ok(None),
        None => (Code::PersistedDocumentRequired, DOCUMENT_REQUIRED),
    };
    state.metrics.observe_request(UNPARSED, code.as_str(), started.elapsed().as_secs_f64());
    tracing::info!(code = code.as_str(), "document refused");
    Err(refuse(code.http_status(), code, message, call.media))
}

pub(super) const UNKNOWN_DOCUMENT: &str = "unknown `documentId`: it is not in this server's trusted-document manifest";
pub(super) const DOCUMENT_REQUIRED: &str =
    "this server runs trusted documents only: send a `documentId` from its manifest instead of `query`";

/// `TRUSTED_DOCUMENTS`: may this principal send a free-form document?
pub(super) fn free_form_allowed(mode: TrustedDocuments, principal: &Principal) -> bool {
    match mode {
        TrustedDocuments::Accept => true,
        // Administrators explore with GraphiQL; partner users run the frontend's documents only.
        TrustedDocuments::RequireForUsers => principal.role == PartnerRole::PartnerAdmin,
        TrustedDocuments::Require => false,
    }
}

/// Parse (a trusted document was parsed at start-up; free-form documents
/// seen before come from the parse cache), check the document limits, and
/// pick the operation to run.
pub(super) fn parse_and_check(
    state: &AppState,
    request: &mut async_graphql::Request,
    trusted: Option<&'static Persisted>,
) -> Result<Picked, (Code, Vec<async_graphql::ServerError>)> {
    let mut fresh = false;
    if let Some(trusted) = trusted {
        request.query.clone_from(&trusted.text);
        request.set_parsed_query(trusted.doc.clone());
    } else if let Some(doc) = state.parsed.get(&request.query) {
        request.set_parsed_query(doc);
    } else {
        fresh = true;
    }
    let query = fresh.then(|| request.query.clone());
    let name = request.operation_name.clone();
    let variables = request.variables.clone();
    let doc =
        request.parsed_query().map_err(|e| (Code::GraphqlParseFailed, vec![with_code(e, Code::GraphqlParseFailed)]))?;
    let invalid = |msg: String| {
        let e = with_code(async_graphql::ServerError::new(msg, None), Code::GraphqlValidationFailed);
        (Code::GraphqlValidationFailed, vec![e])
    };
    state.rules.check(doc, &variables).map_err(|r| invalid(r.0))?;
    let picked = pick(state, doc, name.as_deref()).ok_or_else(|| {
        invalid(match &name {
            Some(_) => "the document has no operation of the requested `operationName`".to_owned(),
            None => "the document has several operations: say which with `operationName`".to_owned(),
        })
    })?;
    if let Some(query) = query {
        state.parsed.put(&query, doc);
    }
    Ok(picked)
}

fn pick(state: &AppState, doc: &ExecutableDocument, name: Option<&str>) -> Option<Picked> {
    let mut ops = doc.operations.iter();
    let (op_name, op) = match name {
        Some(want) => ops.find(|(n, _)| n.map(|n| n.as_str()) == Some(want))?,
        None => {
            let first = ops.next()?;
            if ops.next().is_some() {
                return None;
            }
            first
        }
    };
    Some(Picked { ty: op.node.ty, label: state.manifest.label(op_name.map(|n| n.as_str())) })
}

/// Run the operation with a time limit, turning a panic into INTERNAL;
/// also the first error's code (`errors::finalize`), the request's outcome.
async fn run(
    state: &AppState,
    principal: Principal,
    request: async_graphql::Request,
    writes: bool,
) -> (async_graphql::Response, Option<Code>) {
    let tenant = TenantDb::new(state.db.clone(), principal.clone(), writes, Some(state.metrics.clone()));
    let request = request.data(Loaders::new(tenant.clone(), principal.clone())).data(tenant.clone()).data(principal);
    let run = AssertUnwindSafe(state.schema.execute(request)).catch_unwind();
    let outcome = tokio::time::timeout(state.limits.request_timeout(), run).await;
    // The resolvers are gone (finished, or dropped by the timeout): end the
    // request's read transaction, and with it its tenant settings. In the
    // background: after a timeout the connection may still be busy with the
    // cancelled statement, and the answer must not wait for it.
    tokio::spawn(tenant.finish());
    let mut resp = match outcome {
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
            error_response(Code::Timeout, AppError::Timeout.client_message())
        }
    };
    let code = finalize(&mut resp);
    (resp, code)
}

pub fn too_many(wait_secs: u64, media: Media) -> Response {
    let msg = format!("too many requests: retry in {wait_secs} s");
    let mut resp = refuse(Code::RateLimited.http_status(), Code::RateLimited, &msg, media);
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    resp
}
