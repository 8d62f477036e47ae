//! GraphQL over HTTP, the transport rules (DESIGN.md §5–§7): `POST /graphql`
//! takes one JSON operation (arrays: 400; not JSON: 415; too large: 413);
//! `GET /graphql` serves GraphiQL to a browser and runs queries, never
//! mutations (405). Either names its document by `query` (the text) or by
//! `documentId` (a trusted document, DESIGN §9), never both: a request with
//! both is refused (400), since one of the two would be ignored and the
//! client could not tell which. Every refusal here is counted by reason
//! (`transport_refusals`) and logged under the request id, and its body is a
//! request error: `errors` and no `data` entry.

use super::pipeline::{self, Call};
use super::rate::ClientAddr;
use super::{graphiql, AppState};
use crate::error::Code;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The negotiated response media type.
#[derive(Copy, Clone)]
pub struct Media {
    /// `application/graphql-response+json` was asked for: request errors are HTTP 400.
    pub graphql_response: bool,
}

impl Media {
    pub fn of(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        Media { graphql_response: accept.is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON)) }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(if self.graphql_response { GRAPHQL_RESPONSE_JSON } else { "application/json" })
    }
}

/// A response body: an executed operation's (`data`, maybe `errors`), or a
/// request error's (`errors` only: the operation never ran).
pub enum Payload<'a> {
    Executed(&'a async_graphql::Response),
    RequestError(&'a [async_graphql::ServerError]),
}

/// Serialize a GraphQL response with a status and the negotiated media type.
pub fn reply(status: StatusCode, body: Payload<'_>, media: Media) -> Response {
    let json = match body {
        Payload::Executed(resp) => serde_json::to_vec(resp),
        Payload::RequestError(errors) => serde_json::to_vec(&serde_json::json!({ "errors": errors })),
    };
    let json = json
        .unwrap_or_else(|_| br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec());
    (status, [(header::CONTENT_TYPE, media.content_type())], json).into_response()
}

/// A request error with one coded message.
pub fn refuse(status: StatusCode, code: Code, message: &str, media: Media) -> Response {
    let error = crate::graphql::errors::with_code(async_graphql::ServerError::new(message, None), code);
    reply(status, Payload::RequestError(&[error]), media)
}

/// A transport refusal: counted by reason, logged, answered.
fn refuse_transport(
    state: &AppState,
    reason: &'static str,
    status: StatusCode,
    message: &str,
    media: Media,
) -> Response {
    state.metrics.transport_refused(reason);
    tracing::info!(reason, status = status.as_u16(), "request refused by the transport");
    refuse(status, Code::BadUserInput, message, media)
}

pub async fn graphql_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = Media::of(&headers);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_json = content_type.and_then(|v| v.split(';').next()).is_some_and(|m| {
        let m = m.trim().to_ascii_lowercase();
        m == "application/json" || m == GRAPHQL_RESPONSE_JSON
    });
    if !is_json {
        let msg = "send the request as application/json";
        return refuse_transport(&state, "not_json", StatusCode::UNSUPPORTED_MEDIA_TYPE, msg, media);
    }
    let bytes: Bytes = match axum::body::to_bytes(body, state.limits.body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let msg = format!("request body is larger than {} bytes", state.limits.body_bytes);
            return refuse_transport(&state, "body_too_large", StatusCode::PAYLOAD_TOO_LARGE, &msg, media);
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let msg = "batched requests are not supported: send one operation per request";
        return refuse_transport(&state, "batch", StatusCode::BAD_REQUEST, msg, media);
    }
    let PostBody { document_id, request } = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(_) => {
            let msg = "the body must be a JSON object with `query` (or `documentId`) and optional `operationName` and `variables`";
            return refuse_transport(&state, "bad_body", StatusCode::BAD_REQUEST, msg, media);
        }
    };
    let document_id = match one_document(&state, &request.query, document_id, media) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let call = Call { headers: &headers, client, method: Method::POST, media, document_id };
    pipeline::execute(&state, call, request).await
}

/// A POST body: the GraphQL-over-HTTP request, or a persisted-document
/// request (`documentId` instead of `query`).
#[derive(serde::Deserialize)]
struct PostBody {
    #[serde(rename = "documentId")]
    document_id: Option<String>,
    #[serde(flatten)]
    request: async_graphql::Request,
}

/// Exactly one of `query` and `documentId`; the id, if that is the one.
// The refusal is answered at once: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn one_document(
    state: &AppState,
    query: &str,
    document_id: Option<String>,
    media: Media,
) -> Result<Option<String>, Response> {
    match (query.trim().is_empty(), document_id) {
        (true, None) => {
            let msg = "the request has no `query` (or `documentId`)";
            Err(refuse_transport(state, "no_query", StatusCode::BAD_REQUEST, msg, media))
        }
        (false, Some(_)) => {
            let msg = "send either `query` or `documentId`, not both";
            Err(refuse_transport(state, "bad_body", StatusCode::BAD_REQUEST, msg, media))
        }
        (_, id) => Ok(id),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    document_id: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

pub async fn graphql_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let media = Media::of(&headers);
    let Ok(Query(params)) = params else {
        let msg = "the query string is not a GraphQL request (`query` or `documentId`, `operationName`, `variables`)";
        return refuse_transport(&state, "bad_query_string", StatusCode::BAD_REQUEST, msg, media);
    };
    if params.query.is_none() && params.document_id.is_none() {
        let browser =
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if browser {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            return graphiql::page(state.graphiql_assets.is_some(), host);
        }
    }
    let query = params.query.unwrap_or_default();
    let document_id = match one_document(&state, &query, params.document_id, media) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let mut request = async_graphql::Request::new(query);
    // An empty `operationName` is no `operationName` (GraphQL over HTTP).
    if let Some(name) = params.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        match serde_json::from_str(&vars) {
            Ok(v) => request = request.variables(async_graphql::Variables::from_json(v)),
            Err(_) => {
                let msg = "`variables` must be a JSON object";
                return refuse_transport(&state, "bad_body", StatusCode::BAD_REQUEST, msg, media);
            }
        }
    }
    let call = Call { headers: &headers, client, method: Method::GET, media, document_id };
    pipeline::execute(&state, call, request).await
}

/// Any method but GET and POST on `/graphql`: 405 with `Allow: GET, POST`,
/// as a request error like every other refusal here (axum's own would be an
/// empty, uncounted 405).
pub async fn other_method(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut resp = refuse_transport(
        &state,
        "method",
        StatusCode::METHOD_NOT_ALLOWED,
        "use POST (or GET for queries)",
        Media::of(&headers),
    );
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    resp
}

/// A mutation sent with GET: 405 with `Allow: POST`.
pub fn mutation_over_get(state: &AppState, media: Media) -> Response {
    let mut resp = refuse_transport(
        state,
        "mutation_over_get",
        StatusCode::METHOD_NOT_ALLOWED,
        "mutations must be sent with POST",
        media,
    );
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// A document over the length limit.
pub fn query_too_long(state: &AppState, media: Media) -> Response {
    state.metrics.transport_refused("query_too_long");
    state.metrics.observe_request(crate::metrics::UNPARSED, Code::GraphqlValidationFailed.as_str(), 0.0);
    tracing::info!(reason = "query_too_long", "request refused by the transport");
    let msg = format!("query document is longer than {} characters", state.limits.query_chars);
    refuse(StatusCode::BAD_REQUEST, Code::GraphqlValidationFailed, &msg, media)
}
