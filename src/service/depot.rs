//! Depots: where routes start; every role reads them, managers change them.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Select, Set,
};
use uuid::Uuid;

use entity::route;
use entity::{depot, user};

use crate::auth::Actor;
use crate::domain::{Address, Name, Timezone};
use crate::error::{AppError, AppResult};
use crate::service::page::{self, Page, Window};
use crate::service::{Services, Work, active_route_condition};

/// Input of `createDepot` and `updateDepot`.
#[derive(Debug, Clone)]
pub struct DepotInput {
    /// Name.
    pub name: Name,
    /// Address; `None` for none.
    pub address: Option<Address>,
    /// IANA zone.
    pub timezone: Timezone,
}

/// The organization's depots.
pub fn query(actor: &Actor) -> Select<depot::Entity> {
    depot::Entity::find().filter(depot::Column::OrganizationId.eq(actor.organization_id))
}

/// One page of depots.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    window: Window,
) -> AppResult<Page<depot::Model>> {
    page::fetch(conn, query(actor), depot::Column::Id, window).await
}

/// How many depots.
pub async fn count(conn: &impl ConnectionTrait, actor: &Actor) -> AppResult<i64> {
    Ok(query(actor).count(conn).await? as i64)
}

/// The depot, when it is the actor's organization's.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<depot::Model>> {
    Ok(depot::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|d| d.organization_id == actor.organization_id))
}

async fn own(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<depot::Model> {
    get(conn, actor, id)
        .await?
        .ok_or_else(|| AppError::not_found("depot"))
}

/// Creates a depot.
pub async fn create(svc: &Services, actor: &Actor, input: DepotInput) -> AppResult<depot::Model> {
    actor.require_manager()?;
    let now = Utc::now();
    let work = Work::begin(&svc.db).await?;
    let depot = depot::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(actor.organization_id),
        name: Set(input.name.into_inner()),
        address: Set(input.address.map(Address::into_inner)),
        timezone: Set(input.timezone.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*work)
    .await?;
    work.commit(&svc.outlets).await?;
    Ok(depot)
}

/// Replaces a depot's name, address and timezone.
pub async fn update(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    input: DepotInput,
) -> AppResult<depot::Model> {
    let work = Work::begin(&svc.db).await?;
    let depot = own(&*work, actor, id).await?;
    actor.require_manager()?;
    let mut active = depot.into_active_model();
    active.name = Set(input.name.into_inner());
    active.address = Set(input.address.map(Address::into_inner));
    active.timezone = Set(input.timezone.into_inner());
    active.updated_at = Set(Utc::now());
    let depot = active.update(&*work).await?;
    work.commit(&svc.outlets).await?;
    Ok(depot)
}

/// Deletes a depot, unassigning its drivers; refused while it has PLANNED or IN_PROGRESS routes.
pub async fn delete(svc: &Services, actor: &Actor, id: Uuid) -> AppResult<Uuid> {
    let work = Work::begin(&svc.db).await?;
    let depot = own(&*work, actor, id).await?;
    actor.require_manager()?;
    let active_routes = route::Entity::find()
        .filter(route::Column::DepotId.eq(depot.id))
        .filter(active_route_condition())
        .count(&*work)
        .await?;
    if active_routes > 0 {
        return Err(AppError::conflict(
            "the depot has PLANNED or IN_PROGRESS routes",
        ));
    }
    user::Entity::update_many()
        .col_expr(user::Column::DepotId, Expr::value(Option::<Uuid>::None))
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::DepotId.eq(depot.id))
        .exec(&*work)
        .await?;
    depot::Entity::delete_by_id(depot.id).exec(&*work).await?;
    work.commit(&svc.outlets).await?;
    Ok(depot.id)
}

/// The order key of depots by name in `direction`.
pub fn order_by_name(direction: page::Direction) -> page::OrderKey<depot::Column> {
    page::OrderKey {
        column: depot::Column::Name,
        kind: page::KeyKind::Text,
        direction,
        list: "depots",
        name: "NAME",
    }
}

/// One page of depots in the order of `key`.
pub async fn list_ordered(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    key: &page::OrderKey<depot::Column>,
    window: &page::OrderedWindow,
) -> AppResult<page::OrderedPage<depot::Model>> {
    page::fetch_ordered(conn, query(actor), key, depot::Column::Id, |d| d.id, window).await
}
