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
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};
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
        Ok(by_driver(keys, rows))
    }
}

/// `rows` under their drivers, every one of `keys` present (an unshared driver with none).
fn by_driver(keys: &[Uuid], rows: Vec<share::Model>) -> HashMap<Uuid, Vec<share::Model>> {
    let mut map: HashMap<Uuid, Vec<share::Model>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        map.entry(row.driver_id).or_default().push(row);
    }
    map
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

/// What of the reader changes a list of drivers or routes: its organization, itself, and
/// whether it manages (a non-manager sees only what is its own).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Reader {
    /// The organization read in.
    organization_id: Uuid,
    /// The reader's own membership.
    user_id: Uuid,
    /// ADMIN or DISPATCHER.
    manager: bool,
}

impl Reader {
    /// What of `actor` matters.
    fn of(actor: &Actor) -> Self {
        Self {
            organization_id: actor.organization_id,
            user_id: actor.user_id,
            manager: actor.roles.is_manager(),
        }
    }
}

/// Which drivers of a depot to load: the reader, filter and window (the same for every depot
/// of one list, so their pages are loaded together).
pub struct DepotDriversQuery {
    /// The reader, as the service takes it.
    actor: Actor,
    /// Everything that changes the result: what keys are compared by.
    inputs: DepotDriversInputs,
}

/// Everything that changes the result of a [`DepotDriversQuery`].
#[derive(PartialEq, Eq, Hash)]
struct DepotDriversInputs {
    /// What of the reader matters.
    reader: Reader,
    /// The filter, without a depot (the key's).
    filter: DriverFilter,
    /// The window of each depot's page.
    window: Window,
    /// Whether the counts are asked for.
    total: bool,
}

impl DepotDriversQuery {
    /// The query for `actor`, with `filter`, one `window` per depot, and the counts when `total`.
    pub fn new(actor: Actor, mut filter: DriverFilter, window: Window, total: bool) -> Self {
        // The depot is the key's; a depot filter from the client is replaced by it.
        filter.depot_id = None;
        let inputs = DepotDriversInputs {
            reader: Reader::of(&actor),
            filter,
            window,
            total,
        };
        Self { actor, inputs }
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
        self.depot_id == other.depot_id && self.query.inputs == other.query.inputs
    }
}

impl Eq for DepotDriversKey {}

impl Hash for DepotDriversKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.depot_id.hash(state);
        self.query.inputs.hash(state);
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
        let mut queries: HashMap<&DepotDriversInputs, (&Arc<DepotDriversQuery>, Vec<Uuid>)> =
            HashMap::new();
        for key in keys {
            queries
                .entry(&key.query.inputs)
                .or_insert_with(|| (&key.query, Vec::new()))
                .1
                .push(key.depot_id);
        }
        let conn = &self.0.conn;
        let mut found = HashMap::with_capacity(keys.len());
        for (query, depots) in queries.into_values() {
            let (actor, q, depots) = (&query.actor, &query.inputs, depots.as_slice());
            let mut pages =
                service::driver::list_per_depot(conn, actor, &q.filter, q.window, depots)
                    .await
                    .map_err(Arc::new)?;
            let mut totals = if q.total {
                Some(
                    service::driver::count_per_depot(conn, actor, &q.filter, depots)
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
    /// The reader, as the service takes it.
    actor: Actor,
    /// Everything that changes the result: what keys are compared by.
    inputs: DriverRoutesInputs,
}

/// Everything that changes the result of a [`DriverRoutesQuery`].
#[derive(PartialEq, Eq, Hash)]
struct DriverRoutesInputs {
    /// What of the reader matters.
    reader: Reader,
    /// Whether the reader is a DRIVER.
    driver: bool,
    /// The filter.
    filter: RouteFilter,
    /// The window of each driver's page.
    window: Window,
    /// An order and its keyset window, when the list is ordered (then `window` is unused).
    order: Option<(OrderKey<route::Column>, OrderedWindow)>,
    /// Whether the counts are asked for.
    total: bool,
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
        let inputs = DriverRoutesInputs {
            reader: Reader::of(&actor),
            driver: actor.roles.driver,
            filter,
            window,
            order,
            total,
        };
        Self { actor, inputs }
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
        self.driver_id == other.driver_id && self.query.inputs == other.query.inputs
    }
}

impl Eq for DriverRoutesKey {}

impl Hash for DriverRoutesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.driver_id.hash(state);
        self.query.inputs.hash(state);
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
        let mut queries: HashMap<&DriverRoutesInputs, (&Arc<DriverRoutesQuery>, Vec<Uuid>)> =
            HashMap::new();
        for key in keys {
            queries
                .entry(&key.query.inputs)
                .or_insert_with(|| (&key.query, Vec::new()))
                .1
                .push(key.driver_id);
        }
        let conn = &self.0.conn;
        let mut found = HashMap::with_capacity(keys.len());
        for (query, drivers) in queries.into_values() {
            let (actor, q, drivers) = (&query.actor, &query.inputs, drivers.as_slice());
            let mut pages: HashMap<Uuid, OrderedPage<route::Model>> = match &q.order {
                Some((key, window)) => service::route::list_per_driver_ordered(
                    conn, actor, &q.filter, key, window, drivers,
                )
                .await
                .map_err(Arc::new)?,
                None => service::route::list_per_driver(conn, actor, &q.filter, q.window, drivers)
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
                    .collect(),
            };
            let mut totals = if q.total {
                Some(
                    service::route::count_per_driver(conn, actor, &q.filter, drivers)
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

impl Loaders {
    /// Loads the shares of `drivers` with their partners in one statement (a share's partner is
    /// one row: joined, not loaded apart) into the shares and organization loaders.
    pub async fn feed_shares_with_partners(&self, drivers: Vec<Uuid>) -> Result<(), Arc<AppError>> {
        let rows = share::Entity::find()
            .filter(share::Column::DriverId.is_in(drivers.iter().copied()))
            .select_also(organization::Entity)
            .join(
                JoinType::InnerJoin,
                share::Entity::belongs_to(organization::Entity)
                    .from(share::Column::PartnerId)
                    .to(organization::Column::Id)
                    .into(),
            )
            .all(&self.db.conn)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut shares = Vec::with_capacity(rows.len());
        let mut partners = HashMap::new();
        for (share, partner) in rows {
            if let Some(partner) = partner {
                partners.insert(partner.id, partner);
            }
            shares.push(share);
        }
        tokio::join!(
            self.shares().feed_many(by_driver(&drivers, shares)),
            self.organization().feed_many(partners)
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use uuid::Uuid;

    use super::{DepotDriversKey, DepotDriversQuery, DriverRoutesKey, DriverRoutesQuery};
    use crate::auth::{Actor, Roles};
    use crate::service::driver::DriverFilter;
    use crate::service::page::{Direction, OrderedWindow, Size, Window, cursor};
    use crate::service::route::{RouteFilter, RouteOrderField, order_key};

    fn actor(account_id: Uuid, roles: Roles) -> Actor {
        Actor {
            account_id,
            organization_id: Uuid::nil(),
            user_id: Uuid::max(),
            roles,
        }
    }

    fn window(after: Option<Uuid>) -> Window {
        let after = after.map(cursor);
        Window::new(Size::First(10), after.as_deref(), None).unwrap()
    }

    fn routes(
        actor: Actor,
        filter: RouteFilter,
        window: Window,
        order: Option<RouteOrderField>,
        total: bool,
    ) -> DriverRoutesKey {
        let order = order.map(|field| {
            let key = order_key("driver.routes", field, Direction::Asc);
            let ordered = OrderedWindow::new(Size::First(10), None, None, &key).unwrap();
            (key, ordered)
        });
        DriverRoutesKey {
            driver_id: Uuid::nil(),
            query: Arc::new(DriverRoutesQuery::with_order(
                actor, filter, window, order, total,
            )),
        }
    }

    #[test]
    fn queries_that_differ_only_in_what_does_not_change_the_result_are_one_key() {
        let manager = Roles {
            admin: true,
            ..Roles::default()
        };
        let dispatcher = Roles {
            dispatcher: true,
            ..Roles::default()
        };
        let depot = |actor, depot_id| DepotDriversKey {
            depot_id: Uuid::nil(),
            query: Arc::new(DepotDriversQuery::new(
                actor,
                DriverFilter {
                    depot_id,
                    ..DriverFilter::default()
                },
                window(None),
                true,
            )),
        };
        let keys: HashSet<_> = [
            depot(actor(Uuid::nil(), manager), None),
            depot(actor(Uuid::max(), dispatcher), Some(Uuid::max())),
        ]
        .into();
        assert_eq!(keys.len(), 1);
        let keys: HashSet<_> = [
            routes(
                actor(Uuid::nil(), manager),
                RouteFilter::default(),
                window(None),
                None,
                true,
            ),
            routes(
                actor(Uuid::max(), dispatcher),
                RouteFilter::default(),
                window(None),
                None,
                true,
            ),
        ]
        .into();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn queries_that_differ_in_anything_that_changes_the_result_are_different_keys() {
        let reader = actor(Uuid::nil(), Roles::default());
        let driver = actor(
            Uuid::nil(),
            Roles {
                driver: true,
                ..Roles::default()
            },
        );
        let mut moved = reader.clone();
        moved.organization_id = Uuid::max();
        let filtered = RouteFilter {
            depot_id: Some(Uuid::nil()),
            ..RouteFilter::default()
        };
        let keys: HashSet<_> = [
            routes(
                reader.clone(),
                RouteFilter::default(),
                window(None),
                None,
                false,
            ),
            routes(driver, RouteFilter::default(), window(None), None, false),
            routes(moved, RouteFilter::default(), window(None), None, false),
            routes(reader.clone(), filtered, window(None), None, false),
            routes(
                reader.clone(),
                RouteFilter::default(),
                window(Some(Uuid::nil())),
                None,
                false,
            ),
            routes(
                reader.clone(),
                RouteFilter::default(),
                window(None),
                None,
                true,
            ),
            routes(
                reader.clone(),
                RouteFilter::default(),
                window(None),
                Some(RouteOrderField::Name),
                false,
            ),
            routes(
                reader,
                RouteFilter::default(),
                window(None),
                Some(RouteOrderField::Status),
                false,
            ),
        ]
        .into();
        assert_eq!(keys.len(), 8);
    }
}
