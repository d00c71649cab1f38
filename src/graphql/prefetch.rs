//! Prefetching for lists: once a page of rows is known, the relations the client selected
//! are loaded for the whole page at once into the request's loader cache, so resolving the
//! items afterwards runs no statement, however long it takes.
//!
//! A list resolved once per request (no list above it in the query) is the whole batch
//! already: its prefetch runs the loader's statement directly and feeds the rows to the
//! cache, without waiting out the loader's batching delay (a timer and a spawned task per
//! level of the query). A list inside another list (each depot's drivers) goes through the
//! loader, so the prefetches of all its siblings still share one statement.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Lookahead, QueryPathSegment, Result};
use uuid::Uuid;

use entity::{route, share, user};

use crate::error::AppError;
use crate::graphql::loaders::Cached;
use crate::graphql::{loader_error, loaders};

/// Loads `keys` into `loader`'s cache, and returns what it found.
async fn fill<K, T>(
    ctx: &Context<'_>,
    loader: &Cached<T>,
    keys: Vec<K>,
) -> Result<HashMap<K, T::Value>, Arc<AppError>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Loader<K, Error = Arc<AppError>>,
{
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    if !once_per_request(ctx) {
        return loader.load_many(keys).await;
    }
    let found = loader.loader().load(&keys).await?;
    loader
        .feed_many(found.iter().map(|(k, v)| (k.clone(), v.clone())))
        .await;
    Ok(found)
}

/// Whether the field being resolved is outside every list, so it is resolved once.
fn once_per_request(ctx: &Context<'_>) -> bool {
    let mut node = ctx.path_node.as_ref();
    while let Some(here) = node {
        if matches!(here.segment, QueryPathSegment::Index(_)) {
            return false;
        }
        node = here.parent;
    }
    true
}

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
    let l = loaders(ctx)?;
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let depots = distinct(rows.iter().filter_map(|r| r.depot_id));
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let (a, b, c, d) = tokio::join!(
        async {
            if selects(ctx, "depot") || selects(ctx, "depotName") || selects(ctx, "depotAddress") {
                fill(ctx, l.depot(), depots).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "currentRoute") || selects(ctx, "available") || selects(ctx, "busyWith")
            {
                fill(ctx, l.active_route(), ids.clone()).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "organization") || selects(ctx, "owner") {
                fill(ctx, l.organization(), orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if !selects(ctx, "sharedWith") {
                return Ok(());
            }
            let partner = selects_within(ctx, "sharedWith", "partner");
            if partner && once_per_request(ctx) {
                return l.feed_shares_with_partners(ids.clone()).await;
            }
            let shares = fill(ctx, l.shares(), ids.clone()).await?;
            if partner {
                let partners = distinct(shares.values().flatten().map(|s| s.partner_id));
                fill(ctx, l.organization(), partners).await?;
            }
            Ok(())
        },
    );
    a.and(b).and(c).and(d).map_err(loader_error)?;
    let invited = invited(rows);
    if selects_within(ctx, "user", "invitationExpiresAt") && !invited.is_empty() {
        fill(ctx, l.invitation_expiry(), invited)
            .await
            .map_err(loader_error)?;
    }
    Ok(())
}

/// Relations of a page of users.
pub async fn users(ctx: &Context<'_>, rows: &[user::Model]) -> Result<()> {
    let l = loaders(ctx)?;
    if rows.is_empty() {
        return Ok(());
    }
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let invited = invited(rows);
    let (a, b) = tokio::join!(
        async {
            if selects(ctx, "organization") {
                fill(ctx, l.organization(), orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "invitationExpiresAt") && !invited.is_empty() {
                fill(ctx, l.invitation_expiry(), invited).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).map_err(loader_error)
}

/// Relations of a page of routes.
pub async fn routes(ctx: &Context<'_>, rows: &[route::Model]) -> Result<()> {
    let l = loaders(ctx)?;
    if rows.is_empty() {
        return Ok(());
    }
    let depots = distinct(rows.iter().filter_map(|r| r.depot_id));
    let drivers = distinct(rows.iter().filter_map(|r| r.driver_id));
    let orgs = distinct(rows.iter().map(|r| r.organization_id));
    let (a, b, c) = tokio::join!(
        async {
            if selects(ctx, "depot") || selects(ctx, "depotName") || selects(ctx, "depotAddress") {
                fill(ctx, l.depot(), depots).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") || selects(ctx, "driverName") {
                fill(ctx, l.user(), drivers.clone()).await.map(drop)?;
                fill(ctx, l.shares(), drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "organization") || selects(ctx, "owner") {
                fill(ctx, l.organization(), orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).and(c).map_err(loader_error)
}

/// Relations of a page of shares.
pub async fn shares(ctx: &Context<'_>, rows: &[share::Model]) -> Result<()> {
    let l = loaders(ctx)?;
    if rows.is_empty() {
        return Ok(());
    }
    let drivers = distinct(rows.iter().map(|r| r.driver_id));
    let orgs = distinct(rows.iter().flat_map(|r| [r.owner_id, r.partner_id]));
    let (a, b) = tokio::join!(
        async {
            if selects(ctx, "driver") {
                fill(ctx, l.user(), drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "owner") || selects(ctx, "partner") {
                fill(ctx, l.organization(), orgs).await.map(drop)
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
    let l = loaders(ctx)?;
    if rows.is_empty() {
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
                fill(ctx, l.user(), subjects).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") {
                fill(ctx, l.shares(), drivers).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "driver") || selects(ctx, "partner") {
                fill(ctx, l.organization(), orgs).await.map(drop)
            } else {
                Ok(())
            }
        },
        async {
            if selects(ctx, "route") {
                fill(ctx, l.route(), routes).await.map(drop)
            } else {
                Ok(())
            }
        },
    );
    a.and(b).and(c).and(d).map_err(loader_error)
}
