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
use super::reply::{refuse_transport, Media, GRAPHQL_RESPONSE_JSON};
use super::{graphiql, AppState};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::sync::Arc;

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
