//! How a GraphQL response goes out over HTTP: the negotiated media type,
//! the body (an executed operation's, or a request error's), and the
//! refusals the transport and the pipeline both answer with. The transport
//! hands requests to the pipeline; the pipeline imports nothing from the
//! transport.

use super::AppState;
use crate::error::Code;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
pub(super) fn refuse_transport(
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
