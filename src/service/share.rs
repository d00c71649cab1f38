//! Sharing drivers with partner organizations: finding a partner by exact name, sharing
//! several drivers at once (for good or until an expiry), unsharing one, the partner releasing
//! one, and the partner's and owner's lists.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Select, Set,
};
use uuid::Uuid;

use entity::status_event::EventKind;
use entity::user::{self, UserStatus};
use entity::{organization, share};

use crate::auth::Actor;
use crate::domain::{Input, Name, text};
use crate::error::{AppError, AppResult};
use crate::events::{self, NewEvent};
use crate::service::page::{self, Page, Window};
use crate::service::{Services, Work, ensure_not_busy, lock_user};

/// An organization by its exact, case-sensitive name (ADMIN only).
pub async fn find_organization(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    name: &str,
) -> AppResult<Option<organization::Model>> {
    actor.require_admin()?;
    // Exact: not trimmed, so a name with surrounding spaces matches nothing, as no stored
    // name has them.
    let name = text::exact(name, Name::MAX_CHARS)
        .map_err(|reason| AppError::refused(Input::OrganizationName, reason))?;
    Ok(organization::Entity::find()
        .filter(organization::Column::Name.eq(name))
        .one(conn)
        .await?
        // Some databases compare case-insensitively under some collations; the rule is exact.
        .filter(|o| o.name == name))
}

/// Shares drivers with a partner, all or nothing, until `expires_at` (in the future) or for
/// good; already shared drivers stay shared, with the new expiry.
pub async fn share_drivers(
    svc: &Services,
    actor: &Actor,
    partner_id: Uuid,
    driver_ids: Vec<Uuid>,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<Vec<share::Model>> {
    actor.require_admin()?;
    check_share(actor, partner_id, &driver_ids, expires_at)?;
    let mut ids = driver_ids;
    ids.sort();
    ids.dedup();
    let mut work = Work::begin(&svc.db).await?;
    organization::Entity::find_by_id(partner_id)
        .one(&*work)
        .await?
        .ok_or_else(|| AppError::not_found("partner organization"))?;
    let mut shares = Vec::with_capacity(ids.len());
    for id in ids {
        let driver = shareable_driver(&work, actor, id).await?;
        shares.push(share_one(&mut work, actor, &driver, partner_id, expires_at).await?);
    }
    work.commit(&svc.outlets).await?;
    Ok(shares)
}

/// The rules a share request meets on its own: a future expiry, another organization, 1 to
/// 500 drivers.
fn check_share(
    actor: &Actor,
    partner_id: Uuid,
    driver_ids: &[Uuid],
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<()> {
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::refused(Input::ExpiresAt, "must be in the future"));
    }
    if partner_id == actor.organization_id {
        return Err(AppError::refused(
            Input::PartnerId,
            "drivers cannot be shared with their own organization",
        ));
    }
    if driver_ids.is_empty() {
        return Err(AppError::refused(
            Input::DriverIds,
            "name at least one driver",
        ));
    }
    if driver_ids.len() > 500 {
        return Err(AppError::refused(
            Input::DriverIds,
            "at most 500 drivers at once",
        ));
    }
    Ok(())
}

/// A driver of the actor's organization, locked, that has accepted its invitation.
async fn shareable_driver(work: &Work, actor: &Actor, id: Uuid) -> AppResult<user::Model> {
    let driver = lock_user(&**work, id)
        .await?
        .filter(|u| u.is_driver && u.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("driver"))?;
    if driver.status == UserStatus::Invited {
        return Err(AppError::conflict("an INVITED driver cannot be shared"));
    }
    Ok(driver)
}

/// Shares `driver` with `partner_id` until `expires_at`, with its SHARED event; an existing
/// share only gets the new expiry.
async fn share_one(
    work: &mut Work,
    actor: &Actor,
    driver: &user::Model,
    partner_id: Uuid,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<share::Model> {
    let existing = share::Entity::find()
        .filter(share::Column::DriverId.eq(driver.id))
        .filter(share::Column::PartnerId.eq(partner_id))
        .one(&**work)
        .await?;
    if let Some(existing) = existing {
        return set_expiry(&**work, existing, expires_at).await;
    }
    let share = share::ActiveModel {
        id: Set(Uuid::now_v7()),
        driver_id: Set(driver.id),
        owner_id: Set(actor.organization_id),
        partner_id: Set(partner_id),
        shared_by: Set(Some(actor.user_id)),
        shared_at: Set(Utc::now()),
        expires_at: Set(expires_at),
    }
    .insert(&**work)
    .await?;
    let mut event = NewEvent::same_status(EventKind::Shared, driver);
    event.partner_id = Some(partner_id);
    let event = events::append(&**work, driver, event).await?;
    work.event(event);
    Ok(share)
}

/// Gives an existing share a new expiry (none: for good).
async fn set_expiry(
    conn: &impl ConnectionTrait,
    share: share::Model,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<share::Model> {
    if share.expires_at == expires_at {
        return Ok(share);
    }
    let mut active = share.into_active_model();
    active.expires_at = Set(expires_at);
    Ok(active.update(conn).await?)
}

/// The partner ends a share granted to it (ADMIN); refused while the driver is on one of its
/// PLANNED or IN_PROGRESS routes. Returns the ended share.
pub async fn release(svc: &Services, actor: &Actor, driver_id: Uuid) -> AppResult<share::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let driver = lock_user(&*work, driver_id)
        .await?
        .filter(|u| u.is_driver)
        .ok_or_else(|| AppError::not_found("driver"))?;
    let share = share::Entity::find()
        .filter(share::Column::DriverId.eq(driver.id))
        .filter(share::Column::PartnerId.eq(actor.organization_id))
        .one(&*work)
        .await?
        .ok_or_else(|| AppError::not_found("driver"))?;
    actor.require_admin()?;
    ensure_not_busy(&*work, driver.id, Some(actor.organization_id)).await?;
    share::Entity::delete_by_id(share.id).exec(&*work).await?;
    let mut event = NewEvent::same_status(EventKind::Unshared, &driver);
    event.partner_id = Some(actor.organization_id);
    let event = events::append(&*work, &driver, event).await?;
    work.event(event);
    work.commit(&svc.outlets).await?;
    Ok(share)
}

/// Ends one share, instantly; refused while the driver is on an active route of that partner.
pub async fn unshare_driver(
    svc: &Services,
    actor: &Actor,
    driver_id: Uuid,
    partner_id: Uuid,
) -> AppResult<user::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let driver = lock_user(&*work, driver_id)
        .await?
        .filter(|u| u.is_driver && u.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("driver"))?;
    actor.require_admin()?;
    let share = share::Entity::find()
        .filter(share::Column::DriverId.eq(driver.id))
        .filter(share::Column::PartnerId.eq(partner_id))
        .one(&*work)
        .await?
        .ok_or_else(|| AppError::not_found("share"))?;
    ensure_not_busy(&*work, driver.id, Some(partner_id)).await?;
    share::Entity::delete_by_id(share.id).exec(&*work).await?;
    let mut event = NewEvent::same_status(EventKind::Unshared, &driver);
    event.partner_id = Some(partner_id);
    let event = events::append(&*work, &driver, event).await?;
    work.event(event);
    work.commit(&svc.outlets).await?;
    Ok(driver)
}

/// Shares granted to the actor's organization (the partner view); managers only.
pub fn with_us(actor: &Actor) -> AppResult<Select<share::Entity>> {
    actor.require_manager()?;
    Ok(share::Entity::find().filter(share::Column::PartnerId.eq(actor.organization_id)))
}

/// Shares granted to the actor's organization whose drivers match `filter`; managers only.
pub fn with_us_filtered(
    actor: &Actor,
    filter: &crate::service::driver::DriverFilter,
) -> AppResult<Select<share::Entity>> {
    Ok(with_us(actor)?.filter(
        share::Column::DriverId.in_subquery(crate::service::driver::matching_ids(actor, filter)),
    ))
}

/// Shares the actor's organization granted; managers only.
pub fn by_us(actor: &Actor) -> AppResult<Select<share::Entity>> {
    actor.require_manager()?;
    Ok(share::Entity::find().filter(share::Column::OwnerId.eq(actor.organization_id)))
}

/// One page of shares.
pub async fn list(
    conn: &impl ConnectionTrait,
    select: Select<share::Entity>,
    window: Window,
) -> AppResult<Page<share::Model>> {
    page::fetch(conn, select, share::Column::Id, window).await
}

/// How many shares.
pub async fn count(conn: &impl ConnectionTrait, select: Select<share::Entity>) -> AppResult<i64> {
    Ok(select.count(conn).await? as i64)
}

/// Whether the actor may see the share: as owner or as partner (managers), never as a DRIVER.
pub fn visible(actor: &Actor, share: &share::Model) -> bool {
    actor.roles.is_manager()
        && (share.owner_id == actor.organization_id || share.partner_id == actor.organization_id)
}

/// The share, when visible.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<share::Model>> {
    Ok(share::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|s| visible(actor, s)))
}
