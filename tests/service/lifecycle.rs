//! Users and routes through their lifecycle: invitation, acceptance, roles, deletion, routes.

use chrono::{Duration, Utc};
use entity::route::RouteStatus;
use entity::user::UserStatus;
use lastmile::domain::{Input, Name};
use lastmile::service::route::{self, NewRoute};
use lastmile::service::user::{self, Edit};
use lastmile::service::{account, driver as drivers};

use crate::support::{World, code, dispatcher, driver, invite, refused, roles, unique_email};

fn new_route(name: &str) -> NewRoute {
    NewRoute {
        name: Name::parse(name).expect("name"),
        planned_start: Utc::now() + Duration::days(1),
        depot_id: None,
    }
}

#[tokio::test]
async fn an_invited_user_is_invited_until_accepting_makes_it_active() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let invited = world.invite(&org.admin, driver()).await;
    assert_eq!(invited.status, UserStatus::Invited);
    let member = world.member(&org.admin, driver()).await;
    let row = user::get(&world.svc.db.conn, &org.admin, member.user_id)
        .await
        .expect("read")
        .expect("visible");
    assert_eq!(row.status, UserStatus::Active);
    assert!(row.account_id.is_some());
}

#[tokio::test]
async fn an_invitation_works_once() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let invited = world.invite(&org.admin, driver()).await;
    let token = world
        .mailed_token(&invited.email, "/accept-invitation")
        .await;
    user::accept_invitation(&world.svc, &token, crate::support::PASSWORD)
        .await
        .expect("first acceptance");
    let again = user::accept_invitation(&world.svc, &token, crate::support::PASSWORD).await;
    assert_eq!(refused(again), Input::InvitationToken);
}

#[tokio::test]
async fn an_invitation_needs_at_least_one_role() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let none = user::invite(
        &world.svc,
        &org.admin,
        invite(&unique_email(), roles(false, false, false)),
    )
    .await;
    assert_eq!(refused(none), Input::Roles);
}

#[tokio::test]
async fn only_drivers_are_invited_with_a_depot() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let mut input = invite(&unique_email(), dispatcher());
    input.depot_id = Some(uuid::Uuid::now_v7());
    let refused_depot = user::invite(&world.svc, &org.admin, input).await;
    assert_eq!(refused(refused_depot), Input::DepotId);
}

#[tokio::test]
async fn inviting_an_email_twice_into_one_organization_is_a_conflict() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let email = unique_email();
    user::invite(&world.svc, &org.admin, invite(&email, driver()))
        .await
        .expect("first invitation");
    let twice = user::invite(&world.svc, &org.admin, invite(&email, driver())).await;
    assert_eq!(code(twice), "CONFLICT");
}

#[tokio::test]
async fn an_invited_user_cannot_be_edited_before_accepting() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let invited = world.invite(&org.admin, driver()).await;
    let edit = Edit {
        first_name: Some(Name::parse("New").expect("name")),
        ..Edit::default()
    };
    let result = user::edit(&world.svc, &org.admin, invited.id, edit).await;
    assert_eq!(code(result), "CONFLICT");
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_demoted_nor_deleted() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let demote = Edit {
        roles: Some(dispatcher()),
        ..Edit::default()
    };
    let demoted = user::edit(&world.svc, &org.admin, org.admin.user_id, demote).await;
    assert_eq!(code(demoted), "CONFLICT");
    let deleted = user::delete(&world.svc, &org.admin, org.admin.user_id).await;
    assert_eq!(code(deleted), "CONFLICT");
}

#[tokio::test]
async fn a_route_goes_from_planned_through_in_progress_to_completed_with_its_drivers_name() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let planned = route::create(&world.svc, &org.admin, new_route("North"))
        .await
        .expect("plan");
    assert_eq!(planned.status, RouteStatus::Planned);
    route::assign(&world.svc, &org.admin, planned.id, member.user_id)
        .await
        .expect("assign");
    let started = route::start(&world.svc, &member, planned.id)
        .await
        .expect("start");
    assert_eq!(started.status, RouteStatus::InProgress);
    let done = route::complete(&world.svc, &member, planned.id)
        .await
        .expect("complete");
    assert_eq!(done.status, RouteStatus::Completed);
    assert_eq!(done.driver_name.as_deref(), Some("Test Person"));
    assert!(done.completed_at.is_some());
}

#[tokio::test]
async fn a_route_without_a_driver_cannot_start() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let planned = route::create(&world.svc, &org.admin, new_route("North"))
        .await
        .expect("plan");
    let started = route::start(&world.svc, &org.admin, planned.id).await;
    assert_eq!(code(started), "CONFLICT");
}

#[tokio::test]
async fn an_inactive_driver_cannot_be_assigned_to_a_route() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    drivers::set_inactive(&world.svc, &org.admin, member.user_id)
        .await
        .expect("deactivate");
    let planned = route::create(&world.svc, &org.admin, new_route("North"))
        .await
        .expect("plan");
    let assigned = route::assign(&world.svc, &org.admin, planned.id, member.user_id).await;
    assert_eq!(code(assigned), "CONFLICT");
}

#[tokio::test]
async fn a_driver_on_an_active_route_can_be_neither_deleted_nor_assigned_twice() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let first = route::create(&world.svc, &org.admin, new_route("North"))
        .await
        .expect("plan");
    let second = route::create(&world.svc, &org.admin, new_route("South"))
        .await
        .expect("plan");
    route::assign(&world.svc, &org.admin, first.id, member.user_id)
        .await
        .expect("assign");
    let twice = route::assign(&world.svc, &org.admin, second.id, member.user_id).await;
    assert_eq!(code(twice), "CONFLICT");
    let deleted = user::delete(&world.svc, &org.admin, member.user_id).await;
    assert_eq!(code(deleted), "CONFLICT");
    route::cancel(&world.svc, &org.admin, first.id)
        .await
        .expect("cancel");
    user::delete(&world.svc, &org.admin, member.user_id)
        .await
        .expect("deleted once free");
}

#[tokio::test]
async fn closed_sign_up_refuses_a_new_organization() {
    let world = World::with_signup(false).await;
    let refused =
        account::create_organization(&world.svc, crate::support::new_org("Acme", &unique_email()))
            .await;
    assert_eq!(code(refused), "FORBIDDEN");
}
