//! partner-clients: the GraphQL control plane behind AiDial's partner
//! Clients page. A tour, from the edge inwards:

/// JWT verification and the principal loaded from the users table.
pub mod auth;
/// The command line: serve, migrate, export-schema, token, admin, seed-bench.
pub mod cli;
/// Flags with environment fallbacks; every limit as a named value.
pub mod config;
/// Connections and write transactions on SQLite and PostgreSQL.
pub mod db;
/// Value types that can only hold valid values.
pub mod domain;
/// The error type and its codes.
pub mod error;
/// GraphQL schema, resolvers, loaders and the error-code mapping.
pub mod graphql;
/// Router, transport rules, auth, rate limits, request ids, health, metrics.
pub mod http;
/// Live updates: committed changes announced to subscribers on every replica.
pub mod live;
/// Prometheus metrics in an explicit registry.
pub mod metrics;
/// The frontend's operations (docs/operations/), embedded: the metric labels.
pub mod operations;
/// Operator tooling beside the CLI: admin commands, demo data, seed-bench.
pub mod ops;
/// Keyset pagination shared by every connection.
pub mod page;
/// THE access policy: capabilities and the tenant row scope.
pub mod policy;
/// Storage: every query, one module per table; scope from the policy.
pub mod repo;
/// Use cases: transaction, policy, repo, invariant, audit, commit.
pub mod service;
/// Logging setup (text or JSON).
pub mod telemetry;
/// One request's view of the database: the tenant settings row-level security reads.
pub mod tenant;
