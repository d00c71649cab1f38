//! Sessions: sign-in, sign-out, password reset, and live sessions ending on a role change.

use lastmile::domain::{AccessChange, Email, Password};
use lastmile::service::account;
use lastmile::service::user::{self, Edit};

use crate::support::{PASSWORD, World, code, driver, new_org, unique_email};

#[tokio::test]
async fn signing_out_ends_the_session() {
    let world = World::new().await;
    let email = unique_email();
    let created = account::create_organization(&world.svc, new_org("Acme", &email))
        .await
        .expect("sign up");
    let conn = &world.svc.db.conn;
    let session_id = created.principal.session_id;
    assert!(
        account::session_is_live(conn, session_id)
            .await
            .expect("read")
    );
    let was_live = account::sign_out(&world.svc, &created.refresh_token)
        .await
        .expect("sign out");
    assert!(was_live);
    assert!(
        !account::session_is_live(conn, session_id)
            .await
            .expect("read")
    );
}

#[tokio::test]
async fn a_wrong_password_is_unauthenticated() {
    let world = World::new().await;
    let email = unique_email();
    account::create_organization(&world.svc, new_org("Acme", &email))
        .await
        .expect("sign up");
    let email = Email::parse(&email).expect("email");
    let wrong = account::sign_in(&world.svc, &email, "not the password").await;
    assert_eq!(code(wrong), "UNAUTHENTICATED");
    let right = account::sign_in(&world.svc, &email, PASSWORD)
        .await
        .expect("sign in");
    assert_eq!(right.organizations.len(), 1);
}

#[tokio::test]
async fn a_password_reset_ends_every_session_of_the_account() {
    let world = World::new().await;
    let email = unique_email();
    let created = account::create_organization(&world.svc, new_org("Acme", &email))
        .await
        .expect("sign up");
    let parsed = Email::parse(&email).expect("email");
    account::request_password_reset(&world.svc, &parsed)
        .await
        .expect("request");
    let token = world.mailed_token(&email, "/reset-password").await;
    let new_password = Password::parse("another horse battery").expect("password");
    account::reset_password(&world.svc, &token, &new_password)
        .await
        .expect("reset");
    let live = account::session_is_live(&world.svc.db.conn, created.principal.session_id)
        .await
        .expect("read");
    assert!(!live);
    let old = account::sign_in(&world.svc, &parsed, PASSWORD).await;
    assert_eq!(code(old), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_role_change_is_announced_to_the_session_authority_once_it_commits_and_a_rename_is_not() {
    let world = World::new().await;
    let org = world.org("Acme").await;
    let member = world.member(&org.admin, driver()).await;
    let mut announced = world.access.subscribe();
    let rename = Edit {
        first_name: Some(lastmile::domain::Name::parse("Same").expect("name")),
        ..Edit::default()
    };
    user::edit(&world.svc, &org.admin, member.user_id, rename)
        .await
        .expect("rename");
    assert!(announced.try_recv().is_err(), "a rename changed access");
    let promote = Edit {
        roles: Some(crate::support::roles(false, true, true)),
        ..Edit::default()
    };
    user::edit(&world.svc, &org.admin, member.user_id, promote)
        .await
        .expect("promote");
    assert_eq!(
        announced.try_recv().ok(),
        Some(AccessChange::MembershipChanged {
            user_id: member.user_id
        })
    );
}
