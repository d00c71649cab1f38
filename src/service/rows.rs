//! How the rows of a list become models. sea-orm finds each column of a row by its name (a
//! hashed lookup per column per row); the table lists read most, `users` (drivers and
//! members, 16 columns), is decoded by position instead, and on PostgreSQL without comparing
//! each value's column type with its field's again. Positions hold because every list
//! selects the entity's columns first, in declaration order: `Entity::find()` does, and so
//! does `SELECT *` over a subquery of it (unions, ranked windows), whose extra columns come
//! after. Debug builds check the column names of every row decoded so.

use sea_orm::{
    ActiveEnum, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    QueryResult, Select, Statement,
};

use sea_orm::sqlx::Row as _;
use sea_orm::sqlx::postgres::{PgRow, Postgres};

use entity::{depot, route, share, user};

/// An entity whose rows lists decode.
pub trait Decode: EntityTrait {
    /// The model of `row`, which selects the entity's columns first, in declaration order.
    fn decode(row: &QueryResult) -> Result<Self::Model, DbErr> {
        <Self::Model as FromQueryResult>::from_query_result(row, "")
    }
}

impl Decode for depot::Entity {}
impl Decode for route::Entity {}
impl Decode for share::Entity {}

impl Decode for user::Entity {
    fn decode(row: &QueryResult) -> Result<user::Model, DbErr> {
        debug_assert!(columns_first::<Self>(row), "{:?}", row.column_names());
        match row.try_as_pg_row() {
            Some(row) => users_on_postgres(row),
            None => users(row),
        }
    }
}

/// A `users` row of any backend, each value checked against its column's type.
fn users(row: &QueryResult) -> Result<user::Model, DbErr> {
    use user::Column as C;
    let at = |column: C| column as usize;
    Ok(user::Model {
        id: row.try_get_by_index(at(C::Id))?,
        organization_id: row.try_get_by_index(at(C::OrganizationId))?,
        account_id: row.try_get_by_index(at(C::AccountId))?,
        email: row.try_get_by_index(at(C::Email))?,
        first_name: row.try_get_by_index(at(C::FirstName))?,
        last_name: row.try_get_by_index(at(C::LastName))?,
        phone: row.try_get_by_index(at(C::Phone))?,
        is_admin: row.try_get_by_index(at(C::IsAdmin))?,
        is_dispatcher: row.try_get_by_index(at(C::IsDispatcher))?,
        is_driver: row.try_get_by_index(at(C::IsDriver))?,
        status: row.try_get_by_index(at(C::Status))?,
        depot_id: row.try_get_by_index(at(C::DepotId))?,
        invited_at: row.try_get_by_index(at(C::InvitedAt))?,
        activated_at: row.try_get_by_index(at(C::ActivatedAt))?,
        created_at: row.try_get_by_index(at(C::CreatedAt))?,
        updated_at: row.try_get_by_index(at(C::UpdatedAt))?,
    })
}

/// A `users` row on PostgreSQL, whose column types the migrations fix: its values are decoded
/// without comparing each column's type with the field's again (the decoders still refuse a
/// value of the wrong length or encoding, and the API tests run on PostgreSQL read every
/// column through here).
fn users_on_postgres(row: &PgRow) -> Result<user::Model, DbErr> {
    use user::Column as C;
    let status: String = value(row, C::Status)?;
    Ok(user::Model {
        id: value(row, C::Id)?,
        organization_id: value(row, C::OrganizationId)?,
        account_id: value(row, C::AccountId)?,
        email: value(row, C::Email)?,
        first_name: value(row, C::FirstName)?,
        last_name: value(row, C::LastName)?,
        phone: value(row, C::Phone)?,
        is_admin: value(row, C::IsAdmin)?,
        is_dispatcher: value(row, C::IsDispatcher)?,
        is_driver: value(row, C::IsDriver)?,
        status: user::UserStatus::try_from_value(&status)?,
        depot_id: value(row, C::DepotId)?,
        invited_at: value(row, C::InvitedAt)?,
        activated_at: value(row, C::ActivatedAt)?,
        created_at: value(row, C::CreatedAt)?,
        updated_at: value(row, C::UpdatedAt)?,
    })
}

/// The value of `column` (at its declaration position) in a PostgreSQL row.
fn value<'r, T>(row: &'r PgRow, column: user::Column) -> Result<T, DbErr>
where
    T: sea_orm::sqlx::Decode<'r, Postgres>,
{
    row.try_get_unchecked(column as usize)
        .map_err(|e| DbErr::Type(format!("users.{}: {e}", column.as_str())))
}

/// Whether `row` starts with `E`'s columns, in declaration order.
fn columns_first<E: EntityTrait>(row: &QueryResult) -> bool {
    let names = row.column_names();
    E::Column::iter().count() <= names.len()
        && E::Column::iter()
            .zip(&names)
            .all(|(column, name)| column.as_str() == name)
}

/// One row, decoded by its entity.
#[repr(transparent)]
struct Row<E: EntityTrait>(E::Model);

impl<E: Decode> FromQueryResult for Row<E> {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        match pre {
            "" => E::decode(row).map(Row),
            _ => <E::Model as FromQueryResult>::from_query_result(row, pre).map(Row),
        }
    }
}

fn models<E: EntityTrait>(rows: Vec<Row<E>>) -> Vec<E::Model> {
    rows.into_iter().map(|Row(model)| model).collect()
}

/// Every row `select` finds.
pub async fn all<E: Decode>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
) -> Result<Vec<E::Model>, DbErr> {
    Ok(models(select.into_model::<Row<E>>().all(conn).await?))
}

/// Every row of `statement`, which selects `E`'s columns first.
pub async fn all_raw<E: Decode>(
    conn: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<E::Model>, DbErr> {
    let rows = E::find()
        .from_raw_sql(statement)
        .into_model::<Row<E>>()
        .all(conn)
        .await?;
    Ok(models(rows))
}
