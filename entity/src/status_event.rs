//! `status_events`: the gateway-wide, append-only log of status changes.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::user::UserStatus;

/// What happened to the user or driver.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum EventKind {
    #[sea_orm(string_value = "INVITED")]
    Invited,
    #[sea_orm(string_value = "ACTIVATED")]
    Activated,
    #[sea_orm(string_value = "DEACTIVATED")]
    Deactivated,
    #[sea_orm(string_value = "REACTIVATED")]
    Reactivated,
    #[sea_orm(string_value = "DELETED")]
    Deleted,
    #[sea_orm(string_value = "SHARED")]
    Shared,
    #[sea_orm(string_value = "UNSHARED")]
    Unshared,
    #[sea_orm(string_value = "ASSIGNED")]
    Assigned,
    #[sea_orm(string_value = "UNASSIGNED")]
    Unassigned,
    #[sea_orm(string_value = "ROUTE_STARTED")]
    RouteStarted,
    #[sea_orm(string_value = "ROUTE_COMPLETED")]
    RouteCompleted,
    #[sea_orm(string_value = "ROUTE_CANCELLED")]
    RouteCancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "status_events")]
pub struct Model {
    /// Global sequence: the event's cursor.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The organization owning the user or driver.
    pub organization_id: Uuid,
    /// The user (and driver card) concerned.
    pub user_id: Uuid,
    /// Whether the subject is a driver.
    pub is_driver: bool,
    /// SHARED/UNSHARED: the partner; route kinds on a partner's route: that partner.
    pub partner_id: Option<Uuid>,
    /// ASSIGNED/UNASSIGNED and ROUTE_*: the route.
    pub route_id: Option<Uuid>,
    /// ASSIGNED/UNASSIGNED and ROUTE_*: the route's organization.
    pub route_organization_id: Option<Uuid>,
    /// Status before the change.
    pub previous_status: Option<UserStatus>,
    /// Status after the change.
    pub status: Option<UserStatus>,
    /// Partner organizations (comma-separated UUIDs) that receive this event besides the owner.
    pub audience: String,
    /// When it happened.
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
