//! GraphQL over HTTP as the GraphQL-over-HTTP specification asks: content negotiation,
//! 415 for non-JSON bodies, 400 for malformed JSON and (with graphql-response+json) for
//! request errors, 405 for mutations over GET, and batches capped.

use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use async_graphql::parser::types::OperationType;

use crate::graphql::ingest::{self, Admitted, is_request_error};
use crate::graphql::persisted;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;

use crate::auth::ClientAddr;
use crate::metrics::OperationType as OperationMetric;

use super::observe::Operations;
use super::{Edge, authenticate, client_addr, pages};
use crate::live::{connection, sse};
use tracing::Instrument;

/// Most operations in one batch.
const MAX_BATCH: usize = 10;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type the client prefers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    Json,
    GraphqlResponse,
}

fn negotiate(headers: &HeaderMap) -> MediaType {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return MediaType::Json;
    };
    let mut best = (MediaType::Json, -1.0f32);
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let kind = match media.as_str() {
            GRAPHQL_RESPONSE_JSON => MediaType::GraphqlResponse,
            "application/json" | "*/*" | "application/*" => MediaType::Json,
            _ => continue,
        };
        if q > best.1 {
            best = (kind, q);
        }
    }
    best.0
}

/// Whether the client asks for Server-Sent Events (subscriptions without a WebSocket).
fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

/// An HTTP-level refusal (nothing was parsed): `BAD_REQUEST`, or the status's own code.
fn json_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        _ => "BAD_REQUEST",
    };
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The parameters lack a document: 400 whatever the media type (nothing to parse).
fn missing_query() -> Response {
    json_error(
        StatusCode::BAD_REQUEST,
        "the request has no `query` (a GraphQL document)",
    )
}

/// `POST /graphql`.
pub async fn post(
    State(edge): State<Edge>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = client_addr(peer, &headers, &edge.state.settings.trusted_proxies);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|ct| ct == "application/json" || ct == GRAPHQL_RESPONSE_JSON);
    if !is_json {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    if wants_event_stream(&headers) {
        return match serde_json::from_slice::<Request>(&body) {
            Ok(request) if request.query.trim().is_empty() => missing_query(),
            Ok(request) => sse::stream(&edge.live, &headers, client, request).await,
            Err(e) => json_error(
                StatusCode::BAD_REQUEST,
                &format!("malformed JSON body: {e}"),
            ),
        };
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("malformed JSON body: {e}"),
            );
        }
    };
    if batch.iter().any(lacks_document) {
        return missing_query();
    }
    if let BatchRequest::Batch(items) = &batch
        && items.len() > MAX_BATCH
    {
        return json_error(
            StatusCode::BAD_REQUEST,
            &format!("at most {MAX_BATCH} operations per batch"),
        );
    }
    let batch = Batch::admit(batch, &edge).await;
    execute(&edge, &headers, client, batch).await
}

/// Neither a document nor the hash of one (a persisted query needs no `query`).
fn lacks_document(request: &Request) -> bool {
    request.query.trim().is_empty() && !persisted::is_persisted(request)
}

/// `GET /graphql`: a WebSocket upgrade, GraphiQL for browsers, or a query in the URL.
pub async fn get_or_upgrade(
    State(edge): State<Edge>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let client = client_addr(peer, &parts.headers, &edge.state.settings.trusted_proxies);
    if parts.headers.get(header::UPGRADE).is_some() {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &edge).await {
            Ok(upgrade) => connection::upgrade(edge.live.clone(), upgrade, client),
            Err(rejection) => rejection.into_response(),
        };
    }
    let headers = parts.headers;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if query.is_none()
        && wants_html
        && let Some(page) = pages::graphiql(&edge)
    {
        return page;
    }
    let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("malformed query string: {e}"),
            );
        }
    };
    if lacks_document(&request) {
        return missing_query();
    }
    let admitted = edge.persisted.admit(&edge.ingest, request).await;
    if admitted
        .as_ref()
        .is_ok_and(|a| a.findings.operation == OperationType::Mutation)
    {
        let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "mutations must use POST");
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let batch = Batch {
        items: vec![admitted],
        single: true,
    };
    execute(&edge, &headers, client, batch).await
}

/// The operations of one HTTP request, each let in or refused by the ingest.
struct Batch {
    items: Vec<Result<Admitted, Box<async_graphql::Response>>>,
    /// Sent as one operation, not as a list of them.
    single: bool,
}

impl Batch {
    async fn admit(batch: BatchRequest, edge: &Edge) -> Self {
        let (requests, single) = match batch {
            BatchRequest::Single(request) => (vec![request], true),
            BatchRequest::Batch(requests) => (requests, false),
        };
        let mut items = Vec::with_capacity(requests.len());
        for request in requests {
            items.push(edge.persisted.admit(&edge.ingest, request).await);
        }
        // One password or token check per HTTP request, however the request is split.
        let credentials: usize = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .map(|admitted| admitted.findings.credential_operations)
            .sum();
        if credentials > 1 {
            for item in &mut items {
                *item = Err(ingest::refuse(
                    ingest::code::VALIDATION_FAILED,
                    ingest::one_credential_operation(),
                    None,
                ));
            }
        }
        Self { items, single }
    }
}

async fn execute(edge: &Edge, headers: &HeaderMap, client: ClientAddr, batch: Batch) -> Response {
    let media = negotiate(headers);
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = authenticate(&edge.state, header).await;
    let mut responses = Vec::with_capacity(batch.items.len());
    let mut operations = Operations::default();
    let metrics = &edge.state.metrics;
    for item in batch.items {
        let started = std::time::Instant::now();
        let response = match item {
            Err(refused) => {
                operations.names.push("-".into());
                operations.types.push("-");
                metrics.record_request(OperationMetric::Query, started.elapsed(), true);
                *refused
            }
            Ok(mut admitted) => {
                // A document known to pass validation with variables of these kinds skips it.
                let witness = admitted.validation_witness();
                let vouched = witness.as_ref().is_some_and(|w| w.vouched());
                let schema = if admitted.findings.introspection {
                    &edge.introspection
                } else if vouched {
                    &edge.prevalidated
                } else {
                    &edge.schema
                };
                let kind = admitted.metric_type().label();
                let name = admitted.request.operation_name.clone();
                let span = operation_span(kind, name.as_deref());
                operations.names.push(name.unwrap_or_else(|| "-".into()));
                operations.types.push(kind);
                // Loaders of its own: an operation of a batch reads what those before it wrote.
                let request = crate::graphql::with_loaders(admitted.take_request(), &edge.state.db)
                    .data(auth.clone())
                    .data(client);
                let response = schema.execute(request).instrument(span).await;
                if let Some(witness) = witness.filter(|_| !vouched) {
                    witness.passed(&response);
                }
                let response = admitted.findings.finish.apply(response);
                metrics.record_request(
                    admitted.metric_type(),
                    started.elapsed(),
                    response.is_err(),
                );
                response
            }
        };
        responses.push(response);
    }
    let response = match (batch.single, responses.pop()) {
        (true, Some(response)) => BatchResponse::Single(response),
        (_, last) => {
            responses.extend(last);
            BatchResponse::Batch(responses)
        }
    };
    let mut response = respond(media, response);
    response.extensions_mut().insert(operations);
    response
}

/// The span of one GraphQL operation, named as OpenTelemetry's GraphQL conventions ask.
fn operation_span(kind: &'static str, name: Option<&str>) -> tracing::Span {
    let otel_name = match name {
        Some(name) => format!("{kind} {name}"),
        None => kind.to_owned(),
    };
    tracing::info_span!(
        "GraphQL operation",
        otel.name = otel_name.as_str(),
        graphql.operation.type = kind,
        graphql.operation.name = name.unwrap_or(""),
    )
}

fn respond(media: MediaType, response: BatchResponse) -> Response {
    let content_type = match media {
        MediaType::Json => "application/json",
        MediaType::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
    };
    let (status, body) = match &response {
        BatchResponse::Single(r) if media == MediaType::GraphqlResponse && is_request_error(r) => (
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "errors": r.errors }).to_string(),
        ),
        _ => match serde_json::to_string(&response) {
            Ok(body) => (StatusCode::OK, body),
            Err(error) => {
                tracing::error!(%error, "a GraphQL response could not be serialized");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({ "errors": [{
                        "message": "internal error",
                        "extensions": { "code": "INTERNAL_SERVER_ERROR" },
                    }] })
                    .to_string(),
                )
            }
        },
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
