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
use crate::auth::Bearer;
use crate::config::TrustedDocuments;
use crate::domain::PartnerRole;
use crate::error::{AppError, Code};
use crate::graphql::context::Loaders;
use crate::graphql::errors::{error_response, finalize, with_code};
use crate::metrics::{Metrics, OK, UNPARSED};
use crate::operations::Persisted;
use crate::policy::Principal;
use crate::tenant::TenantDb;
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition, OperationType};
use async_graphql::{Name, Positioned};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
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
    let authz = call.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let bearer = match state.auth.bearer(authz) {
        Ok(b) => b,
        Err(e) => return refused(state, &call, e, started).await,
    };
    span.record("principal", tracing::field::display(bearer.user_id));
    // Before the account is read: a flood under one token (valid, or of an
    // account since deactivated) costs no database work past its limit.
    if let Err(wait) = state.rate.check(Limit::Requests, bearer.user_id).await {
        Metrics::count(&state.metrics.rate_limited, "request", 1);
        return too_many(wait, media);
    }
    let (principal, tenant) = match authenticate(state, &call, &mut request, bearer).await {
        Ok(p) => p,
        Err(e) => return refused(state, &call, e, started).await,
    };
    let picked = match check(state, &call, &principal, &mut request, started).await {
        Ok(picked) => picked,
        Err(resp) => {
            if let Some(tenant) = tenant {
                tokio::spawn(tenant.finish());
            }
            return resp;
        }
    };

    let (resp, code) = run(state, principal, tenant, request, picked.ty == OperationType::Mutation).await;
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

/// The principal behind a verified token, and for a query on PostgreSQL
/// the request's read transaction, begun in the same round trip
/// (`TenantDb::authenticated`). That needs the operation's type before the
/// document is checked, which happens after, so that an account refusal
/// still comes first: a trusted document's is known, a free-form document
/// is looked up in the parse cache or else parsed here (kept in the request
/// for the checks, which report a parse error, and added to the cache only
/// once they pass). Where free-form text is refused whoever sends it
/// (`TRUSTED_DOCUMENTS=require`), or the type cannot be told, the account is
/// read on its own, as for a mutation.
async fn authenticate(
    state: &AppState,
    call: &Call<'_>,
    request: &mut async_graphql::Request,
    bearer: Bearer,
) -> Result<(Principal, Option<Arc<TenantDb>>), AppError> {
    let name = request.operation_name.clone();
    let name = name.as_deref();
    let ty = match &call.document_id {
        Some(id) => state.manifest.get(id).and_then(|d| operation(&d.doc, name)).map(|(_, op)| op.node.ty),
        None if state.trusted_documents == TrustedDocuments::Require => None,
        None => match state.parsed.operation_type(&request.query, name) {
            Some(ty) => Some(ty),
            None => request.parsed_query().ok().and_then(|doc| operation(doc, name)).map(|(_, op)| op.node.ty),
        },
    };
    if ty == Some(OperationType::Query) {
        let metrics = Some(state.metrics.clone());
        let (principal, tenant) = TenantDb::authenticated(&state.db, &state.auth, &bearer, metrics).await?;
        return Ok((principal, Some(tenant)));
    }
    let account = crate::repo::users::account(&state.db, bearer.user_id).await?;
    Ok((state.auth.principal(&bearer, account)?, None))
}

/// The refusal of a request without a principal: 401 (or 429 once the
/// client address has sent too many requests without a valid token), 403,
/// 503.
async fn refused(state: &AppState, call: &Call<'_>, e: AppError, started: Instant) -> Response {
    if matches!(e, AppError::Unauthenticated) {
        if let Err(wait) = state.rate.check_anonymous(call.client.0).await {
            Metrics::count(&state.metrics.rate_limited, "anonymous", 1);
            tracing::info!(client = ?call.client.0, "anonymous rate limit");
            return too_many(wait, call.media);
        }
    }
    state.metrics.observe_request(UNPARSED, e.code().as_str(), started.elapsed().as_secs_f64());
    tracing::info!(reason = %e.chain(), "request refused");
    let mut resp = refuse(e.code().http_status(), e.code(), &e.client_message(), call.media);
    if matches!(e, AppError::Unauthenticated) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// The document's checks, in order: trusted document or free-form text
/// allowed, parse, limits, operation, mutations only over POST and within
/// their own rate limit. The operation to run, or the refusal.
async fn check(
    state: &AppState,
    call: &Call<'_>,
    principal: &Principal,
    request: &mut async_graphql::Request,
    started: Instant,
) -> Result<Picked, Response> {
    let media = call.media;
    let trusted = trusted_document(state, call, principal, started)?;
    let picked = match parse_and_check(state, request, trusted) {
        Ok(p) => p,
        Err((code, errors)) => {
            state.metrics.observe_request(UNPARSED, code.as_str(), started.elapsed().as_secs_f64());
            tracing::info!(code = code.as_str(), "document refused");
            let status = if media.graphql_response { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            return Err(reply(status, Payload::RequestError(&errors), media));
        }
    };
    tracing::Span::current().record("operation", picked.label);
    if picked.ty == OperationType::Mutation {
        if call.method == Method::GET {
            return Err(reply::mutation_over_get(state, media));
        }
        if let Err(wait) = state.rate.check(Limit::Mutations, principal.user_id).await {
            Metrics::count(&state.metrics.rate_limited, "mutation", 1);
            return Err(too_many(wait, media));
        }
    }
    Ok(picked)
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
    let (op_name, op) = operation(doc, name)?;
    Some(Picked { ty: op.node.ty, label: state.manifest.label(op_name.map(|n| n.as_str())) })
}

/// The document's operation a request names (`operationName`), or its only
/// one when it names none.
pub(super) fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'d Name>, &'d Positioned<OperationDefinition>)> {
    let mut ops = doc.operations.iter();
    match name {
        Some(want) => ops.find(|(n, _)| n.map(|n| n.as_str()) == Some(want)),
        None => {
            let first = ops.next()?;
            if ops.next().is_some() {
                return None;
            }
            Some(first)
        }
    }
}

/// Run the operation with a time limit, turning a panic into INTERNAL;
/// also the first error's code (`errors::finalize`), the request's outcome.
/// `tenant`: the request's, if authentication began it (a query's).
async fn run(
    state: &AppState,
    principal: Principal,
    tenant: Option<Arc<TenantDb>>,
    request: async_graphql::Request,
    writes: bool,
) -> (async_graphql::Response, Option<Code>) {
    let tenant = match tenant {
        Some(tenant) if !writes => tenant,
        begun => {
            if let Some(t) = begun {
                // Not expected (the operation's type was known before), but a
                // mutation must not hold a read transaction's connection.
                t.finish().await;
            }
            TenantDb::new(state.db.clone(), principal.clone(), writes, Some(state.metrics.clone()))
        }
    };
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
