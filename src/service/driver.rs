//! Drivers: the driver cards of users with the DRIVER role, their availability, and
//! ACTIVE/INACTIVE. A driver is visible to its organization and to partners it is shared with.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Select, Set,
};
use uuid::Uuid;

use entity::route;
use entity::share;
use entity::status_event::EventKind;
use entity::user::{self, UserStatus};

use crate::auth::Actor;
use crate::domain::Search;
use crate::error::{AppError, AppResult};
use crate::events::{self, NewEvent};
use crate::service::page::{self, Page, Window};
use crate::service::user::{ensure_other_active_admin, search_condition};
use crate::service::{Services, Work, ensure_not_busy, lock_organization, lock_user};

/// Filters of driver lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DriverFilter {
    /// Any of these statuses.
    pub status: Option<Vec<UserStatus>>,
    /// Of this depot.
    pub depot_id: Option<Uuid>,
    /// ACTIVE and not on a PLANNED or IN_PROGRESS route (or the opposite).
    pub available: Option<bool>,
    /// Case-insensitive substring of first name, last name or email.
    pub search: Option<Search>,
    /// Also the drivers shared with the organization (managers only; route planning).
    pub include_shared: bool,
}

/// Drivers on a PLANNED or IN_PROGRESS route, as a subquery.
fn busy_drivers() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(route::Column::DriverId)
        .from(route::Entity)
        .and_where(Expr::col(route::Column::DriverId).is_not_null())
        .and_where(crate::service::active_route_condition())
        .to_owned()
}

/// Applies a filter to a drivers query.
pub fn apply_filter(mut q: Select<user::Entity>, filter: &DriverFilter) -> Select<user::Entity> {
    if let Some(statuses) = &filter.status {
        q = q.filter(user::Column::Status.is_in(statuses.clone()));
    }
    if let Some(depot_id) = filter.depot_id {
        q = q.filter(user::Column::DepotId.eq(depot_id));
    }
    match filter.available {
        Some(true) => {
            q = q
                .filter(user::Column::Status.eq(UserStatus::Active))
                .filter(user::Column::Id.not_in_subquery(busy_drivers()));
        }
        Some(false) => {
            q = q.filter(
                Condition::any()
                    .add(user::Column::Status.ne(UserStatus::Active))
                    .add(user::Column::Id.in_subquery(busy_drivers())),
            );
        }
        None => {}
    }
    if let Some(search) = &filter.search {
        q = q.filter(search_condition(search));
    }
    q
}

/// The organization's drivers (a DRIVER sees only itself), filtered.
pub fn query(actor: &Actor, filter: &DriverFilter) -> Select<user::Entity> {
    let mut q = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(actor.organization_id))
        .filter(user::Column::IsDriver.eq(true));
    if !actor.roles.is_manager() {
        q = q.filter(user::Column::Id.eq(actor.user_id));
    }
    apply_filter(q, filter)
}

/// Drivers whose depot is one of the actor's organization: a depot filter never matches a
/// shared driver through its owner's depot, which the partner may not see.
pub fn in_own_depot(actor: &Actor) -> Condition {
    let own = Query::select()
        .column(entity::depot::Column::Id)
        .from(entity::depot::Entity)
        .and_where(Expr::col(entity::depot::Column::OrganizationId).eq(actor.organization_id))
        .to_owned();
    Condition::all().add(user::Column::DepotId.in_subquery(own))
}

/// The ids of the drivers matching `filter`, as a subquery (the drivers of shares, filtered).
pub fn matching_ids(actor: &Actor, filter: &DriverFilter) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::QueryTrait;
    let mut q = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::IsDriver.eq(true));
    if filter.depot_id.is_some() {
        q = q.filter(in_own_depot(actor));
    }
    apply_filter(q, filter).into_query()
}

/// The list as disjoint parts, each one index range: the organization's own drivers, and
/// with `include_shared` (managers) those shared with it.
fn parts(actor: &Actor, filter: &DriverFilter) -> Vec<Select<user::Entity>> {
    let mut parts = vec![query(actor, filter)];
    if filter.include_shared && actor.roles.is_manager() {
        let shared = Query::select()
            .column(share::Column::DriverId)
            .from(share::Entity)
            .and_where(Expr::col(share::Column::PartnerId).eq(actor.organization_id))
            .to_owned();
        let mut q = user::Entity::find()
            .filter(user::Column::Id.in_subquery(shared))
            .filter(user::Column::OrganizationId.ne(actor.organization_id))
            .filter(user::Column::IsDriver.eq(true));
        if filter.depot_id.is_some() {
            q = q.filter(in_own_depot(actor));
        }
        parts.push(apply_filter(q, filter));
    }
    parts
}

/// One page of the organization's drivers.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &DriverFilter,
    window: Window,
) -> AppResult<Page<user::Model>> {
    let mut parts = parts(actor, filter);
    if parts.len() > 1 {
        return page::fetch_union(conn, parts, user::Column::Id, window).await;
    }
    let only = parts.remove(0);
    page::fetch(conn, only, user::Column::Id, window).await
}

/// How many drivers match.
pub async fn count(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &DriverFilter,
) -> AppResult<i64> {
    let mut total = 0;
    for part in parts(actor, filter) {
        total += part.count(conn).await? as i64;
    }
    Ok(total)
}

/// One page of drivers for each of `depots`, with the same filter and window, in one statement.
pub async fn list_per_depot(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &DriverFilter,
    window: Window,
    depots: &[Uuid],
) -> AppResult<HashMap<Uuid, Page<user::Model>>> {
    page::fetch_per_parent(
        conn,
        query(actor, filter),
        user::Column::Id,
        user::Column::DepotId,
        |driver| driver.depot_id,
        depots,
        window,
    )
    .await
}

/// How many drivers match in each of `depots`, in one statement.
pub async fn count_per_depot(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &DriverFilter,
    depots: &[Uuid],
) -> AppResult<HashMap<Uuid, i64>> {
    let counted: Vec<(Option<Uuid>, i64)> = query(actor, filter)
        .filter(user::Column::DepotId.is_in(depots.iter().copied()))
        .select_only()
        .column(user::Column::DepotId)
        .column_as(Expr::col(user::Column::Id).count(), "drivers")
        .group_by(user::Column::DepotId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut totals: HashMap<Uuid, i64> = depots.iter().map(|d| (*d, 0)).collect();
    for (depot, n) in counted {
        if let Some(depot) = depot {
            totals.insert(depot, n);
        }
    }
    Ok(totals)
}

/// Whether the actor sees this driver as its owner (same organization; a DRIVER only itself).
pub fn owner_view(actor: &Actor, driver: &user::Model) -> bool {
    driver.is_driver
        && driver.organization_id == actor.organization_id
        && (actor.roles.is_manager() || driver.id == actor.user_id)
}

/// Whether the actor may see `driver` as a partner, once it is shared with the actor's
/// organization: a driver seen by a manager.
pub fn partner_view(actor: &Actor, driver: &user::Model) -> bool {
    driver.is_driver && actor.roles.is_manager()
}

/// The driver card, when visible to the actor as owner or as partner.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<user::Model>> {
    let Some(driver) = user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|u| u.is_driver)
    else {
        return Ok(None);
    };
    if owner_view(actor, &driver) {
        return Ok(Some(driver));
    }
    if partner_view(actor, &driver) && is_shared_with(conn, id, actor.organization_id).await? {
        return Ok(Some(driver));
    }
    Ok(None)
}

/// Whether the driver is shared with `partner_id` now.
pub async fn is_shared_with(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
    partner_id: Uuid,
) -> AppResult<bool> {
    Ok(share::Entity::find()
        .filter(share::Column::DriverId.eq(driver_id))
        .filter(share::Column::PartnerId.eq(partner_id))
        .count(conn)
        .await?
        > 0)
}

/// Whether the driver is shared with `partner_id` and its share has not expired: what
/// assigning it to a new route of the partner takes (an expired share may still be waiting
/// for the sweep, or for a route of the partner the driver is on, to end it).
pub async fn share_in_force(
    conn: &impl ConnectionTrait,
    driver_id: Uuid,
    partner_id: Uuid,
) -> AppResult<bool> {
    Ok(share::Entity::find()
        .filter(share::Column::DriverId.eq(driver_id))
        .filter(share::Column::PartnerId.eq(partner_id))
        .filter(
            Condition::any()
                .add(share::Column::ExpiresAt.is_null())
                .add(share::Column::ExpiresAt.gt(Utc::now())),
        )
        .count(conn)
        .await?
        > 0)
}

/// An own driver, locked for change; NOT_FOUND for anything else.
async fn own_driver_for_change(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<user::Model> {
    lock_user(conn, id)
        .await?
        .filter(|u| u.is_driver && u.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("driver"))
}

/// Sets an ACTIVE driver INACTIVE; refused while it is on a PLANNED or IN_PROGRESS route.
pub async fn set_inactive(svc: &Services, actor: &Actor, id: Uuid) -> AppResult<user::Model> {
    let mut work = Work::begin(&svc.db).await?;
    lock_organization(&*work, actor.organization_id).await?;
    let driver = own_driver_for_change(&*work, actor, id).await?;
    actor.require_manager()?;
    match driver.status {
        UserStatus::Inactive => return Ok(driver),
        UserStatus::Invited => {
            return Err(AppError::conflict(
                "an INVITED driver cannot be set INACTIVE",
            ));
        }
        UserStatus::Active => {}
    }
    ensure_not_busy(&*work, driver.id, None).await?;
    if driver.is_admin {
        // An INACTIVE admin is no longer an ACTIVE ADMIN: the last one must stay.
        ensure_other_active_admin(&*work, &driver).await?;
    }
    let driver = set_status(&*work, driver, UserStatus::Inactive).await?;
    let event = events::append(
        &*work,
        &driver,
        NewEvent::transition(
            EventKind::Deactivated,
            Some(UserStatus::Active),
            Some(UserStatus::Inactive),
        ),
    )
    .await?;
    work.event(event);
    work.commit(&svc.outlets).await?;
    Ok(driver)
}

/// Sets an INACTIVE driver ACTIVE again.
pub async fn set_active(svc: &Services, actor: &Actor, id: Uuid) -> AppResult<user::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let driver = own_driver_for_change(&*work, actor, id).await?;
    actor.require_manager()?;
    match driver.status {
        UserStatus::Active => return Ok(driver),
        UserStatus::Invited => {
            return Err(AppError::conflict(
                "an INVITED driver becomes ACTIVE by accepting the invitation",
            ));
        }
        UserStatus::Inactive => {}
    }
    let driver = set_status(&*work, driver, UserStatus::Active).await?;
    let event = events::append(
        &*work,
        &driver,
        NewEvent::transition(
            EventKind::Reactivated,
            Some(UserStatus::Inactive),
            Some(UserStatus::Active),
        ),
    )
    .await?;
    work.event(event);
    work.commit(&svc.outlets).await?;
    Ok(driver)
}

async fn set_status(
    conn: &impl ConnectionTrait,
    driver: user::Model,
    status: UserStatus,
) -> AppResult<user::Model> {
    let mut active = driver.into_active_model();
    active.status = Set(status);
    active.updated_at = Set(Utc::now());
    Ok(active.update(conn).await?)
}

/// One page of the organization's drivers in the order of `key`.
pub async fn list_ordered(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &DriverFilter,
    key: &page::OrderKey<user::Column>,
    window: &page::OrderedWindow,
) -> AppResult<page::OrderedPage<user::Model>> {
    let mut parts = parts(actor, filter);
    if parts.len() > 1 {
        return page::fetch_ordered_union(conn, parts, key, user::Column::Id, |u| u.id, window)
            .await;
    }
    let only = parts.remove(0);
    page::fetch_ordered(conn, only, key, user::Column::Id, |u| u.id, window).await
}
