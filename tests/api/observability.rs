//! Traces exported over OTLP to a receiver in the test, and request log lines. Both are
//! process-wide, so these tests run the real binary as a child process.

use std::process::Stdio;
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::sync::mpsc;

use crate::helpers::fresh_database;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
const SIGN_IN: &str = r#"mutation SignIn { signIn(email: "nobody@example.com", password: "a secret password") { accessToken } }"#;

/// The gateway binary running in a child process, its JSON log lines read from stdout.
struct Gateway {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    address: String,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `lastmile serve` with JSON logs and `env`; waits until it listens.
    async fn start(env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(dir.path()).await;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lastmile"));
        command
            .env_clear()
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("MAIL_DIR", dir.path().join("mail"))
            .env("JWT_SECRET", "test-secret-that-is-at-least-32-bytes-long")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the gateway starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = next_line(&mut lines).await;
            if let Some(address) = line["fields"]["address"].as_str() {
                break format!("http://{address}");
            }
        };
        Self {
            child,
            lines,
            address,
            _dir: dir,
        }
    }

    /// The first log line `matches` picks, and every line before it.
    async fn line_where(&mut self, matches: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
        let mut seen = Vec::new();
        loop {
            let line = next_line(&mut self.lines).await;
            seen.push(line.to_string());
            if matches(&line) {
                return (line, seen);
            }
        }
    }

    /// Signs in (and fails: no such account) with a caller's `traceparent` and a token.
    async fn sign_in(&self) -> Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.address))
            .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
            .bearer_auth("not-a-real-token-but-never-logged")
            .json(&json!({ "query": SIGN_IN, "operationName": "SignIn", "variables": { "unused": "a variable value" } }))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON body")
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a log line within 30 s")
        .expect("stdout readable")
        .expect("the gateway still runs");
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"))
}

/// An OTLP/HTTP receiver: every span posted to `/v1/traces` arrives on the channel.
async fn otlp_receiver() -> (String, mpsc::UnboundedReceiver<Span>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let tx = tx.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            let _ = tx.send(span);
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, rx)
}

/// Spans of the test's trace, until `done` says enough arrived.
async fn spans_of_trace(
    spans: &mut mpsc::UnboundedReceiver<Span>,
    done: impl Fn(&[Span]) -> bool,
) -> Vec<Span> {
    let mut found = Vec::new();
    let trace_id = hex::decode(TRACE_ID).expect("hex");
    while !done(&found) {
        let span = tokio::time::timeout(Duration::from_secs(20), spans.recv())
            .await
            .unwrap_or_else(|_| panic!("spans so far: {:?}", names(&found)))
            .expect("receiver open");
        if span.trace_id == trace_id {
            found.push(span);
        }
    }
    found
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(|value| match value {
            Any::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

#[tokio::test]
async fn a_request_with_a_traceparent_exports_its_http_graphql_and_sql_spans_over_otlp() {
    let (endpoint, mut spans) = otlp_receiver().await;
    let gateway = Gateway::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_SERVICE_NAME", "lastmile-test".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ])
    .await;
    let body = gateway.sign_in().await;
    assert!(body["errors"].is_array(), "{body}");
    let trace = spans_of_trace(&mut spans, |found| {
        let sql = found.iter().any(|s| attribute(s, "db.system").is_some());
        let http = found.iter().any(|s| s.name == "POST /graphql");
        let graphql = found.iter().any(|s| s.name == "mutation SignIn");
        sql && http && graphql
    })
    .await;
    let http = trace
        .iter()
        .find(|s| s.name == "POST /graphql")
        .expect("HTTP span");
    assert_eq!(
        hex::encode(&http.parent_span_id),
        PARENT_SPAN_ID,
        "the caller's span is the parent"
    );
    assert_eq!(attribute(http, "http.request.method"), Some("POST"));
    let graphql = trace
        .iter()
        .find(|s| s.name == "mutation SignIn")
        .expect("GraphQL span");
    assert_eq!(
        attribute(graphql, "graphql.operation.type"),
        Some("mutation")
    );
    assert_eq!(attribute(graphql, "graphql.operation.name"), Some("SignIn"));
    let sql = trace
        .iter()
        .find(|s| attribute(s, "db.system").is_some())
        .expect("SQL span");
    assert!(
        attribute(sql, "db.statement").is_some_and(|s| s.contains("SELECT")),
        "{sql:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn each_request_is_one_info_line_with_its_operation_status_and_trace_id_and_no_secrets() {
    let mut gateway = Gateway::start(&[]).await;
    gateway.sign_in().await;
    let (line, seen) = gateway
        .line_where(|line| line["fields"]["message"] == "request")
        .await;
    assert_eq!(line["level"], "INFO");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["path"], "/graphql");
    assert_eq!(fields["operation_name"], "SignIn");
    assert_eq!(fields["operation_type"], "mutation");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["trace_id"], TRACE_ID);
    assert!(fields["duration_ms"].as_f64().is_some(), "{line}");
    for secret in [
        "not-a-real-token",
        "a secret password",
        "a variable value",
        "nobody@example.com",
    ] {
        assert!(
            seen.iter().all(|l| !l.contains(secret)),
            "{secret} was logged: {seen:?}"
        );
    }
    gateway.stop().await;
}
