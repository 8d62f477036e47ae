//! The service's error type and the codes every client sees.
//!
//! This is the only place an error becomes a code: resolvers and services
//! return [`AppError`]; `graphql::errors` reads it back out of each GraphQL
//! error (async-graphql keeps it as the error's `source`) and sets
//! `extensions.code`, replacing internal messages with a generic one.

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
}

impl Code {
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
    ];

    /// The HTTP status of a request refused with this code as a whole; errors
    /// at a field ride on a 200.
    pub fn http_status(self) -> http::StatusCode {
        match self {
            Code::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            Code::Forbidden => http::StatusCode::FORBIDDEN,
            Code::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            Code::RateLimited => http::StatusCode::TOO_MANY_REQUESTS,
            _ => http::StatusCode::OK,
        }
    }

    /// The code spelled `s`, if it is one of ours.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
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
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: send a valid bearer token")]
    Unauthenticated,
    /// The detailed reason goes to the log only.
    #[error("you are not allowed to do this")]
    Forbidden(&'static str),
    /// The same message whether the thing is absent or out of scope.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadUserInput(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(Arc<sea_orm::DbErr>),
    #[error("the request took too long and was cancelled")]
    Timeout,
    #[error("internal error")]
    Internal(Arc<anyhow::Error>),
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

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(Arc::new(e.into()))
    }

    /// The full cause, for the log (never for the client).
    pub fn detail(&self) -> String {
        match self {
            AppError::Forbidden(why) => format!("forbidden: {why}"),
            AppError::Unavailable(e) => format!("database unavailable: {e}"),
            AppError::Internal(e) => format!("{e:#}"),
            other => other.to_string(),
        }
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
