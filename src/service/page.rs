//! Cursor pagination over UUID v7 keys: a stable order (creation order) whose opaque cursors
//! survive inserts and deletes between pages.

use anyhow::Context as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use sea_orm::sea_query::{
    Alias, Asterisk, ColumnRef, Expr, ExprTrait, IntoColumnRef, Order, Query, WindowStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
};
use uuid::Uuid;

use super::rows::{self, Decode};
use crate::domain::Input;
use crate::error::{AppError, AppResult};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 50;
/// Largest page.
pub const MAX_PAGE: i32 = 500;

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

fn decode_cursor(raw: &str, field: Input) -> AppResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| Uuid::from_slice(&b).ok())
        .ok_or_else(|| AppError::refused(field, "is not a valid cursor"))
}

/// How many rows a window holds, and from which end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The first rows (after the `after` cursor, when given).
    First(u64),
    /// The last rows (before the `before` cursor, when given).
    Last(u64),
}

impl Size {
    fn limit(self) -> u64 {
        match self {
            Self::First(n) | Self::Last(n) => Ord::min(n, MAX_PAGE as u64),
        }
    }

    fn backward(self) -> bool {
        matches!(self, Self::Last(_))
    }
}

/// Checked arguments, ready to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    after: Option<Uuid>,
    before: Option<Uuid>,
    /// Forward (`first`) or backward (`last`).
    backward: bool,
    limit: u64,
}

impl Window {
    /// The window of `size` rows between the cursors `after` and `before` (as [`cursor`]
    /// writes them; BAD_USER_INPUT naming the argument otherwise).
    pub fn new(size: Size, after: Option<&str>, before: Option<&str>) -> AppResult<Self> {
        Ok(Self {
            after: after.map(|c| decode_cursor(c, Input::After)).transpose()?,
            before: before
                .map(|c| decode_cursor(c, Input::Before))
                .transpose()?,
            backward: size.backward(),
            limit: size.limit(),
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
    E: Decode,
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
        rows::all(conn, query.limit(window.limit + 1)).await?
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
    E: Decode,
    K: ColumnTrait,
    P: ColumnTrait,
{
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let rows = bounded(select, key, window).filter(parent.is_in(parents.iter().copied()));
    let grouped = first_per_parent(
        conn,
        rows,
        parent,
        &[(key.into_column_ref(), order)],
        window.limit,
        parent_of,
        parents,
    )
    .await?;
    Ok(grouped
        .into_iter()
        .map(|(parent, items)| (parent, cut(items, window)))
        .collect())
}

/// The first `limit + 1` rows of `rows` for each of `parents`, in `order` within each parent,
/// in one statement (`ROW_NUMBER() OVER (PARTITION BY parent ORDER BY …)`). Every parent has an
/// entry, empty when it has no rows.
async fn first_per_parent<E: Decode, P: ColumnTrait>(
    conn: &impl ConnectionTrait,
    rows: Select<E>,
    parent: P,
    order: &[(ColumnRef, Order)],
    limit: u64,
    parent_of: impl Fn(&E::Model) -> Option<Uuid>,
    parents: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<E::Model>>> {
    let mut grouped: HashMap<Uuid, Vec<E::Model>> =
        parents.iter().map(|p| (*p, Vec::new())).collect();
    if limit == 0 || parents.is_empty() {
        return Ok(grouped);
    }
    let mut window = WindowStatement::partition_by(parent);
    for (column, direction) in order {
        window.order_by(column.clone(), direction.clone());
    }
    let mut ranked = rows.into_query();
    ranked.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new(RANK));
    let paged = Query::select()
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new(RANK)).lte(limit as i64 + 1))
        .order_by(Alias::new(RANK), Order::Asc)
        .to_owned();
    let statement = conn.get_database_backend().build(&paged);
    for row in rows::all_raw::<E>(conn, statement).await? {
        if let Some(rows) = parent_of(&row).and_then(|p| grouped.get_mut(&p)) {
            rows.push(row);
        }
    }
    Ok(grouped)
}

/// The rank column of [`fetch_per_parent`].
const RANK: &str = "page_rank";

/// `select` restricted to the rows after `after` and before `before`.
fn bounded<E: Decode, C: ColumnTrait>(select: Select<E>, key: C, window: Window) -> Select<E> {
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

/// Which way an ordered list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first.
    #[default]
    Asc,
    /// Greatest first.
    Desc,
}

/// What a sort column holds, so a cursor's value is read back with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Text (names, emails, statuses stored as text).
    Text,
    /// A timestamp.
    Time,
}

/// The key of an ordered list: one column, then the id to break ties, both in `direction`.
#[derive(Debug, Clone, Copy)]
pub struct OrderKey<C> {
    /// The sort column.
    pub column: C,
    /// What it holds.
    pub kind: KeyKind,
    /// Its direction (the id follows it).
    pub direction: Direction,
    /// Names the list in its cursors, so another list's cursor is refused.
    pub list: &'static str,
    /// Names the order in its cursors, so another order's cursor is refused.
    pub name: &'static str,
}

/// Two keys are equal when they order alike: the same column, kind, direction, list and name.
/// The column is compared by its name, as sea-orm's generated `Column` enums implement neither
/// `PartialEq` nor `Hash`; within one table a name is one column.
impl<C: IdenStatic> OrderKey<C> {
    fn identity(&self) -> (&'static str, KeyKind, Direction, &'static str, &'static str) {
        // Destructured, so a field added to the key cannot be left out of its equality.
        let Self {
            column,
            kind,
            direction,
            list,
            name,
        } = *self;
        (column.as_str(), kind, direction, list, name)
    }
}

impl<C: IdenStatic> PartialEq for OrderKey<C> {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl<C: IdenStatic> Eq for OrderKey<C> {}

impl<C: IdenStatic> Hash for OrderKey<C> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl<C> OrderKey<C> {
    /// The order's name with its direction, as cursors carry it.
    fn label(&self) -> String {
        match self.direction {
            Direction::Asc => format!("{}:{}:ASC", self.list, self.name),
            Direction::Desc => format!("{}:{}:DESC", self.list, self.name),
        }
    }
}

/// A position in an ordered list: the sort value and the id of a row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Position {
    /// The order it belongs to.
    o: String,
    /// The sort value (text, or RFC 3339 for times).
    v: Option<String>,
    /// The row's id.
    i: Uuid,
}

/// Checked arguments of an ordered list, with their cursors decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderedWindow {
    after: Option<(sea_orm::Value, Uuid)>,
    before: Option<(sea_orm::Value, Uuid)>,
    backward: bool,
    limit: u64,
}

impl Window {
    /// Rows asked for.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the page is asked from the end (`last`).
    pub fn is_backward(&self) -> bool {
        self.backward
    }
}

impl OrderedWindow {
    fn plain(&self) -> Window {
        Window {
            after: self.after.as_ref().map(|p| p.1),
            before: self.before.as_ref().map(|p| p.1),
            backward: self.backward,
            limit: self.limit,
        }
    }
}

impl OrderedWindow {
    /// The window of `size` rows between the cursors `after` and `before` of the list ordered
    /// by `key`: they must come from that same order (BAD_USER_INPUT otherwise).
    pub fn new<C>(
        size: Size,
        after: Option<&str>,
        before: Option<&str>,
        key: &OrderKey<C>,
    ) -> AppResult<Self> {
        let decode = |raw: Option<&str>, field: Input| {
            raw.map(|c| decode_position(c, key, field)).transpose()
        };
        Ok(Self {
            after: decode(after, Input::After)?,
            before: decode(before, Input::Before)?,
            backward: size.backward(),
            limit: size.limit(),
        })
    }
}

fn decode_position<C>(
    raw: &str,
    key: &OrderKey<C>,
    field: Input,
) -> AppResult<(sea_orm::Value, Uuid)> {
    let refused = || AppError::refused(field, "is not a cursor of this list and order");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| refused())?;
    let position: Position = serde_json::from_slice(&bytes).map_err(|_| refused())?;
    if position.o != key.label() {
        return Err(refused());
    }
    let value = match (key.kind, position.v) {
        (KeyKind::Text, v) => sea_orm::Value::String(v),
        (KeyKind::Time, None) => sea_orm::Value::ChronoDateTimeUtc(None),
        (KeyKind::Time, Some(t)) => {
            let t = chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|_| refused())?
                .with_timezone(&chrono::Utc);
            sea_orm::Value::ChronoDateTimeUtc(Some(t))
        }
    };
    Ok((value, position.i))
}

/// The cursor of `row` in the list ordered by `key`.
pub fn ordered_cursor<M, C>(row: &M, key: &OrderKey<C>, id: Uuid) -> AppResult<String>
where
    M: sea_orm::ModelTrait,
    C: ColumnTrait + Into<<M::Entity as EntityTrait>::Column>,
{
    let value = match row.get(key.column.into()) {
        sea_orm::Value::String(s) => s,
        sea_orm::Value::ChronoDateTimeUtc(t) => {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        other => Some(format!("{other:?}")),
    };
    let position = Position {
        o: key.label(),
        v: value,
        i: id,
    };
    let json = serde_json::to_vec(&position).context("Failed to encode a cursor")?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// One page of an ordered list, with each row's cursor.
#[derive(Debug, Clone)]
pub struct OrderedPage<M> {
    /// The rows and page flags.
    pub page: Page<M>,
    /// The cursor of each row, in the same order.
    pub cursors: Vec<String>,
}

/// Runs `select` for one page ordered by `key` then `id`: a keyset page, the rows after (or
/// before) the cursor's `(value, id)` position, so inserts between pages neither skip nor
/// repeat rows.
pub async fn fetch_ordered<E, C, I>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    key: &OrderKey<C>,
    id: I,
    id_of: impl Fn(&E::Model) -> Uuid,
    window: &OrderedWindow,
) -> AppResult<OrderedPage<E::Model>>
where
    E: Decode,
    C: ColumnTrait + Into<E::Column>,
    I: ColumnTrait,
{
    let descending = key.direction == Direction::Desc;
    let mut query = select;
    if let Some((value, at)) = &window.after {
        query = query.filter(past(key.column, id, value, *at, descending));
    }
    if let Some((value, at)) = &window.before {
        query = query.filter(past(key.column, id, value, *at, !descending));
    }
    let order = if descending != window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    query = query
        .order_by(key.column, order.clone())
        .order_by(id, order);
    let items = if window.limit == 0 {
        Vec::new()
    } else {
        rows::all(conn, query.limit(window.limit + 1)).await?
    };
    let page = cut(items, window.plain());
    let cursors = page
        .items
        .iter()
        .map(|row| ordered_cursor(row, key, id_of(row)))
        .collect::<AppResult<_>>()?;
    Ok(OrderedPage { page, cursors })
}

/// [`fetch_ordered`] for each parent (rows whose `parent` column is one of `parents`) in one
/// statement: the keyset bounds apply to every parent, whose rows are ranked by `(key, id)`
/// (`ROW_NUMBER() OVER (PARTITION BY parent …)`), the first `limit + 1` of each kept.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_ordered_per_parent<E, C, I, P>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    key: &OrderKey<C>,
    id: I,
    id_of: impl Fn(&E::Model) -> Uuid,
    (parent, parent_of): (P, impl Fn(&E::Model) -> Option<Uuid>),
    parents: &[Uuid],
    window: &OrderedWindow,
) -> AppResult<HashMap<Uuid, OrderedPage<E::Model>>>
where
    E: Decode,
    C: ColumnTrait + Into<E::Column>,
    I: ColumnTrait,
    P: ColumnTrait,
{
    let descending = key.direction == Direction::Desc;
    let mut rows = select.filter(parent.is_in(parents.iter().copied()));
    if let Some((value, at)) = &window.after {
        rows = rows.filter(past(key.column, id, value, *at, descending));
    }
    if let Some((value, at)) = &window.before {
        rows = rows.filter(past(key.column, id, value, *at, !descending));
    }
    let order = if descending != window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let order = [
        (key.column.into_column_ref(), order.clone()),
        (id.into_column_ref(), order),
    ];
    let grouped =
        first_per_parent(conn, rows, parent, &order, window.limit, parent_of, parents).await?;
    grouped
        .into_iter()
        .map(|(parent, items)| {
            let page = cut(items, window.plain());
            let cursors = page
                .items
                .iter()
                .map(|row| ordered_cursor(row, key, id_of(row)))
                .collect::<AppResult<_>>()?;
            Ok((parent, OrderedPage { page, cursors }))
        })
        .collect()
}

/// Rows strictly past `(value, at)` in the order `(column, id)`, ascending unless `descending`.
fn past<C: ColumnTrait, I: ColumnTrait>(
    column: C,
    id: I,
    value: &sea_orm::Value,
    at: Uuid,
    descending: bool,
) -> sea_orm::sea_query::SimpleExpr {
    let left = Expr::tuple([Expr::col(column), Expr::col(id)]);
    let right = Expr::tuple([Expr::val(value.clone()), Expr::val(at)]);
    if descending {
        left.lt(right)
    } else {
        left.gt(right)
    }
}

/// Rows of several disjoint `parts` as one list: each part is read as its own page in index
/// order (`shape` applies the window, the order and `limit + 1`), and only those candidates
/// are merged, by the database in `order`, so no part is sorted whole.
async fn fetch_parts<E: Decode>(
    conn: &impl ConnectionTrait,
    parts: Vec<Select<E>>,
    shape: impl Fn(Select<E>) -> Select<E>,
    order: &[(&str, Order)],
    limit: u64,
) -> AppResult<Vec<E::Model>> {
    let mut union: Option<sea_orm::sea_query::SelectStatement> = None;
    for (n, part) in parts.into_iter().enumerate() {
        // Each part is a derived table: SQLite takes ORDER BY and LIMIT only there.
        let branch = Query::select()
            .column(Asterisk)
            .from_subquery(shape(part).into_query(), Alias::new(format!("part{n}")))
            .to_owned();
        union = Some(match union {
            None => branch,
            Some(mut all) => {
                all.union(sea_orm::sea_query::UnionType::All, branch);
                all
            }
        });
    }
    let Some(union) = union else {
        return Ok(Vec::new());
    };
    let mut merged = Query::select();
    merged
        .column(Asterisk)
        .from_subquery(union, Alias::new("candidates"));
    for (column, direction) in order {
        merged.order_by(Alias::new(*column), direction.clone());
    }
    merged.limit(limit);
    let statement = conn.get_database_backend().build(&merged);
    Ok(rows::all_raw::<E>(conn, statement).await?)
}

/// [`fetch`] over several disjoint parts (the union of their rows), each read by its index.
pub async fn fetch_union<E, C>(
    conn: &impl ConnectionTrait,
    parts: Vec<Select<E>>,
    key: C,
    window: Window,
) -> AppResult<Page<E::Model>>
where
    E: Decode,
    C: ColumnTrait,
{
    if window.limit == 0 {
        return Ok(cut(Vec::new(), window));
    }
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let shape = |part: Select<E>| {
        bounded(part, key, window)
            .order_by(key, order.clone())
            .limit(window.limit + 1)
    };
    let items = fetch_parts(
        conn,
        parts,
        shape,
        &[(key.as_str(), order.clone())],
        window.limit + 1,
    )
    .await?;
    Ok(cut(items, window))
}

/// [`fetch_ordered`] over several disjoint parts (the union of their rows), each read by its
/// index.
pub async fn fetch_ordered_union<E, C, I>(
    conn: &impl ConnectionTrait,
    parts: Vec<Select<E>>,
    key: &OrderKey<C>,
    id: I,
    id_of: impl Fn(&E::Model) -> Uuid,
    window: &OrderedWindow,
) -> AppResult<OrderedPage<E::Model>>
where
    E: Decode,
    C: ColumnTrait + Into<E::Column>,
    I: ColumnTrait,
{
    let descending = key.direction == Direction::Desc;
    let order = if descending != window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut items = Vec::new();
    if window.limit > 0 {
        let shape = |mut part: Select<E>| {
            if let Some((value, at)) = &window.after {
                part = part.filter(past(key.column, id, value, *at, descending));
            }
            if let Some((value, at)) = &window.before {
                part = part.filter(past(key.column, id, value, *at, !descending));
            }
            part.order_by(key.column, order.clone())
                .order_by(id, order.clone())
                .limit(window.limit + 1)
        };
        let columns = [
            (key.column.as_str(), order.clone()),
            (id.as_str(), order.clone()),
        ];
        items = fetch_parts(conn, parts, shape, &columns, window.limit + 1).await?;
    }
    let page = cut(items, window.plain());
    let cursors = page
        .items
        .iter()
        .map(|row| ordered_cursor(row, key, id_of(row)))
        .collect::<AppResult<_>>()?;
    Ok(OrderedPage { page, cursors })
}
