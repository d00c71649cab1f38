//! `GET /export/drivers.csv` and `GET /export/routes.csv?from=…&to=…`: the viewer's lists as
//! streamed CSV files, with the same bearer token as `/graphql`; errors as `{"errors":[…]}`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use super::{Edge, authenticate};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::service::export::{self, Format, Range};
use crate::state::AppState;

/// The viewer of an export request, with its format and organization name.
async fn viewer(state: &AppState, headers: &HeaderMap) -> AppResult<(Actor, Format, String)> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let actor = authenticate(state, header).await.actor()?;
    let format = export::format_of(&state.db.conn, &actor).await?;
    let org = crate::service::organization::own(&state.db.conn, &actor).await?;
    Ok((actor, format, org.name))
}

/// `GET /export/drivers.csv`
pub async fn drivers(State(edge): State<Edge>, headers: HeaderMap) -> Response {
    match viewer(&edge.state, &headers).await {
        Ok((actor, format, org)) => {
            let name = format!("drivers-{}-{}.csv", export::slug(&org), format.today());
            csv(name, export::drivers(edge.state.db.clone(), actor, format))
        }
        Err(err) => error(&err),
    }
}

/// `GET /export/routes.csv?from=…&to=…`
pub async fn routes(
    State(edge): State<Edge>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let range = Range::parse(
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
    );
    let viewer = viewer(&edge.state, &headers).await;
    match (viewer, range) {
        (Err(err), _) | (Ok(_), Err(err)) => error(&err),
        (Ok((actor, format, org)), Ok(range)) => {
            let name = format!("routes-{}-{}.csv", export::slug(&org), format.today());
            csv(
                name,
                export::routes(edge.state.db.clone(), actor, format, range),
            )
        }
    }
}

/// A streamed CSV attachment; a failure after the first bytes ends the stream early (logged).
fn csv(name: String, lines: impl Stream<Item = AppResult<String>> + Send + 'static) -> Response {
    let body = lines.map(|line| {
        line.map(axum::body::Bytes::from).map_err(|err| {
            if let AppError::Internal(e) = &err {
                tracing::error!(error = ?e, "CSV export failed");
            }
            std::io::Error::other("export failed")
        })
    });
    // The name is a slug and a date, always a valid header value; were it not, say so.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|error| {
            tracing::warn!(
                %error,
                name,
                "CSV export name is not a header value; sent without it"
            );
            HeaderValue::from_static("attachment")
        });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// An error as GraphQL would answer it, with the HTTP status of its code.
fn error(err: &AppError) -> Response {
    let status = match err {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::BadInput { .. } | AppError::Refused { .. } => StatusCode::BAD_REQUEST,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let (code, message, field) = crate::graphql::error::item_parts(err);
    let mut extensions = serde_json::json!({ "code": code });
    if let Some(field) = field {
        extensions["field"] = serde_json::Value::String(field);
    }
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] });
    (status, axum::Json(body)).into_response()
}
