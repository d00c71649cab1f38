//! CSV exports of drivers and routes as the lists show them to the viewer, in its delimiter
//! and time zone, streamed in keyset pages.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use entity::route::RouteStatus;
use entity::user::{self, UserStatus};
use entity::{account, route};

use crate::auth::Actor;
use crate::db::Db;
use crate::domain::Input;
use crate::error::{AppError, AppResult};
use crate::service::page::{self, Direction, OrderedWindow, Size, Window};
use crate::service::{driver, route as routes};

/// Rows read per statement.
const BATCH: u64 = 500;

/// How the viewer wants its files: delimiter and time zone, from its settings.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// The cell separator.
    pub delimiter: char,
    /// Times are written in this zone, with their offset.
    pub timezone: chrono_tz::Tz,
}

impl Format {
    /// The format of the account's settings (a stored value that no longer parses is logged
    /// and falls back to `,` or UTC: times carry their offset, so the file stays correct).
    pub fn of(account: &account::Model) -> Self {
        Self {
            delimiter: account.csv_delimiter.chars().next().unwrap_or_else(|| {
                tracing::warn!(
                    account_id = %account.id,
                    "stored CSV delimiter is empty; exporting with `,`"
                );
                ','
            }),
            timezone: account.timezone.parse().unwrap_or_else(|error| {
                tracing::warn!(
                    account_id = %account.id,
                    timezone = %account.timezone,
                    %error,
                    "stored time zone does not parse; exporting in UTC"
                );
                chrono_tz::UTC
            }),
        }
    }

    /// One cell: a leading `=`, `+`, `-`, `@`, TAB or CR gets a `'` so spreadsheets do not run
    /// it; quoted (RFC 4180) when it holds the delimiter, a quote, CR or LF.
    pub fn cell(&self, value: &str) -> String {
        let defused = match value.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
            _ => value.to_owned(),
        };
        if defused.contains([self.delimiter, '"', '\r', '\n']) {
            format!("\"{}\"", defused.replace('"', "\"\""))
        } else {
            defused
        }
    }

    /// One line of cells, CRLF-terminated.
    pub fn line<S: AsRef<str>>(&self, cells: &[S]) -> String {
        let mut out = cells
            .iter()
            .map(|c| self.cell(c.as_ref()))
            .collect::<Vec<_>>()
            .join(&self.delimiter.to_string());
        out.push_str("\r\n");
        out
    }

    /// A time as local ISO 8601 with the zone's offset.
    pub fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.timezone)
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    /// Today's date in the viewer's zone.
    pub fn today(&self) -> String {
        Utc::now()
            .with_timezone(&self.timezone)
            .format("%Y-%m-%d")
            .to_string()
    }
}

/// The planned-start range of a routes export, `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    /// Parses RFC 3339 bounds; a malformed one, or `from` not before `to`, is BAD_USER_INPUT.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> AppResult<Self> {
        let parse = |raw: Option<&str>, field: Input| {
            raw.map(|r| {
                DateTime::parse_from_rfc3339(r)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| AppError::refused(field, "must be an RFC 3339 date-time"))
            })
            .transpose()
        };
        let range = Self {
            from: parse(from, Input::From)?,
            to: parse(to, Input::To)?,
        };
        if let (Some(f), Some(t)) = (range.from, range.to)
            && f >= t
        {
            return Err(AppError::refused(Input::To, "must be after from"));
        }
        Ok(range)
    }
}

/// The viewer's format; the account must still exist.
pub async fn format_of(conn: &impl ConnectionTrait, actor: &Actor) -> AppResult<Format> {
    Ok(Format::of(
        &crate::service::account::get(conn, actor.account_id).await?,
    ))
}

/// A file name part: the organization's name with anything but letters, digits and `-` as `-`.
pub fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.trim_matches('-').to_owned()
}

fn status(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Invited => "INVITED",
        UserStatus::Active => "ACTIVE",
        UserStatus::Inactive => "INACTIVE",
    }
}

fn route_status(s: RouteStatus) -> &'static str {
    match s {
        RouteStatus::Planned => "PLANNED",
        RouteStatus::InProgress => "IN_PROGRESS",
        RouteStatus::Completed => "COMPLETED",
        RouteStatus::Cancelled => "CANCELLED",
    }
}

/// The organization's drivers as `organization.drivers` lists them, as CSV lines.
pub fn drivers(db: Db, actor: Actor, format: Format) -> impl Stream<Item = AppResult<String>> {
    async_stream::try_stream! {
        yield format.line(&["First name", "Last name", "Email", "Phone", "Status", "Available", "Depot"]);
        let filter = driver::DriverFilter::default();
        let mut after: Option<String> = None;
        loop {
            let window = Window::new(Size::First(BATCH), after.as_deref(), None)?;
            let batch = driver::list(&db.conn, &actor, &filter, window).await?;
            let context = driver_context(&db.conn, &batch.items).await?;
            let mut chunk = String::new();
            for d in &batch.items {
                chunk.push_str(&format.line(&driver_cells(d, &context)));
            }
            yield chunk;
            match (batch.has_next, batch.items.last()) {
                (true, Some(last)) => after = Some(page::cursor(last.id)),
                _ => break,
            }
        }
    }
}

/// The depots of a page, by id.
async fn depots_of(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<std::collections::HashMap<Uuid, entity::depot::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(entity::depot::Entity::find()
        .filter(entity::depot::Column::Id.is_in(ids.collect::<Vec<_>>()))
        .all(conn)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect())
}

/// "First Last" of the drivers of a page of routes that the viewer sees as `Route.driver`:
/// its own, and those shared with it now.
async fn visible_drivers(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    rows: &[route::Model],
) -> AppResult<std::collections::HashMap<Uuid, String>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ids: Vec<Uuid> = rows.iter().filter_map(|r| r.driver_id).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let shared: std::collections::HashSet<Uuid> = entity::share::Entity::find()
        .filter(entity::share::Column::DriverId.is_in(ids.clone()))
        .filter(entity::share::Column::PartnerId.eq(actor.organization_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.driver_id)
        .collect();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .filter(|u| driver::owner_view(actor, u) || shared.contains(&u.id))
        .map(|u| (u.id, format!("{} {}", u.first_name, u.last_name)))
        .collect())
}

/// What a page of drivers needs besides its rows: who is busy, and depot names.
struct DriverContext {
    busy: std::collections::HashSet<Uuid>,
    depots: std::collections::HashMap<Uuid, String>,
}

async fn driver_context(
    conn: &impl ConnectionTrait,
    rows: &[user::Model],
) -> AppResult<DriverContext> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let busy = route::Entity::find()
        .filter(route::Column::DriverId.is_in(ids))
        .filter(crate::service::active_route_condition())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|r| r.driver_id)
        .collect();
    let depots = depots_of(conn, rows.iter().filter_map(|r| r.depot_id))
        .await?
        .into_iter()
        .map(|(id, d)| (id, d.name))
        .collect();
    Ok(DriverContext { busy, depots })
}

/// The cells of a driver; an absent value is an empty cell (here and in [`route_cells`]).
fn driver_cells(d: &user::Model, context: &DriverContext) -> Vec<String> {
    let available = d.status == UserStatus::Active && !context.busy.contains(&d.id);
    vec![
        d.first_name.clone(),
        d.last_name.clone(),
        d.email.clone(),
        d.phone.clone().unwrap_or_default(),
        status(d.status).to_owned(),
        available.to_string(),
        d.depot_id
            .and_then(|id| context.depots.get(&id).cloned())
            .unwrap_or_default(),
    ]
}

/// The organization's routes planned in `range`, by planned start, as `organization.routes`
/// lists them, as CSV lines.
pub fn routes(
    db: Db,
    actor: Actor,
    format: Format,
    range: Range,
) -> impl Stream<Item = AppResult<String>> {
    async_stream::try_stream! {
        yield format.line(&["Name", "Planned start", "Status", "Depot", "Depot address", "Driver", "Completed at"]);
        let key = routes::order_key("routes", routes::RouteOrderField::PlannedStart, Direction::Asc);
        let filter = routes::RouteFilter::default();
        let mut after: Option<String> = None;
        loop {
            let window = OrderedWindow::new(Size::First(BATCH), after.as_deref(), None, &key)?;
            let batch = routes::list_planned_in(&db.conn, &actor, &filter, range.from, range.to, &key, &window).await?;
            let depots = depots_of(&db.conn, batch.page.items.iter().filter_map(|r| r.depot_id)).await?;
            let drivers = visible_drivers(&db.conn, &actor, &batch.page.items).await?;
            let mut chunk = String::new();
            for r in &batch.page.items {
                let depot = r.depot_id.and_then(|id| depots.get(&id));
                let driver = r.driver_id.and_then(|id| drivers.get(&id)).cloned();
                let name = driver.or_else(|| r.driver_name.clone()).unwrap_or_default();
                chunk.push_str(&format.line(&route_cells(r, depot, &name, &format)));
            }
            yield chunk;
            match (batch.page.has_next, batch.cursors.last()) {
                (true, Some(last)) => after = Some(last.clone()),
                _ => break,
            }
        }
    }
}

fn route_cells(
    r: &route::Model,
    depot: Option<&entity::depot::Model>,
    driver: &str,
    format: &Format,
) -> Vec<String> {
    vec![
        r.name.clone(),
        format.time(r.planned_start),
        route_status(r.status).to_owned(),
        depot.map(|d| d.name.clone()).unwrap_or_default(),
        depot.and_then(|d| d.address.clone()).unwrap_or_default(),
        driver.to_owned(),
        r.completed_at.map(|t| format.time(t)).unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(delimiter: char) -> Format {
        Format {
            delimiter,
            timezone: "Europe/Berlin".parse().unwrap_or(chrono_tz::UTC),
        }
    }

    #[test]
    fn cells_that_start_a_formula_are_prefixed_and_special_ones_quoted() {
        let f = format(';');
        assert_eq!(f.cell("plain"), "plain");
        assert_eq!(f.cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(f.cell("+49 30"), "'+49 30");
        assert_eq!(f.cell("-1"), "'-1");
        assert_eq!(f.cell("@x"), "'@x");
        assert_eq!(f.cell("\tx"), "'\tx");
        assert_eq!(f.cell("a;b"), "\"a;b\"");
        assert_eq!(f.cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(f.cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(f.cell("a,b"), "a,b");
        assert_eq!(f.line(&["a", "b;c"]), "a;\"b;c\"\r\n");
    }

    #[test]
    fn times_are_local_with_their_offset() {
        let f = format(',');
        let t = DateTime::parse_from_rfc3339("2030-01-01T08:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(f.time(t), "2030-01-01T09:00:00+01:00");
    }

    #[test]
    fn a_malformed_or_empty_range_is_refused() {
        assert!(Range::parse(Some("2030-01-01T00:00:00Z"), Some("2030-02-01T00:00:00Z")).is_ok());
        assert!(Range::parse(None, None).is_ok());
        assert!(Range::parse(Some("yesterday"), None).is_err());
        assert!(Range::parse(Some("2030-02-01T00:00:00Z"), Some("2030-01-01T00:00:00Z")).is_err());
    }
}
