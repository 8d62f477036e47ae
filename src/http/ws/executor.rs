//! What a socket runs for each `subscribe`: the HTTP pipeline's checks,
//! then the schema's subscription stream with its socket's session.
//!
//! In order: the principal's request rate limit (a subscribe counts like a
//! request), the trusted-document rule (DESIGN §9: a `documentId` in the
//! payload names a manifest document; free-form text only where
//! `TRUSTED_DOCUMENTS` allows it), the document limits and the operation
//! pick of `pipeline` (the same code as POST), a subscription operation
//! only, and the socket's subscription limit. A refusal is one response
//! with a coded error, after which the subscription completes. Every
//! response's errors are coded and masked by `errors::finalize`, like HTTP.

use super::super::pipeline;
use super::super::rate::Limit;
use super::super::AppState;
use crate::error::Code;
use crate::graphql::errors::{error_response, finalize};
use crate::graphql::subscription::per_subscription;
use crate::live::Session;
use crate::metrics::Metrics;
use crate::operations::Persisted;
use crate::policy::Principal;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use std::any::TypeId;
use std::sync::Arc;

/// Where a `subscribe` payload's `documentId` is kept: async-graphql's
/// request drops fields it does not know, so the socket moves it here
/// ([`move_document_id`]).
const DOCUMENT_ID: &str = "documentId";

/// The schema as a socket runs it.
#[derive(Clone)]
pub struct Subscriptions(pub Arc<AppState>);

impl Executor for Subscriptions {
    /// Never called by the WebSocket transport, which only streams.
    async fn execute(&self, _request: Request) -> Response {
        error_response(Code::BadUserInput, OVER_HTTP)
    }

    fn execute_stream(&self, request: Request, session: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let state = self.0.clone();
        stream::once(subscribe(state, request, session))
            .flatten()
            .map(|mut resp| {
                finalize(&mut resp);
                resp
            })
            .boxed()
    }
}

const OVER_HTTP: &str = "only subscriptions run over the WebSocket: send queries and mutations with POST /graphql";

fn refusal(code: Code, message: impl Into<String>) -> BoxStream<'static, Response> {
    stream::once(std::future::ready(error_response(code, message))).boxed()
}

async fn subscribe(
    state: Arc<AppState>,
    mut request: Request,
    data: Option<Arc<Data>>,
) -> BoxStream<'static, Response> {
    let session = data.as_ref().and_then(|d| d.get(&TypeId::of::<Arc<Session>>())?.downcast_ref::<Arc<Session>>());
    let (Some(data), Some(session)) = (data.clone(), session.cloned()) else {
        // The handler runs subscriptions only after `connection_init` succeeded.
        return refusal(Code::Unauthenticated, "send connection_init first");
    };
    let p = session.principal();
    if let Err(wait) = state.rate.check(Limit::Requests, p.user_id).await {
        Metrics::count(&state.metrics.rate_limited, "request", 1);
        return refusal(Code::RateLimited, format!("too many requests: retry in {wait} s"));
    }
    let trusted = match trusted_document(&state, &mut request, &p) {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    if trusted.is_none() && request.query.chars().count() > state.limits.query_chars {
        let msg = format!("query document is longer than {} characters", state.limits.query_chars);
        return refusal(Code::GraphqlValidationFailed, msg);
    }
    match pipeline::parse_and_check(&state, &mut request, trusted) {
        Ok(picked) if picked.ty == OperationType::Subscription => {}
        Ok(_) => return refusal(Code::BadUserInput, OVER_HTTP),
        Err((_, errors)) => return stream::once(std::future::ready(Response::from_errors(errors))).boxed(),
    }
    let max = state.limits.ws_subscriptions_per_socket;
    if !session.try_subscribe(max) {
        return refusal(
            Code::BadUserInput,
            format!("at most {max} subscriptions run on one socket: complete one first"),
        );
    }
    let running = Running(session);
    let request = per_subscription(request).data(p);
    state
        .live_schema
        .execute_stream_with_session_data(request, data)
        .map(move |resp| {
            let _running = &running;
            resp
        })
        .boxed()
}

/// Counts a subscription against its socket's limit while it runs.
struct Running(Arc<Session>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.unsubscribed();
    }
}

/// The manifest document the payload names, `None` for free-form text
/// where allowed, or the refusal (the codes of `pipeline`'s rule).
fn trusted_document(
    state: &AppState,
    request: &mut Request,
    p: &Principal,
) -> Result<Option<&'static Persisted>, BoxStream<'static, Response>> {
    match request.extensions.remove(DOCUMENT_ID) {
        Some(async_graphql::Value::String(id)) => match state.manifest.get(&id) {
            Some(doc) => Ok(Some(doc)),
            None => Err(refusal(Code::PersistedDocumentNotFound, pipeline::UNKNOWN_DOCUMENT)),
        },
        Some(_) => Err(refusal(Code::PersistedDocumentNotFound, "`documentId` must be a string")),
        None if pipeline::free_form_allowed(state.trusted_documents, p) => Ok(None),
        None => Err(refusal(Code::PersistedDocumentRequired, pipeline::DOCUMENT_REQUIRED)),
    }
}

/// A client message with its `subscribe` payload's `documentId` moved into
/// the payload's `extensions` (where [`trusted_document`] reads it). Any
/// other message, and anything unreadable, passes unchanged: the protocol
/// handler judges it.
pub fn move_document_id(text: &str) -> Option<String> {
    if !text.contains(DOCUMENT_ID) {
        return None;
    }
    let mut msg: serde_json::Value = serde_json::from_str(text).ok()?;
    let payload = msg.get_mut("payload")?.as_object_mut()?;
    let id = payload.remove(DOCUMENT_ID)?;
    let extensions = payload.entry("extensions").or_insert_with(|| serde_json::json!({}));
    extensions.as_object_mut()?.insert(DOCUMENT_ID.to_owned(), id);
    serde_json::to_string(&msg).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_id_moves_into_extensions_and_nothing_else_changes() {
        let moved = move_document_id(r#"{"id":"1","type":"subscribe","payload":{"documentId":"sha256:ab"}}"#);
        let moved: serde_json::Value = serde_json::from_str(&moved.unwrap()).unwrap();
        assert_eq!(moved["payload"]["extensions"]["documentId"], "sha256:ab");
        assert!(moved["payload"].get("documentId").is_none());
        assert_eq!(move_document_id(r#"{"type":"subscribe","payload":{"query":"subscription { x }"}}"#), None);
        assert_eq!(move_document_id(r#"{"type":"ping","payload":"documentId"}"#), None);
        assert_eq!(move_document_id("not json documentId"), None);
    }
}
