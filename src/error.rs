//! `AppError`, the one error type of the services, and the client-facing code of each variant.

use sea_orm::{DbErr, SqlErr};

use crate::domain::Input;

/// Everything a request can fail with.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a response
/// message, which would send internal text to clients. Resolvers must go through the one
/// mapping in `graphql::error`, and the compiler enforces it.
#[derive(Debug)]
pub enum AppError {
    /// No valid credentials.
    Unauthenticated(String),
    /// Signed in, but the role does not allow it.
    Forbidden(String),
    /// The record does not exist for this viewer.
    NotFound(String),
    /// An input field is invalid.
    BadInput {
        /// The input field at fault, as the client named it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A service refused an input, named by meaning; the GraphQL layer names its path.
    Refused {
        /// The input at fault.
        input: Input,
        /// What is wrong with it.
        message: String,
    },
    /// The request conflicts with the current state.
    Conflict(String),
    /// Too many requests.
    RateLimited(String),
    /// Anything else; logged, never shown.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl AppError {
    /// The `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } | Self::Refused { .. } => "BAD_USER_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// A bad input on `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A service's refusal of `input`.
    pub fn refused(input: Input, message: impl Into<String>) -> Self {
        Self::Refused {
            input,
            message: message.into(),
        }
    }

    /// A record that does not exist for the viewer.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// The role does not allow the action.
    pub fn forbidden() -> Self {
        Self::Forbidden("your role does not allow this".into())
    }

    /// A conflict with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_transient(&err) {
            tracing::warn!(error = %err, "a change met a concurrent one; the client is told to retry");
            return Self::Conflict(
                "the change met a concurrent change of the same records; try again".into(),
            );
        }
        Self::Internal(anyhow::Error::new(err).context("database error"))
    }
}

/// A deadlock or serialization failure: the transaction was rolled back and a retry succeeds.
fn is_transient(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return false;
    };
    // PostgreSQL: deadlock_detected, serialization_failure.
    matches!(e.code().as_deref(), Some("40P01" | "40001"))
}

/// Turns a unique-key violation into `conflict`, any other error into an internal one.
pub fn on_unique_violation(err: DbErr, conflict: impl FnOnce() -> AppError) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => conflict(),
        _ => err.into(),
    }
}

/// Result with [`AppError`].
pub type AppResult<T> = Result<T, AppError>;
