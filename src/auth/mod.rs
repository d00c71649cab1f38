//! Authentication and authorization: JWTs, password hashing, opaque tokens, and who is asking.

pub mod jwt;
pub mod limiter;
pub mod password;
pub mod principal;
pub mod token;

pub use jwt::{AccessClaims, JwtKeys};
pub use principal::{Actor, Auth, Principal, Roles};
