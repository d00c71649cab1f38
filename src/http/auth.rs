//! Authentication at the edge: the bearer token becomes an [`Auth`]; a scoped token's
//! session and membership are looked up in the session authority, so a signed-out session or a
//! removed or demoted member loses access at once.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::access::Standing;
use crate::auth::{Auth, ClientAddr, Principal};
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
    match state.access.standing(&principal).await {
        Ok(Standing::Live(current)) => {
            principal.scope = current;
            Auth::Signed(principal)
        }
        Ok(Standing::Ended) => Auth::Invalid(
            "the session or the membership of this token is no longer active; sign in again".into(),
        ),
        Err(e) => {
            tracing::error!(error = ?e, "could not read the session of a token");
            Auth::Invalid("the session could not be checked; try again".into())
        }
    }
}

/// The client of a request from `peer`: a trusted proxy's `X-Forwarded-For` is read from the
/// right, skipping the trusted proxies themselves; anyone else is the client.
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> ClientAddr {
    let peer = peer.ip().to_canonical();
    if !trusted.contains(&peer) {
        return ClientAddr(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let client = forwarded
        .iter()
        .rev()
        .filter_map(|hop| hop.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .find(|ip| !trusted.contains(ip));
    // No hop outside the trusted proxies: the proxy itself is the client.
    ClientAddr(client.unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().expect("header"));
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let peer: SocketAddr = "203.0.113.9:5000".parse().expect("addr");
        let client = client_addr(peer, &headers("198.51.100.1"), &[]);
        assert_eq!(client.0, peer.ip());
    }

    #[test]
    fn a_trusted_proxy_names_the_client_rightmost_first() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let peer = SocketAddr::new(proxy, 5000);
        let spoofed_then_real = headers("198.51.100.1, 203.0.113.7, 10.0.0.2");
        let client = client_addr(peer, &spoofed_then_real, &[proxy]);
        assert_eq!(client.0.to_string(), "203.0.113.7");
    }
}
