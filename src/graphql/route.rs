//! Routes: the `Route` type, its filter, and the route lifecycle mutations.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use entity::route as routes;

use crate::connection_type;
use crate::domain::{FieldResult, Name};
use crate::error::AppResult;
use crate::graphql::boxed;
use crate::graphql::depot::Depot;
use crate::graphql::driver::Driver;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::{Organization, OrganizationMatch};
use crate::graphql::{Gql, actor, actor_opt, loader_error, loaders, services, state};
use crate::service;

/// Where a route is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RouteStatus {
    /// Not started.
    Planned,
    /// Being driven.
    InProgress,
    /// Done.
    Completed,
    /// Called off.
    Cancelled,
}

impl From<routes::RouteStatus> for RouteStatus {
    fn from(s: routes::RouteStatus) -> Self {
        match s {
            routes::RouteStatus::Planned => Self::Planned,
            routes::RouteStatus::InProgress => Self::InProgress,
            routes::RouteStatus::Completed => Self::Completed,
            routes::RouteStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<RouteStatus> for routes::RouteStatus {
    fn from(s: RouteStatus) -> Self {
        match s {
            RouteStatus::Planned => Self::Planned,
            RouteStatus::InProgress => Self::InProgress,
            RouteStatus::Completed => Self::Completed,
            RouteStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A route, the minimum the user rules need.
pub struct Route(pub routes::Model);

impl Route {
    /// Whether the viewer reads the route from another organization (a shared driver).
    fn partner_view(&self, ctx: &Context<'_>) -> bool {
        actor_opt(ctx).is_none_or(|a| service::route::partner_view(&a, &self.0))
    }

    /// The depot as it is now, while it exists.
    async fn live_depot(&self, ctx: &Context<'_>) -> Result<Option<entity::depot::Model>> {
        boxed(async move {
            let Some(depot_id) = self.0.depot_id else {
                return Ok(None);
            };
            loaders(ctx)?
                .depot()
                .load_one(depot_id)
                .await
                .map_err(loader_error)
        })
        .await
    }
}

#[Object]
impl Route {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Route, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn planned_start(&self) -> DateTime<Utc> {
        self.0.planned_start
    }
    async fn status(&self) -> RouteStatus {
        self.0.status.into()
    }
    /// The route's organization: id and name, for every viewer.
    async fn owner(&self, ctx: &Context<'_>) -> Result<OrganizationMatch> {
        boxed(async move {
            loaders(ctx)?
                .organization()
                .load_one(self.0.organization_id)
                .await
                .map_err(loader_error)?
                .map(OrganizationMatch::from)
                .ok_or_else(|| "organization not found".into())
        })
        .await
    }
    /// The route's organization in full; null for a shared driver on a partner's route.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        boxed(async move {
            if self.partner_view(ctx) {
                return Ok(None);
            }
            Ok(loaders(ctx)?
                .organization()
                .load_one(self.0.organization_id)
                .await
                .map_err(loader_error)?
                .map(Organization::from))
        })
        .await
    }
    /// Null for a shared driver on a partner's route (it reads depotName and depotAddress).
    async fn depot(&self, ctx: &Context<'_>) -> Result<Option<Depot>> {
        boxed(async move {
            if self.partner_view(ctx) {
                return Ok(None);
            }
            Ok(self.live_depot(ctx).await?.map(Depot))
        })
        .await
    }
    /// The assigned driver (own, or shared with the route's organization).
    async fn driver(&self, ctx: &Context<'_>) -> Result<Option<Driver>> {
        boxed(async move {
            match self.0.driver_id {
                Some(id) => crate::graphql::driver::visible(ctx, id).await,
                None => Ok(None),
            }
        })
        .await
    }
    /// The assigned driver's name, set at assignment and kept after the driver is deleted.
    async fn driver_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        boxed(async move {
            if let Some(name) = &self.0.driver_name {
                return Ok(Some(name.clone()));
            }
            // Rows written without the name (imported data): the driver's current one.
            let Some(driver_id) = self.0.driver_id else {
                return Ok(None);
            };
            Ok(loaders(ctx)?
                .user()
                .load_one(driver_id)
                .await
                .map_err(loader_error)?
                .map(|d| format!("{} {}", d.first_name, d.last_name)))
        })
        .await
    }
    /// The depot's name, kept after the depot is deleted.
    async fn depot_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        boxed(async move {
            Ok(match self.live_depot(ctx).await? {
                Some(depot) => Some(depot.name),
                None => self.0.depot_name.clone(),
            })
        })
        .await
    }
    /// The depot's address, kept after the depot is deleted.
    async fn depot_address(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        boxed(async move {
            Ok(match self.live_depot(ctx).await? {
                Some(depot) => depot.address,
                None => self.0.depot_address.clone(),
            })
        })
        .await
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
}

connection_type!(RouteConnection, RouteEdge, Route, routes::Model);

/// Filters of `organization.routes`.
#[derive(InputObject, Default)]
pub struct RouteFilter {
    status: Option<Vec<RouteStatus>>,
    driver_id: Option<ID>,
    depot_id: Option<ID>,
}

impl RouteFilter {
    /// The service's filter; malformed IDs are BAD_USER_INPUT.
    pub fn into_service(self) -> AppResult<service::route::RouteFilter> {
        Ok(service::route::RouteFilter {
            status: self.status.map(|s| s.into_iter().map(Into::into).collect()),
            driver_id: self
                .driver_id
                .as_ref()
                .map(|id| ids::decode(id, Kind::Driver, "filter.driverId"))
                .transpose()?,
            depot_id: self
                .depot_id
                .as_ref()
                .map(|id| ids::decode(id, Kind::Depot, "filter.depotId"))
                .transpose()?,
        })
    }
}

/// Input of `createRoute`.
#[derive(InputObject)]
pub struct RouteInput {
    name: String,
    planned_start: DateTime<Utc>,
    depot_id: Option<ID>,
}

/// Route queries.
#[derive(Default)]
pub struct RouteQuery;

#[Object]
impl RouteQuery {
    /// A route the viewer may see (a DRIVER: its own, partners' included); null otherwise.
    async fn route(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Route>> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::Route, "id").gql()?;
        Ok(service::route::get(&state(ctx).db.conn, &actor, uuid)
            .await
            .gql()?
            .map(Route))
    }
}

/// Route mutations.
#[derive(Default)]
pub struct RouteMutation;

fn route_id(id: &ID) -> Result<uuid::Uuid> {
    ids::decode(id, Kind::Route, "routeId").gql()
}

#[Object]
impl RouteMutation {
    async fn create_route(&self, ctx: &Context<'_>, input: RouteInput) -> Result<Route> {
        let actor = actor(ctx)?;
        let depot_id = input
            .depot_id
            .as_ref()
            .map(|id| ids::decode(id, Kind::Depot, "input.depotId"))
            .transpose()
            .gql()?;
        let new = service::route::NewRoute {
            name: Name::parse(&input.name).field("input.name").gql()?,
            planned_start: input.planned_start,
            depot_id,
        };
        Ok(Route(
            service::route::create(services(ctx), &actor, new)
                .await
                .gql()?,
        ))
    }

    /// Assigns an ACTIVE, free driver (own or shared with us) to a PLANNED route.
    async fn assign_driver(&self, ctx: &Context<'_>, route_id: ID, driver_id: ID) -> Result<Route> {
        let actor = actor(ctx)?;
        let route = self::route_id(&route_id)?;
        let driver = ids::decode(&driver_id, Kind::Driver, "driverId").gql()?;
        Ok(Route(
            service::route::assign(services(ctx), &actor, route, driver)
                .await
                .gql()?,
        ))
    }

    async fn unassign_driver(&self, ctx: &Context<'_>, route_id: ID) -> Result<Route> {
        let actor = actor(ctx)?;
        Ok(Route(
            service::route::unassign(services(ctx), &actor, self::route_id(&route_id)?)
                .await
                .gql()?,
        ))
    }

    async fn start_route(&self, ctx: &Context<'_>, route_id: ID) -> Result<Route> {
        let actor = actor(ctx)?;
        Ok(Route(
            service::route::start(services(ctx), &actor, self::route_id(&route_id)?)
                .await
                .gql()?,
        ))
    }

    async fn complete_route(&self, ctx: &Context<'_>, route_id: ID) -> Result<Route> {
        let actor = actor(ctx)?;
        Ok(Route(
            service::route::complete(services(ctx), &actor, self::route_id(&route_id)?)
                .await
                .gql()?,
        ))
    }

    async fn cancel_route(&self, ctx: &Context<'_>, route_id: ID) -> Result<Route> {
        let actor = actor(ctx)?;
        Ok(Route(
            service::route::cancel(services(ctx), &actor, self::route_id(&route_id)?)
                .await
                .gql()?,
        ))
    }
}
