//! Cursor pagination over UUID v7 keys: a stable order (creation order) whose opaque cursors
//! survive inserts and deletes between pages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 50;
/// Largest page.
pub const MAX_PAGE: i32 = 500;

/// `first/after/last/before` as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Items after `after`.
    pub first: Option<i32>,
    /// Cursor to start after.
    pub after: Option<String>,
    /// Items before `before`.
    pub last: Option<i32>,
    /// Cursor to end before.
    pub before: Option<String>,
}

/// One page of rows.
#[derive(Debug, Clone)]
pub struct Page<M> {
    /// The rows, in order.
    pub items: Vec<M>,
    /// More rows follow.
    pub has_next: bool,
    /// Rows precede.
    pub has_previous: bool,
}

/// The cursor of the row with key `id`.
pub fn cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(raw: &str, field: &str) -> AppResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| Uuid::from_slice(&b).ok())
        .ok_or_else(|| AppError::bad_input(field, "is not a valid cursor"))
}

fn size(value: Option<i32>, field: &str) -> AppResult<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if !(0..=MAX_PAGE).contains(&n) => Err(AppError::bad_input(
            field,
            format!("must be between 0 and {MAX_PAGE}"),
        )),
        Some(n) => Ok(Some(n as u64)),
    }
}

/// Checked arguments, ready to apply.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    after: Option<Uuid>,
    before: Option<Uuid>,
    /// Forward (`first`) or backward (`last`).
    backward: bool,
    limit: u64,
}

impl PageArgs {
    /// Validates the arguments (before any query runs).
    pub fn window(&self) -> AppResult<Window> {
        let first = size(self.first, "first")?;
        let last = size(self.last, "last")?;
        if first.is_some() && last.is_some() {
            return Err(AppError::bad_input(
                "last",
                "pass either first or last, not both",
            ));
        }
        Ok(Window {
            after: self
                .after
                .as_deref()
                .map(|c| decode_cursor(c, "after"))
                .transpose()?,
            before: self
                .before
                .as_deref()
                .map(|c| decode_cursor(c, "before"))
                .transpose()?,
            backward: last.is_some(),
            limit: first.or(last).unwrap_or(DEFAULT_PAGE),
        })
    }
}

/// Runs `select` for one page ordered by `key`.
pub async fn fetch<E, C>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    key: C,
    window: Window,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let mut query = bounded(select, key, window);
    query = if window.backward {
        query.order_by_desc(key)
    } else {
        query.order_by_asc(key)
    };
    let items = if window.limit == 0 {
        Vec::new()
    } else {
        query.limit(window.limit + 1).all(conn).await?
    };
    Ok(cut(items, window))
}

/// The same window over the rows of each parent (rows whose `parent` column is one of
/// `parents`), in one statement however many parents: each parent's rows are ranked by `key`
/// (`ROW_NUMBER() OVER (PARTITION BY parent …)`) and only the first `limit + 1` kept.
/// Every parent gets a page, empty when it has no rows.
pub async fn fetch_per_parent<E, K, P>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    key: K,
    parent: P,
    parent_of: impl Fn(&E::Model) -> Option<Uuid>,
    parents: &[Uuid],
    window: Window,
) -> AppResult<HashMap<Uuid, Page<E::Model>>>
where
    E: EntityTrait,
    K: ColumnTrait,
    P: ColumnTrait,
{
    let mut grouped: HashMap<Uuid, Vec<E::Model>> =
        parents.iter().map(|p| (*p, Vec::new())).collect();
    if window.limit > 0 && !parents.is_empty() {
        let order = if window.backward {
            Order::Desc
        } else {
            Order::Asc
        };
        let mut ranked = bounded(select, key, window)
            .filter(parent.is_in(parents.iter().copied()))
            .into_query();
        ranked.expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by(parent)
                .order_by(key, order)
                .to_owned(),
            Alias::new(RANK),
        );
        let paged = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(Alias::new(RANK)).lte(window.limit as i64 + 1))
            .order_by(Alias::new(RANK), Order::Asc)
            .to_owned();
        let statement = conn.get_database_backend().build(&paged);
        for row in E::find().from_raw_sql(statement).all(conn).await? {
            if let Some(rows) = parent_of(&row).and_then(|p| grouped.get_mut(&p)) {
                rows.push(row);
            }
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(parent, items)| (parent, cut(items, window)))
        .collect())
}

/// The rank column of [`fetch_per_parent`].
const RANK: &str = "page_rank";

/// `select` restricted to the rows after `after` and before `before`.
fn bounded<E: EntityTrait, C: ColumnTrait>(select: Select<E>, key: C, window: Window) -> Select<E> {
    let mut query = select;
    if let Some(after) = window.after {
        query = query.filter(key.gt(after));
    }
    if let Some(before) = window.before {
        query = query.filter(key.lt(before));
    }
    query
}

/// A page from up to `limit + 1` rows in the window's fetch order.
fn cut<M>(mut items: Vec<M>, window: Window) -> Page<M> {
    let more = items.len() as u64 > window.limit;
    items.truncate(window.limit as usize);
    if window.backward {
        items.reverse();
        Page {
            items,
            has_next: window.before.is_some(),
            has_previous: more,
        }
    } else {
        Page {
            items,
            has_next: more,
            has_previous: window.after.is_some(),
        }
    }
}
