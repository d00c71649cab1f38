//! Routes, the minimum the user rules need: planning, driver assignment (own or shared
//! drivers), start, completion and cancellation.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Select, Set,
};
use uuid::Uuid;

use entity::depot;
use entity::route::{self, RouteStatus};
use entity::status_event::{self, EventKind};
use entity::user::{self, UserStatus};

use crate::auth::Actor;
use crate::domain::Name;
use crate::error::{AppError, AppResult};
use crate::events::{self, NewEvent};
use crate::service::driver::share_in_force;
use crate::service::page::{self, Page, Window};
use crate::service::{Services, Work, active_route_of, expiry, lock_user, route_is_active};

/// Filters of `organization.routes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RouteFilter {
    /// Any of these statuses.
    pub status: Option<Vec<RouteStatus>>,
    /// Assigned to this driver.
    pub driver_id: Option<Uuid>,
    /// Starting from this depot.
    pub depot_id: Option<Uuid>,
}

/// Input of `createRoute`.
#[derive(Debug, Clone)]
pub struct NewRoute {
    /// Name.
    pub name: Name,
    /// Planned start.
    pub planned_start: DateTime<Utc>,
    /// Depot.
    pub depot_id: Option<Uuid>,
}

/// The organization's routes (a DRIVER sees only its own), filtered.
pub fn query(actor: &Actor, filter: &RouteFilter) -> Select<route::Entity> {
    let mut q =
        route::Entity::find().filter(route::Column::OrganizationId.eq(actor.organization_id));
    if !actor.roles.is_manager() {
        q = q.filter(route::Column::DriverId.eq(actor.user_id));
    }
    if let Some(statuses) = &filter.status {
        q = q.filter(route::Column::Status.is_in(statuses.clone()));
    }
    if let Some(driver_id) = filter.driver_id {
        q = q.filter(route::Column::DriverId.eq(driver_id));
    }
    if let Some(depot_id) = filter.depot_id {
        q = q.filter(route::Column::DepotId.eq(depot_id));
    }
    q
}

/// Routes assigned to drivers, as the actor may see them: a driver sees every route of its own
/// (its partners' included), a manager its organization's routes of any driver; each query
/// restricts it to the drivers it is about.
pub fn of_drivers(actor: &Actor, filter: &RouteFilter) -> Select<route::Entity> {
    let own = actor
        .roles
        .driver
        .then(|| route::Column::DriverId.eq(actor.user_id));
    let organization = actor
        .roles
        .is_manager()
        .then(|| route::Column::OrganizationId.eq(actor.organization_id));
    // Every member has a role, so one of the two holds; without either, nothing is seen.
    let nothing = (own.is_none() && organization.is_none()).then(|| route::Column::Id.is_null());
    let seen = [own, organization, nothing]
        .into_iter()
        .flatten()
        .fold(Condition::any(), Condition::add);
    let mut q = route::Entity::find()
        .filter(route::Column::DriverId.is_not_null())
        .filter(seen);
    if let Some(statuses) = &filter.status {
        q = q.filter(route::Column::Status.is_in(statuses.clone()));
    }
    if let Some(driver_id) = filter.driver_id {
        q = q.filter(route::Column::DriverId.eq(driver_id));
    }
    if let Some(depot_id) = filter.depot_id {
        q = q.filter(route::Column::DepotId.eq(depot_id));
    }
    q
}

/// One page of visible routes for each of `drivers`, with the same filter and window, in one
/// statement.
pub async fn list_per_driver(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    window: Window,
    drivers: &[Uuid],
) -> AppResult<HashMap<Uuid, Page<route::Model>>> {
    page::fetch_per_parent(
        conn,
        of_drivers(actor, filter),
        route::Column::Id,
        route::Column::DriverId,
        |route| route.driver_id,
        drivers,
        window,
    )
    .await
}

/// [`list_per_driver`] in the order of `key`: one keyset page per driver, in one statement.
pub async fn list_per_driver_ordered(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    key: &page::OrderKey<route::Column>,
    window: &page::OrderedWindow,
    drivers: &[Uuid],
) -> AppResult<HashMap<Uuid, page::OrderedPage<route::Model>>> {
    page::fetch_ordered_per_parent(
        conn,
        of_drivers(actor, filter),
        key,
        route::Column::Id,
        |route| route.id,
        (route::Column::DriverId, |route: &route::Model| {
            route.driver_id
        }),
        drivers,
        window,
    )
    .await
}

/// How many visible routes match for each of `drivers`, in one statement.
pub async fn count_per_driver(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    drivers: &[Uuid],
) -> AppResult<HashMap<Uuid, i64>> {
    let counted: Vec<(Option<Uuid>, i64)> = of_drivers(actor, filter)
        .filter(route::Column::DriverId.is_in(drivers.iter().copied()))
        .select_only()
        .column(route::Column::DriverId)
        .column_as(Expr::col(route::Column::Id).count(), "routes")
        .group_by(route::Column::DriverId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut totals: HashMap<Uuid, i64> = drivers.iter().map(|d| (*d, 0)).collect();
    for (driver, n) in counted {
        if let Some(driver) = driver {
            totals.insert(driver, n);
        }
    }
    Ok(totals)
}

/// One page of routes.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    window: Window,
) -> AppResult<Page<route::Model>> {
    page::fetch(conn, query(actor, filter), route::Column::Id, window).await
}

/// How many routes match.
pub async fn count(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
) -> AppResult<i64> {
    Ok(query(actor, filter).count(conn).await? as i64)
}

/// Whether the actor may see the route: a manager its organization's; a DRIVER the routes
/// assigned to it, its partners' included.
pub fn visible(actor: &Actor, route: &route::Model) -> bool {
    drives(actor, route)
        || (route.organization_id == actor.organization_id && actor.roles.is_manager())
}

/// Whether the route is assigned to the actor itself, as a DRIVER.
pub fn drives(actor: &Actor, route: &route::Model) -> bool {
    actor.roles.driver && route.driver_id == Some(actor.user_id)
}

/// Whether the actor sees the route from another organization (a shared driver on a
/// partner's route): the route's organization and depot records are not for it.
pub fn partner_view(actor: &Actor, route: &route::Model) -> bool {
    route.organization_id != actor.organization_id
}

/// The route, when visible.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<route::Model>> {
    Ok(route::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|r| visible(actor, r)))
}

/// An own route locked for change; NOT_FOUND otherwise.
async fn own_for_change(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<route::Model> {
    route::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await?
        .filter(|r| r.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("route"))
}

/// A route the actor may start or complete (own, or a partner's assigned to it), locked for
/// change; NOT_FOUND otherwise.
async fn drivable_for_change(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<route::Model> {
    route::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await?
        .filter(|r| r.organization_id == actor.organization_id || drives(actor, r))
        .ok_or_else(|| AppError::not_found("route"))
}

/// Plans a route.
pub async fn create(svc: &Services, actor: &Actor, input: NewRoute) -> AppResult<route::Model> {
    actor.require_manager()?;
    let work = Work::begin(&svc.db).await?;
    let depot = match input.depot_id {
        Some(depot_id) => Some(
            depot::Entity::find_by_id(depot_id)
                .one(&*work)
                .await?
                .filter(|d| d.organization_id == actor.organization_id)
                .ok_or_else(|| AppError::not_found("depot"))?,
        ),
        None => None,
    };
    let now = Utc::now();
    let route = route::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(actor.organization_id),
        name: Set(input.name.into_inner()),
        planned_start: Set(input.planned_start),
        status: Set(RouteStatus::Planned),
        depot_id: Set(input.depot_id),
        driver_id: Set(None),
        driver_name: Set(None),
        depot_name: Set(depot.as_ref().map(|d| d.name.clone())),
        depot_address: Set(depot.and_then(|d| d.address)),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*work)
    .await?;
    work.commit(&svc.outlets).await?;
    Ok(route)
}

/// Assigns an ACTIVE, free driver (own, or shared with the organization) to a PLANNED route.
pub async fn assign(
    svc: &Services,
    actor: &Actor,
    route_id: Uuid,
    driver_id: Uuid,
) -> AppResult<route::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let route = own_for_change(&*work, actor, route_id).await?;
    actor.require_manager()?;
    let driver = lock_user(&*work, driver_id).await?.filter(|u| u.is_driver);
    let driver = match driver {
        Some(d) if d.organization_id == actor.organization_id => d,
        Some(d) if share_in_force(&*work, d.id, actor.organization_id).await? => d,
        _ => return Err(AppError::not_found("driver")),
    };
    if route.status != RouteStatus::Planned {
        return Err(AppError::conflict(
            "only a PLANNED route can be assigned a driver",
        ));
    }
    if route.driver_id == Some(driver.id) {
        return Ok(route);
    }
    if driver.status != UserStatus::Active {
        let status = format!("{:?}", driver.status).to_uppercase();
        return Err(AppError::conflict(format!(
            "the driver is {status} and cannot be assigned"
        )));
    }
    if active_route_of(&*work, driver.id).await?.is_some() {
        return Err(AppError::conflict(
            "the driver is already on a PLANNED or IN_PROGRESS route",
        ));
    }
    let mut events = Vec::new();
    if let Some(previous) = route.driver_id {
        events.extend(unassigned_event(&*work, &route, previous).await?);
    }
    let mut active = route.into_active_model();
    active.driver_id = Set(Some(driver.id));
    active.driver_name = Set(Some(full_name(&driver)));
    active.updated_at = Set(Utc::now());
    let route = active.update(&*work).await?;
    let event = route_event(EventKind::Assigned, &driver, &route);
    events.push(events::append(&*work, &driver, event).await?);
    work.events(events);
    work.commit(&svc.outlets).await?;
    Ok(route)
}

async fn unassigned_event(
    conn: &impl ConnectionTrait,
    route: &route::Model,
    driver_id: Uuid,
) -> AppResult<Option<status_event::Model>> {
    let Some(driver) = user::Entity::find_by_id(driver_id).one(conn).await? else {
        return Ok(None);
    };
    let event = route_event(EventKind::Unassigned, &driver, route);
    Ok(Some(events::append(conn, &driver, event).await?))
}

/// Removes the driver from a PLANNED route.
pub async fn unassign(svc: &Services, actor: &Actor, route_id: Uuid) -> AppResult<route::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let route = own_for_change(&*work, actor, route_id).await?;
    actor.require_manager()?;
    if route.status != RouteStatus::Planned {
        return Err(AppError::conflict("only a PLANNED route can be unassigned"));
    }
    let Some(previous) = route.driver_id else {
        return Ok(route);
    };
    let mut events: Vec<_> = unassigned_event(&*work, &route, previous)
        .await?
        .into_iter()
        .collect();
    let mut active = route.into_active_model();
    active.driver_id = Set(None);
    active.driver_name = Set(None);
    active.updated_at = Set(Utc::now());
    let route = active.update(&*work).await?;
    events.extend(expired_share_event(&*work, &route, Some(previous)).await?);
    work.events(events);
    work.commit(&svc.outlets).await?;
    Ok(route)
}

/// Whether the actor may start or complete the route: a manager of its organization, or the
/// route's own DRIVER (of a partner's route too).
fn may_drive(actor: &Actor, route: &route::Model) -> bool {
    (actor.roles.is_manager() && route.organization_id == actor.organization_id)
        || drives(actor, route)
}

/// "First Last", as routes keep it.
fn full_name(driver: &user::Model) -> String {
    format!("{} {}", driver.first_name, driver.last_name)
}

/// PLANNED → IN_PROGRESS; the route needs a driver.
pub async fn start(svc: &Services, actor: &Actor, route_id: Uuid) -> AppResult<route::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let route = drivable_for_change(&*work, actor, route_id).await?;
    if !may_drive(actor, &route) {
        return Err(AppError::forbidden());
    }
    if route.status != RouteStatus::Planned {
        return Err(AppError::conflict("only a PLANNED route can be started"));
    }
    if route.driver_id.is_none() {
        return Err(AppError::conflict("a route needs a driver to start"));
    }
    let route = set_status(&*work, route, RouteStatus::InProgress, None).await?;
    let events = progress_event(&*work, &route, EventKind::RouteStarted).await?;
    work.events(events);
    work.commit(&svc.outlets).await?;
    Ok(route)
}

/// IN_PROGRESS → COMPLETED; records the driver's name and the time.
pub async fn complete(svc: &Services, actor: &Actor, route_id: Uuid) -> AppResult<route::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let route = drivable_for_change(&*work, actor, route_id).await?;
    if !may_drive(actor, &route) {
        return Err(AppError::forbidden());
    }
    if route.status != RouteStatus::InProgress {
        return Err(AppError::conflict(
            "only an IN_PROGRESS route can be completed",
        ));
    }
    let driver_name = match route.driver_id {
        Some(id) => user::Entity::find_by_id(id)
            .one(&*work)
            .await?
            .map(|d| full_name(&d)),
        None => None,
    }
    .or_else(|| route.driver_name.clone());
    let route = set_status(&*work, route, RouteStatus::Completed, Some(driver_name)).await?;
    let mut events = progress_event(&*work, &route, EventKind::RouteCompleted).await?;
    events.extend(expired_share_event(&*work, &route, route.driver_id).await?);
    work.events(events);
    work.commit(&svc.outlets).await?;
    Ok(route)
}

/// PLANNED or IN_PROGRESS → CANCELLED.
pub async fn cancel(svc: &Services, actor: &Actor, route_id: Uuid) -> AppResult<route::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let route = own_for_change(&*work, actor, route_id).await?;
    actor.require_manager()?;
    if !route_is_active(route.status) {
        return Err(AppError::conflict(
            "only a PLANNED or IN_PROGRESS route can be cancelled",
        ));
    }
    let route = set_status(&*work, route, RouteStatus::Cancelled, None).await?;
    let mut events = progress_event(&*work, &route, EventKind::RouteCancelled).await?;
    events.extend(expired_share_event(&*work, &route, route.driver_id).await?);
    work.events(events);
    work.commit(&svc.outlets).await?;
    Ok(route)
}

/// The ROUTE_* event of a route with a driver that changed status (none without a driver).
/// On a partner's route the event names that partner for the driver's owner.
async fn progress_event(
    conn: &impl ConnectionTrait,
    route: &route::Model,
    kind: EventKind,
) -> AppResult<Vec<status_event::Model>> {
    let Some(driver_id) = route.driver_id else {
        return Ok(Vec::new());
    };
    let Some(driver) = user::Entity::find_by_id(driver_id).one(conn).await? else {
        return Ok(Vec::new());
    };
    let event = route_event(kind, &driver, route);
    Ok(vec![events::append(conn, &driver, event).await?])
}

/// When `driver_id` of another organization leaves the partner's `route` (it ended, or the
/// driver was taken off it), its share with that partner ends too if it expired meanwhile.
async fn expired_share_event(
    conn: &impl ConnectionTrait,
    route: &route::Model,
    driver_id: Option<Uuid>,
) -> AppResult<Vec<status_event::Model>> {
    let Some(driver_id) = driver_id else {
        return Ok(Vec::new());
    };
    let Some(driver) = user::Entity::find_by_id(driver_id).one(conn).await? else {
        return Ok(Vec::new());
    };
    if driver.organization_id == route.organization_id {
        return Ok(Vec::new());
    }
    let ended = expiry::end_if_expired(conn, &driver, route.organization_id).await?;
    Ok(ended.into_iter().collect())
}

/// An event about `driver` on `route`; on a partner's route it names that partner.
fn route_event(kind: EventKind, driver: &user::Model, route: &route::Model) -> NewEvent {
    let mut event = NewEvent::same_status(kind, driver);
    event.route = Some((route.id, route.organization_id));
    event.partner_id =
        (route.organization_id != driver.organization_id).then_some(route.organization_id);
    event
}

async fn set_status(
    conn: &impl ConnectionTrait,
    route: route::Model,
    status: RouteStatus,
    driver_name: Option<Option<String>>,
) -> AppResult<route::Model> {
    let now = Utc::now();
    let mut active = route.into_active_model();
    active.status = Set(status);
    if let Some(name) = driver_name {
        active.driver_name = Set(name);
        active.completed_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    Ok(active.update(conn).await?)
}

/// What route lists may be ordered by (then by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOrderField {
    /// Planned start.
    PlannedStart,
    /// Name.
    Name,
    /// Status.
    Status,
}

/// The order key of `field` in `direction`, for the list named `list`.
pub fn order_key(
    list: &'static str,
    field: RouteOrderField,
    direction: page::Direction,
) -> page::OrderKey<route::Column> {
    use page::KeyKind::{Text, Time};
    let (column, kind, name) = match field {
        RouteOrderField::PlannedStart => (route::Column::PlannedStart, Time, "PLANNED_START"),
        RouteOrderField::Name => (route::Column::Name, Text, "NAME"),
        RouteOrderField::Status => (route::Column::Status, Text, "STATUS"),
    };
    page::OrderKey {
        column,
        kind,
        direction,
        list,
        name,
    }
}

/// One page of routes in the order of `key`.
pub async fn list_ordered(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    key: &page::OrderKey<route::Column>,
    window: &page::OrderedWindow,
) -> AppResult<page::OrderedPage<route::Model>> {
    page::fetch_ordered(
        conn,
        query(actor, filter),
        key,
        route::Column::Id,
        |r| r.id,
        window,
    )
    .await
}

/// One page, in the order of `key`, of the routes planned in `[from, to)` (either end open).
pub async fn list_planned_in(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &RouteFilter,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    key: &page::OrderKey<route::Column>,
    window: &page::OrderedWindow,
) -> AppResult<page::OrderedPage<route::Model>> {
    let mut q = query(actor, filter);
    if let Some(from) = from {
        q = q.filter(route::Column::PlannedStart.gte(from));
    }
    if let Some(to) = to {
        q = q.filter(route::Column::PlannedStart.lt(to));
    }
    page::fetch_ordered(conn, q, key, route::Column::Id, |r| r.id, window).await
}
