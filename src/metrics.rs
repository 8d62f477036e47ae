//! Prometheus metrics, kept in an explicit registry per app (no global
//! recorder), so that several apps in one test process never mix counts.
//! Rendered at `GET /metrics` (or on `METRICS_BIND`) with prometheus-client's
//! text encoder.
//!
//! No label ever holds client-chosen text: `operation` is one of the
//! frontend's known operation names or `other` ([`crate::operations`]),
//! `code` is an error code, `kind` and `reason` are fixed words. Every series
//! exists from start-up at zero, so dashboards and alerts see a 0, not a gap.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: &'static str,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// The operation label of requests refused before their document was read:
/// they have no operation, and DESIGN §7 allows only known names or `other`
/// (the `code` label tells these refusals apart).
pub const UNPARSED: &str = crate::operations::OTHER;
/// Outcome codes of `graphql_requests` besides the error codes.
pub const OK: &str = "OK";

/// Why the transport refused a request before any GraphQL work.
pub const TRANSPORT_REASONS: &[&str] = &[
    "body_too_large",
    "not_json",
    "batch",
    "bad_body",
    "no_query",
    "query_too_long",
    "mutation_over_get",
    "method",
    "bad_query_string",
];
/// Kinds of rate-limit refusal.
pub const RATE_LIMIT_KINDS: &[&str] = &["request", "mutation", "anonymous"];
/// Kinds of assignment change.
pub const ASSIGNMENT_KINDS: &[&str] = &["assigned", "unassigned", "support_contact_set", "support_contact_unset"];

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<OperationLabels, Histogram>,
    pub db_statements: Counter,
    pub db_statement_seconds: Histogram,
    pub db_pool_in_use: Gauge,
    pub db_pool_idle: Gauge,
    pub rate_limited: Family<KindLabels, Counter>,
    pub rate_limit_backend_errors: Counter,
    pub transport_refusals: Family<ReasonLabels, Counter>,
    pub clients_provisioned: Counter,
    pub assignment_changes: Family<KindLabels, Counter>,
    /// Live updates (DESIGN §10): open WebSockets, running subscriptions,
    /// events sent to subscribers.
    pub ws_sockets: Gauge,
    pub ws_subscriptions: Gauge,
    pub ws_events_sent: Counter,
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
        let rate_limit_backend_errors = Counter::default();
        let transport_refusals = Family::<ReasonLabels, Counter>::default();
        let clients_provisioned = Counter::default();
        let assignment_changes = Family::<KindLabels, Counter>::default();
        let (ws_sockets, ws_subscriptions, ws_events_sent) = (Gauge::default(), Gauge::default(), Counter::default());
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
            "Requests refused by a rate limiter, by kind (request, mutation: per principal; anonymous: per address)",
            rate_limited.clone(),
        );
        registry.register(
            "rate_limit_backend_errors",
            "Rate-limit checks Redis failed or answered too late (each decided by the replica's own limiter)",
            rate_limit_backend_errors.clone(),
        );
        registry.register(
            "transport_refusals",
            "Requests refused before any GraphQL work, by reason",
            transport_refusals.clone(),
        );
        registry.register_collector(Box::new(crate::metrics::process::Process));
        registry.register("clients_provisioned", "Client profiles created", clients_provisioned.clone());
        registry.register(
            "assignment_changes",
            "Assignment changes by kind (assigned, unassigned, support_contact_set, support_contact_unset)",
            assignment_changes.clone(),
        );
        registry.register("ws_sockets_open", "WebSockets open on /graphql", ws_sockets.clone());
        registry.register(
            "ws_subscriptions_active",
            "Subscriptions running on those sockets",
            ws_subscriptions.clone(),
        );
        registry.register("ws_events_sent", "Live events sent to subscribers", ws_events_sent.clone());
        let m = Metrics {
            registry: Mutex::new(registry),
            requests,
            request_seconds,
            db_statements,
            db_statement_seconds,
            db_pool_in_use,
            db_pool_idle,
            rate_limited,
            rate_limit_backend_errors,
            transport_refusals,
            clients_provisioned,
            assignment_changes,
            ws_sockets,
            ws_subscriptions,
            ws_events_sent,
        };
        m.create_every_series();
        m
    }

    /// Every label combination, at zero: the label sets are all known up front.
    fn create_every_series(&self) {
        let embedded = crate::operations::Manifest::embedded();
        for operation in embedded.names().chain([crate::operations::OTHER]) {
            self.create_operation_series(operation);
        }
        for &reason in TRANSPORT_REASONS {
            let _ = self.transport_refusals.get_or_create(&ReasonLabels { reason });
        }
        for &kind in RATE_LIMIT_KINDS {
            let _ = self.rate_limited.get_or_create(&KindLabels { kind });
        }
        for &kind in ASSIGNMENT_KINDS {
            let _ = self.assignment_changes.get_or_create(&KindLabels { kind });
        }
    }

    /// The series of one operation label, at zero (those of a
    /// `TRUSTED_DOCUMENTS_FILE` manifest are added at start-up).
    pub fn create_operation_series(&self, operation: &'static str) {
        let _ = self.request_seconds.get_or_create(&OperationLabels { operation });
        for code in std::iter::once(OK).chain(crate::error::Code::ALL.iter().map(|c| c.as_str())) {
            let _ = self.requests.get_or_create(&RequestLabels { operation, code });
        }
    }

    /// `operation`: a known operation's name, [`crate::operations::OTHER`] or [`UNPARSED`].
    pub fn observe_request(&self, operation: &'static str, code: &'static str, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { operation, code }).inc();
        self.request_seconds.get_or_create(&OperationLabels { operation }).observe(seconds);
    }

    pub fn count(family: &Family<KindLabels, Counter>, kind: &'static str, n: u64) {
        family.get_or_create(&KindLabels { kind }).inc_by(n);
    }

    /// A request refused by the transport; `reason` is one of [`TRANSPORT_REASONS`].
    pub fn transport_refused(&self, reason: &'static str) {
        self.transport_refusals.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// Process metrics read from `/proc/self` at each scrape (Linux; elsewhere
/// they are left out): CPU seconds, resident memory, open file descriptors.
mod process {
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    #[derive(Debug)]
    pub struct Process;

    /// Clock ticks a second and the page size: the values of every Linux
    /// we run on (`getconf CLK_TCK`, `getconf PAGESIZE`).
    const TICKS: f64 = 100.0;
    const PAGE: i64 = 4096;

    fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (utime, stime): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
        Some((utime + stime) / TICKS)
    }

    fn resident_bytes() -> Option<i64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        Some(statm.split_whitespace().nth(1)?.parse::<i64>().ok()? * PAGE)
    }

    fn open_fds() -> Option<i64> {
        Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
    }

    impl Collector for Process {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            if let Some(v) = cpu_seconds() {
                let m = ConstCounter::new(v);
                m.encode(encoder.encode_descriptor(
                    "process_cpu_seconds",
                    "User and system CPU time",
                    None,
                    m.metric_type(),
                )?)?;
            }
            if let Some(v) = resident_bytes() {
                let m = ConstGauge::new(v);
                m.encode(encoder.encode_descriptor(
                    "process_resident_memory_bytes",
                    "Resident set size",
                    None,
                    m.metric_type(),
                )?)?;
            }
            if let Some(v) = open_fds() {
                let m = ConstGauge::new(v);
                m.encode(encoder.encode_descriptor(
                    "process_open_fds",
                    "Open file descriptors",
                    None,
                    m.metric_type(),
                )?)?;
            }
            Ok(())
        }
    }
}
