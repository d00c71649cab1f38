//! Validated newtypes: input is parsed into these at the boundary, and services take only them.

pub mod access;
mod address;
mod currency;
mod email;
mod input;
mod name;
mod password;
mod phone;
mod search;
mod settings;
pub mod text;
mod token;

pub use access::AccessChange;
pub use address::Address;
pub use currency::Currency;
pub use email::Email;
pub use input::Input;
pub use name::Name;
pub use password::Password;
pub use phone::Phone;
pub use search::Search;
pub use settings::{CsvDelimiter, Timezone};
pub use token::OpaqueToken;

use crate::error::{AppError, AppResult};

/// Attaches the input field name to a validation failure.
pub trait FieldResult<T> {
    /// Maps `Err(reason)` to BAD_USER_INPUT naming `field`.
    fn field(self, field: &str) -> AppResult<T>;
}

impl<T> FieldResult<T> for Result<T, String> {
    fn field(self, field: &str) -> AppResult<T> {
        self.map_err(|reason| AppError::bad_input(field, reason))
    }
}
