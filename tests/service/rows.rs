//! Lists decode `users` rows by position: the models equal sea-orm's, decoded by name.

use entity::user;
use lastmile::service::rows;
use sea_orm::sea_query::{Alias, Asterisk, Expr, Order, Query};
use sea_orm::{EntityTrait, QueryOrder, QueryTrait};

use crate::support::{World, dispatcher, driver};

#[tokio::test]
async fn users_decoded_by_position_equal_the_same_rows_decoded_by_name() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    world.invite(&org.admin, driver()).await;
    world.member(&org.admin, driver()).await;
    world.member(&org.admin, dispatcher()).await;
    let conn = &world.svc.db.conn;
    let by_name = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await
        .expect("read by name");
    // Invited and active rows, with and without an account, phone and activation time.
    assert_eq!(by_name.len(), 4);
    assert!(by_name.iter().any(|u| u.account_id.is_none()));
    assert!(by_name.iter().any(|u| u.activated_at.is_some()));
    let by_position = rows::all(conn, user::Entity::find().order_by_asc(user::Column::Id))
        .await
        .expect("read by position");
    assert_eq!(by_position, by_name);
    // A statement over the entity's columns with more after them, as unions and windows are.
    let wider = Query::select()
        .column(Asterisk)
        .expr_as(Expr::val(1), Alias::new("extra"))
        .from_subquery(user::Entity::find().into_query(), Alias::new("part"))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    let statement = conn.get_database_backend().build(&wider);
    let raw = rows::all_raw::<user::Entity>(conn, statement)
        .await
        .expect("read a wider statement");
    assert_eq!(raw, by_name);
}
