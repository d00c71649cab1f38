//! Authentication at the edge: the bearer token becomes an [`Auth`]; a scoped token's
//! membership is re-read so a removed or demoted user loses access at once.

use crate::auth::{Auth, Principal};
use crate::service::account;
use crate::state::AppState;

/// Reads `Authorization: Bearer …` (or the same value from a WebSocket init payload).
pub async fn authenticate(state: &AppState, header: Option<&str>) -> Auth {
    let Some(value) = header else {
        return Auth::Anonymous;
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Auth::Invalid("the Authorization header must be `Bearer <accessToken>`".into());
    };
    match state.jwt.verify(token.trim()) {
        Ok(principal) => refresh_scope(state, principal).await,
        Err(reason) => Auth::Invalid(reason),
    }
}

async fn refresh_scope(state: &AppState, mut principal: Principal) -> Auth {
    let Some(scope) = principal.scope.clone() else {
        return Auth::Signed(principal);
    };
    match account::current_membership_scope(&state.db.conn, principal.account_id, &scope).await {
        Ok(Some(current)) => {
            principal.scope = Some(current);
            Auth::Signed(principal)
        }
        Ok(None) => Auth::Invalid("the membership of this token is no longer active".into()),
        Err(e) => {
            tracing::error!(error = ?e, "could not read the membership of a token");
            Auth::Invalid("the session could not be checked; try again".into())
        }
    }
}
