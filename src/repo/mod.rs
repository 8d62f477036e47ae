//! Storage: every sea-orm query of the service, one module per table or
//! aggregate. Each function takes the connection or the caller's
//! transaction (never the pool behind a transaction's back: on SQLite that
//! would wait for the transaction's own lock). Tenant scope comes from
//! `policy` (the principal's row conditions); no function here decides who
//! sees what, and none compares `partner_id` except to apply those
//! conditions or to write a row's own partner.

/// Who works on which client.
pub mod assignments;
/// The audit trail: insert on the change's transaction, read newest first.
pub mod audit;
/// Bulk loads for operator tooling: chunked INSERTs, COPY on PostgreSQL.
pub mod bulk;
/// Client profiles: the scoped list, lookups, locks, inserts.
pub mod clients;
/// Per-partner client counters and the partner's change version.
pub mod counts;
/// Partners, by id and by slug.
pub mod partners;
/// User accounts as a principal may see them, and by e-mail for operators.
pub mod users;
