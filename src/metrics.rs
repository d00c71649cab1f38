//! Process metrics in Prometheus text format: GraphQL requests, database statements, live events.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

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
    fn label(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// A latency histogram with fixed buckets.
#[derive(Default)]
struct Histogram {
    /// Cumulative-at-render counts per bucket (plus +Inf).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of observations in microseconds.
    sum_micros: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let index = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(
            out,
            "{name}_count{{{labels}}} {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

#[derive(Default)]
struct Inner {
    /// Requests per operation type: query, mutation, subscription.
    requests: [AtomicU64; 3],
    /// Requests per operation type that answered with errors.
    request_errors: [AtomicU64; 3],
    /// Latency per operation type.
    latency: [Histogram; 3],
    /// SQL statements executed.
    db_statements: AtomicU64,
    /// SQL statements that failed.
    db_statement_errors: AtomicU64,
    /// Statement latency.
    db_latency: Histogram,
    /// Live subscriptions open now.
    subscribers: AtomicI64,
    /// Status events handed to the fan-out.
    events_published: AtomicU64,
    /// Status events sent to subscribers.
    events_delivered: AtomicU64,
    /// Replays from the event log (resume or catch-up).
    replays: AtomicU64,
    /// Subscribers disconnected for falling too far behind.
    lag_disconnects: AtomicU64,
    /// Mail delivered.
    mail_sent: AtomicU64,
    /// Mail delivery attempts that failed.
    mail_failures: AtomicU64,
    /// Connections closed at accept because `MAX_CONNECTIONS` were open.
    connections_refused: AtomicU64,
    /// Credential operations refused because every password-hashing slot was busy.
    hashing_busy: AtomicU64,
}

/// Shared, cheap-to-clone metrics registry.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Inner>);

const OPS: [OperationType; 3] = [
    OperationType::Query,
    OperationType::Mutation,
    OperationType::Subscription,
];

impl Metrics {
    /// Records one GraphQL request.
    pub fn record_request(&self, op: OperationType, elapsed: Duration, failed: bool) {
        let i = op as usize;
        self.0.requests[i].fetch_add(1, Ordering::Relaxed);
        if failed {
            self.0.request_errors[i].fetch_add(1, Ordering::Relaxed);
        }
        self.0.latency[i].observe(elapsed);
    }

    /// Records one SQL statement.
    pub fn record_statement(&self, elapsed: Duration, failed: bool) {
        self.0.db_statements.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.0.db_statement_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.0.db_latency.observe(elapsed);
    }

    /// SQL statements executed so far.
    pub fn statements(&self) -> u64 {
        self.0.db_statements.load(Ordering::Relaxed)
    }

    /// A subscription opened (+1) or closed (-1).
    pub fn subscribers_add(&self, delta: i64) {
        self.0.subscribers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Events handed to the fan-out.
    pub fn events_published(&self, n: u64) {
        self.0.events_published.fetch_add(n, Ordering::Relaxed);
    }

    /// One event sent to one subscriber.
    pub fn event_delivered(&self) {
        self.0.events_delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// One replay from the event log.
    pub fn replay(&self) {
        self.0.replays.fetch_add(1, Ordering::Relaxed);
    }

    /// One subscriber dropped for lagging.
    pub fn lag_disconnect(&self) {
        self.0.lag_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// One mail delivered (`ok`) or failed.
    pub fn mail(&self, ok: bool) {
        let counter = if ok {
            &self.0.mail_sent
        } else {
            &self.0.mail_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed at accept: too many open.
    pub fn connection_refused(&self) {
        self.0.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A credential operation refused: every hashing slot stayed busy.
    pub fn hashing_busy(&self) {
        self.0.hashing_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = &self.0;
        let mut out = String::new();
        out.push_str("# TYPE lastmile_graphql_requests_total counter\n");
        for op in OPS {
            let n = m.requests[op as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "lastmile_graphql_requests_total{{operation=\"{}\"}} {n}",
                op.label()
            );
        }
        out.push_str("# TYPE lastmile_graphql_request_errors_total counter\n");
        for op in OPS {
            let n = m.request_errors[op as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "lastmile_graphql_request_errors_total{{operation=\"{}\"}} {n}",
                op.label()
            );
        }
        out.push_str("# TYPE lastmile_graphql_request_duration_seconds histogram\n");
        for op in OPS {
            let labels = format!("operation=\"{}\"", op.label());
            m.latency[op as usize].render(
                &mut out,
                "lastmile_graphql_request_duration_seconds",
                &labels,
            );
        }
        let counters = [
            ("lastmile_db_statements_total", &m.db_statements),
            ("lastmile_connections_refused_total", &m.connections_refused),
            ("lastmile_password_hashing_busy_total", &m.hashing_busy),
            ("lastmile_db_statement_errors_total", &m.db_statement_errors),
            ("lastmile_events_published_total", &m.events_published),
            ("lastmile_events_delivered_total", &m.events_delivered),
            ("lastmile_event_replays_total", &m.replays),
            (
                "lastmile_subscriber_lag_disconnects_total",
                &m.lag_disconnects,
            ),
            ("lastmile_mail_sent_total", &m.mail_sent),
            ("lastmile_mail_failures_total", &m.mail_failures),
        ];
        for (name, value) in counters {
            let _ = writeln!(
                out,
                "# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out.push_str("# TYPE lastmile_db_statement_duration_seconds histogram\n");
        m.db_latency.render(
            &mut out,
            "lastmile_db_statement_duration_seconds",
            "backend=\"db\"",
        );
        let _ = writeln!(
            out,
            "# TYPE lastmile_subscribers gauge\nlastmile_subscribers {}",
            m.subscribers.load(Ordering::Relaxed)
        );
        out
    }
}
