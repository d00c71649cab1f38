//! Sharing: the `SharedDriver` grant and the share/unshare mutations.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use entity::share as shares;

use crate::connection_type;
use crate::graphql::boxed;
use crate::graphql::driver::Driver;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::OrganizationMatch;
use crate::graphql::user::{DeletePayload, User};
use crate::graphql::{Gql, actor, actor_opt, loader_error, loaders, services};
use crate::service;

/// The grant "driver D of organization O may be seen and assigned by partner P".
pub struct SharedDriver(pub shares::Model);

async fn org_match(ctx: &Context<'_>, id: uuid::Uuid) -> Result<OrganizationMatch> {
    loaders(ctx)?
        .organization()
        .load_one(id)
        .await
        .map_err(loader_error)?
        .map(OrganizationMatch::from)
        .ok_or_else(|| "organization not found".into())
}

#[Object]
impl SharedDriver {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::SharedDriver, self.0.id)
    }
    async fn driver(&self, ctx: &Context<'_>) -> Result<Driver> {
        boxed(async move {
            loaders(ctx)?
                .user()
                .load_one(self.0.driver_id)
                .await
                .map_err(loader_error)?
                .map(Driver)
                .ok_or_else(|| "driver not found".into())
        })
        .await
    }
    /// The owner of the driver.
    async fn owner(&self, ctx: &Context<'_>) -> Result<OrganizationMatch> {
        boxed(async move { org_match(ctx, self.0.owner_id).await }).await
    }
    /// The account the driver is shared with.
    async fn partner(&self, ctx: &Context<'_>) -> Result<OrganizationMatch> {
        boxed(async move { org_match(ctx, self.0.partner_id).await }).await
    }
    async fn shared_at(&self) -> DateTime<Utc> {
        self.0.shared_at
    }
    /// When the share ends by itself; null for no end.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// Who shared it; visible to the owner organization only.
    async fn shared_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        boxed(async move {
            let owner = actor_opt(ctx).is_some_and(|a| a.organization_id == self.0.owner_id);
            let Some(user_id) = self.0.shared_by.filter(|_| owner) else {
                return Ok(None);
            };
            Ok(loaders(ctx)?
                .user()
                .load_one(user_id)
                .await
                .map_err(loader_error)?
                .map(User))
        })
        .await
    }
}

connection_type!(
    SharedDriverConnection,
    SharedDriverEdge,
    SharedDriver,
    shares::Model
);

/// Sharing mutations.
#[derive(Default)]
pub struct ShareMutation;

#[Object]
impl ShareMutation {
    /// Shares several drivers with a partner at once, until `expiresAt` when given; already
    /// shared drivers stay shared, with the new expiry.
    async fn share_drivers(
        &self,
        ctx: &Context<'_>,
        partner_id: ID,
        driver_ids: Vec<ID>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<SharedDriver>> {
        let actor = actor(ctx)?;
        let partner = ids::decode(&partner_id, Kind::Organization, "partnerId").gql()?;
        let drivers = driver_ids
            .iter()
            .map(|id| ids::decode(id, Kind::Driver, "driverIds"))
            .collect::<Result<Vec<_>, _>>()
            .gql()?;
        let shares =
            service::share::share_drivers(services(ctx), &actor, partner, drivers, expires_at)
                .await
                .gql()?;
        Ok(shares.into_iter().map(SharedDriver).collect())
    }

    /// The partner ends a share granted to it.
    async fn release_shared_driver(
        &self,
        ctx: &Context<'_>,
        driver_id: ID,
    ) -> Result<DeletePayload> {
        let actor = actor(ctx)?;
        let driver = ids::decode(&driver_id, Kind::Driver, "driverId").gql()?;
        let share = service::share::release(services(ctx), &actor, driver)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(Kind::SharedDriver, share.id),
        })
    }

    /// Ends one share, instantly.
    async fn unshare_driver(
        &self,
        ctx: &Context<'_>,
        driver_id: ID,
        partner_id: ID,
    ) -> Result<Driver> {
        let actor = actor(ctx)?;
        let driver = ids::decode(&driver_id, Kind::Driver, "driverId").gql()?;
        let partner = ids::decode(&partner_id, Kind::Organization, "partnerId").gql()?;
        Ok(Driver(
            service::share::unshare_driver(services(ctx), &actor, driver, partner)
                .await
                .gql()?,
        ))
    }
}
