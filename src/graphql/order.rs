//! `orderBy` of lists: the order inputs and their service keys (ties broken by id).

use async_graphql::{Enum, InputObject};

use entity::{depot, route, user};

use crate::service::page::{Direction, OrderKey};
use crate::service::{
    self, route::RouteOrderField as RouteField, user::UserOrderField as UserField,
};

/// Which way an ordered list runs.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Smallest first.
    // Also what an explicit `direction: null` reads as.
    #[default]
    Asc,
    /// Greatest first.
    Desc,
}

impl From<OrderDirection> for Direction {
    fn from(d: OrderDirection) -> Self {
        match d {
            OrderDirection::Asc => Self::Asc,
            OrderDirection::Desc => Self::Desc,
        }
    }
}

/// What users and drivers can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserOrderField {
    /// Last name.
    LastName,
    /// First name.
    FirstName,
    /// Email.
    Email,
    /// Status.
    Status,
    /// When invited.
    InvitedAt,
}

/// The order of a user or driver list.
#[derive(InputObject, Clone, Copy)]
pub struct UserOrder {
    field: UserOrderField,
    #[graphql(default_with = "Some(OrderDirection::Asc)")]
    direction: Option<OrderDirection>,
}

impl UserOrder {
    /// The service key for the list named `list`.
    pub fn key(self, list: &'static str) -> OrderKey<user::Column> {
        let field = match self.field {
            UserOrderField::LastName => UserField::LastName,
            UserOrderField::FirstName => UserField::FirstName,
            UserOrderField::Email => UserField::Email,
            UserOrderField::Status => UserField::Status,
            UserOrderField::InvitedAt => UserField::InvitedAt,
        };
        service::user::order_key(list, field, self.direction.unwrap_or_default().into())
    }
}

/// What routes can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RouteOrderField {
    /// Planned start.
    PlannedStart,
    /// Name.
    Name,
    /// Status.
    Status,
}

/// The order of a route list.
#[derive(InputObject, Clone, Copy)]
pub struct RouteOrder {
    field: RouteOrderField,
    #[graphql(default_with = "Some(OrderDirection::Asc)")]
    direction: Option<OrderDirection>,
}

impl RouteOrder {
    /// The service key for the list named `list`.
    pub fn key(self, list: &'static str) -> OrderKey<route::Column> {
        let field = match self.field {
            RouteOrderField::PlannedStart => RouteField::PlannedStart,
            RouteOrderField::Name => RouteField::Name,
            RouteOrderField::Status => RouteField::Status,
        };
        service::route::order_key(list, field, self.direction.unwrap_or_default().into())
    }
}

/// What depots can be ordered by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DepotOrderField {
    /// Name.
    Name,
}

/// The order of a depot list.
#[derive(InputObject, Clone, Copy)]
pub struct DepotOrder {
    field: DepotOrderField,
    #[graphql(default_with = "Some(OrderDirection::Asc)")]
    direction: Option<OrderDirection>,
}

impl DepotOrder {
    /// The service key.
    pub fn key(self) -> OrderKey<depot::Column> {
        match self.field {
            DepotOrderField::Name => {
                service::depot::order_by_name(self.direction.unwrap_or_default().into())
            }
        }
    }
}
