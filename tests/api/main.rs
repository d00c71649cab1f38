//! The API test suite: one binary, one module per domain. Every test talks to a real server
//! on port 0 with a fresh database (SQLite by default; PostgreSQL and Redis when
//! `DATABASE_URL` / `REDIS_URL` point at them).

// A failed expectation in a test is a failed test: panicking is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod audit;
mod authority;
mod background_writes;
mod bad_input;
mod concurrency;
mod export;
mod fuzz;
mod hardening;
mod helpers;
mod http;
mod invitations;
mod isolation;
mod lifecycle;
mod live;
mod metrics;
mod observability;
mod ordering;
mod pages;
mod pagination;
mod permissions;
mod persisted_queries;
mod route_planning;
mod schema;
mod sessions;
mod sharing;
mod statements;
mod users;
