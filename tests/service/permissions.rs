//! Who may do what: managers, the ADMIN rule, a driver's own data.

use lastmile::domain::Name;
use lastmile::service::user::{self, Edit};

use crate::support::{World, code, dispatcher, driver, invite, roles, unique_email};

#[tokio::test]
async fn a_driver_cannot_invite() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let invited = user::invite(&world.svc, &member, invite(&unique_email(), driver())).await;
    assert_eq!(code(invited), "FORBIDDEN");
}

#[tokio::test]
async fn a_dispatcher_can_neither_grant_nor_touch_admin() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let dispatcher = world.member(&org.admin, dispatcher()).await;
    let grant = user::invite(
        &world.svc,
        &dispatcher,
        invite(&unique_email(), roles(true, false, false)),
    )
    .await;
    assert_eq!(code(grant), "FORBIDDEN");
    let rename_admin = Edit {
        first_name: Some(Name::parse("Eve").expect("name")),
        ..Edit::default()
    };
    let edited = user::edit(&world.svc, &dispatcher, org.admin.user_id, rename_admin).await;
    assert_eq!(code(edited), "FORBIDDEN");
    let deleted = user::delete(&world.svc, &dispatcher, org.admin.user_id).await;
    assert_eq!(code(deleted), "FORBIDDEN");
}

#[tokio::test]
async fn a_driver_edits_its_own_name_but_not_its_roles() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let rename = Edit {
        first_name: Some(Name::parse("Renamed").expect("name")),
        ..Edit::default()
    };
    let renamed = user::edit(&world.svc, &member, member.user_id, rename)
        .await
        .expect("own name");
    assert_eq!(renamed.first_name, "Renamed");
    let promote = Edit {
        roles: Some(roles(false, true, true)),
        ..Edit::default()
    };
    let promoted = user::edit(&world.svc, &member, member.user_id, promote).await;
    assert_eq!(code(promoted), "FORBIDDEN");
}

#[tokio::test]
async fn a_driver_sees_only_itself_among_the_users() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let conn = &world.svc.db.conn;
    let own = user::get(conn, &member, member.user_id)
        .await
        .expect("read");
    assert!(own.is_some());
    let admin = user::get(conn, &member, org.admin.user_id)
        .await
        .expect("read");
    assert!(admin.is_none());
}

#[tokio::test]
async fn a_user_of_another_organization_is_not_found() {
    let world = World::new().await;
    let acme = world.org("Acme").await;
    let globex = world.org("Globex").await;
    let rename = Edit {
        first_name: Some(Name::parse("Eve").expect("name")),
        ..Edit::default()
    };
    let edited = user::edit(&world.svc, &acme.admin, globex.admin.user_id, rename).await;
    assert_eq!(code(edited), "NOT_FOUND");
}
