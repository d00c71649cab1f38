//! The gateway's tables as sea-orm models: one module per table, no business rules.

pub mod access_event;
pub mod account;
pub mod depot;
pub mod invitation;
pub mod kv;
pub mod mail_outbox;
pub mod organization;
pub mod password_reset;
pub mod refresh_token;
pub mod route;
pub mod share;
pub mod status_event;
pub mod status_event_audience;
pub mod user;
