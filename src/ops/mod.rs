//! Operator tooling, beside the CLI that runs it and outside the API: the
//! `admin` commands, the `serve --demo` data and `seed-bench`. Nothing here
//! is reachable through GraphQL. The demo and the benchmark data share one
//! synthetic-data generator ([`synthetic`]). These tools are CLI-side and
//! return `anyhow` errors; they call the service layer for what the API
//! also does (row building, audit events) and `repo` for every query (bulk
//! loads through `repo::bulk`).

/// AiDial's own operations: partners, users, client status.
pub mod admin;
/// `serve --demo`: the demo data and the one list of its accounts.
pub mod demo;
/// `seed-bench --clients N`: a large deterministic data set for benchmarks.
pub mod seed_bench;
/// Name lists, a deterministic RNG, client profiles and bulk inserts.
pub mod synthetic;
