//! lastmile: the GraphQL gateway for last-mile delivery fleets.
//!
//! A request flows one way:
//! - [`http`]: the axum edge. GraphQL over HTTP, health, readiness, metrics, routing;
//!   the bearer token becomes an [`auth::Auth`] here.
//! - [`live`]: subscriptions held open: WebSocket connections, Server-Sent Events, shared
//!   live groups and the live sessions that end with their membership.
//! - [`graphql`]: thin resolvers, one module per domain, DataLoaders and Relay IDs.
//! - [`service`]: the domain rules, transactions and status events; no GraphQL types.
//! - `entity` and `migration` (workspace crates): the tables.
//!
//! Beside them: [`config`] (settings from flags and env), [`app`] (build and run),
//! [`db`] (connection, SQLite write serialization), [`domain`] (validated newtypes),
//! [`auth`] (JWT, passwords, tokens, roles), [`access`] (whether sessions and memberships
//! still stand, learned from every instance's changes), [`events`] (event log, fan-out through
//! in-process broadcast or Redis, subscriber streams), [`mail`] (outbox and delivery),
//! [`metrics`] (Prometheus text), [`memory`] (handing freed memory back to the system),
//! [`demo`] (demo data) and [`error`] (`AppError`).

pub mod access;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod live;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod service;
pub mod state;
pub mod telemetry;
