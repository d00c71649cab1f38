//! Mail: an outbox row is written in the same transaction as the change that causes it;
//! [`delivery`] sends it later, by SMTP or as `.eml` files, with retries.

pub mod delivery;
mod templates;

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use entity::mail_outbox;
pub use templates::{invitation, password_reset};

/// A message to queue.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Queues `mail` in the outbox, inside the caller's transaction.
pub async fn enqueue(conn: &impl ConnectionTrait, mail: Mail) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    mail_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        to_address: Set(mail.to),
        subject: Set(mail.subject),
        body: Set(mail.body),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Wakes the delivery task; call after committing queued mail.
#[derive(Clone, Default)]
pub struct Mailer(Arc<Notify>);

impl Mailer {
    /// Something was queued.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits until woken.
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
