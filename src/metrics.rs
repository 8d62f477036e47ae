//! Prometheus metrics, kept in an explicit registry per app (no global
//! recorder), so that several apps in one test process never mix counts.
//! Rendered at `GET /metrics` with prometheus-client's text encoder.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<OperationLabels, Histogram>,
    pub db_statements: Counter,
    pub db_statement_seconds: Histogram,
    pub db_pool_in_use: Gauge,
    pub db_pool_idle: Gauge,
    pub rate_limited: Family<KindLabels, Counter>,
    pub clients_provisioned: Counter,
    pub assignment_changes: Family<KindLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("partner_clients");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let db_statements = Counter::default();
        let db_statement_seconds = Histogram::new(exponential_buckets(0.0002, 2.0, 14));
        let db_pool_in_use = Gauge::default();
        let db_pool_idle = Gauge::default();
        let rate_limited = Family::<KindLabels, Counter>::default();
        let clients_provisioned = Counter::default();
        let assignment_changes = Family::<KindLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome code (OK when no error)",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL request latency by operation name",
            request_seconds.clone(),
        );
        registry.register("db_statements", "SQL statements executed", db_statements.clone());
        registry.register("db_statement_duration_seconds", "SQL statement latency", db_statement_seconds.clone());
        registry.register("db_pool_connections_in_use", "Pooled connections in use", db_pool_in_use.clone());
        registry.register("db_pool_connections_idle", "Pooled connections idle", db_pool_idle.clone());
        registry.register(
            "rate_limited",
            "Requests refused by the per-principal rate limiter, by kind (request, mutation)",
            rate_limited.clone(),
        );
        registry.register("clients_provisioned", "Client profiles created", clients_provisioned.clone());
        registry.register(
            "assignment_changes",
            "Assignment changes by kind (assigned, unassigned, support_contact_set, support_contact_unset)",
            assignment_changes.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            request_seconds,
            db_statements,
            db_statement_seconds,
            db_pool_in_use,
            db_pool_idle,
            rate_limited,
            clients_provisioned,
            assignment_changes,
        }
    }

    pub fn observe_request(&self, operation: &str, code: &str, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { operation: operation.to_owned(), code: code.to_owned() }).inc();
        self.request_seconds.get_or_create(&OperationLabels { operation: operation.to_owned() }).observe(seconds);
    }

    pub fn count(family: &Family<KindLabels, Counter>, kind: &str, n: u64) {
        family.get_or_create(&KindLabels { kind: kind.to_owned() }).inc_by(n);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
