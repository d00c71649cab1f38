//! The rules tested directly against the services on SQLite: no HTTP, no GraphQL.

// A failed expectation in a test is a failed test: panicking is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lifecycle;
mod permissions;
mod sessions;
mod sharing;
mod support;
