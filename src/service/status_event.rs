//! The audit trail: the status events an organization may see (exactly what its live stream
//! receives), newest first, filtered, in keyset pages over the global cursor.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Select,
};
use uuid::Uuid;

use entity::status_event::{self, EventKind};
use entity::status_event_audience as audience;

use crate::auth::Actor;
use crate::domain::Input;
use crate::error::{AppError, AppResult};
use crate::events::visibility;
use crate::service::page::{OrderedPage, Page, Size, Window};

/// Filters of `organization.statusEvents`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Any of these kinds.
    pub kinds: Option<Vec<EventKind>>,
    /// About this driver.
    pub driver_id: Option<Uuid>,
    /// About this user (the organization's own: partners never see users).
    pub user_id: Option<Uuid>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// Checked page arguments over cursors, newest first: `after` reads older events, `before`
/// newer ones.
#[derive(Debug, Clone, Copy)]
pub struct EventWindow {
    after: Option<i64>,
    before: Option<i64>,
    backward: bool,
    limit: u64,
}

fn parse_cursor(raw: &str, field: Input) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| AppError::refused(field, "is not a cursor of this gateway"))
}

impl EventWindow {
    /// The window of `size` events between the cursors `after` and `before` (event ids, as
    /// this gateway writes them; BAD_USER_INPUT naming the argument otherwise).
    pub fn new(size: Size, after: Option<&str>, before: Option<&str>) -> AppResult<Self> {
        let plain = Window::new(size, None, None)?;
        let decode =
            |raw: Option<&str>, field: Input| raw.map(|c| parse_cursor(c, field)).transpose();
        Ok(Self {
            after: decode(after, Input::After)?,
            before: decode(before, Input::Before)?,
            backward: plain.is_backward(),
            limit: plain.limit(),
        })
    }
}

/// The events of the actor's organization itself.
fn own(actor: &Actor) -> Select<status_event::Entity> {
    status_event::Entity::find()
        .filter(status_event::Column::OrganizationId.eq(actor.organization_id))
}

/// The events of other organizations' drivers that named the actor's organization in their
/// audience when written, through the audience index (one row per event and partner).
fn as_partner(actor: &Actor) -> Select<status_event::Entity> {
    status_event::Entity::find()
        .join_rev(JoinType::InnerJoin, audience::Relation::Event.def())
        .filter(audience::Column::OrganizationId.eq(actor.organization_id.to_string()))
        .filter(status_event::Column::OrganizationId.ne(actor.organization_id))
}

fn filtered(
    mut q: Select<status_event::Entity>,
    filter: &EventFilter,
    partner: bool,
) -> Select<status_event::Entity> {
    if let Some(kinds) = &filter.kinds {
        q = q.filter(status_event::Column::Kind.is_in(kinds.clone()));
    }
    if let Some(driver) = filter.driver_id {
        q = q
            .filter(status_event::Column::UserId.eq(driver))
            .filter(status_event::Column::IsDriver.eq(true));
    }
    if let Some(user) = filter.user_id {
        // Partners never see users: a user filter matches only the organization's own.
        q = q.filter(if partner {
            Condition::all().add(status_event::Column::Id.lt(0))
        } else {
            Condition::all().add(status_event::Column::UserId.eq(user))
        });
    }
    if let Some(from) = filter.from {
        q = q.filter(status_event::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(status_event::Column::At.lt(to));
    }
    q
}

/// `q` restricted to the window on `key`.
fn bounded<C: ColumnTrait>(
    mut q: Select<status_event::Entity>,
    key: C,
    window: EventWindow,
) -> Select<status_event::Entity> {
    if let Some(after) = window.after {
        q = q.filter(key.lt(after));
    }
    if let Some(before) = window.before {
        q = q.filter(key.gt(before));
    }
    q
}

/// `q` restricted to the window and ordered by `key`, the cursor column of its index (the
/// event's own id, or the audience row's event id for the partner part).
fn windowed<C: ColumnTrait>(
    q: Select<status_event::Entity>,
    key: C,
    window: EventWindow,
) -> Select<status_event::Entity> {
    let q = bounded(q, key, window);
    if window.backward {
        q.order_by_asc(key)
    } else {
        q.order_by_desc(key)
    }
    .limit(window.limit + 1)
}

/// One page of the audit trail of the actor's organization (managers, like the live stream):
/// two statements, each reading at most a page in index order, whatever the log's size.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &EventFilter,
    window: EventWindow,
) -> AppResult<OrderedPage<status_event::Model>> {
    actor.require_manager()?;
    let rows = if window.limit > 0 {
        matching(conn, actor, filter, window).await?
    } else {
        Vec::new()
    };
    let page = cut(rows, window);
    let cursors = page.items.iter().map(|e| e.id.to_string()).collect();
    Ok(OrderedPage { page, cursors })
}

/// The events in `window` the actor's organization sees: its own, and those it receives as a
/// partner; up to `limit + 1` of each, unordered.
async fn matching(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &EventFilter,
    window: EventWindow,
) -> AppResult<Vec<status_event::Model>> {
    let mut rows = windowed(
        filtered(own(actor), filter, false),
        status_event::Column::Id,
        window,
    )
    .all(conn)
    .await?;
    // Bounded on both sides of the join, so neither index is read from its end.
    let shared = windowed(
        bounded(
            filtered(as_partner(actor), filter, true),
            status_event::Column::Id,
            window,
        ),
        audience::Column::EventId,
        window,
    )
    .all(conn)
    .await?;
    rows.extend(
        shared
            .into_iter()
            .filter(|e| visibility::receives(e, actor.organization_id)),
    );
    Ok(rows)
}

/// The page of `window` out of `rows`: newest first, `limit` of them, and whether more follow.
fn cut(mut rows: Vec<status_event::Model>, window: EventWindow) -> Page<status_event::Model> {
    if window.backward {
        rows.sort_by_key(|e| e.id);
    } else {
        rows.sort_by_key(|e| std::cmp::Reverse(e.id));
    }
    let more = rows.len() as u64 > window.limit;
    rows.truncate(window.limit as usize);
    if window.backward {
        rows.reverse();
        return Page {
            items: rows,
            has_next: window.before.is_some(),
            has_previous: more,
        };
    }
    Page {
        items: rows,
        has_next: more,
        has_previous: window.after.is_some(),
    }
}

/// How many events of the audit trail match.
pub async fn count(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &EventFilter,
) -> AppResult<i64> {
    actor.require_manager()?;
    let own = filtered(own(actor), filter, false).count(conn).await?;
    let shared = filtered(as_partner(actor), filter, true)
        .count(conn)
        .await?;
    Ok((own + shared) as i64)
}
