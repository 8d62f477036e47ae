//! Use cases: transaction → policy → repo → invariant → audit → commit. Each
//! mutation opens one transaction, checks the policy, reads and locks what
//! its invariant depends on (through `repo`), writes, records its audit
//! event on the same transaction, and commits. Refusals a form can fix come
//! back as [`UserError`]s with nothing written. No SQL is built here.

pub mod assignments;
pub mod audit;
pub mod clients;
pub mod count_cache;
pub mod provision;
pub mod users;

/// Codes of [`UserError`] (DESIGN.md §4): one type with the schema's enum.
pub use crate::domain::UserErrorCode;

/// A problem the user can fix, pointing into the mutation's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserError {
    pub field: Vec<String>,
    pub message: String,
    pub code: UserErrorCode,
}

impl UserError {
    pub fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        UserError {
            field: std::iter::once("input").chain(field.iter().copied()).map(str::to_owned).collect(),
            message: message.into(),
            code,
        }
    }
}

/// Timestamps at microsecond precision: what PostgreSQL stores, so a value
/// read back (and a cursor made from it) equals the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
