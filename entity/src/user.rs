//! `users`: an account's membership in one organization; drivers are users with the DRIVER role.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Lifecycle status of a user (and of its driver card).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum UserStatus {
    /// Invited, invitation not accepted yet.
    #[sea_orm(string_value = "INVITED")]
    Invited,
    /// Accepted and usable.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// A driver set unavailable.
    #[sea_orm(string_value = "INACTIVE")]
    Inactive,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUID v7 key; the driver card shares it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization this membership belongs to.
    pub organization_id: Uuid,
    /// The account, once the invitation is accepted.
    pub account_id: Option<Uuid>,
    /// Lower-case email, unique within the organization.
    pub email: String,
    /// First name, 1 to 100 characters.
    pub first_name: String,
    /// Last name, 1 to 100 characters.
    pub last_name: String,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Holds the ADMIN role.
    pub is_admin: bool,
    /// Holds the DISPATCHER role.
    pub is_dispatcher: bool,
    /// Holds the DRIVER role.
    pub is_driver: bool,
    /// Lifecycle status.
    pub status: UserStatus,
    /// The driver's depot, if any.
    pub depot_id: Option<Uuid>,
    /// When the (latest) invitation was sent.
    pub invited_at: DateTimeUtc,
    /// When the invitation was accepted.
    pub activated_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
