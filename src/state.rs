//! `AppState`: everything a request needs, built once at startup; a clone is a reference count.

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::auth::limiter::Limiter;
use crate::config::Settings;
use crate::db::Db;
use crate::events::EventHub;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::service::Services;

/// Shared state of one gateway instance: one allocation, so a clone is a reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state holding `shared`.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// The same instance on another pool (a serving thread's own); everything else is shared.
    pub fn with_db(&self, db: Db) -> Self {
        Self::new(Shared {
            services: Services {
                db: db.clone(),
                ..self.services.clone()
            },
            db,
            ..Shared::clone(self)
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds; a clone shares every part.
#[derive(Clone)]
pub struct Shared {
    /// Database pool.
    pub db: Db,
    /// Configuration read at startup.
    pub settings: Arc<Settings>,
    /// JWT keys and rules.
    pub jwt: JwtKeys,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Status event fan-out.
    pub events: EventHub,
    /// Live sessions (sockets, event streams) of this instance, by membership.
    pub sessions: Arc<crate::live::sessions::LiveSessions>,
    /// Wakes the mail delivery task after a commit queued mail.
    pub mailer: Mailer,
    /// Budget of password checks and reset mails per email.
    pub limiter: Limiter,
    /// Budget of credential operations per client address.
    pub client_limiter: Limiter,
    /// Password hashing, bounded in concurrency and memory.
    pub hasher: crate::auth::password::Hasher,
    /// Whether sessions and memberships still stand, known without a statement per request.
    pub access: crate::access::Access,
    /// The handles the services take (the same pool, hub, mailer, keys and budgets).
    pub services: Services,
}
