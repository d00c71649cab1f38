//! DataLoaders: every relation a list can reach is fetched in one statement per level,
//! whatever the list's length.
//!
//! Every execution gets its own loaders (see [`Loaders`]) with a cache that lives as long as
//! it does, and list resolvers prefetch the relations the client selected into them
//! ([`crate::graphql::prefetch`]): so the batch is one statement however long resolving the
//! list takes, and misses are cached too (a driver with no current route is not asked about
//! twice). A subscription, which lives for hours, forgets its loaders' caches before each
//! event: one event's fields still share their statements, the next event reads afresh.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use entity::route;
use entity::{depot, organization, share, user};

use crate::auth::Actor;
use crate::db::Db;
use crate::error::AppError;
use crate::service;
use crate::service::driver::DriverFilter;
use crate::service::page::{OrderKey, OrderedPage, OrderedWindow, Page, Window};
use crate::service::route::RouteFilter;

/// Rows by primary key.
macro_rules! by_id_loader {
    ($name:ident, $module:ident) => {
        /// Loads rows of this table by id.
        pub struct $name(Db);

        impl Loader<Uuid> for $name {
            type Value = $module::Model;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows = $module::Entity::find()
                    .filter($module::Column::Id.is_in(keys.iter().copied()))
                    .all(&self.0.conn)
                    .await
                    .map_err(|e| Arc::new(AppError::from(e)))?;
                Ok(rows.into_iter().map(|r| (r.id, r)).collect())
            }
        }
    };
}

by_id_loader!(OrganizationLoader, organization);
by_id_loader!(UserLoader, user);
by_id_loader!(DepotLoader, depot);
by_id_loader!(RouteLoader, route);

/// The PLANNED or IN_PROGRESS route of each driver (`None` for a free driver, so misses cache).
pub struct ActiveRouteLoader(Db);

impl Loader<Uuid> for ActiveRouteLoader {
    type Value = Option<route::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = route::Entity::find()
            .filter(route::Column::DriverId.is_in(keys.iter().copied()))
            .filter(crate::service::active_route_condition())
            .all(&self.0.conn)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Option<route::Model>> =
            keys.iter().map(|k| (*k, None)).collect();
        for row in rows {
            if let Some(driver_id) = row.driver_id {
                map.insert(driver_id, Some(row));
            }
        }
        Ok(map)
    }
}

/// The shares of each driver.
pub struct SharesByDriverLoader(Db);

impl Loader<Uuid> for SharesByDriverLoader {
    type Value = Vec<share::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = share::Entity::find()
            .filter(share::Column::DriverId.is_in(keys.iter().copied()))
            .all(&self.0.conn)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Vec<share::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            map.entry(row.driver_id).or_default().push(row);
        }
        Ok(map)
    }
}

/// When each user's pending invitation expires (`None` without one, so misses cache).
pub struct InvitationExpiryLoader(Db);

impl Loader<Uuid> for InvitationExpiryLoader {
    type Value = Option<chrono::DateTime<chrono::Utc>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut found = service::user::invitation_expiries(&self.0.conn, keys)
            .await
            .map_err(Arc::new)?;
        Ok(keys.iter().map(|k| (*k, found.remove(k))).collect())
    }
}

/// Which drivers of a depot to load: the reader, filter and window (the same for every depot
/// of one list, so their pages are loaded together).
pub struct DepotDriversQuery {
    actor: Actor,
    filter: DriverFilter,
    window: Window,
    total: bool,
    /// Everything above that changes the result, as text: what keys are compared by.
    signature: String,
}

impl DepotDriversQuery {
    /// The query for `actor`, with `filter`, one `window` per depot, and the counts when `total`.
    pub fn new(actor: Actor, mut filter: DriverFilter, window: Window, total: bool) -> Self {
        // The depot is the key's; a depot filter from the client is replaced by it.
        filter.depot_id = None;
        let signature = format!(
            "{}|{}|{}|{filter:?}|{window:?}|{total}",
            actor.organization_id,
            actor.user_id,
            actor.roles.is_manager()
        );
        Self {
            actor,
            filter,
            window,
            total,
            signature,
        }
    }
}

/// One depot's drivers under one [`DepotDriversQuery`].
#[derive(Clone)]
pub struct DepotDriversKey {
    /// The depot.
    pub depot_id: Uuid,
    /// What to load.
    pub query: Arc<DepotDriversQuery>,
}

impl PartialEq for DepotDriversKey {
    fn eq(&self, other: &Self) -> bool {
        self.depot_id == other.depot_id && self.query.signature == other.query.signature
    }
}

impl Eq for DepotDriversKey {}

impl Hash for DepotDriversKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.depot_id.hash(state);
        self.query.signature.hash(state);
    }
}

/// A depot's page of drivers, and how many match in all when asked.
pub struct DepotDrivers {
    /// The page.
    pub page: Page<user::Model>,
    /// The number of matching drivers of the depot, when the query asked for it.
    pub total: Option<i64>,
}

/// The drivers of each depot, one page per depot, in one statement per distinct query (and
/// one more for the counts).
pub struct DepotDriversLoader(Db);

impl Loader<DepotDriversKey> for DepotDriversLoader {
    type Value = Arc<DepotDrivers>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[DepotDriversKey],
    ) -> Result<HashMap<DepotDriversKey, Self::Value>, Self::Error> {
        let mut queries: HashMap<&str, (&Arc<DepotDriversQuery>, Vec<Uuid>)> = HashMap::new();
        for key in keys {
            queries
                .entry(key.query.signature.as_str())
                .or_insert_with(|| (&key.query, Vec::new()))
                .1
                .push(key.depot_id);
        }
        let conn = &self.0.conn;
        let mut found = HashMap::with_capacity(keys.len());
        for (query, depots) in queries.into_values() {
            let (q, depots) = (query.as_ref(), depots.as_slice());
            let mut pages =
                service::driver::list_per_depot(conn, &q.actor, &q.filter, q.window, depots)
                    .await
                    .map_err(Arc::new)?;
            let mut totals = if q.total {
                Some(
                    service::driver::count_per_depot(conn, &q.actor, &q.filter, depots)
                        .await
                        .map_err(Arc::new)?,
                )
            } else {
                None
            };
            for depot_id in depots {
                let page = pages.remove(depot_id).unwrap_or(Page {
                    items: Vec::new(),
                    has_next: false,
                    has_previous: false,
                });
                let total = totals
                    .as_mut()
                    .map(|t| t.remove(depot_id).unwrap_or_default());
                found.insert(
                    DepotDriversKey {
                        depot_id: *depot_id,
                        query: query.clone(),
                    },
                    Arc::new(DepotDrivers { page, total }),
                );
            }
        }
        Ok(found)
    }
}

/// Which routes of a driver to load: the reader, filter and window (the same for every driver
/// of one list, so their pages are loaded together).
pub struct DriverRoutesQuery {
    actor: Actor,
    filter: RouteFilter,
    window: Window,
    /// An order and its keyset window, when the list is ordered (then `window` is unused).
    order: Option<(OrderKey<route::Column>, OrderedWindow)>,
    total: bool,
    /// Everything above that changes the result, as text: what keys are compared by.
    signature: String,
}

impl DriverRoutesQuery {
    /// The query for `actor`, with `filter`, one `window` per driver, and the counts when `total`.
    pub fn new(actor: Actor, filter: RouteFilter, window: Window, total: bool) -> Self {
        Self::with_order(actor, filter, window, None, total)
    }

    /// The same, in the order of `order` with its keyset window.
    pub fn with_order(
        actor: Actor,
        filter: RouteFilter,
        window: Window,
        order: Option<(OrderKey<route::Column>, OrderedWindow)>,
        total: bool,
    ) -> Self {
        let signature = format!(
            "{}|{}|{}|{}|{filter:?}|{window:?}|{order:?}|{total}",
            actor.organization_id,
            actor.user_id,
            actor.roles.is_manager(),
            actor.roles.driver
        );
        Self {
            actor,
            filter,
            window,
            order,
            total,
            signature,
        }
    }
}

/// One driver's routes under one [`DriverRoutesQuery`].
#[derive(Clone)]
pub struct DriverRoutesKey {
    /// The driver.
    pub driver_id: Uuid,
    /// What to load.
    pub query: Arc<DriverRoutesQuery>,
}

impl PartialEq for DriverRoutesKey {
    fn eq(&self, other: &Self) -> bool {
        self.driver_id == other.driver_id && self.query.signature == other.query.signature
    }
}

impl Eq for DriverRoutesKey {}

impl Hash for DriverRoutesKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.driver_id.hash(state);
        self.query.signature.hash(state);
    }
}

/// A driver's page of routes, and how many match in all when asked.
pub struct DriverRoutes {
    /// The page.
    pub page: Page<route::Model>,
    /// The number of matching routes of the driver, when the query asked for it.
    pub total: Option<i64>,
    /// Each row's cursor, when the list is ordered.
    pub cursors: Option<Vec<String>>,
}

/// The routes of each driver, one page per driver, in one statement per distinct query (and
/// one more for the counts).
pub struct DriverRoutesLoader(Db);

impl Loader<DriverRoutesKey> for DriverRoutesLoader {
    type Value = Arc<DriverRoutes>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[DriverRoutesKey],
    ) -> Result<HashMap<DriverRoutesKey, Self::Value>, Self::Error> {
        let mut queries: HashMap<&str, (&Arc<DriverRoutesQuery>, Vec<Uuid>)> = HashMap::new();
        for key in keys {
            queries
                .entry(key.query.signature.as_str())
                .or_insert_with(|| (&key.query, Vec::new()))
                .1
                .push(key.driver_id);
        }
        let conn = &self.0.conn;
        let mut found = HashMap::with_capacity(keys.len());
        for (query, drivers) in queries.into_values() {
            let (q, drivers) = (query.as_ref(), drivers.as_slice());
            let mut pages: HashMap<Uuid, OrderedPage<route::Model>> = match &q.order {
                Some((key, window)) => service::route::list_per_driver_ordered(
                    conn, &q.actor, &q.filter, key, window, drivers,
                )
                .await
                .map_err(Arc::new)?,
                None => {
                    service::route::list_per_driver(conn, &q.actor, &q.filter, q.window, drivers)
                        .await
                        .map_err(Arc::new)?
                        .into_iter()
                        .map(|(driver, page)| {
                            (
                                driver,
                                OrderedPage {
                                    page,
                                    cursors: Vec::new(),
                                },
                            )
                        })
                        .collect()
                }
            };
            let mut totals = if q.total {
                Some(
                    service::route::count_per_driver(conn, &q.actor, &q.filter, drivers)
                        .await
                        .map_err(Arc::new)?,
                )
            } else {
                None
            };
            for driver_id in drivers {
                let OrderedPage { page, cursors } =
                    pages.remove(driver_id).unwrap_or(OrderedPage {
                        page: Page {
                            items: Vec::new(),
                            has_next: false,
                            has_previous: false,
                        },
                        cursors: Vec::new(),
                    });
                let cursors = q.order.is_some().then_some(cursors);
                let total = totals
                    .as_mut()
                    .map(|t| t.remove(driver_id).unwrap_or_default());
                found.insert(
                    DriverRoutesKey {
                        driver_id: *driver_id,
                        query: query.clone(),
                    },
                    Arc::new(DriverRoutes {
                        page,
                        total,
                        cursors,
                    }),
                );
            }
        }
        Ok(found)
    }
}

/// A loader of this module, caching what it loaded for one execution.
pub type Cached<T> = DataLoader<T, HashMapCache>;

/// Declares [`Loaders`]: one loader per relation, each made on first use.
macro_rules! loaders {
    ($($(#[$doc:meta])* $field:ident: $loader:ident<$key:ty>,)*) => {
        /// The loaders of one execution (an HTTP operation, a WebSocket operation, a shared
        /// live group), made on first use. Their caches last for that execution, and a
        /// subscription forgets them before each event ([`Loaders::forget`]), so nothing
        /// stale is read across events.
        pub struct Loaders {
            /// Where the loaders read.
            db: Db,
            $($(#[$doc])* $field: OnceLock<Cached<$loader>>,)*
        }

        impl Loaders {
            /// Loaders over `db`, none made yet.
            pub fn new(db: Db) -> Self {
                Self { db, $($field: OnceLock::new(),)* }
            }

            $($(#[$doc])*
            pub fn $field(&self) -> &Cached<$loader> {
                self.$field.get_or_init(|| {
                    DataLoader::with_cache($loader(self.db.clone()), tokio::spawn, HashMapCache::default())
                })
            })*

            /// Forgets everything loaded so far: what follows reads afresh.
            pub fn forget(&self) {
                $(if let Some(loader) = self.$field.get() {
                    loader.clear::<$key>();
                })*
            }
        }
    };
}

loaders! {
    /// Organizations by id.
    organization: OrganizationLoader<Uuid>,
    /// Users (and driver cards) by id.
    user: UserLoader<Uuid>,
    /// Depots by id.
    depot: DepotLoader<Uuid>,
    /// Routes by id.
    route: RouteLoader<Uuid>,
    /// Active route (or none) by driver id.
    active_route: ActiveRouteLoader<Uuid>,
    /// Shares by driver id.
    shares: SharesByDriverLoader<Uuid>,
    /// Pages of drivers by depot.
    depot_drivers: DepotDriversLoader<DepotDriversKey>,
    /// Pages of routes by driver.
    driver_routes: DriverRoutesLoader<DriverRoutesKey>,
    /// Pending invitation expiry by user id.
    invitation_expiry: InvitationExpiryLoader<Uuid>,
}
