//! `Work`: one write transaction with the events, mail and access changes it commits.

use sea_orm::DatabaseTransaction;

use entity::status_event;

use crate::access::Access;
use crate::db::{Db, WriteTxn};
use crate::domain::AccessChange;
use crate::error::AppResult;
use crate::events::EventHub;
use crate::mail::Mailer;

/// A change in progress: a write transaction (a `ConnectionTrait` through `&*work`) plus what
/// must happen once it commits, and only then.
pub struct Work {
    /// The transaction; holds the SQLite write lock until committed or dropped.
    txn: WriteTxn,
    /// Status events appended in the transaction, handed to the fan-out on commit.
    events: Vec<status_event::Model>,
    /// Whether mail was queued, so the mailer is woken on commit.
    mail_queued: bool,
    /// Session and membership changes, logged in the transaction and applied on commit.
    access: Vec<AccessChange>,
}

/// Where a committed change goes next: the event fan-out and the mail delivery task.
#[derive(Clone)]
pub struct Outlets {
    /// Status event fan-out.
    pub events: EventHub,
    /// The session authority: applies access changes here and sends them to every instance.
    pub access: Access,
    /// Wakes the mail delivery task.
    pub mailer: Mailer,
}

impl std::ops::Deref for Work {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl Work {
    /// Begins a change (on SQLite, after taking the write lock).
    pub async fn begin(db: &Db) -> AppResult<Self> {
        Ok(Self {
            txn: db.begin_write().await?,
            events: Vec::new(),
            mail_queued: false,
            access: Vec::new(),
        })
    }

    /// Records a status event appended in this transaction.
    pub fn event(&mut self, event: status_event::Model) {
        self.events.push(event);
    }

    /// Records status events appended in this transaction.
    pub fn events(&mut self, events: impl IntoIterator<Item = status_event::Model>) {
        self.events.extend(events);
    }

    /// Records that mail was queued in this transaction.
    pub fn mail_queued(&mut self) {
        self.mail_queued = true;
    }

    /// Records a session or membership change made in this transaction.
    pub fn access_changed(&mut self, change: AccessChange) {
        self.access.push(change);
    }

    /// Writes the access changes to the access log, commits, then hands the events to the
    /// fan-out, the access changes to the session authority, and wakes the mailer. Nothing
    /// leaves before the commit succeeded.
    pub async fn commit(self, outlets: &Outlets) -> AppResult<()> {
        let access = crate::access::record(&*self.txn, &self.access).await?;
        self.txn.commit().await?;
        outlets.events.publish(self.events);
        outlets.access.changed(&access);
        if self.mail_queued {
            outlets.mailer.wake();
        }
        Ok(())
    }
}
