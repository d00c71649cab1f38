//! The one place where an `AppError` becomes a GraphQL error with `extensions.code`.

use async_graphql::{ErrorExtensions, Result};

use crate::domain::Input;
use crate::error::AppError;

/// Where the client sent each input a service may refuse: the one map from meaning to path.
pub fn path_of(input: Input) -> &'static str {
    match input {
        Input::Roles => "input.roles",
        Input::DepotId => "input.depotId",
        Input::ClearDepot => "input.clearDepot",
        Input::InvitationToken => "input.token",
        Input::InvitationPassword => "input.password",
        Input::ResetToken => "token",
        Input::ExpiresAt => "expiresAt",
        Input::PartnerId => "partnerId",
        Input::DriverIds => "driverIds",
        Input::OrganizationName => "name",
        Input::Batch => "inputs",
        Input::First => "first",
        Input::Last => "last",
        Input::After => "after",
        Input::Before => "before",
        Input::From => "from",
        Input::To => "to",
    }
}

/// The input path and message of a bad input, whether the edge or a service refused it.
fn bad_input(err: &AppError) -> Option<(&str, &str)> {
    match err {
        AppError::BadInput { field, message } => Some((field, message)),
        AppError::Refused { input, message } => Some((path_of(*input), message)),
        _ => None,
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let message = match (self, bad_input(self)) {
            (_, Some((field, message))) => format!("{field}: {message}"),
            (Self::Internal(err), _) => {
                tracing::error!(error = ?err, "internal error");
                "internal server error".to_owned()
            }
            (
                Self::Unauthenticated(m)
                | Self::Forbidden(m)
                | Self::NotFound(m)
                | Self::Conflict(m)
                | Self::RateLimited(m),
                _,
            ) => m.clone(),
            (Self::BadInput { message, .. } | Self::Refused { message, .. }, None) => {
                message.clone()
            }
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Some((field, _)) = bad_input(self) {
                ext.set("field", field);
            }
        })
    }
}

/// What an item of a bulk operation reports for `err`: its code, the message a single
/// operation would answer, and the input field at fault.
pub fn item_parts(err: &AppError) -> (&'static str, String, Option<String>) {
    let message = err.extend().message;
    let field = bad_input(err).map(|(field, _)| field.to_owned());
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
