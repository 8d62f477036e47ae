//! The service's error type and the codes every client sees.
//!
//! Resolvers and services return [`AppError`]. Each error has three faces,
//! kept apart so that no `format!` can leak a cause to a client:
//!
//! - [`AppError::code`]: the `extensions.code` a client sees, and through
//!   [`Code::http_status`] the status of a request refused as a whole (the
//!   one place that mapping lives).
//! - [`AppError::client_message`]: the only text ever sent to a client.
//!   INTERNAL and SERVICE_UNAVAILABLE say nothing about the cause.
//! - `Display` and [`std::error::Error::source`]: the operator's account,
//!   with the underlying cause (the database error, the `anyhow` chain) as
//!   `source`. Logs write the whole chain ([`AppError::chain`]); the CLI's
//!   `?` turns an `AppError` into an `anyhow::Error` with the chain intact.
//!
//! `graphql::errors` turns each GraphQL error whose source is an `AppError`
//! into its code and client message, logging the chain under the request id.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The `extensions.code` values. DESIGN.md names the first five; the rest
/// cover what a GraphQL server must also be able to say.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Internal,
    /// The request took longer than the configured request time.
    Timeout,
    /// The database could not be reached; retry later.
    Unavailable,
    /// Too many requests for this principal; see `Retry-After`.
    RateLimited,
    /// The document could not be parsed.
    GraphqlParseFailed,
    /// The document is not valid against the schema or breaks a limit.
    GraphqlValidationFailed,
    /// A `documentId` that is not in the trusted-document manifest.
    PersistedDocumentNotFound,
    /// A free-form `query` where `TRUSTED_DOCUMENTS` requires a `documentId`.
    PersistedDocumentRequired,
}

impl Code {
    /// Every code (the metrics create a series for each up front).
    pub const ALL: &'static [Code] = &[
        Code::Unauthenticated,
        Code::Forbidden,
        Code::NotFound,
        Code::BadUserInput,
        Code::Internal,
        Code::Timeout,
        Code::Unavailable,
        Code::RateLimited,
        Code::GraphqlParseFailed,
        Code::GraphqlValidationFailed,
        Code::PersistedDocumentNotFound,
        Code::PersistedDocumentRequired,
    ];

    /// The HTTP status of a request refused with this code as a whole; errors
    /// at a field ride on a 200.
    pub fn http_status(self) -> http::StatusCode {
        match self {
            Code::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            Code::Forbidden => http::StatusCode::FORBIDDEN,
            Code::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            Code::RateLimited => http::StatusCode::TOO_MANY_REQUESTS,
            // Whatever the media type: the request named no document we run
            // (DESIGN §9).
            Code::PersistedDocumentNotFound | Code::PersistedDocumentRequired => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::OK,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Internal => "INTERNAL",
            Code::Timeout => "TIMEOUT",
            Code::Unavailable => "SERVICE_UNAVAILABLE",
            Code::RateLimited => "RATE_LIMITED",
            Code::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::PersistedDocumentNotFound => "PERSISTED_DOCUMENT_NOT_FOUND",
            Code::PersistedDocumentRequired => "PERSISTED_DOCUMENT_REQUIRED",
        }
    }
}

/// The cause behind INTERNAL: any error, its own `source` chain intact.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// `Display` is for operators and logs; a client sees
/// [`AppError::client_message`] only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("unauthenticated: no valid bearer token")]
    Unauthenticated,
    /// The reason names the rule that refused.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Absent or out of scope: the client cannot tell which.
    #[error("{0} not found or out of scope")]
    NotFound(&'static str),
    /// The message is the client's to read.
    #[error("bad user input: {0}")]
    BadUserInput(String),
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sea_orm::DbErr>),
    #[error("the request timed out")]
    Timeout,
    #[error("internal error")]
    Internal(#[source] Cause),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn code(&self) -> Code {
        match self {
            AppError::Unauthenticated => Code::Unauthenticated,
            AppError::Forbidden(_) => Code::Forbidden,
            AppError::NotFound(_) => Code::NotFound,
            AppError::BadUserInput(_) => Code::BadUserInput,
            AppError::Unavailable(_) => Code::Unavailable,
            AppError::Timeout => Code::Timeout,
            AppError::Internal(_) => Code::Internal,
        }
    }

    /// The only text a client ever sees: never a cause, never a reason the
    /// policy keeps to itself.
    pub fn client_message(&self) -> Cow<'_, str> {
        match self {
            AppError::Unauthenticated => "authentication required: send a valid bearer token".into(),
            AppError::Forbidden(_) => "you are not allowed to do this".into(),
            AppError::NotFound(what) => format!("{what} not found").into(),
            AppError::BadUserInput(msg) => msg.as_str().into(),
            AppError::Unavailable(_) => "the database is unavailable; try again shortly".into(),
            AppError::Timeout => "the request took too long and was cancelled".into(),
            AppError::Internal(_) => "internal error".into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        // anyhow's own conversion keeps its context chain as `source`s.
        let boxed: Box<dyn std::error::Error + Send + Sync> = e.into().into();
        AppError::Internal(Arc::from(boxed))
    }

    /// This error and its causes on one line, for the log (never for a
    /// client).
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }
}

/// An error and its `source`s, `: `-separated (what anyhow's `{:#}`
/// prints, without the repeats).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            // Many errors (sea-orm's among them) repeat their source's text
            // in their own: say it once.
            if !last.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            cause = c.source();
        }
        Ok(())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        let unreachable = match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => {
                matches!(
                    s.as_ref(),
                    sea_orm::sqlx::Error::Io(_)
                        | sea_orm::sqlx::Error::PoolTimedOut
                        | sea_orm::sqlx::Error::PoolClosed
                        | sea_orm::sqlx::Error::Tls(_)
                )
            }
            _ => false,
        };
        if unreachable {
            return AppError::Unavailable(Arc::new(e));
        }
        // PostgreSQL's statement_timeout cancels with SQLSTATE 57014.
        if let DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) = &e {
            if let Some(db) = s.as_database_error() {
                if db.code().as_deref() == Some("57014") {
                    return AppError::Timeout;
                }
            }
        }
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbErr, RuntimeErr};
    use std::error::Error as _;

    const SQL: &str = r#"SELECT "secret_token" FROM "users" WHERE "partner_id" = $1"#;

    /// Every cause's text, outermost first.
    fn sources(e: &AppError) -> Vec<String> {
        std::iter::successors(e.source(), |&c| c.source()).map(|c| c.to_string()).collect()
    }

    #[test]
    fn internal_keeps_its_cause_from_the_client_and_for_the_operator() {
        let e = AppError::from(DbErr::Query(RuntimeErr::Internal(format!("syntax error in {SQL}"))));
        assert_eq!(e.code(), Code::Internal);
        assert_eq!(e.client_message(), "internal error");
        assert!(!e.client_message().contains("secret_token"));
        assert!(!e.to_string().contains("secret_token"), "the cause is a source, not part of Display");
        assert!(sources(&e).iter().any(|s| s.contains(SQL)), "{:?}", sources(&e));
        assert!(e.chain().to_string().starts_with("internal error: Query Error: syntax error in SELECT"));
        // Said once, though sea-orm's Display repeats its source's text.
        assert_eq!(e.chain().to_string().matches("secret_token").count(), 1, "{}", e.chain());
    }

    #[test]
    fn unavailable_keeps_its_cause_from_the_client_and_for_the_operator() {
        let e = AppError::from(DbErr::Conn(RuntimeErr::Internal(format!("refused while running {SQL}"))));
        assert_eq!(e.code(), Code::Unavailable);
        assert_eq!(e.code().http_status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.client_message().contains("secret_token"));
        assert!(!e.client_message().contains("refused"));
        assert!(e.chain().to_string().contains(SQL), "{}", e.chain());
    }

    #[test]
    fn anyhow_context_survives_as_sources_both_ways() {
        let cause = anyhow::anyhow!("disk full").context("writing the audit row");
        let e = AppError::internal(cause);
        assert_eq!(sources(&e), ["writing the audit row", "disk full"]);
        assert_eq!(e.client_message(), "internal error");
        // What the CLI does with `?`: anyhow's `{:#}` prints the whole chain.
        let cli: anyhow::Error = e.into();
        assert_eq!(format!("{cli:#}"), "internal error: writing the audit row: disk full");
    }

    #[test]
    fn refusals_tell_the_client_less_than_the_log() {
        let e = AppError::Forbidden("partner users cannot provision");
        assert_eq!(e.client_message(), "you are not allowed to do this");
        assert!(e.to_string().contains("partner users cannot provision"));
        assert_eq!(AppError::NotFound("client").client_message(), "client not found");
        assert_eq!(AppError::BadUserInput("name is empty".into()).client_message(), "name is empty");
        assert!(AppError::Timeout.source().is_none());
    }
}
