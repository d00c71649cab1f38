//! Writing the event log: one row per status change, in the transaction of the change,
//! with the partner organizations that may see it fixed at write time; and its head.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    Statement,
};
use uuid::Uuid;

use entity::share;
use entity::status_event::{self, EventKind};
use entity::user::{self, UserStatus};

use crate::db::is_postgres;
use crate::events::visibility::Audience;

/// Serializes event-writing transactions on PostgreSQL from here to commit, so cursors
/// become visible in increasing order and a reader never skips a late-committing lower one.
const EVENT_LOCK_KEY: i64 = 0x4c41_5354_4d49;

/// A status change to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The status before.
    pub previous_status: Option<UserStatus>,
    /// The status after.
    pub status: Option<UserStatus>,
    /// SHARED/UNSHARED: the partner; route kinds on a partner's route: that partner.
    pub partner_id: Option<Uuid>,
    /// ASSIGNED/UNASSIGNED and ROUTE_*: the route and its organization.
    pub route: Option<(Uuid, Uuid)>,
}

impl NewEvent {
    /// An event whose status does not change (SHARED, UNSHARED, ASSIGNED, UNASSIGNED, ROUTE_*).
    pub fn same_status(kind: EventKind, subject: &user::Model) -> Self {
        Self {
            kind,
            previous_status: Some(subject.status),
            status: Some(subject.status),
            partner_id: None,
            route: None,
        }
    }

    /// An event moving the status from `previous` to `status`.
    pub fn transition(
        kind: EventKind,
        previous: Option<UserStatus>,
        status: Option<UserStatus>,
    ) -> Self {
        Self {
            kind,
            previous_status: previous,
            status,
            partner_id: None,
            route: None,
        }
    }
}

/// Appends an event about `subject`; call inside the change's transaction.
pub async fn append(
    conn: &impl ConnectionTrait,
    subject: &user::Model,
    event: NewEvent,
) -> Result<status_event::Model, sea_orm::DbErr> {
    let audience = audience(conn, subject, &event).await?;
    if is_postgres(conn) {
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT pg_advisory_xact_lock($1)",
            [EVENT_LOCK_KEY.into()],
        ))
        .await?;
    }
    status_event::ActiveModel {
        kind: Set(event.kind),
        organization_id: Set(subject.organization_id),
        user_id: Set(subject.id),
        is_driver: Set(subject.is_driver),
        partner_id: Set(event.partner_id),
        route_id: Set(event.route.map(|r| r.0)),
        route_organization_id: Set(event.route.map(|r| r.1)),
        previous_status: Set(event.previous_status),
        status: Set(event.status),
        audience: Set(Audience::of(audience).to_column()),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await
}

/// The partner organizations that receive the event besides the owner.
async fn audience(
    conn: &impl ConnectionTrait,
    subject: &user::Model,
    event: &NewEvent,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    match event.kind {
        EventKind::Shared | EventKind::Unshared => Ok(event.partner_id.into_iter().collect()),
        EventKind::Deactivated | EventKind::Reactivated | EventKind::Deleted => {
            partners_of(conn, subject.id).await
        }
        EventKind::Assigned
        | EventKind::Unassigned
        | EventKind::RouteStarted
        | EventKind::RouteCompleted
        | EventKind::RouteCancelled => match event.route {
            Some((_, route_org)) if route_org != subject.organization_id => {
                let shared = partners_of(conn, subject.id).await?;
                Ok(shared.into_iter().filter(|p| *p == route_org).collect())
            }
            _ => Ok(Vec::new()),
        },
        EventKind::Invited | EventKind::Activated => Ok(Vec::new()),
    }
}

/// Organizations the driver is shared with now.
pub async fn partners_of(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    share::Entity::find()
        .select_only()
        .column(share::Column::PartnerId)
        .filter(share::Column::DriverId.eq(driver_id))
        .into_tuple::<Uuid>()
        .all(conn)
        .await
}

/// The cursor of the newest event in the log (0 when it is empty).
pub async fn head(conn: &impl ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    let head: Option<i64> = status_event::Entity::find()
        .select_only()
        .column_as(status_event::Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    Ok(head.unwrap_or(0))
}
