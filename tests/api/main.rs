//! One integration-test binary (one link step): every area is a module.
//! Each test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.

mod helpers;

mod assignments;
mod audit;
mod auth;
mod cli;
mod cli_quiet;
mod clients;
mod counting;
mod hardening;
mod hostile;
mod ops;
mod provisioning;
mod relay;
mod replicas;
mod rls;
mod rls_read_txn;
mod rls_requests;
mod schema;
mod search_parity;
mod subscriptions;
mod trusted_documents;
