//! Prometheus metrics of one gateway instance (through `prometheus-client`): GraphQL requests,
//! subscription lifetimes, database statements, live events, mail, and the process itself.
//!
//! Each instance owns its registry, so two gateways in one process (as in the tests) count
//! apart; `/metrics` renders it in the Prometheus text format with HELP and TYPE lines.

mod process;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency buckets: requests and statements.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
/// Upper bounds (seconds) of the subscription lifetime buckets: a second to a day.
const LIFETIME_BUCKETS: [f64; 10] = [
    1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14_400.0, 43_200.0, 86_400.0,
];

/// The GraphQL operation types counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationType {
    /// `query`
    Query,
    /// `mutation`
    Mutation,
    /// `subscription`
    Subscription,
}

impl OperationType {
    /// The name GraphQL gives the type.
    pub fn label(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// The labels of request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    /// `query`, `mutation` or `subscription`.
    operation: &'static str,
}

/// The labels of statement metrics (kept from the first exposition, which had them).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Backend {
    /// Always `db`.
    backend: &'static str,
}

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The instruments; each is a handle into the registry.
struct Inner {
    /// Where every instrument is registered.
    registry: Registry,
    /// Requests per operation type.
    requests: Family<Operation, Counter>,
    /// Requests per operation type that answered with errors.
    request_errors: Family<Operation, Counter>,
    /// Latency of queries and mutations (subscriptions have lifetimes instead).
    latency: Family<Operation, Histogram, fn() -> Histogram>,
    /// How long subscriptions stayed open.
    subscription_lifetimes: Histogram,
    /// SQL statements executed.
    db_statements: Counter,
    /// SQL statements that failed.
    db_statement_errors: Counter,
    /// Statement latency.
    db_latency: Family<Backend, Histogram, fn() -> Histogram>,
    /// Live subscriptions open now.
    subscribers: Gauge,
    /// Status events handed to the fan-out.
    events_published: Counter,
    /// Status events sent to subscribers.
    events_delivered: Counter,
    /// Replays from the event log (resume or catch-up).
    replays: Counter,
    /// Subscribers disconnected for falling too far behind.
    lag_catchups: Counter,
    /// Mail delivered.
    mail_sent: Counter,
    /// Mail delivery attempts that failed.
    mail_failures: Counter,
    /// Connections closed at accept because `MAX_CONNECTIONS` were open.
    connections_refused: Counter,
    /// Credential operations refused because every password-hashing slot was busy.
    hashing_busy: Counter,
    /// Session checks answered from what the instance remembers, without a statement.
    session_checks_remembered: Counter,
    /// Access changes a safety net (log poll, re-check) found that no message had brought.
    access_changes_caught: Counter,
    /// Sessions whose standing the instance remembers.
    sessions_remembered: Gauge,
}

/// Shared, cheap-to-clone metrics of one instance.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self(Arc::new(Inner::registered()))
    }
}

impl Inner {
    fn registered() -> Self {
        let mut registry = Registry::default();
        let inner = Self::unregistered();
        inner.register_requests(&mut registry);
        inner.register_counters(&mut registry);
        registry.register(
            "lastmile_subscribers",
            "Live subscriptions open now",
            inner.subscribers.clone(),
        );
        registry.register(
            "lastmile_sessions_remembered",
            "Sessions whose standing this instance remembers",
            inner.sessions_remembered.clone(),
        );
        registry.register(
            "lastmile_build",
            "The gateway's version and build profile",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                (
                    "profile",
                    if cfg!(debug_assertions) {
                        "debug"
                    } else {
                        "release"
                    },
                ),
            ]),
        );
        registry.register_collector(Box::new(process::Process));
        Self { registry, ..inner }
    }

    fn unregistered() -> Self {
        let inner = Self {
            registry: Registry::default(),
            requests: Family::default(),
            request_errors: Family::default(),
            latency: Family::new_with_constructor(latency),
            subscription_lifetimes: Histogram::new(LIFETIME_BUCKETS),
            db_statements: Counter::default(),
            db_statement_errors: Counter::default(),
            db_latency: Family::new_with_constructor(latency),
            subscribers: Gauge::default(),
            events_published: Counter::default(),
            events_delivered: Counter::default(),
            replays: Counter::default(),
            lag_catchups: Counter::default(),
            mail_sent: Counter::default(),
            mail_failures: Counter::default(),
            connections_refused: Counter::default(),
            hashing_busy: Counter::default(),
            session_checks_remembered: Counter::default(),
            access_changes_caught: Counter::default(),
            sessions_remembered: Gauge::default(),
        };
        // Every series exists from the start, so a rate over it never begins with a gap.
        for op in [
            OperationType::Query,
            OperationType::Mutation,
            OperationType::Subscription,
        ] {
            let labels = Operation {
                operation: op.label(),
            };
            drop(inner.requests.get_or_create(&labels));
            drop(inner.request_errors.get_or_create(&labels));
            if op != OperationType::Subscription {
                drop(inner.latency.get_or_create(&labels));
            }
        }
        drop(inner.db_latency.get_or_create(&Backend { backend: "db" }));
        inner
    }

    fn register_requests(&self, registry: &mut Registry) {
        registry.register(
            "lastmile_graphql_requests",
            "GraphQL operations received, by type",
            self.requests.clone(),
        );
        registry.register(
            "lastmile_graphql_request_errors",
            "GraphQL operations answered with errors, by type",
            self.request_errors.clone(),
        );
        registry.register(
            "lastmile_graphql_request_duration_seconds",
            "Time to answer a query or mutation",
            self.latency.clone(),
        );
        registry.register(
            "lastmile_subscription_duration_seconds",
            "How long a subscription stayed open",
            self.subscription_lifetimes.clone(),
        );
        registry.register(
            "lastmile_db_statement_duration_seconds",
            "Time to run one SQL statement",
            self.db_latency.clone(),
        );
    }

    fn register_counters(&self, registry: &mut Registry) {
        let counters = [
            (
                "lastmile_db_statements",
                "SQL statements executed",
                &self.db_statements,
            ),
            (
                "lastmile_db_statement_errors",
                "SQL statements that failed",
                &self.db_statement_errors,
            ),
            (
                "lastmile_connections_refused",
                "Connections closed at accept because MAX_CONNECTIONS were open",
                &self.connections_refused,
            ),
            (
                "lastmile_password_hashing_busy",
                "Credential operations refused because every password-hashing slot was busy",
                &self.hashing_busy,
            ),
            (
                "lastmile_events_published",
                "Status events handed to the fan-out",
                &self.events_published,
            ),
            (
                "lastmile_events_delivered",
                "Status events sent to subscribers",
                &self.events_delivered,
            ),
            (
                "lastmile_event_replays",
                "Replays from the event log (resume or catch-up)",
                &self.replays,
            ),
            (
                "lastmile_subscriber_lag_catchups",
                "Times a subscriber or shared group fell behind the live stream and caught up from the event log",
                &self.lag_catchups,
            ),
            ("lastmile_mail_sent", "Mail delivered", &self.mail_sent),
            (
                "lastmile_session_checks_remembered",
                "Session checks answered without a statement",
                &self.session_checks_remembered,
            ),
            (
                "lastmile_access_changes_caught",
                "Access changes found by the log poll or a re-check that no message had brought",
                &self.access_changes_caught,
            ),
            (
                "lastmile_mail_failures",
                "Mail delivery attempts that failed",
                &self.mail_failures,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
    }
}

impl Metrics {
    /// Records one query or mutation (a refused document counts as a query).
    pub fn record_request(&self, op: OperationType, elapsed: Duration, failed: bool) {
        let labels = Operation {
            operation: op.label(),
        };
        self.0.requests.get_or_create(&labels).inc();
        if failed {
            self.0.request_errors.get_or_create(&labels).inc();
        }
        self.0
            .latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A subscription began: the guard records its lifetime when dropped, however it ends
    /// (completed, stopped by the client, or its connection gone).
    pub fn subscription_started(&self) -> SubscriptionLifetime {
        SubscriptionLifetime {
            metrics: self.clone(),
            started: std::time::Instant::now(),
        }
    }

    /// Records one subscription that stayed open for `lifetime`: counted as a request, its
    /// lifetime in its own histogram (it is no request latency).
    pub fn subscription_ended(&self, lifetime: Duration) {
        let labels = Operation {
            operation: OperationType::Subscription.label(),
        };
        self.0.requests.get_or_create(&labels).inc();
        self.0
            .subscription_lifetimes
            .observe(lifetime.as_secs_f64());
    }

    /// Records one SQL statement.
    pub fn record_statement(&self, elapsed: Duration, failed: bool) {
        self.0.db_statements.inc();
        if failed {
            self.0.db_statement_errors.inc();
        }
        self.0
            .db_latency
            .get_or_create(&Backend { backend: "db" })
            .observe(elapsed.as_secs_f64());
    }

    /// SQL statements executed so far.
    pub fn statements(&self) -> u64 {
        self.0.db_statements.get()
    }

    /// A subscription opened (+1) or closed (-1).
    pub fn subscribers_add(&self, delta: i64) {
        self.0.subscribers.inc_by(delta);
    }

    /// Events handed to the fan-out.
    pub fn events_published(&self, n: u64) {
        self.0.events_published.inc_by(n);
    }

    /// One event sent to one subscriber.
    pub fn event_delivered(&self) {
        self.0.events_delivered.inc();
    }

    /// One replay from the event log.
    pub fn replay(&self) {
        self.0.replays.inc();
    }

    /// A subscriber (or a shared group's member) fell behind and catches up from the log.
    pub fn lag_catchup(&self) {
        self.0.lag_catchups.inc();
    }

    /// One mail delivered (`ok`) or failed.
    pub fn mail(&self, ok: bool) {
        match ok {
            true => self.0.mail_sent.inc(),
            false => self.0.mail_failures.inc(),
        };
    }

    /// A connection closed at accept: too many open.
    pub fn connection_refused(&self) {
        self.0.connections_refused.inc();
    }

    /// A credential operation refused: every hashing slot stayed busy.
    pub fn hashing_busy(&self) {
        self.0.hashing_busy.inc();
    }

    /// A session check answered from memory.
    pub fn session_check_remembered(&self) {
        self.0.session_checks_remembered.inc();
    }

    /// An access change a safety net caught.
    pub fn access_change_caught(&self) {
        self.0.access_changes_caught.inc();
    }

    /// How many session standings are remembered now.
    pub fn sessions_remembered(&self, n: usize) {
        self.0
            .sessions_remembered
            // A count held in memory never exceeds i64.
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry);
        out
    }
}

/// One open subscription; see [`Metrics::subscription_started`].
pub struct SubscriptionLifetime {
    /// Where the lifetime is recorded.
    metrics: Metrics,
    /// When the subscription began.
    started: std::time::Instant,
}

impl Drop for SubscriptionLifetime {
    fn drop(&mut self) {
        self.metrics.subscription_ended(self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_help_and_type_lines_and_keeps_its_name() {
        let metrics = Metrics::default();
        metrics.record_request(OperationType::Query, Duration::from_millis(3), false);
        let text = metrics.render();
        for name in [
            "lastmile_graphql_requests_total",
            "lastmile_graphql_request_duration_seconds",
            "lastmile_subscription_duration_seconds",
            "lastmile_db_statements_total",
            "lastmile_event_replays_total",
            "lastmile_subscribers",
            "lastmile_build_info",
        ] {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "no TYPE for {name}:\n{text}"
            );
        }
        assert!(
            text.contains("lastmile_graphql_requests_total{operation=\"query\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_subscriptions_lifetime_is_not_a_request_duration() {
        let metrics = Metrics::default();
        metrics.subscription_ended(Duration::from_secs(600));
        let text = metrics.render();
        assert!(
            text.contains("lastmile_subscription_duration_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("lastmile_subscription_duration_seconds_bucket{le=\"900\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains(
                "lastmile_graphql_request_duration_seconds_count{operation=\"subscription\"}"
            ),
            "{text}"
        );
        assert!(
            text.contains("lastmile_graphql_requests_total{operation=\"subscription\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn process_metrics_describe_this_process() {
        let text = Metrics::default().render();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse::<f64>().ok());
            assert!(
                value.is_some_and(|v| v > 0.0),
                "{name} missing or zero:\n{text}"
            );
        }
    }
}
