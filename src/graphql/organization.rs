//! Organizations: the viewer's own in full (with its lists), others as `OrganizationMatch`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use entity::organization;

use crate::graphql::boxed;
use crate::graphql::connection::{args, page_cost, total};
use crate::graphql::depot::{Depot, DepotConnection};
use crate::graphql::driver::{Driver, DriverConnection, DriverFilter};
use crate::graphql::events::{StatusEventConnection, StatusEventFilter};
use crate::graphql::ids::{self, Kind};
use crate::graphql::order::{DepotOrder, RouteOrder, UserOrder};
use crate::graphql::route::{Route, RouteConnection, RouteFilter};
use crate::graphql::share::{SharedDriver, SharedDriverConnection};
use crate::graphql::user::{User, UserConnection, UserFilter};
use crate::graphql::{Gql, actor, loader_error, loaders, state};
use crate::service;

/// Another organization as anyone may see it: id and name, nothing else.
#[derive(SimpleObject, Clone)]
pub struct OrganizationMatch {
    id: ID,
    name: String,
}

impl From<organization::Model> for OrganizationMatch {
    fn from(o: organization::Model) -> Self {
        Self {
            id: ids::encode(Kind::Organization, o.id),
            name: o.name,
        }
    }
}

/// The viewer's organization. Its lists need only its id; its row is read (through the
/// request's loader) only when a field of the row is selected, so a query that goes straight
/// to a list runs no statement for the organization itself.
pub struct Organization {
    id: Uuid,
    row: Option<organization::Model>,
}

impl From<organization::Model> for Organization {
    fn from(o: organization::Model) -> Self {
        Self {
            id: o.id,
            row: Some(o),
        }
    }
}

impl Organization {
    /// The organization the token is scoped to: it exists while the membership does, which
    /// the edge has checked.
    pub fn of(actor: &crate::auth::Actor) -> Self {
        Self {
            id: actor.organization_id,
            row: None,
        }
    }

    async fn row(&self, ctx: &Context<'_>) -> Result<organization::Model> {
        boxed(async move {
            if let Some(row) = &self.row {
                return Ok(row.clone());
            }
            loaders(ctx)?
                .organization()
                .load_one(self.id)
                .await
                .map_err(loader_error)?
                .ok_or_else(|| "organization not found".into())
        })
        .await
    }
}

#[Object]
impl Organization {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Organization, self.id)
    }

    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        boxed(async move { Ok(self.row(ctx).await?.name) }).await
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        boxed(async move { Ok(self.row(ctx).await?.created_at) }).await
    }

    // One parameter per GraphQL argument: the connection arguments, filter and order.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
        order_by: Option<UserOrder>,
    ) -> Result<UserConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let args = args(first, after, last, before);
            let filter = filter
                .map(UserFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            let conn = &state(ctx).db.conn;
            let total = || total(ctx, service::user::count(conn, &actor, &filter));
            if let Some(order) = order_by {
                let key = order.key("users");
                let window = args.ordered_window(&key).gql()?;
                let page = service::user::list_ordered(conn, &actor, &filter, &key, &window)
                    .await
                    .gql()?;
                crate::graphql::prefetch::users(ctx, &page.page.items).await?;
                return Ok(UserConnection::ordered(page, total().await?, User));
            }
            let window = args.window().gql()?;
            let page = service::user::list(conn, &actor, &filter, window)
                .await
                .gql()?;
            crate::graphql::prefetch::users(ctx, &page.items).await?;
            Ok(UserConnection::new(page, total().await?, User))
        })
        .await
    }

    /// The organization's drivers; with filter.includeShared also the drivers shared with it (route planning).
    // One parameter per GraphQL argument: the connection arguments, filter and order.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn drivers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<DriverFilter>,
        order_by: Option<UserOrder>,
    ) -> Result<DriverConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let args = args(first, after, last, before);
            let filter = filter
                .map(DriverFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            let conn = &state(ctx).db.conn;
            let total = || total(ctx, service::driver::count(conn, &actor, &filter));
            if let Some(order) = order_by {
                let key = order.key("drivers");
                let window = args.ordered_window(&key).gql()?;
                let page = service::driver::list_ordered(conn, &actor, &filter, &key, &window)
                    .await
                    .gql()?;
                crate::graphql::prefetch::drivers(ctx, &page.page.items).await?;
                return Ok(DriverConnection::ordered(page, total().await?, Driver));
            }
            let window = args.window().gql()?;
            let page = service::driver::list(conn, &actor, &filter, window)
                .await
                .gql()?;
            crate::graphql::prefetch::drivers(ctx, &page.items).await?;
            Ok(DriverConnection::new(page, total().await?, Driver))
        })
        .await
    }

    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn depots(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        order_by: Option<DepotOrder>,
    ) -> Result<DepotConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let args = args(first, after, last, before);
            let conn = &state(ctx).db.conn;
            if let Some(order) = order_by {
                let key = order.key();
                let window = args.ordered_window(&key).gql()?;
                let page = service::depot::list_ordered(conn, &actor, &key, &window)
                    .await
                    .gql()?;
                let total = total(ctx, service::depot::count(conn, &actor)).await?;
                return Ok(DepotConnection::ordered(page, total, Depot));
            }
            let window = args.window().gql()?;
            let page = service::depot::list(conn, &actor, window).await.gql()?;
            let total = total(ctx, service::depot::count(conn, &actor)).await?;
            Ok(DepotConnection::new(page, total, Depot))
        })
        .await
    }

    // One parameter per GraphQL argument: the connection arguments, filter and order.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn routes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<RouteFilter>,
        order_by: Option<RouteOrder>,
    ) -> Result<RouteConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let args = args(first, after, last, before);
            let filter = filter
                .map(RouteFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            let conn = &state(ctx).db.conn;
            let total = || total(ctx, service::route::count(conn, &actor, &filter));
            if let Some(order) = order_by {
                let key = order.key("routes");
                let window = args.ordered_window(&key).gql()?;
                let page = service::route::list_ordered(conn, &actor, &filter, &key, &window)
                    .await
                    .gql()?;
                crate::graphql::prefetch::routes(ctx, &page.page.items).await?;
                return Ok(RouteConnection::ordered(page, total().await?, Route));
            }
            let window = args.window().gql()?;
            let page = service::route::list(conn, &actor, &filter, window)
                .await
                .gql()?;
            crate::graphql::prefetch::routes(ctx, &page.items).await?;
            Ok(RouteConnection::new(page, total().await?, Route))
        })
        .await
    }

    /// Drivers of other organizations shared with this one (the partner view).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn shared_with_us(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<DriverFilter>,
    ) -> Result<SharedDriverConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let window = args(first, after, last, before).window().gql()?;
            let select = match filter {
                None => service::share::with_us(&actor).gql()?,
                Some(filter) => {
                    let filter = filter.into_service().gql()?;
                    service::share::with_us_filtered(&actor, &filter).gql()?
                }
            };
            shares(ctx, select, window).await
        })
        .await
    }

    /// The audit trail: the status events this organization may see (the same audience as its live stream), newest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn status_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<StatusEventFilter>,
    ) -> Result<StatusEventConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let window = args(first, after, last, before).event_window().gql()?;
            let filter = filter
                .map(StatusEventFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            let conn = &state(ctx).db.conn;
            let page = service::status_event::list(conn, &actor, &filter, window)
                .await
                .gql()?;
            crate::graphql::prefetch::events(ctx, &page.page.items).await?;
            let total = total(ctx, service::status_event::count(conn, &actor, &filter)).await?;
            Ok(StatusEventConnection::new(page, total))
        })
        .await
    }

    /// Shares this organization has granted to partners.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn shared_by_us(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<SharedDriverConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let window = args(first, after, last, before).window().gql()?;
            let select = service::share::by_us(&actor).gql()?;
            shares(ctx, select, window).await
        })
        .await
    }
}

async fn shares(
    ctx: &Context<'_>,
    select: sea_orm::Select<entity::share::Entity>,
    window: service::page::Window,
) -> Result<SharedDriverConnection> {
    let conn = &state(ctx).db.conn;
    let total = total(ctx, service::share::count(conn, select.clone())).await?;
    let page = service::share::list(conn, select, window).await.gql()?;
    crate::graphql::prefetch::shares(ctx, &page.items).await?;
    Ok(SharedDriverConnection::new(page, total, SharedDriver))
}

/// Organization queries.
#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// The organization the token is scoped to.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Ok(Organization::of(&actor(ctx)?))
    }

    /// Exact, case-sensitive name match; null when there is none.
    async fn find_organization(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Option<OrganizationMatch>> {
        let actor = actor(ctx)?;
        let found = service::share::find_organization(&state(ctx).db.conn, &actor, &name)
            .await
            .gql()?;
        Ok(found.map(OrganizationMatch::from))
    }
}
