//! Relay connections: `edges`, `nodes`, `pageInfo` and `totalCount` (counted only when asked).

use async_graphql::{Context, SimpleObject};

use crate::domain::Input;
use crate::error::{AppError, AppResult};
use crate::graphql::Gql;
use crate::service::page::{
    DEFAULT_PAGE, MAX_PAGE, OrderKey, OrderedPage, OrderedWindow, Page, Size, Window, cursor,
};
use crate::service::status_event::EventWindow;

/// Relay page information.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// More items follow.
    pub has_next_page: bool,
    /// Items precede.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge.
    pub end_cursor: Option<String>,
}

/// A connection's `first/after/last/before` as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
}

/// The connection arguments of a list field.
pub fn args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
    }
}

impl PageArgs {
    /// The page size asked for: `first` or `last` (not both), 0 to [`MAX_PAGE`] rows, else
    /// [`DEFAULT_PAGE`] from the start. Checked before any statement runs.
    pub fn size(&self) -> AppResult<Size> {
        let first = count(self.first, Input::First)?;
        let last = count(self.last, Input::Last)?;
        match (first, last) {
            (Some(_), Some(_)) => Err(AppError::refused(
                Input::Last,
                "pass either first or last, not both",
            )),
            (Some(n), None) => Ok(Size::First(n)),
            (None, Some(n)) => Ok(Size::Last(n)),
            (None, None) => Ok(Size::First(DEFAULT_PAGE)),
        }
    }

    /// The window of a list in creation order.
    pub fn window(&self) -> AppResult<Window> {
        Window::new(self.size()?, self.after.as_deref(), self.before.as_deref())
    }

    /// The size alone, for a list whose cursors its ordered window carries.
    pub fn size_only(&self) -> AppResult<Window> {
        Window::new(self.size()?, None, None)
    }

    /// The window of a list ordered by `key`, whose cursors must come from that order.
    pub fn ordered_window<C>(&self, key: &OrderKey<C>) -> AppResult<OrderedWindow> {
        OrderedWindow::new(
            self.size()?,
            self.after.as_deref(),
            self.before.as_deref(),
            key,
        )
    }

    /// The window of an event list, whose cursors are event ids.
    pub fn event_window(&self) -> AppResult<EventWindow> {
        EventWindow::new(self.size()?, self.after.as_deref(), self.before.as_deref())
    }
}

/// A `first` or `last` count, checked against the largest page.
fn count(value: Option<i32>, field: Input) -> AppResult<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if !(0..=MAX_PAGE).contains(&n) => Err(AppError::refused(
            field,
            format!("must be between 0 and {MAX_PAGE}"),
        )),
        Some(n) => Ok(Some(n as u64)),
    }
}

/// Query complexity of a connection: its page size times the cost of one item.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .unwrap_or(crate::service::page::DEFAULT_PAGE as i32)
        .clamp(1, crate::service::page::MAX_PAGE);
    (size as usize).saturating_mul(child_complexity.max(1))
}

/// Whether the client selected `totalCount` on this connection.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// `totalCount`, counted only when the client selected it.
pub async fn total(
    ctx: &Context<'_>,
    count: impl Future<Output = crate::error::AppResult<i64>>,
) -> async_graphql::Result<Option<i64>> {
    if wants_total(ctx) {
        Ok(Some(count.await.gql()?))
    } else {
        Ok(None)
    }
}

/// Rows paged by their UUID key.
pub trait Keyed {
    /// The key the cursor encodes.
    fn key(&self) -> uuid::Uuid;
}

macro_rules! keyed {
    ($($model:ty),*) => {
        $(impl Keyed for $model {
            fn key(&self) -> uuid::Uuid {
                self.id
            }
        })*
    };
}

keyed!(
    entity::user::Model,
    entity::depot::Model,
    entity::route::Model,
    entity::share::Model
);

/// Edges (cursor, node) and page info of a page.
pub fn parts<M: Keyed, N>(page: Page<M>, node: impl Fn(M) -> N) -> (Vec<(String, N)>, PageInfo) {
    let edges: Vec<(String, N)> = page
        .items
        .into_iter()
        .map(|m| (cursor(m.key()), node(m)))
        .collect();
    let info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: edges.first().map(|e| e.0.clone()),
        end_cursor: edges.last().map(|e| e.0.clone()),
    };
    (edges, info)
}

/// Edges and page info of an ordered page, whose cursors carry the sort key.
pub fn ordered_parts<M, N>(
    ordered: OrderedPage<M>,
    node: impl Fn(M) -> N,
) -> (Vec<(String, N)>, PageInfo) {
    let OrderedPage { page, cursors } = ordered;
    let edges: Vec<(String, N)> = cursors
        .into_iter()
        .zip(page.items)
        .map(|(c, m)| (c, node(m)))
        .collect();
    let info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: edges.first().map(|e| e.0.clone()),
        end_cursor: edges.last().map(|e| e.0.clone()),
    };
    (edges, info)
}

/// Declares `XConnection` and `XEdge` for node type `X` built from rows of `model`.
#[macro_export]
macro_rules! connection_type {
    ($conn:ident, $edge:ident, $node:ty, $model:ty) => {
        /// An edge: a node and its cursor.
        pub struct $edge {
            cursor: String,
            node: $node,
        }

        #[async_graphql::Object]
        impl $edge {
            async fn cursor(&self) -> &str {
                &self.cursor
            }
            async fn node(&self) -> &$node {
                &self.node
            }
        }

        /// A page of nodes.
        pub struct $conn {
            edges: Vec<$edge>,
            page_info: $crate::graphql::connection::PageInfo,
            total_count: i64,
        }

        impl $conn {
            /// Builds the connection from a service page.
            pub fn new(
                page: $crate::service::page::Page<$model>,
                total_count: Option<i64>,
                node: impl Fn($model) -> $node,
            ) -> Self {
                let (edges, page_info) = $crate::graphql::connection::parts(page, node);
                Self {
                    edges: edges
                        .into_iter()
                        .map(|(cursor, node)| $edge { cursor, node })
                        .collect(),
                    page_info,
                    // None: `totalCount` was not selected, so the 0 is never read.
                    total_count: total_count.unwrap_or(0),
                }
            }

            /// Builds the connection from an ordered service page.
            pub fn ordered(
                page: $crate::service::page::OrderedPage<$model>,
                total_count: Option<i64>,
                node: impl Fn($model) -> $node,
            ) -> Self {
                let (edges, page_info) = $crate::graphql::connection::ordered_parts(page, node);
                Self {
                    edges: edges
                        .into_iter()
                        .map(|(cursor, node)| $edge { cursor, node })
                        .collect(),
                    page_info,
                    // None: `totalCount` was not selected, so the 0 is never read.
                    total_count: total_count.unwrap_or(0),
                }
            }
        }

        #[async_graphql::Object]
        impl $conn {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            async fn page_info(&self) -> &$crate::graphql::connection::PageInfo {
                &self.page_info
            }
            /// Items matching, over all pages.
            async fn total_count(&self) -> i64 {
                self.total_count
            }
        }
    };
}
