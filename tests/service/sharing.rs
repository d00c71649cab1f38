//! Sharing drivers with a partner: who may share, what a partner may do with them, the end.

use chrono::{Duration, Utc};
use lastmile::domain::{Input, Name};
use lastmile::service::route::{self, NewRoute};
use lastmile::service::share;

use crate::support::{World, code, driver, refused};

#[tokio::test]
async fn a_partner_assigns_a_shared_driver_to_its_own_route() {
    let world = World::new().await;
    let acme = world.org("Acme").await;
    let globex = world.org("Globex").await;
    let member = world.member(&acme.admin, driver()).await;
    let new = || NewRoute {
        name: Name::parse("Partner run").expect("name"),
        planned_start: Utc::now() + Duration::days(1),
        depot_id: None,
    };
    let before = route::create(&world.svc, &globex.admin, new())
        .await
        .expect("plan");
    let unshared = route::assign(&world.svc, &globex.admin, before.id, member.user_id).await;
    assert_eq!(code(unshared), "NOT_FOUND");
    share::share_drivers(
        &world.svc,
        &acme.admin,
        globex.id,
        vec![member.user_id],
        None,
    )
    .await
    .expect("share");
    let assigned = route::assign(&world.svc, &globex.admin, before.id, member.user_id)
        .await
        .expect("assign the shared driver");
    assert_eq!(assigned.driver_id, Some(member.user_id));
}

#[tokio::test]
async fn drivers_are_not_shared_with_their_own_organization_or_until_the_past() {
    let world = World::new().await;
    let acme = world.org("Acme").await;
    let globex = world.org("Globex").await;
    let member = world.member(&acme.admin, driver()).await;
    let own = share::share_drivers(&world.svc, &acme.admin, acme.id, vec![member.user_id], None);
    assert_eq!(refused(own.await), Input::PartnerId);
    let past = Some(Utc::now() - Duration::hours(1));
    let expired = share::share_drivers(
        &world.svc,
        &acme.admin,
        globex.id,
        vec![member.user_id],
        past,
    );
    assert_eq!(refused(expired.await), Input::ExpiresAt);
    let none = share::share_drivers(&world.svc, &acme.admin, globex.id, Vec::new(), None);
    assert_eq!(refused(none.await), Input::DriverIds);
}

#[tokio::test]
async fn only_an_admin_shares_drivers() {
    let world = World::new().await;
    let acme = world.org("Acme").await;
    let globex = world.org("Globex").await;
    let dispatcher = world
        .member(&acme.admin, crate::support::dispatcher())
        .await;
    let member = world.member(&acme.admin, driver()).await;
    let shared = share::share_drivers(
        &world.svc,
        &dispatcher,
        globex.id,
        vec![member.user_id],
        None,
    )
    .await;
    assert_eq!(code(shared), "FORBIDDEN");
}

#[tokio::test]
async fn a_released_driver_can_no_longer_be_assigned_by_the_partner() {
    let world = World::new().await;
    let acme = world.org("Acme").await;
    let globex = world.org("Globex").await;
    let member = world.member(&acme.admin, driver()).await;
    share::share_drivers(
        &world.svc,
        &acme.admin,
        globex.id,
        vec![member.user_id],
        None,
    )
    .await
    .expect("share");
    share::release(&world.svc, &globex.admin, member.user_id)
        .await
        .expect("release");
    let planned = route::create(
        &world.svc,
        &globex.admin,
        NewRoute {
            name: Name::parse("Partner run").expect("name"),
            planned_start: Utc::now() + Duration::days(1),
            depot_id: None,
        },
    )
    .await
    .expect("plan");
    let assigned = route::assign(&world.svc, &globex.admin, planned.id, member.user_id).await;
    assert_eq!(code(assigned), "NOT_FOUND");
}
