//! Changes that race the background workers' own writes (mail delivery marking a message
//! sent) still succeed: on SQLite a write transaction must not fail with "database is locked".

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn resending_an_invitation_while_the_first_mail_is_delivered_never_fails() {
    let app = spawn_app().await;
    let org = app.create_org("Busy Fleet").await;
    let mut failures = Vec::new();
    // Each invitation wakes the mail worker, whose writes land between the resend's read and
    // its write; 40 rounds reproduced the SQLITE_BUSY_SNAPSHOT failure several times.
    for i in 0..40 {
        let id = app
            .invite(
                &org.admin.token,
                &format!("busy{i}@example.test"),
                &["DISPATCHER"],
            )
            .await;
        let body = app
            .gql(
                Some(&org.admin.token),
                "mutation($id: ID!) { resendInvitation(userId: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        if body.get("errors").is_some() {
            failures.push(body);
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
