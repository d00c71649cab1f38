//! Cursor pagination over UUID v7 keys: a stable order (creation order) whose opaque cursors
//! survive inserts and deletes between pages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
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
    let mut query = select;
    if let Some(after) = window.after {
        query = query.filter(key.gt(after));
    }
    if let Some(before) = window.before {
        query = query.filter(key.lt(before));
    }
    query = if window.backward {
        query.order_by_desc(key)
    } else {
        query.order_by_asc(key)
    };
    let mut items = if window.limit == 0 {
        Vec::new()
    } else {
        query.limit(window.limit + 1).all(conn).await?
    };
    let more = items.len() as u64 > window.limit;
    items.truncate(window.limit as usize);
    if window.backward {
        items.reverse();
    }
    Ok(if window.backward {
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
    })
}
