//! The one place where an `AppError` becomes a GraphQL error with `extensions.code`.

use async_graphql::{ErrorExtensions, Result};

use crate::error::AppError;

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal server error".to_owned()
            }
            Self::BadInput { field, message } => format!("{field}: {message}"),
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::RateLimited(m) => m.clone(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::BadInput { field, .. } = self {
                ext.set("field", field.as_str());
            }
        })
    }
}

/// What an item of a bulk operation reports for `err`: its code, the message a single
/// operation would answer, and the input field at fault.
pub fn item_parts(err: &AppError) -> (&'static str, String, Option<String>) {
    let message = err.extend().message;
    let field = match err {
        AppError::BadInput { field, .. } => Some(field.clone()),
        _ => None,
    };
    (err.code(), message, field)
}

/// `service_call().await.gql()?` in resolvers.
pub trait Gql<T> {
    /// Maps the service error to its GraphQL form.
    fn gql(self) -> Result<T>;
}

impl<T> Gql<T> for Result<T, AppError> {
    fn gql(self) -> Result<T> {
        self.map_err(|e| e.extend())
    }
}
