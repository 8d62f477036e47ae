//! The one place GraphQL errors get their `extensions.code`.
//!
//! - Parse failures: GRAPHQL_PARSE_FAILED; validation failures:
//!   GRAPHQL_VALIDATION_FAILED (the document limits, checked before
//!   async-graphql sees the document, are coded where they are checked).
//! - Errors whose source is an [`AppError`] (everything our resolvers and
//!   services return): that error's code and
//!   [`AppError::client_message`]; its cause chain is logged under the
//!   request id, never sent.
//! - Anything else carrying no code is async-graphql's own: a request
//!   error (no `path`: the document or its variables failed validation) is
//!   GRAPHQL_VALIDATION_FAILED, a field error (with a `path`: an argument
//!   that failed coercion, say) BAD_USER_INPUT. No schema extension is
//!   needed for it, and the schema runs without one (`graphql::builder`).
//!
//! Every error carries its code as typed data in `ServerError::source`: the
//! `AppError` a resolver returned, or the [`Code`] that [`with_code`]
//! attaches. [`code_of`] reads it, and [`finalize`] hands the pipeline the
//! first error's code for its metrics and status, so nothing ever reads
//! `extensions.code` back out of a response. Nothing outside this module
//! writes `extensions.code`.

use crate::error::{AppError, Code};
use async_graphql::{Response, ServerError, Value};
use std::sync::Arc;

/// An error's code, from its typed source (see the module docs).
pub fn code_of(e: &ServerError) -> Code {
    if let Some(app) = e.source::<AppError>() {
        return app.code();
    }
    if let Some(code) = e.source::<Code>() {
        return *code;
    }
    // async-graphql's own errors. A request error has no path: it is raised
    // before execution, by validating the document and its variables. A
    // field error has one: an argument that failed coercion.
    if e.path.is_empty() {
        Code::GraphqlValidationFailed
    } else {
        Code::BadUserInput
    }
}

/// Give an error its code: in `extensions.code` for the client and, unless
/// its source already says so, as its typed source for [`code_of`].
pub fn with_code(mut e: ServerError, code: Code) -> ServerError {
    set_code(&mut e, code);
    e
}

fn set_code(e: &mut ServerError, code: Code) {
    if code_of(e) != code {
        e.source = Some(Arc::new(code));
    }
    e.extensions.get_or_insert_with(Default::default).set("code", Value::String(code.as_str().to_owned()));
}

/// Code every error in a response and replace each `AppError`'s message
/// with its client message, logging its cause chain inside the current
/// span (the request's, which carries its request id). Returns the first
/// error's code: the request's outcome.
pub fn finalize(resp: &mut Response) -> Option<Code> {
    for e in resp.errors.iter_mut() {
        let path = &e.path;
        let message = e.source::<AppError>().map(|app| {
            let chain = app.chain();
            match app {
                AppError::Internal(_) => tracing::error!(error = %chain, ?path, "internal error"),
                AppError::Unavailable(_) | AppError::Timeout => tracing::warn!(error = %chain, ?path, "request failed"),
                _ => tracing::debug!(error = %chain, "refused"),
            }
            app.client_message().into_owned()
        });
        if let Some(message) = message {
            e.message = message;
        }
        let code = code_of(e);
        set_code(e, code);
    }
    resp.errors.first().map(code_of)
}

/// A response with one coded error and no data.
pub fn error_response(code: Code, message: impl Into<String>) -> Response {
    Response::from_errors(vec![with_code(ServerError::new(message, None), code)])
}

/// Resolve a nullable field the GraphQL way: an error makes this field
/// `null` (the key stays in the response) and is reported at its path,
/// while its siblings resolve normally. Returning `Err` instead would null
/// the nearest nullable *ancestor*.
pub fn nullable<T>(
    ctx: &async_graphql::Context<'_>,
    r: Result<Option<T>, AppError>,
) -> async_graphql::Result<Option<T>> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            let err = async_graphql::Error::from(e).into_server_error(ctx.item.pos);
            ctx.add_error(ctx.set_error_path(err));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_ext(e: &ServerError) -> Option<&Value> {
        e.extensions.as_ref().and_then(|x| x.get("code"))
    }

    #[test]
    fn finalize_codes_masks_and_reports_the_first_code_without_reading_extensions() {
        let internal = AppError::internal(anyhow::anyhow!("SELECT secret FROM users"));
        let from_app = async_graphql::Error::from(internal).into_server_error(Default::default());
        let validation = with_code(ServerError::new("unknown field", None), Code::GraphqlValidationFailed);
        let mut coercion = ServerError::new("expected Int", None);
        coercion.path = vec![async_graphql::PathSegment::Field("clients".into())];
        let request_error = ServerError::new("Unknown argument \"x\"", None);
        let mut resp = Response::from_errors(vec![from_app, validation, coercion, request_error]);
        assert_eq!(finalize(&mut resp), Some(Code::Internal));
        assert_eq!(resp.errors[0].message, "internal error");
        assert_eq!(code_ext(&resp.errors[0]), Some(&Value::from("INTERNAL")));
        assert!(resp.errors[0].source::<AppError>().is_some(), "the AppError stays the source");
        let codes: Vec<Code> = resp.errors.iter().map(code_of).collect();
        assert_eq!(
            codes,
            [Code::Internal, Code::GraphqlValidationFailed, Code::BadUserInput, Code::GraphqlValidationFailed]
        );
        assert_eq!(code_ext(&resp.errors[2]), Some(&Value::from("BAD_USER_INPUT")));

        let mut validation_first = Response::from_errors(vec![resp.errors[1].clone()]);
        assert_eq!(finalize(&mut validation_first), Some(Code::GraphqlValidationFailed));
        assert_eq!(finalize(&mut Response::new(Value::Null)), None);
    }
}
