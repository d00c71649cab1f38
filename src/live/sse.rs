//! GraphQL over Server-Sent Events (the "distinct connections" mode): for clients that cannot
//! open a WebSocket, `POST /graphql` with `Accept: text/event-stream` streams each result as
//! an `event: next` and ends with `event: complete`.

use std::convert::Infallible;
use std::time::Duration;

use async_graphql::Request;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};

use super::sessions::Watch;
use crate::auth::ClientAddr;

use super::Live;
use super::protocol::{INTERNAL_RESPONSE, to_json};
use crate::http::authenticate;

/// Interval of keep-alive comments.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Runs `request` and streams its results.
pub async fn stream(
    live: &Live,
    headers: &HeaderMap,
    client: ClientAddr,
    request: Request,
) -> Response {
    let mut admitted = match live.ingest.admit(request) {
        Ok(admitted) => admitted,
        Err(refused) => return respond(stream::once(async move { *refused })),
    };
    let finish = admitted.findings.finish.clone();
    let request = admitted.take_request();
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = authenticate(&live.state, header).await;
    // Ends with the membership, should it be removed or changed meanwhile.
    let membership = Watch::of(&live.state.sessions, &auth);
    let membership_ended = async move { Watch::ended(membership.as_ref()).await };
    // Ends with the server: a graceful shutdown waits for every open response.
    let shutdown = live.shutdown.clone().cancelled_owned();
    let results = live
        .schema
        .execute_stream(
            crate::graphql::with_loaders(request, &live.state.db)
                .data(auth)
                .data(client),
        )
        .take_until(futures_util::future::select(
            Box::pin(shutdown),
            Box::pin(membership_ended),
        ))
        .map(move |response| finish.apply(response));
    respond(results)
}

/// Each response as an `event: next`, then `event: complete`.
fn respond(responses: impl Stream<Item = async_graphql::Response> + Send + 'static) -> Response {
    let events = responses.map(|response| {
        let data = to_json(&response, INTERNAL_RESPONSE);
        Ok::<_, Infallible>(Event::default().event("next").data(data))
    });
    let done = stream::once(async { Ok(Event::default().event("complete").data("")) });
    Sse::new(events.chain(done))
        .keep_alive(KeepAlive::new().interval(KEEPALIVE))
        .into_response()
}
