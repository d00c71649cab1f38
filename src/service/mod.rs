//! The domain services: every rule, transaction and event lives here, with no GraphQL types.
//! A read takes a connection (`&impl ConnectionTrait`), so the same code runs on the pool or
//! inside a transaction; a change takes [`Services`], the few handles it needs, and runs in a
//! [`Work`] that commits its events, mail and access changes with it.

pub mod account;
pub mod depot;
pub mod driver;
pub mod expiry;
pub mod export;
pub mod organization;
pub mod page;
pub mod route;
pub mod rows;
pub mod share;
pub mod status_event;
pub mod user;
mod work;

pub use work::{Outlets, Work};

use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use entity::user as users;

use crate::auth::JwtKeys;
use crate::auth::limiter::Limiter;
use crate::auth::password::Hasher;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// The handles the services need from the running instance, and nothing more.
#[derive(Clone)]
pub struct Services {
    /// Database pool.
    pub db: Db,
    /// Where committed changes go: the event fan-out and the mailer.
    pub outlets: Outlets,
    /// Signs access tokens.
    pub jwt: JwtKeys,
    /// Budget of password checks and reset mails per email.
    pub limiter: Limiter,
    /// Password hashing, bounded in concurrency and memory.
    pub hasher: Hasher,
    /// The settings the rules read.
    pub settings: Arc<ServiceSettings>,
}

/// The part of the configuration the services read.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Base URL of the web client, for links in mail.
    pub public_url: String,
    /// Whether anyone may create an organization.
    pub allow_signup: bool,
    /// Refresh token lifetime in seconds.
    pub refresh_token_ttl: u64,
}

impl ServiceSettings {
    /// The services' part of `settings`.
    pub fn of(settings: &Settings) -> Self {
        Self {
            public_url: settings.public_url(),
            allow_signup: settings.allow_signup,
            refresh_token_ttl: settings.refresh_token_ttl,
        }
    }
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

/// The statuses of a route that keeps its driver busy: PLANNED or IN_PROGRESS.
pub const ACTIVE_ROUTE_STATUSES: [entity::route::RouteStatus; 2] = [
    entity::route::RouteStatus::Planned,
    entity::route::RouteStatus::InProgress,
];

/// Whether a route in `status` keeps its driver busy.
pub fn route_is_active(status: entity::route::RouteStatus) -> bool {
    ACTIVE_ROUTE_STATUSES.contains(&status)
}

/// The condition on routes that are PLANNED or IN_PROGRESS.
pub fn active_route_condition() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::ColumnTrait;
    entity::route::Column::Status.is_in(ACTIVE_ROUTE_STATUSES)
}

/// The PLANNED or IN_PROGRESS route the driver is on, of any organization.
pub async fn active_route_of(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
) -> AppResult<Option<entity::route::Model>> {
    use entity::route;
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(route::Entity::find()
        .filter(route::Column::DriverId.eq(driver_id))
        .filter(active_route_condition())
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
        .ok_or_else(|| AppError::not_found("organization"))?
        .name;
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
