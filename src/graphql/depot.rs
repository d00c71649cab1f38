//! Depots: the `Depot` type, its drivers, and depot management.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result};

use entity::depot as depots;

use crate::connection_type;
use crate::domain::{Address, FieldResult, Name, Timezone};
use crate::error::AppResult;
use crate::graphql::boxed;
use crate::graphql::connection::{args, page_cost, wants_total};
use crate::graphql::driver::{Driver, DriverConnection, DriverFilter};
use crate::graphql::ids::{self, Kind};
use crate::graphql::loaders::{DepotDriversKey, DepotDriversQuery};
use crate::graphql::organization::Organization;
use crate::graphql::user::DeletePayload;
use crate::graphql::{Gql, actor, loader_error, loaders, services, state};
use crate::service;
use crate::service::depot::DepotInput as ServiceInput;

/// A place the organization's routes start from.
pub struct Depot(pub depots::Model);

#[Object]
impl Depot {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Depot, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        boxed(async move {
            loaders(ctx)?
                .organization()
                .load_one(self.0.organization_id)
                .await
                .map_err(loader_error)?
                .map(Organization::from)
                .ok_or_else(|| "organization not found".into())
        })
        .await
    }
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn drivers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<DriverFilter>,
    ) -> Result<DriverConnection> {
        boxed(async move {
            let actor = actor(ctx)?;
            let window = args(first, after, last, before).window().gql()?;
            let filter = filter
                .map(DriverFilter::into_service)
                .transpose()
                .gql()?
                .unwrap_or_default();
            // Every depot of a list asks at once: one statement for all their pages.
            let key = DepotDriversKey {
                depot_id: self.0.id,
                query: Arc::new(DepotDriversQuery::new(
                    actor,
                    filter,
                    window,
                    wants_total(ctx),
                )),
            };
            let found = loaders(ctx)?
                .depot_drivers()
                .load_one(key)
                .await
                .map_err(loader_error)?
                .ok_or("drivers of the depot not loaded")?;
            crate::graphql::prefetch::drivers(ctx, &found.page.items).await?;
            let (page, total) = (found.page.clone(), found.total);
            Ok(DriverConnection::new(page, total, Driver))
        })
        .await
    }
}

connection_type!(DepotConnection, DepotEdge, Depot, depots::Model);

/// Input of `createDepot` and `updateDepot`.
#[derive(InputObject)]
pub struct DepotInput {
    name: String,
    address: Option<String>,
    timezone: String,
}

impl DepotInput {
    /// The service's input, validated; a malformed field is BAD_USER_INPUT naming it.
    fn into_service(self) -> AppResult<ServiceInput> {
        Ok(ServiceInput {
            name: Name::parse(&self.name).field("input.name")?,
            address: self
                .address
                .as_deref()
                .map(Address::parse)
                .transpose()
                .field("input.address")?
                .flatten(),
            timezone: Timezone::parse(&self.timezone).field("input.timezone")?,
        })
    }
}

/// Depot queries.
#[derive(Default)]
pub struct DepotQuery;

#[Object]
impl DepotQuery {
    /// A depot of the viewer's organization; null when not visible.
    async fn depot(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Depot>> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::Depot, "id").gql()?;
        Ok(service::depot::get(&state(ctx).db.conn, &actor, uuid)
            .await
            .gql()?
            .map(Depot))
    }
}

/// Depot mutations.
#[derive(Default)]
pub struct DepotMutation;

#[Object]
impl DepotMutation {
    async fn create_depot(&self, ctx: &Context<'_>, input: DepotInput) -> Result<Depot> {
        let actor = actor(ctx)?;
        let input = input.into_service().gql()?;
        Ok(Depot(
            service::depot::create(services(ctx), &actor, input)
                .await
                .gql()?,
        ))
    }

    async fn update_depot(&self, ctx: &Context<'_>, id: ID, input: DepotInput) -> Result<Depot> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::Depot, "id").gql()?;
        let input = input.into_service().gql()?;
        Ok(Depot(
            service::depot::update(services(ctx), &actor, uuid, input)
                .await
                .gql()?,
        ))
    }

    /// Deletes a depot; its drivers keep no depot. Refused while it has active routes.
    async fn delete_depot(&self, ctx: &Context<'_>, id: ID) -> Result<DeletePayload> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::Depot, "id").gql()?;
        let deleted = service::depot::delete(services(ctx), &actor, uuid)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(Kind::Depot, deleted),
        })
    }
}
