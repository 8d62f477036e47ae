//! The one place GraphQL errors get their `extensions.code`.
//!
//! - Parse failures: GRAPHQL_PARSE_FAILED; validation failures:
//!   GRAPHQL_VALIDATION_FAILED (the document limits, checked before
//!   async-graphql sees the document, are coded where they are checked).
//! - Errors whose source is an [`AppError`] (everything our resolvers and
//!   services return): that error's code. INTERNAL and SERVICE_UNAVAILABLE
//!   messages are generic; the cause is logged under the request id.
//! - Anything else carrying no code comes from async-graphql's own input
//!   coercion (a wrong argument type, say): BAD_USER_INPUT.

use crate::error::{AppError, Code};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use std::sync::Arc;

pub fn with_code(mut e: ServerError, code: Code) -> ServerError {
    e.extensions.get_or_insert_with(Default::default).set("code", Value::String(code.as_str().to_owned()));
    e
}

fn has_code(e: &ServerError) -> bool {
    e.extensions.as_ref().is_some_and(|x| x.get("code").is_some())
}

/// Set the code of every error in a response, masking internals. Causes
/// are logged inside the request's span, which carries its request id.
pub fn finalize(resp: &mut Response) {
    for e in resp.errors.iter_mut() {
        if has_code(e) {
            continue;
        }
        let code = match e.source::<AppError>().cloned() {
            Some(app) => {
                match app {
                    AppError::Internal(_) => {
                        tracing::error!(error = %app.detail(), path = ?e.path, "internal error")
                    }
                    AppError::Unavailable(_) | AppError::Timeout => {
                        tracing::warn!(error = %app.detail(), "request failed")
                    }
                    _ => tracing::debug!(error = %app.detail(), "refused"),
                }
                // The AppError's Display is already the client-safe message.
                e.message = app.to_string();
                app.code()
            }
            None => Code::BadUserInput,
        };
        *e = with_code(std::mem::replace(e, ServerError::new("", None)), code);
    }
}

/// A response with one coded error and no data.
pub fn error_response(code: Code, message: impl Into<String>) -> Response {
    Response::from_errors(vec![with_code(ServerError::new(message, None), code)])
}

/// Codes for the parse and validation errors async-graphql raises itself.
/// (The document limits run before async-graphql sees the document:
/// `http::pipeline`.)
pub struct ValidationCodes;

impl ExtensionFactory for ValidationCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidationCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ValidationCodes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| with_code(e, Code::GraphqlParseFailed))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errs| errs.into_iter().map(|e| with_code(e, Code::GraphqlValidationFailed)).collect())
    }
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
