//! Accounts and sessions: sign-up of an organization, sign-in, organization selection,
//! refresh-token rotation with reuse detection, sign-out, password reset and personal settings.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use entity::user::UserStatus;
use entity::{account, organization, password_reset, refresh_token, user};

use crate::auth::principal::Scope;
use crate::auth::{Principal, token};
use crate::domain::{AccessChange, Input, OpaqueToken};
use crate::domain::{CsvDelimiter, Currency, Email, Name, Password, Timezone};
use crate::error::{AppError, AppResult, on_unique_violation};
use crate::mail;
use crate::service::{Services, Work};

/// Lifetime of a password reset link.
const RESET_TTL_MINUTES: i64 = 60;

/// Tokens handed to a client after signing in, refreshing or selecting an organization.
#[derive(Debug, Clone)]
pub struct Session {
    /// The JWT access token.
    pub access_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// What the access token says.
    pub principal: Principal,
}

/// The outcome of `signIn`.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The session (scoped when the account has exactly one active membership).
    pub session: Session,
    /// Organizations with an accepted (ACTIVE or INACTIVE) membership: (id, name).
    pub organizations: Vec<organization::Model>,
}

/// Input of `createOrganization`.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Organization name.
    pub name: Name,
    /// First admin's first name.
    pub first_name: Name,
    /// First admin's last name.
    pub last_name: Name,
    /// First admin's email.
    pub email: Email,
    /// First admin's password (the existing one when the account exists).
    pub password: Password,
}

/// Input of `updateSettings`; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// IANA zone name.
    pub timezone: Option<Timezone>,
    /// ISO 4217 code.
    pub currency: Option<Currency>,
    /// CSV delimiter.
    pub csv_delimiter: Option<CsvDelimiter>,
}

/// Who signs up or accepts an invitation: an existing account whose password was checked, or
/// a new account's password hash.
pub enum Credentials {
    /// The existing account of the email.
    Existing(account::Model),
    /// A new account with this password hash.
    New(String),
}

impl Credentials {
    /// The account: the existing one, or a new one inserted through `conn`; a concurrent
    /// sign-up with the same email is a CONFLICT saying `conflict`.
    pub async fn account(
        self,
        conn: &impl ConnectionTrait,
        email: &Email,
        conflict: &'static str,
    ) -> AppResult<account::Model> {
        match self {
            Self::Existing(account) => Ok(account),
            Self::New(hash) => insert_account(conn, email, hash)
                .await
                .map_err(|e| on_unique_violation(e, || AppError::conflict(conflict))),
        }
    }
}

/// The limiter key of password checks for `email`.
pub fn credential_key(email: &Email) -> String {
    format!("password:{}", email.as_str())
}

/// The one answer to a wrong email or password, whichever was wrong.
pub fn invalid_credentials() -> AppError {
    AppError::Unauthenticated("invalid email or password".into())
}

/// Creates an organization with its first ADMIN; reuses the account when the email has one.
pub async fn create_organization(svc: &Services, input: NewOrganization) -> AppResult<Session> {
    if !svc.settings.allow_signup {
        return Err(AppError::Forbidden(
            "sign-up is closed on this gateway".into(),
        ));
    }
    let credentials = signup_credentials(svc, &input.email, &input.password).await?;
    let work = Work::begin(&svc.db).await?;
    let account = credentials
        .account(
            &*work,
            &input.email,
            "an account with this email was just created; sign in instead",
        )
        .await?;
    let org = insert_organization(&*work, input.name).await?;
    let admin =
        insert_first_admin(&*work, &org, &account, input.first_name, input.last_name).await?;
    let session = issue_session(svc, &*work, account.id, Some(scope_of(&admin)), None).await?;
    work.commit(&svc.outlets).await?;
    Ok(session)
}

/// The existing account of `email` when `pw` is its password, else a new account's hash. The
/// password is checked whether or not the account exists, so the answer takes as long.
async fn signup_credentials(
    svc: &Services,
    email: &Email,
    pw: &Password,
) -> AppResult<Credentials> {
    let existing = find_account(&svc.db.conn, email).await?;
    if existing.is_some() {
        svc.limiter.attempt(&credential_key(email)).await?;
    }
    let stored = existing.as_ref().map(|a| a.password_hash.clone());
    let verified = svc.hasher.verify(pw.expose().to_owned(), stored).await?;
    match existing {
        Some(account) if verified => Ok(Credentials::Existing(account)),
        Some(_) => Err(invalid_credentials()),
        None => Ok(Credentials::New(
            svc.hasher.hash(pw.expose().to_owned()).await?,
        )),
    }
}

/// A new organization named `name`; a taken name is a CONFLICT.
async fn insert_organization(
    conn: &impl ConnectionTrait,
    name: Name,
) -> AppResult<organization::Model> {
    let now = Utc::now();
    organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|e| {
        on_unique_violation(e, || {
            AppError::conflict("an organization with this name already exists")
        })
    })
}

/// The first member of a new organization: an ACTIVE ADMIN of `account`.
async fn insert_first_admin(
    conn: &impl ConnectionTrait,
    org: &organization::Model,
    account: &account::Model,
    first_name: Name,
    last_name: Name,
) -> AppResult<user::Model> {
    let now = Utc::now();
    Ok(user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org.id),
        account_id: Set(Some(account.id)),
        email: Set(account.email.clone()),
        first_name: Set(first_name.into_inner()),
        last_name: Set(last_name.into_inner()),
        phone: Set(None),
        is_admin: Set(true),
        is_dispatcher: Set(false),
        is_driver: Set(false),
        status: Set(UserStatus::Active),
        depot_id: Set(None),
        invited_at: Set(now),
        activated_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// Signs in with email and password. A malformed email cannot belong to an account: the
/// caller answers [`invalid_credentials`] for it without spending a hash (timing parity
/// matters between well-formed emails only).
pub async fn sign_in(svc: &Services, email: &Email, pw: &str) -> AppResult<SignIn> {
    svc.limiter.attempt(&credential_key(email)).await?;
    let account = find_account(&svc.db.conn, email).await?;
    let ok = svc
        .hasher
        .verify(
            pw.to_owned(),
            account.as_ref().map(|a| a.password_hash.clone()),
        )
        .await?;
    let account = match (account, ok) {
        (Some(a), true) => {
            svc.limiter.reset(&credential_key(email)).await;
            a
        }
        _ => return Err(invalid_credentials()),
    };
    let memberships = accepted_memberships(&svc.db.conn, account.id).await?;
    let scope = match memberships.as_slice() {
        [(only, _)] => Some(scope_of(only)),
        _ => None,
    };
    let session = issue_session(svc, &svc.db.conn, account.id, scope, None).await?;
    Ok(SignIn {
        session,
        organizations: memberships.into_iter().map(|(_, org)| org).collect(),
    })
}

/// Scopes the session to one of the account's organizations: within the session the token
/// names, never a new one, and never an ended one.
pub async fn select_organization(
    svc: &Services,
    principal: &Principal,
    organization_id: Uuid,
) -> AppResult<Session> {
    let membership = user::Entity::find()
        .filter(user::Column::AccountId.eq(principal.account_id))
        .filter(user::Column::OrganizationId.eq(organization_id))
        .filter(user::Column::Status.ne(UserStatus::Invited))
        .one(&svc.db.conn)
        .await?
        .ok_or_else(|| AppError::not_found("organization"))?;
    if !session_is_live(&svc.db.conn, principal.session_id).await? {
        return Err(session_ended());
    }
    // Issued in the same session: signing out with any of its refresh tokens ends them all.
    issue_session(
        svc,
        &svc.db.conn,
        principal.account_id,
        Some(scope_of(&membership)),
        Some(principal.session_id),
    )
    .await
}

fn session_ended() -> AppError {
    AppError::Unauthenticated("this session has ended; sign in again".into())
}

/// The refresh tokens that keep session `session_id` alive: not rotated, revoked or expired.
fn live_in(session_id: Uuid) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(refresh_token::Column::FamilyId.eq(session_id))
        .add(refresh_token::Column::UsedAt.is_null())
        .add(refresh_token::Column::RevokedAt.is_null())
        .add(refresh_token::Column::ExpiresAt.gt(Utc::now()))
}

/// Whether session `session_id` is alive: signed out, reset or expired sessions are not.
pub async fn session_is_live(conn: &impl ConnectionTrait, session_id: Uuid) -> AppResult<bool> {
    Ok(refresh_token::Entity::find()
        .filter(live_in(session_id))
        .one(conn)
        .await?
        .is_some())
}

/// Rotates a refresh token: the presented one dies, a new one of the same family is issued.
/// Presenting a token that was already rotated revokes the whole family.
pub async fn refresh(svc: &Services, presented: &str) -> AppResult<Session> {
    let dead = || AppError::Unauthenticated("refresh token is not valid".into());
    let presented = OpaqueToken::parse(presented).map_err(|_| dead())?;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::digest(presented.as_str())))
        .one(&svc.db.conn)
        .await?
        .ok_or_else(dead)?;
    if row.revoked_at.is_some() || row.expires_at <= Utc::now() {
        return Err(dead());
    }
    let mut work = Work::begin(&svc.db).await?;
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&*work)
        .await?;
    if claimed.rows_affected != 1 {
        revoke_family(&*work, row.family_id).await?;
        work.access_changed(AccessChange::SessionEnded {
            session_id: row.family_id,
        });
        work.commit(&svc.outlets).await?;
        tracing::warn!(account_id = %row.account_id, family_id = %row.family_id, "refresh token reuse; session family revoked");
        return Err(dead());
    }
    let scope = match row.organization_id {
        Some(org) => current_scope(&*work, row.account_id, org).await?,
        None => None,
    };
    let session = issue_session(svc, &*work, row.account_id, scope, Some(row.family_id)).await?;
    work.commit(&svc.outlets).await?;
    Ok(session)
}

/// Ends the session the refresh token belongs to; false when it was not a live token.
pub async fn sign_out(svc: &Services, presented: &str) -> AppResult<bool> {
    let Ok(presented) = OpaqueToken::parse(presented) else {
        return Ok(false);
    };
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::digest(presented.as_str())))
        .one(&svc.db.conn)
        .await?
    else {
        return Ok(false);
    };
    let live = row.revoked_at.is_none() && row.used_at.is_none();
    let mut work = Work::begin(&svc.db).await?;
    revoke_family(&*work, row.family_id).await?;
    work.access_changed(AccessChange::SessionEnded {
        session_id: row.family_id,
    });
    work.commit(&svc.outlets).await?;
    Ok(live)
}

/// Mails a reset link when the email has an account; answers the same either way.
pub async fn request_password_reset(svc: &Services, email: &Email) -> AppResult<bool> {
    svc.limiter
        .attempt(&format!("reset-mail:{}", email.as_str()))
        .await?;
    let Some(account) = find_account(&svc.db.conn, email).await? else {
        return Ok(true);
    };
    let secret = token::generate();
    let now = Utc::now();
    let mut work = Work::begin(&svc.db).await?;
    // Only the newest link works: issuing one ends those mailed before.
    end_reset_tokens(&*work, account.id).await?;
    password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account.id),
        token_hash: Set(token::digest(&secret)),
        expires_at: Set(now + Duration::minutes(RESET_TTL_MINUTES)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(&*work)
    .await?;
    mail::enqueue(
        &*work,
        mail::password_reset(&svc.settings.public_url, &account.email, &secret),
    )
    .await?;
    work.mail_queued();
    work.commit(&svc.outlets).await?;
    Ok(true)
}

/// Sets a new password with a reset token (single use) and ends every session of the account.
pub async fn reset_password(svc: &Services, presented: &str, pw: &Password) -> AppResult<bool> {
    let bad_token = || {
        AppError::refused(
            Input::ResetToken,
            "the reset link is invalid, used or expired",
        )
    };
    let presented = OpaqueToken::parse(presented).map_err(|_| bad_token())?;
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token::digest(presented.as_str())))
        .one(&svc.db.conn)
        .await?
        .ok_or_else(bad_token)?;
    if row.used_at.is_some() || row.expires_at <= Utc::now() {
        return Err(bad_token());
    }
    let hash = svc.hasher.hash(pw.expose().to_owned()).await?;
    let mut work = Work::begin(&svc.db).await?;
    let claimed = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Utc::now()))
        .filter(password_reset::Column::Id.eq(row.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&*work)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(bad_token());
    }
    end_reset_tokens(&*work, row.account_id).await?;
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::Id.eq(row.account_id))
        .exec(&*work)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::AccountId.eq(row.account_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&*work)
        .await?;
    work.access_changed(AccessChange::AccountSessionsEnded {
        account_id: row.account_id,
    });
    work.commit(&svc.outlets).await?;
    Ok(true)
}

/// Marks every unused reset token of `account_id` used.
async fn end_reset_tokens(conn: &impl ConnectionTrait, account_id: Uuid) -> AppResult<()> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Utc::now()))
        .filter(password_reset::Column::AccountId.eq(account_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Updates the viewer's personal settings; every field is validated before anything is written.
pub async fn update_settings(
    svc: &Services,
    account_id: Uuid,
    change: SettingsChange,
) -> AppResult<account::Model> {
    let SettingsChange {
        timezone,
        currency,
        csv_delimiter: delimiter,
    } = change;
    let current = get(&svc.db.conn, account_id).await?;
    let mut active = current.into_active_model();
    if let Some(tz) = timezone {
        active.timezone = Set(tz.into_inner());
    }
    if let Some(c) = currency {
        active.currency = Set(c.into_inner());
    }
    if let Some(d) = delimiter {
        active.csv_delimiter = Set(d.into_inner());
    }
    active.updated_at = Set(Utc::now());
    Ok(active.update(&svc.db.conn).await?)
}

/// The account, or UNAUTHENTICATED when it no longer exists.
pub async fn get(conn: &impl ConnectionTrait, account_id: Uuid) -> AppResult<account::Model> {
    account::Entity::find_by_id(account_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))
}

/// Every membership of the account that has been accepted, with its organization.
pub async fn memberships(
    conn: &impl ConnectionTrait,
    account_id: Uuid,
) -> AppResult<Vec<(user::Model, organization::Model)>> {
    let users = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await?;
    let orgs = organization::Entity::find()
        .filter(organization::Column::Id.is_in(users.iter().map(|u| u.organization_id)))
        .all(conn)
        .await?;
    Ok(users
        .into_iter()
        .filter_map(|u| {
            let org = orgs.iter().find(|o| o.id == u.organization_id)?.clone();
            Some((u, org))
        })
        .collect())
}

async fn accepted_memberships(
    conn: &impl ConnectionTrait,
    account_id: Uuid,
) -> AppResult<Vec<(user::Model, organization::Model)>> {
    Ok(memberships(conn, account_id)
        .await?
        .into_iter()
        .filter(|(u, _)| signs_in(u.status))
        .collect())
}

/// Whether a membership in this status may sign in and act: ACTIVE and INACTIVE alike
/// (INACTIVE only takes a driver off route planning); INVITED not before it is accepted.
pub fn signs_in(status: UserStatus) -> bool {
    status != UserStatus::Invited
}

/// The scope a membership gives.
pub fn scope_of(membership: &user::Model) -> Scope {
    Scope {
        organization_id: membership.organization_id,
        user_id: membership.id,
        roles: crate::service::user::roles_of(membership),
    }
}

/// The current scopes of those of `user_ids` that are still accepted memberships.
pub async fn current_scopes(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Scope>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids.iter().copied()))
        .filter(user::Column::Status.ne(UserStatus::Invited))
        .all(conn)
        .await?
        .iter()
        .map(|m| (m.id, scope_of(m)))
        .collect())
}

/// The account's current scope in `organization_id`, if it has an accepted membership there.
pub async fn current_scope(
    conn: &impl ConnectionTrait,
    account_id: Uuid,
    organization_id: Uuid,
) -> AppResult<Option<Scope>> {
    Ok(user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .filter(user::Column::OrganizationId.eq(organization_id))
        .filter(user::Column::Status.ne(UserStatus::Invited))
        .one(conn)
        .await?
        .map(|m| scope_of(&m)))
}

/// The current scope of a token's membership, in one statement with its session's check: its
/// roles as they are now, or `None` when the membership is gone or moved, or the session has
/// ended.
pub async fn current_membership_scope(
    conn: &impl ConnectionTrait,
    account_id: Uuid,
    scope: &Scope,
    session_id: Uuid,
) -> AppResult<Option<Scope>> {
    let live = sea_orm::sea_query::Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .cond_where(live_in(session_id))
        .to_owned();
    Ok(user::Entity::find_by_id(scope.user_id)
        .filter(Expr::exists(live))
        .one(conn)
        .await?
        .filter(|m| {
            m.organization_id == scope.organization_id
                && m.account_id == Some(account_id)
                && signs_in(m.status)
        })
        .map(|m| scope_of(&m)))
}

/// Finds an account by (normalized) email.
pub async fn find_account(
    conn: &impl ConnectionTrait,
    email: &Email,
) -> AppResult<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::Email.eq(email.as_str()))
        .one(conn)
        .await?)
}

/// Inserts an account with default settings.
pub async fn insert_account(
    conn: &impl ConnectionTrait,
    email: &Email,
    password_hash: String,
) -> Result<account::Model, sea_orm::DbErr> {
    let now = Utc::now();
    account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        timezone: Set("UTC".into()),
        currency: Set("EUR".into()),
        csv_delimiter: Set(",".into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
}

/// Issues an access token and a refresh token (a new family unless `family` is given).
pub async fn issue_session(
    svc: &Services,
    conn: &impl ConnectionTrait,
    account_id: Uuid,
    scope: Option<Scope>,
    family: Option<Uuid>,
) -> AppResult<Session> {
    // No family given: this sign-in opens a new session.
    let family = family.unwrap_or_else(Uuid::now_v7);
    let access_token = svc.jwt.issue(account_id, scope.as_ref(), family)?;
    let refresh = token::generate();
    let now = Utc::now();
    // Settings::validate bounds the TTL; should an expiry still be out of range, say so.
    let expires_at = i64::try_from(svc.settings.refresh_token_ttl)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|ttl| now.checked_add_signed(ttl))
        .context("REFRESH_TOKEN_TTL puts the refresh token's expiry out of range")?;
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        family_id: Set(family),
        organization_id: Set(scope.as_ref().map(|s| s.organization_id)),
        token_hash: Set(token::digest(&refresh)),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(Session {
        access_token,
        refresh_token: refresh,
        expires_in: svc.jwt.ttl,
        principal: Principal {
            account_id,
            scope,
            session_id: family,
            expires_at: now.timestamp() + svc.jwt.ttl,
        },
    })
}

/// Revokes every refresh token of session `family_id`; record the `SessionEnded` in the work.
async fn revoke_family(conn: &impl ConnectionTrait, family_id: Uuid) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
