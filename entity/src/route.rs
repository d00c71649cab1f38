//! `routes`: the minimum of a route the user rules need.

use sea_orm::entity::prelude::*;

/// Where a route is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RouteStatus {
    /// Not started.
    #[sea_orm(string_value = "PLANNED")]
    Planned,
    /// Being driven.
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    /// Done.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    /// Called off.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routes")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Display name.
    pub name: String,
    /// Planned start time.
    pub planned_start: DateTimeUtc,
    /// Lifecycle status.
    pub status: RouteStatus,
    /// Depot the route starts from.
    pub depot_id: Option<Uuid>,
    /// Assigned driver (a user id, possibly of a partner organization).
    pub driver_id: Option<Uuid>,
    /// "First Last" of the driver, set at assignment and kept after the driver is deleted.
    pub driver_name: Option<String>,
    /// The depot's name, kept after the depot is deleted.
    pub depot_name: Option<String>,
    /// The depot's address, kept after the depot is deleted.
    pub depot_address: Option<String>,
    /// When the route completed.
    pub completed_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
