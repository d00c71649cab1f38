//! Drivers: the driver card as owner and partner see it, availability, ACTIVE/INACTIVE.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use entity::user as users;

use crate::auth::Actor;
use crate::connection_type;
use crate::error::AppResult;
use crate::graphql::boxed;
use crate::graphql::connection::{args, page_cost, wants_total};
use crate::graphql::depot::Depot;
use crate::graphql::ids::{self, Kind};
use crate::graphql::loaders::{DriverRoutesKey, DriverRoutesQuery};
use crate::graphql::order::RouteOrder;
use crate::graphql::organization::{Organization, OrganizationMatch};
use crate::graphql::route::{Route, RouteConnection, RouteFilter, RouteStatus};
use crate::graphql::share::SharedDriver;
use crate::graphql::user::{User, UserStatus};
use crate::graphql::{Gql, actor, actor_opt, loader_error, loaders, services, state};
use crate::service::driver as service;
use crate::service::page::OrderedPage;

/// The driver card of a user with the DRIVER role.
pub struct Driver(pub users::Model);

impl Driver {
    /// Whether the viewer is the owner organization (and may see the driver there).
    fn owner_view(&self, ctx: &Context<'_>) -> Option<Actor> {
        actor_opt(ctx).filter(|a| service::owner_view(a, &self.0))
    }
}

#[Object]
impl Driver {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Driver, self.0.id)
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn status(&self) -> UserStatus {
        self.0.status.into()
    }

    /// ACTIVE and not on a PLANNED or IN_PROGRESS route (of any organization).
    async fn available(&self, ctx: &Context<'_>) -> Result<bool> {
        boxed(async move {
            if self.0.status != users::UserStatus::Active {
                return Ok(false);
            }
            let busy = loaders(ctx)?
                .active_route()
                .load_one(self.0.id)
                .await
                .map_err(loader_error)?
                .flatten();
            Ok(busy.is_none())
        })
        .await
    }

    /// The owning organization: id and name, for every viewer.
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

    /// The owning organization in full; null for partners.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        boxed(async move {
            if self.owner_view(ctx).is_none() {
                return Ok(None);
            }
            let org = loaders(ctx)?
                .organization()
                .load_one(self.0.organization_id)
                .await
                .map_err(loader_error)?;
            Ok(org.map(Organization::from))
        })
        .await
    }

    async fn user(&self, ctx: &Context<'_>) -> Option<User> {
        self.owner_view(ctx).map(|_| User(self.0.clone()))
    }

    async fn depot(&self, ctx: &Context<'_>) -> Result<Option<Depot>> {
        boxed(async move {
            let Some(depot_id) = self.0.depot_id.filter(|_| self.owner_view(ctx).is_some()) else {
                return Ok(None);
            };
            Ok(loaders(ctx)?
                .depot()
                .load_one(depot_id)
                .await
                .map_err(loader_error)?
                .map(Depot))
        })
        .await
    }

    /// The accounts this driver is shared with ('Shared with accounts' on the driver card). Owner only.
    async fn shared_with(&self, ctx: &Context<'_>) -> Result<Option<Vec<SharedDriver>>> {
        boxed(async move {
            match self.owner_view(ctx) {
                Some(actor) if actor.roles.is_manager() => {}
                _ => return Ok(None),
            }
            let shares = loaders(ctx)?
                .shares()
                .load_one(self.0.id)
                .await
                .map_err(loader_error)?;
            // The loader answers every driver, an unshared one with an empty list.
            Ok(Some(
                shares
                    .unwrap_or_default()
                    .into_iter()
                    .map(SharedDriver)
                    .collect(),
            ))
        })
        .await
    }

    /// The PLANNED or IN_PROGRESS route the driver is on, when the viewer may see that route.
    async fn current_route(&self, ctx: &Context<'_>) -> Result<Option<Route>> {
        boxed(async move {
            let Some(actor) = actor_opt(ctx) else {
                return Ok(None);
            };
            let route = loaders(ctx)?
                .active_route()
                .load_one(self.0.id)
                .await
                .map_err(loader_error)?
                .flatten();
            Ok(route
                .filter(|r| crate::service::route::visible(&actor, r))
                .map(Route))
        })
        .await
    }

    /// Who holds the driver now: the organization whose PLANNED or IN_PROGRESS route it is on.
    /// For the owner, the driver itself and the route's organization; null otherwise.
    async fn busy_with(&self, ctx: &Context<'_>) -> Result<Option<DriverEngagement>> {
        boxed(async move {
            let Some(actor) = actor_opt(ctx) else {
                return Ok(None);
            };
            let route = loaders(ctx)?
                .active_route()
                .load_one(self.0.id)
                .await
                .map_err(loader_error)?
                .flatten()
                .filter(|r| {
                    service::owner_view(&actor, &self.0)
                        || r.organization_id == actor.organization_id
                });
            let Some(route) = route else {
                return Ok(None);
            };
            let organization = loaders(ctx)?
                .organization()
                .load_one(route.organization_id)
                .await
                .map_err(loader_error)?
                .map(OrganizationMatch::from)
                .ok_or("organization not found")?;
            Ok(Some(DriverEngagement {
                organization,
                route_status: route.status.into(),
                planned_start: route.planned_start,
            }))
        })
        .await
    }

    /// Routes this driver is assigned to that the viewer may see; the driver itself sees its own organization's and its partners'.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)] // one parameter per GraphQL argument
    async fn routes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<RouteFilter>,
        order_by: Option<RouteOrder>,
    ) -> Result<Option<RouteConnection>> {
        boxed(async move {
            let actor = actor(ctx)?;
            let args = args(first, after, last, before);
            let order = match order_by {
                Some(order) => {
                    let key = order.key("driverRoutes");
                    let window = args.ordered_window(&key).gql()?;
                    Some((key, window))
                }
                None => None,
            };
            // An ordered list pages by its keyset window; the plain one only carries the size.
            let window = match order {
                Some(_) => args.size_only().gql()?,
                None => args.window().gql()?,
            };
            let filter = filter
                .map(RouteFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            // Every driver of a list asks at once: one statement for all their pages.
            let key = DriverRoutesKey {
                driver_id: self.0.id,
                query: Arc::new(DriverRoutesQuery::with_order(
                    actor,
                    filter,
                    window,
                    order,
                    wants_total(ctx),
                )),
            };
            let found = loaders(ctx)?
                .driver_routes()
                .load_one(key)
                .await
                .map_err(loader_error)?
                .ok_or("routes of the driver not loaded")?;
            crate::graphql::prefetch::routes(ctx, &found.page.items).await?;
            let (routes, total) = (found.page.clone(), found.total);
            Ok(Some(match &found.cursors {
                Some(cursors) => RouteConnection::ordered(
                    OrderedPage {
                        page: routes,
                        cursors: cursors.clone(),
                    },
                    total,
                    Route,
                ),
                None => RouteConnection::new(routes, total, Route),
            }))
        })
        .await
    }
}

/// The organization a driver is working for right now, without the route itself.
#[derive(SimpleObject)]
pub struct DriverEngagement {
    /// The organization whose PLANNED or IN_PROGRESS route the driver is on.
    organization: OrganizationMatch,
    /// That route's status.
    route_status: RouteStatus,
    /// That route's planned start.
    planned_start: DateTime<Utc>,
}

/// The driver card of `driver_id` as the viewer may see it: as owner, or as a partner it is
/// shared with now; `None` otherwise (nested fields obey the same rule as `driver(id:)`).
pub async fn visible(ctx: &Context<'_>, driver_id: uuid::Uuid) -> Result<Option<Driver>> {
    let Some(actor) = actor_opt(ctx) else {
        return Ok(None);
    };
    let Some(driver) = loaders(ctx)?
        .user()
        .load_one(driver_id)
        .await
        .map_err(loader_error)?
    else {
        return Ok(None);
    };
    if service::owner_view(&actor, &driver) {
        return Ok(Some(Driver(driver)));
    }
    if !service::partner_view(&actor, &driver) {
        return Ok(None);
    }
    let shares = loaders(ctx)?
        .shares()
        .load_one(driver_id)
        .await
        .map_err(loader_error)?;
    // The loader answers every driver, an unshared one with an empty list.
    let shared = shares
        .unwrap_or_default()
        .iter()
        .any(|s| s.partner_id == actor.organization_id);
    Ok(shared.then_some(Driver(driver)))
}

connection_type!(DriverConnection, DriverEdge, Driver, users::Model);

/// Filters of driver lists.
#[derive(InputObject, Default)]
pub struct DriverFilter {
    status: Option<Vec<UserStatus>>,
    depot_id: Option<ID>,
    /// ACTIVE and not on a PLANNED or IN_PROGRESS route.
    available: Option<bool>,
    /// Case-insensitive substring of first name, last name or email.
    search: Option<String>,
    /// organization.drivers only: also the drivers shared with the organization.
    include_shared: Option<bool>,
}

impl DriverFilter {
    /// The service's filter; a malformed depot ID or a bad search is BAD_USER_INPUT.
    pub fn into_service(self) -> AppResult<service::DriverFilter> {
        Ok(service::DriverFilter {
            status: self.status.map(|s| s.into_iter().map(Into::into).collect()),
            depot_id: self
                .depot_id
                .as_ref()
                .map(|id| ids::decode(id, Kind::Depot, "filter.depotId"))
                .transpose()?,
            available: self.available,
            search: crate::graphql::user::search(self.search.as_deref())?,
            include_shared: self.include_shared.unwrap_or(false),
        })
    }
}

/// Driver queries.
#[derive(Default)]
pub struct DriverQuery;

#[Object]
impl DriverQuery {
    /// A driver of the viewer's organization or shared with it; null when not visible.
    async fn driver(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Driver>> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::Driver, "id").gql()?;
        Ok(service::get(&state(ctx).db.conn, &actor, uuid)
            .await
            .gql()?
            .map(Driver))
    }
}

/// Driver availability mutations.
#[derive(Default)]
pub struct DriverMutation;

#[Object]
impl DriverMutation {
    async fn set_driver_active(&self, ctx: &Context<'_>, driver_id: ID) -> Result<Driver> {
        let actor = actor(ctx)?;
        let id = ids::decode(&driver_id, Kind::Driver, "driverId").gql()?;
        Ok(Driver(
            service::set_active(services(ctx), &actor, id).await.gql()?,
        ))
    }

    async fn set_driver_inactive(&self, ctx: &Context<'_>, driver_id: ID) -> Result<Driver> {
        let actor = actor(ctx)?;
        let id = ids::decode(&driver_id, Kind::Driver, "driverId").gql()?;
        Ok(Driver(
            service::set_inactive(services(ctx), &actor, id)
                .await
                .gql()?,
        ))
    }
}
