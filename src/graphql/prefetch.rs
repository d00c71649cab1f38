//! Prefetching for lists: once a page of rows is known, the relations the client selected
//! are loaded for the whole page at once into the request's loader cache, so resolving the
//! items afterwards runs no statement, however long it takes.

use std::collections::HashSet;

use async_graphql::{Context, Lookahead, Result};
use uuid::Uuid;

use entity::{route, share, user};

use crate::graphql::{loader_error, loaders};

/// Whether `field` is selected on the nodes of the connection being resolved.
fn selects(ctx: &Context<'_>, field: &str) -> bool {
    let here: Lookahead<'_> = ctx.look_ahead();
    here.field("nodes").field(field).exists()
        || here.field("edges").field("node").field(field).exists()
}

/// Whether `inner` is selected on the `outer` object of the nodes being resolved.
fn selects_within(ctx: &Context<'_>, outer: &str, inner: &str) -> bool {
    let here: Lookahead<'_> = ctx.look_ahead();
    here.field("nodes").field(outer).field(inner).exists()
        || here
            .field("edges")
            .field("node")
            .field(outer)
            .field(inner)
            .exists()
}

/// The INVITED ones of `rows`, whose invitation expiry a page may show.
fn invited(rows: &[user::Model]) -> Vec<Uuid> {
    rows.iter()
        .filter(|r| r.status == user::UserStatus::Invited)
        .map(|r| r.id)
        .collect()
}

fn distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    ids.collect::<HashSet<_>>().into_iter().collect()
}

/// Relations of a page of driver cards.
pub async fn drivers(ctx: &Context<'_>, rows: &[user::Model]) -> Result<()> {
    let l = loaders(ctx);
    if !l.cached || rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let depots = distinct(rows.iter().filter_map(|r| r.depot_id));
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let (a, b, c, d) = tokio::join!(
        async {
            if selects(ctx, "depot") || selects(ctx, "depotName") || selects(ctx, "depotAddress") {
                l.depot.load_many(depots).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "currentRoute") || selects(ctx, "available") || selects(ctx, "busyWith")
            {
                l.active_route.load_many(ids.clone()).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "organization") || selects(ctx, "owner") {
                l.organization.load_many(orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "sharedWith") {
                l.shares.load_many(ids.clone()).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).and(c).and(d).map_err(loader_error)?;
    let invited = invited(rows);
    if selects_within(ctx, "user", "invitationExpiresAt") && !invited.is_empty() {
        l.invitation_expiry
            .load_many(invited)
            .await
            .map_err(loader_error)?;
    }
    Ok(())
}

/// Relations of a page of users.
pub async fn users(ctx: &Context<'_>, rows: &[user::Model]) -> Result<()> {
    let l = loaders(ctx);
    if !l.cached || rows.is_empty() {
        return Ok(());
    }
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let invited = invited(rows);
    let (a, b) = tokio::join!(
        async {
            if selects(ctx, "organization") {
                l.organization.load_many(orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "invitationExpiresAt") && !invited.is_empty() {
                l.invitation_expiry.load_many(invited).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).map_err(loader_error)
}

/// Relations of a page of routes.
pub async fn routes(ctx: &Context<'_>, rows: &[route::Model]) -> Result<()> {
    let l = loaders(ctx);
    if !l.cached || rows.is_empty() {
        return Ok(());
    }
    let depots = distinct(rows.iter().filter_map(|r| r.depot_id));
    let drivers = distinct(rows.iter().filter_map(|r| r.driver_id));
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let (a, b, c) = tokio::join!(
        async {
            if selects(ctx, "depot") || selects(ctx, "depotName") || selects(ctx, "depotAddress") {
                l.depot.load_many(depots).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") || selects(ctx, "driverName") {
                l.user.load_many(drivers.clone()).await.map(drop)?;
                l.shares.load_many(drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "organization") || selects(ctx, "owner") {
                l.organization.load_many(orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).and(c).map_err(loader_error)
}

/// Relations of a page of shares.
pub async fn shares(ctx: &Context<'_>, rows: &[share::Model]) -> Result<()> {
    let l = loaders(ctx);
    if !l.cached || rows.is_empty() {
        return Ok(());
    }
    let drivers = distinct(rows.iter().map(|r| r.driver_id));
    let orgs = distinct(rows.iter().flat_map(|r| [r.owner_id, r.partner_id]));
    let (a, b) = tokio::join!(
        async {
            if selects(ctx, "driver") {
                l.user.load_many(drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "owner") || selects(ctx, "partner") {
                l.organization.load_many(orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).map_err(loader_error)
}

/// Relations of a page of status events: subjects (and their shares, which decide a partner's
/// view), organizations, routes.
pub async fn events(ctx: &Context<'_>, rows: &[entity::status_event::Model]) -> Result<()> {
    let l = loaders(ctx);
    if !l.cached || rows.is_empty() {
        return Ok(());
    }
    let subjects = distinct(rows.iter().map(|r| r.user_id));
    let drivers = distinct(rows.iter().filter(|r| r.is_driver).map(|r| r.user_id));
    let orgs = distinct(
        rows.iter()
            .flat_map(|r| [Some(r.organization_id), r.partner_id])
            .flatten(),
    );
    let routes = distinct(rows.iter().filter_map(|r| r.route_id));
    let (a, b, c, d) = tokio::join!(
        async {
            if selects(ctx, "driver") || selects(ctx, "user") {
                l.user.load_many(subjects).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") {
                l.shares.load_many(drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") || selects(ctx, "partner") {
                l.organization.load_many(orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "route") {
                l.route.load_many(routes).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).and(c).and(d).map_err(loader_error)
}
