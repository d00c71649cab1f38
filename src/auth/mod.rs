//! Authentication and authorization: JWTs, password hashing, opaque tokens, and who is asking.

pub mod jwt;
pub mod limiter;
pub mod password;
pub mod principal;
pub mod token;
pub mod verified;

pub use jwt::{AccessClaims, JwtKeys};
pub use principal::{Actor, Auth, Principal, Roles};

/// The address of the client a request comes from: the peer, or what a trusted proxy in
/// front of the gateway names in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);
