//! The domain services: every rule, transaction and event lives here, with no GraphQL types.
//! Each takes the state or a connection (`&impl ConnectionTrait`), so the same code runs on the
//! pool or inside a transaction.

pub mod account;
pub mod depot;
pub mod driver;
pub mod expiry;
pub mod export;
pub mod organization;
pub mod page;
pub mod route;
pub mod share;
pub mod status_event;
pub mod user;

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use entity::user as users;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Commits `txn`, then hands its events to the fan-out and wakes the mailer.
pub async fn commit(
    state: &AppState,
    txn: crate::db::WriteTxn,
    events: Vec<entity::status_event::Model>,
    mail_queued: bool,
) -> AppResult<()> {
    txn.commit().await?;
    state.events.publish(events);
    if mail_queued {
        state.mailer.wake();
    }
    Ok(())
}

/// A user of the actor's organization, or NOT_FOUND.
pub async fn own_user(
    conn: &impl ConnectionTrait,
    organization_id: Uuid,
    user_id: Uuid,
    what: &str,
) -> AppResult<users::Model> {
    users::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .filter(|u| u.organization_id == organization_id)
        .ok_or_else(|| AppError::not_found(what))
}

/// Reads a user row for change: `SELECT … FOR UPDATE` on PostgreSQL (SQLite writes are serialized).
pub async fn lock_user(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> AppResult<Option<users::Model>> {
    use sea_orm::QuerySelect;
    Ok(users::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// Locks the organization row for the rest of the transaction: the one lock every change that
/// may remove an ACTIVE ADMIN takes first, so two such changes run one after the other instead
/// of deadlocking on each other's user rows (and the second sees the first's outcome).
/// `FOR NO KEY UPDATE` on PostgreSQL, so rows inserted with a foreign key to the organization
/// (users, routes, events) do not wait for it; SQLite writes are serialized anyway.
pub async fn lock_organization(
    conn: &impl ConnectionTrait,
    organization_id: Uuid,
) -> AppResult<()> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::LockType;
    entity::organization::Entity::find_by_id(organization_id)
        .lock(LockType::NoKeyUpdate)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("organization"))?;
    Ok(())
}

/// The PLANNED or IN_PROGRESS route the driver is on, of any organization.
pub async fn active_route_of(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
) -> AppResult<Option<entity::route::Model>> {
    use entity::route::{self, RouteStatus};
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(route::Entity::find()
        .filter(route::Column::DriverId.eq(driver_id))
        .filter(route::Column::Status.is_in([RouteStatus::Planned, RouteStatus::InProgress]))
        .one(conn)
        .await?)
}

/// Refuses (CONFLICT) while the driver is on a PLANNED or IN_PROGRESS route (of `partner` only,
/// when given), naming the organization that holds it.
pub async fn ensure_not_busy(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
    partner: Option<Uuid>,
) -> AppResult<()> {
    let Some(route) = active_route_of(conn, driver_id)
        .await?
        .filter(|r| partner.is_none_or(|p| r.organization_id == p))
    else {
        return Ok(());
    };
    let holder = entity::organization::Entity::find_by_id(route.organization_id)
        .one(conn)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Err(AppError::conflict(format!(
        "the driver is assigned to a PLANNED or IN_PROGRESS route of {holder}"
    )))
}

/// A case-insensitive `LIKE` pattern matching `needle` anywhere, with wildcards escaped.
pub fn contains_pattern(needle: &str) -> String {
    let escaped: String = needle
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}
