//! `World`: the services on a fresh, migrated SQLite file, and helpers that set up organizations.

use std::sync::Arc;
use std::time::Duration;

use lastmile::access::Access;
use lastmile::auth::JwtKeys;
use lastmile::auth::limiter::Limiter;
use lastmile::auth::password::Hasher;
use lastmile::auth::{Actor, Roles};
use lastmile::db::Db;
use lastmile::domain::{Email, Name, Password};
use lastmile::error::AppError;
use lastmile::events::EventHub;
use lastmile::mail::Mailer;
use lastmile::metrics::Metrics;
use lastmile::service::account::{self, NewOrganization, Session};
use lastmile::service::user::{self, Invite};
use lastmile::service::{Outlets, ServiceSettings, Services};
use migration::MigratorTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// The password every account of these tests uses.
pub const PASSWORD: &str = "correct horse battery";

/// The services on their own database, and the temporary directory that holds it.
pub struct World {
    /// The handles the services take.
    pub svc: Services,
    /// The session authority the services announce access changes to.
    pub access: Access,
    _dir: tempfile::TempDir,
}

/// An organization with its first ADMIN.
pub struct Org {
    /// The organization.
    pub id: Uuid,
    /// Its ADMIN, acting.
    pub admin: Actor,
}

impl World {
    /// A fresh, migrated SQLite database and the services on it; sign-up open.
    pub async fn new() -> Self {
        Self::with_signup(true).await
    }

    /// As [`World::new`], with sign-up open or closed.
    pub async fn with_signup(allow_signup: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/service.db?mode=rwc", dir.path().display());
        let metrics = Metrics::default();
        let db = Db::connect(&url, 5, metrics.clone())
            .await
            .expect("connect");
        migration::Migrator::up(&db.conn, None)
            .await
            .expect("migrate");
        let (hub, _dispatcher) =
            EventHub::local(db.clone(), metrics.clone(), 64, Duration::from_secs(60));
        let access = Access::new(db.clone(), metrics.clone(), Duration::from_secs(60), None);
        let svc = Services {
            db,
            outlets: Outlets {
                events: hub,
                mailer: Mailer::default(),
                access: access.clone(),
            },
            jwt: JwtKeys::new(&[7; 32], "lastmile", "lastmile", 900),
            limiter: Limiter::new(100, Duration::from_secs(60)),
            hasher: Hasher::new(2, Duration::from_secs(10), metrics),
            settings: Arc::new(ServiceSettings {
                public_url: "http://lastmile.test".into(),
                allow_signup,
                refresh_token_ttl: 3600,
            }),
        };
        Self {
            svc,
            access,
            _dir: dir,
        }
    }

    /// Creates an organization named `name` with an ADMIN.
    pub async fn org(&self, name: &str) -> Org {
        let session = account::create_organization(&self.svc, new_org(name, &unique_email()))
            .await
            .expect("create organization");
        let admin = actor_of(&session);
        Org {
            id: admin.organization_id,
            admin,
        }
    }

    /// Invites a new person with `roles` as `inviter`; the user stays INVITED.
    pub async fn invite(&self, inviter: &Actor, roles: Roles) -> entity::user::Model {
        user::invite(&self.svc, inviter, invite(&unique_email(), roles))
            .await
            .expect("invite")
    }

    /// Invites and accepts: an ACTIVE member with `roles`, acting in `org`.
    pub async fn member(&self, inviter: &Actor, roles: Roles) -> Actor {
        let invited = self.invite(inviter, roles).await;
        let token = self
            .mailed_token(&invited.email, "/accept-invitation")
            .await;
        let session = user::accept_invitation(&self.svc, &token, PASSWORD)
            .await
            .expect("accept invitation");
        actor_of(&session)
    }

    /// The token of the newest link to `path` queued for `to`.
    pub async fn mailed_token(&self, to: &str, path: &str) -> String {
        let mail = entity::mail_outbox::Entity::find()
            .filter(entity::mail_outbox::Column::ToAddress.eq(to))
            .order_by_desc(entity::mail_outbox::Column::CreatedAt)
            .one(&self.svc.db.conn)
            .await
            .expect("read outbox")
            .unwrap_or_else(|| panic!("no mail queued for {to}"));
        let marker = format!("{path}?token=");
        let start = mail
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {path} link in {}", mail.body))
            + marker.len();
        mail.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// The actor a scoped session acts as.
pub fn actor_of(session: &Session) -> Actor {
    let scope = session
        .principal
        .scope
        .clone()
        .expect("a session scoped to an organization");
    Actor {
        account_id: session.principal.account_id,
        organization_id: scope.organization_id,
        user_id: scope.user_id,
        roles: scope.roles,
    }
}

/// A never-used email.
pub fn unique_email() -> String {
    format!("{}@example.test", Uuid::now_v7().simple())
}

/// The sign-up input of an organization `name` whose ADMIN has `email`.
pub fn new_org(name: &str, email: &str) -> NewOrganization {
    NewOrganization {
        name: Name::parse(name).expect("name"),
        first_name: Name::parse("Ada").expect("name"),
        last_name: Name::parse("Admin").expect("name"),
        email: Email::parse(email).expect("email"),
        password: Password::parse(PASSWORD).expect("password"),
    }
}

/// An invitation of `email` with `roles`.
pub fn invite(email: &str, roles: Roles) -> Invite {
    Invite {
        first_name: Name::parse("Test").expect("name"),
        last_name: Name::parse("Person").expect("name"),
        email: Email::parse(email).expect("email"),
        phone: None,
        roles,
        depot_id: None,
    }
}

/// Roles by letter: `a`dmin, `d`ispatcher, d`r`iver.
pub fn roles(admin: bool, dispatcher: bool, driver: bool) -> Roles {
    Roles {
        admin,
        dispatcher,
        driver,
    }
}

/// Only DRIVER.
pub fn driver() -> Roles {
    roles(false, false, true)
}

/// Only DISPATCHER.
pub fn dispatcher() -> Roles {
    roles(false, true, false)
}

/// The error code of `result`, failing with the value when it succeeded.
pub fn code<T: std::fmt::Debug>(result: Result<T, AppError>) -> &'static str {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err.code(),
    }
}

/// The refused input of `result`, failing with anything else.
pub fn refused<T: std::fmt::Debug>(result: Result<T, AppError>) -> lastmile::domain::Input {
    match result {
        Err(AppError::Refused { input, .. }) => input,
        other => panic!("expected a refused input, got {other:?}"),
    }
}
