//! `statusChanged`: the live status stream and the `StatusEvent` type.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{
    Context, Enum, ID, InputObject, Object, Result, Subscription as SubscriptionObject,
};
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use entity::status_event::{self, EventKind};

use crate::error::{AppError, AppResult};
use crate::events::hub::Event;
use crate::events::stream::{self, StreamEnd};
use crate::events::visibility::Subscriber;
use crate::graphql::boxed;
use crate::graphql::connection::{PageInfo, ordered_parts};
use crate::graphql::driver::Driver;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::OrganizationMatch;
use crate::graphql::route::Route;
use crate::graphql::user::{User, UserStatus};
use crate::graphql::{Gql, actor, actor_opt, auth, loader_error, loaders, state};
use crate::service;
use crate::service::page::OrderedPage;

/// What happened to a user or driver.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum StatusEventKind {
    /// Invited to the organization.
    Invited,
    /// Accepted the invitation.
    Activated,
    /// A driver set INACTIVE.
    Deactivated,
    /// A driver set ACTIVE again.
    Reactivated,
    /// Removed from the organization.
    Deleted,
    /// A driver shared with a partner.
    Shared,
    /// A share ended.
    Unshared,
    /// Assigned to a route.
    Assigned,
    /// Removed from a route.
    Unassigned,
    /// A route with a driver started.
    RouteStarted,
    /// A route with a driver completed.
    RouteCompleted,
    /// A route with a driver was cancelled.
    RouteCancelled,
}

impl From<EventKind> for StatusEventKind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::Invited => Self::Invited,
            EventKind::Activated => Self::Activated,
            EventKind::Deactivated => Self::Deactivated,
            EventKind::Reactivated => Self::Reactivated,
            EventKind::Deleted => Self::Deleted,
            EventKind::Shared => Self::Shared,
            EventKind::Unshared => Self::Unshared,
            EventKind::Assigned => Self::Assigned,
            EventKind::Unassigned => Self::Unassigned,
            EventKind::RouteStarted => Self::RouteStarted,
            EventKind::RouteCompleted => Self::RouteCompleted,
            EventKind::RouteCancelled => Self::RouteCancelled,
        }
    }
}

/// One change of a user's or driver's status, as a live dashboard sees it.
pub struct StatusEvent(Arc<status_event::Model>);

impl StatusEvent {
    /// Whether the subscriber is the owner organization (and may see the user).
    fn owner_view(&self, ctx: &Context<'_>) -> bool {
        actor_opt(ctx).is_some_and(|a| a.organization_id == self.0.organization_id)
    }
}

#[Object]
impl StatusEvent {
    /// Position in the gateway's event log, increasing across all organizations; pass the last one seen as `after` to resume without loss.
    async fn cursor(&self) -> String {
        self.0.id.to_string()
    }
    async fn kind(&self) -> StatusEventKind {
        self.0.kind.into()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    async fn user_id(&self, ctx: &Context<'_>) -> Option<ID> {
        self.owner_view(ctx)
            .then(|| ids::encode(Kind::User, self.0.user_id))
    }
    async fn driver_id(&self) -> Option<ID> {
        self.0
            .is_driver
            .then(|| ids::encode(Kind::Driver, self.0.user_id))
    }
    /// Null when the subject was deleted or is no longer visible to the subscriber.
    async fn driver(&self, ctx: &Context<'_>) -> Result<Option<Driver>> {
        boxed(async move {
            if !self.0.is_driver {
                return Ok(None);
            }
            crate::graphql::driver::visible(ctx, self.0.user_id).await
        })
        .await
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        boxed(async move {
            if !self.owner_view(ctx) {
                return Ok(None);
            }
            Ok(loaders(ctx)?
                .user()
                .load_one(self.0.user_id)
                .await
                .map_err(loader_error)?
                .map(User))
        })
        .await
    }
    async fn previous_status(&self) -> Option<UserStatus> {
        self.0.previous_status.map(Into::into)
    }
    async fn status(&self) -> Option<UserStatus> {
        self.0.status.map(Into::into)
    }
    /// For SHARED/UNSHARED: the partner; for route kinds seen by the owner of a driver on a partner's route: that partner.
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<OrganizationMatch>> {
        boxed(async move {
            let Some(partner) = self.0.partner_id else {
                return Ok(None);
            };
            let about_a_route = self.0.route_id.is_some();
            if about_a_route && !self.owner_view(ctx) {
                // The route's organization reads the route itself.
                return Ok(None);
            }
            Ok(loaders(ctx)?
                .organization()
                .load_one(partner)
                .await
                .map_err(loader_error)?
                .map(OrganizationMatch::from))
        })
        .await
    }
    /// For ASSIGNED, UNASSIGNED and ROUTE_*: the route, when the subscriber may see it.
    async fn route(&self, ctx: &Context<'_>) -> Result<Option<Route>> {
        boxed(async move {
            let (Some(route_id), Some(actor)) = (self.0.route_id, actor_opt(ctx)) else {
                return Ok(None);
            };
            let route = loaders(ctx)?
                .route()
                .load_one(route_id)
                .await
                .map_err(loader_error)?;
            Ok(route
                .filter(|r| service::route::visible(&actor, r))
                .map(Route))
        })
        .await
    }
}

/// The events of a `statusChanged` execution the live wing runs itself: a shared group's, or a
/// member's catch-up. The resolver still authorizes the subscriber and decides where the stream
/// starts and for whom ([`stream::Opening`]); the feed opens it, so the live wing reads its
/// cursors on its own stream. Without a feed the resolver opens the subscriber's own stream.
pub struct Feed(std::sync::Mutex<Option<Opener>>);

/// Opens the events of a [`Feed`].
type Opener =
    Box<dyn FnOnce(stream::Opening) -> BoxStream<'static, Result<Event, StreamEnd>> + Send>;

impl Feed {
    /// A feed opened by `opener`.
    pub fn new(
        opener: impl FnOnce(stream::Opening) -> BoxStream<'static, Result<Event, StreamEnd>>
        + Send
        + 'static,
    ) -> Self {
        Self(std::sync::Mutex::new(Some(Box::new(opener))))
    }

    /// The feed's events; once per execution.
    fn open(
        &self,
        opening: stream::Opening,
    ) -> Result<BoxStream<'static, Result<Event, StreamEnd>>> {
        let opener = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        let opener = opener
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a live feed was opened twice")))
            .gql()?;
        Ok(opener(opening))
    }
}

/// The root subscription.
pub struct Subscription;

#[SubscriptionObject]
impl Subscription {
    /// Status changes of the viewer's organization's users and drivers, and of drivers shared with it (a DRIVER: its own). Replays from `after` first when given.
    async fn status_changed(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<StatusEvent>> + use<>> {
        let actor = actor(ctx)?;
        let subscriber = Subscriber {
            organization_id: actor.organization_id,
            driver: (!actor.roles.is_manager()).then_some(actor.user_id),
        };
        let state = state(ctx);
        let after = after
            .as_deref()
            .map(stream::parse_cursor)
            .transpose()
            .gql()?;
        if let Some(after) = after {
            stream::check_retained(&state.db, after).await.gql()?;
        }
        let expires_at = auth(ctx).principal().gql()?.expires_at;
        // A token already past its expiry has no time left.
        let remaining =
            Duration::from_secs(u64::try_from(expires_at - Utc::now().timestamp()).unwrap_or(0));
        let opening = stream::Opening {
            hub: state.events.clone(),
            db: state.db.clone(),
            subscriber,
            after,
            expires_in: remaining,
        };
        let events = match ctx.data_opt::<Feed>() {
            Some(feed) => feed.open(opening)?,
            None => stream::open(opening, stream::Reading::Own).boxed(),
        };
        let loaders = ctx
            .data::<std::sync::Arc<crate::graphql::loaders::Loaders>>()?
            .clone();
        Ok(events.map(move |item| match item {
            Ok(event) => {
                // Each event reads afresh: what the last one loaded may have changed since.
                loaders.forget();
                Ok(StatusEvent(event.model.clone()))
            }
            Err(StreamEnd::TokenExpired) => Err(AppError::Unauthenticated(
                "the access token expired; subscribe again with a fresh token".into(),
            ))
            .gql(),
            Err(StreamEnd::Failed) => {
                Err(AppError::Internal(anyhow::anyhow!("event log unavailable"))).gql()
            }
            Err(StreamEnd::Pruned) => Err(stream::pruned_error()).gql(),
        }))
    }
}

impl From<StatusEventKind> for EventKind {
    fn from(k: StatusEventKind) -> Self {
        match k {
            StatusEventKind::Invited => Self::Invited,
            StatusEventKind::Activated => Self::Activated,
            StatusEventKind::Deactivated => Self::Deactivated,
            StatusEventKind::Reactivated => Self::Reactivated,
            StatusEventKind::Deleted => Self::Deleted,
            StatusEventKind::Shared => Self::Shared,
            StatusEventKind::Unshared => Self::Unshared,
            StatusEventKind::Assigned => Self::Assigned,
            StatusEventKind::Unassigned => Self::Unassigned,
            StatusEventKind::RouteStarted => Self::RouteStarted,
            StatusEventKind::RouteCompleted => Self::RouteCompleted,
            StatusEventKind::RouteCancelled => Self::RouteCancelled,
        }
    }
}

/// Filters of the audit trail.
#[derive(InputObject, Default)]
pub struct StatusEventFilter {
    kinds: Option<Vec<StatusEventKind>>,
    driver_id: Option<ID>,
    user_id: Option<ID>,
    /// Inclusive lower bound of `at`.
    from: Option<DateTime<Utc>>,
    /// Exclusive upper bound of `at`.
    to: Option<DateTime<Utc>>,
}

impl StatusEventFilter {
    /// The service's filter; malformed IDs are BAD_USER_INPUT.
    pub fn into_service(self) -> AppResult<service::status_event::EventFilter> {
        Ok(service::status_event::EventFilter {
            kinds: self.kinds.map(|k| k.into_iter().map(Into::into).collect()),
            driver_id: self
                .driver_id
                .as_ref()
                .map(|id| ids::decode(id, Kind::Driver, "filter.driverId"))
                .transpose()?,
            user_id: self
                .user_id
                .as_ref()
                .map(|id| ids::decode(id, Kind::User, "filter.userId"))
                .transpose()?,
            from: self.from,
            to: self.to,
        })
    }
}

/// An edge of the audit trail: an event and its cursor (the event's own).
pub struct StatusEventEdge {
    cursor: String,
    node: StatusEvent,
}

#[Object]
impl StatusEventEdge {
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    async fn node(&self) -> &StatusEvent {
        &self.node
    }
}

/// A page of the audit trail, newest first.
pub struct StatusEventConnection {
    edges: Vec<StatusEventEdge>,
    page_info: PageInfo,
    total_count: i64,
}

impl StatusEventConnection {
    /// Builds the connection from a service page.
    pub fn new(page: OrderedPage<status_event::Model>, total_count: Option<i64>) -> Self {
        let (edges, page_info) =
            ordered_parts(page, |e: status_event::Model| StatusEvent(Arc::new(e)));
        Self {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| StatusEventEdge { cursor, node })
                .collect(),
            page_info,
            // None: `totalCount` was not selected, so the 0 is never read.
            total_count: total_count.unwrap_or(0),
        }
    }
}

#[Object]
impl StatusEventConnection {
    async fn edges(&self) -> &[StatusEventEdge] {
        &self.edges
    }
    async fn nodes(&self) -> Vec<&StatusEvent> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Items matching, over all pages.
    async fn total_count(&self) -> i64 {
        self.total_count
    }
}
