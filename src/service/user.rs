//! Users: invitations, acceptance, editing, deletion, with the role and last-admin rules.

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, Select, Set,
};
use uuid::Uuid;

use entity::status_event::{self, EventKind};
use entity::user::{self, UserStatus};
use entity::{depot, invitation, organization, share};

use crate::auth::{Actor, Roles, token};
use crate::domain::{AccessChange, Email, Input, Name, OpaqueToken, Password, Phone, Search};
use crate::error::{AppError, AppResult, on_unique_violation};
use crate::events::{self, NewEvent};
use crate::mail;
use crate::service::account::{self, Session};
use crate::service::page::{self, Page, Window};
use crate::service::{
    Services, Work, contains_pattern, ensure_not_busy, lock_organization, lock_user, own_user,
};

/// Invitations work this long.
const INVITATION_DAYS: i64 = 7;

/// Filters of `organization.users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Any of these statuses.
    pub status: Option<Vec<UserStatus>>,
    /// Holding any of these roles.
    pub roles: Option<Roles>,
    /// Case-insensitive substring of first name, last name or email.
    pub search: Option<Search>,
}

/// Input of `inviteUser`.
#[derive(Debug, Clone)]
pub struct Invite {
    /// First name.
    pub first_name: Name,
    /// Last name.
    pub last_name: Name,
    /// Email.
    pub email: Email,
    /// Phone (E.164).
    pub phone: Option<Phone>,
    /// Roles (at least one).
    pub roles: Roles,
    /// Depot (drivers only); already decoded.
    pub depot_id: Option<Uuid>,
}

/// Input of `editUser`; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    /// New first name.
    pub first_name: Option<Name>,
    /// New last name.
    pub last_name: Option<Name>,
    /// New phone; `Some(None)` removes it.
    pub phone: Option<Option<Phone>>,
    /// New roles.
    pub roles: Option<Roles>,
    /// New depot.
    pub depot_id: Option<Uuid>,
    /// Remove the depot.
    pub clear_depot: bool,
}

/// The users query of `actor`, filtered (a DRIVER sees only itself).
pub fn query(actor: &Actor, filter: &UserFilter) -> Select<user::Entity> {
    let mut q = user::Entity::find().filter(user::Column::OrganizationId.eq(actor.organization_id));
    if !actor.roles.is_manager() {
        q = q.filter(user::Column::Id.eq(actor.user_id));
    }
    if let Some(statuses) = &filter.status {
        q = q.filter(user::Column::Status.is_in(statuses.clone()));
    }
    if let Some(roles) = filter.roles {
        let mut any = Condition::any();
        if roles.admin {
            any = any.add(user::Column::IsAdmin.eq(true));
        }
        if roles.dispatcher {
            any = any.add(user::Column::IsDispatcher.eq(true));
        }
        if roles.driver {
            any = any.add(user::Column::IsDriver.eq(true));
        }
        q = q.filter(any);
    }
    if let Some(search) = &filter.search {
        q = q.filter(search_condition(search));
    }
    q
}

/// Case-insensitive substring match on first name, last name or email.
pub fn search_condition(needle: &Search) -> Condition {
    let pattern = contains_pattern(needle.as_str());
    let like = |col: user::Column| {
        Expr::expr(Func::lower(Expr::col((user::Entity, col))))
            .like(LikeExpr::new(pattern.clone()).escape('\\'))
    };
    Condition::any()
        .add(like(user::Column::FirstName))
        .add(like(user::Column::LastName))
        .add(like(user::Column::Email))
}

/// One page of users.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &UserFilter,
    window: Window,
) -> AppResult<Page<user::Model>> {
    page::fetch(conn, query(actor, filter), user::Column::Id, window).await
}

/// How many users match.
pub async fn count(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &UserFilter,
) -> AppResult<i64> {
    Ok(query(actor, filter).count(conn).await? as i64)
}

/// Whether `actor` may see `user` (same organization; a DRIVER only itself).
pub fn visible(actor: &Actor, user: &user::Model) -> bool {
    user.organization_id == actor.organization_id
        && (actor.roles.is_manager() || user.id == actor.user_id)
}

/// The user, when the actor may see it.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|u| visible(actor, u)))
}

/// The roles a membership row holds.
pub fn roles_of(user: &user::Model) -> Roles {
    Roles {
        admin: user.is_admin,
        dispatcher: user.is_dispatcher,
        driver: user.is_driver,
    }
}

/// A DISPATCHER may neither touch an ADMIN nor grant ADMIN.
fn check_admin_rule(
    actor: &Actor,
    target: Option<&user::Model>,
    new_roles: Option<Roles>,
) -> AppResult<()> {
    if actor.roles.admin {
        return Ok(());
    }
    let touches_admin = target.is_some_and(|t| t.is_admin) || new_roles.is_some_and(|r| r.admin);
    if touches_admin {
        return Err(AppError::Forbidden(
            "only an ADMIN can grant, edit or remove the ADMIN role".into(),
        ));
    }
    Ok(())
}

/// A membership has at least one role.
fn check_roles(roles: Roles) -> AppResult<()> {
    if roles.is_empty() {
        return Err(AppError::refused(
            Input::Roles,
            "at least one role is required",
        ));
    }
    Ok(())
}

/// Only drivers have a depot.
fn check_depot_holder(depot_id: Option<Uuid>, roles: Roles) -> AppResult<()> {
    if depot_id.is_some() && !roles.driver {
        return Err(AppError::refused(
            Input::DepotId,
            "only drivers have a depot",
        ));
    }
    Ok(())
}

/// A depot of the actor's organization, or NOT_FOUND naming the field.
async fn own_depot(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    depot_id: Uuid,
) -> AppResult<depot::Model> {
    depot::Entity::find_by_id(depot_id)
        .one(conn)
        .await?
        .filter(|d| d.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("depot"))
}

/// Invites a user: INVITED, with a single-use invitation mailed in the same transaction.
pub async fn invite(svc: &Services, actor: &Actor, input: Invite) -> AppResult<user::Model> {
    actor.require_manager()?;
    check_roles(input.roles)?;
    check_depot_holder(input.depot_id, input.roles)?;
    check_admin_rule(actor, None, Some(input.roles))?;

    let mut work = Work::begin(&svc.db).await?;
    if let Some(depot_id) = input.depot_id {
        own_depot(&*work, actor, depot_id).await?;
    }
    let now = Utc::now();
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(actor.organization_id),
        account_id: Set(None),
        email: Set(input.email.as_str().to_owned()),
        first_name: Set(input.first_name.into_inner()),
        last_name: Set(input.last_name.into_inner()),
        phone: Set(input.phone.map(Phone::into_inner)),
        is_admin: Set(input.roles.admin),
        is_dispatcher: Set(input.roles.dispatcher),
        is_driver: Set(input.roles.driver),
        status: Set(UserStatus::Invited),
        depot_id: Set(input.depot_id),
        invited_at: Set(now),
        activated_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*work)
    .await
    .map_err(|e| {
        on_unique_violation(e, || {
            AppError::conflict("this email is already a user of the organization")
        })
    })?;
    send_invitation(svc, &*work, &user).await?;
    let event = events::append(
        &*work,
        &user,
        NewEvent::transition(EventKind::Invited, None, Some(UserStatus::Invited)),
    )
    .await?;
    work.event(event);
    work.mail_queued();
    work.commit(&svc.outlets).await?;
    Ok(user)
}

/// Issues a new invitation token (older ones stop working) and queues the mail.
async fn send_invitation(
    svc: &Services,
    conn: &impl ConnectionTrait,
    user: &user::Model,
) -> AppResult<()> {
    invitation::Entity::delete_many()
        .filter(invitation::Column::UserId.eq(user.id))
        .exec(conn)
        .await?;
    let secret = token::generate();
    let now = Utc::now();
    invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        token_hash: Set(token::digest(&secret)),
        expires_at: Set(now + Duration::days(INVITATION_DAYS)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let org_name = organization::Entity::find_by_id(user.organization_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("organization"))?
        .name;
    let mail = mail::invitation(
        &svc.settings.public_url,
        &user.email,
        &user.first_name,
        &org_name,
        &secret,
    );
    mail::enqueue(conn, mail).await?;
    Ok(())
}

/// Replaces the invitation of an INVITED user with a new one.
pub async fn resend_invitation(
    svc: &Services,
    actor: &Actor,
    user_id: Uuid,
) -> AppResult<user::Model> {
    let mut work = Work::begin(&svc.db).await?;
    let user = own_user(&*work, actor.organization_id, user_id, "user").await?;
    actor.require_manager()?;
    check_admin_rule(actor, Some(&user), None)?;
    if user.status != UserStatus::Invited {
        return Err(AppError::conflict(
            "the user has already accepted the invitation",
        ));
    }
    send_invitation(svc, &*work, &user).await?;
    let mut active = user.into_active_model();
    active.invited_at = Set(Utc::now());
    active.updated_at = Set(Utc::now());
    let user = active.update(&*work).await?;
    work.mail_queued();
    work.commit(&svc.outlets).await?;
    Ok(user)
}

/// The answer to any invitation token that cannot be accepted, whichever the reason.
fn bad_invitation() -> AppError {
    AppError::refused(
        Input::InvitationToken,
        "the invitation is invalid, used or expired",
    )
}

/// The unused, unexpired invitation behind `presented` and its INVITED user; `None` for an
/// unknown, used or expired token alike.
async fn pending_invitation(
    conn: &impl ConnectionTrait,
    presented: &str,
) -> AppResult<Option<(invitation::Model, user::Model)>> {
    let Ok(presented) = OpaqueToken::parse(presented) else {
        return Ok(None);
    };
    let Some(invitation) = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token::digest(presented.as_str())))
        .one(conn)
        .await?
        .filter(|i| i.used_at.is_none() && i.expires_at > Utc::now())
    else {
        return Ok(None);
    };
    Ok(user::Entity::find_by_id(invitation.user_id)
        .one(conn)
        .await?
        .filter(|u| u.status == UserStatus::Invited)
        .map(|user| (invitation, user)))
}

/// The stored email of `user`; stored emails were validated when invited.
fn stored_email(user: &user::Model) -> AppResult<Email> {
    Email::parse(&user.email).map_err(|reason| {
        AppError::Internal(anyhow::anyhow!(
            "stored email of user {} is invalid: {reason}",
            user.id
        ))
    })
}

/// Who accepts: the existing account of `email` when `pw` is its password, else a new
/// account with `pw` (which must then meet the password rules).
async fn invitation_credentials(
    svc: &Services,
    email: &Email,
    pw: &str,
) -> AppResult<account::Credentials> {
    let Some(existing) = account::find_account(&svc.db.conn, email).await? else {
        let pw = Password::parse(pw)
            .map_err(|reason| AppError::refused(Input::InvitationPassword, reason))?;
        let hash = svc.hasher.hash(pw.expose().to_owned()).await?;
        return Ok(account::Credentials::New(hash));
    };
    svc.limiter.attempt(&account::credential_key(email)).await?;
    let stored = Some(existing.password_hash.clone());
    if !svc.hasher.verify(pw.to_owned(), stored).await? {
        return Err(account::invalid_credentials());
    }
    Ok(account::Credentials::Existing(existing))
}

/// Marks the invitation used; refused when a concurrent acceptance claimed it first.
async fn claim_invitation(conn: &impl ConnectionTrait, invitation_id: Uuid) -> AppResult<()> {
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::UsedAt, Expr::value(Utc::now()))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(bad_invitation());
    }
    Ok(())
}

/// INVITED → ACTIVE under `account_id`, with its ACTIVATED event.
async fn activate(work: &mut Work, user: user::Model, account_id: Uuid) -> AppResult<user::Model> {
    let now = Utc::now();
    let mut active = user.into_active_model();
    active.status = Set(UserStatus::Active);
    active.account_id = Set(Some(account_id));
    active.activated_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&**work).await?;
    let transition = NewEvent::transition(
        EventKind::Activated,
        Some(UserStatus::Invited),
        Some(UserStatus::Active),
    );
    let event = events::append(&**work, &user, transition).await?;
    work.event(event);
    Ok(user)
}

/// Accepts an invitation: creates the account or checks the existing one's password; ACTIVE.
pub async fn accept_invitation(svc: &Services, presented: &str, pw: &str) -> AppResult<Session> {
    let (invitation, user) = pending_invitation(&svc.db.conn, presented)
        .await?
        .ok_or_else(bad_invitation)?;
    let email = stored_email(&user)?;
    let credentials = invitation_credentials(svc, &email, pw).await?;
    let mut work = Work::begin(&svc.db).await?;
    claim_invitation(&*work, invitation.id).await?;
    let account = credentials
        .account(
            &*work,
            &email,
            "an account with this email was just created; try again",
        )
        .await?;
    let user = activate(&mut work, user, account.id).await?;
    let scope = Some(account::scope_of(&user));
    let session = account::issue_session(svc, &*work, account.id, scope, None).await?;
    work.commit(&svc.outlets).await?;
    Ok(session)
}

/// Edits a user. Anyone may edit their own names and phone; roles and depot need a manager.
pub async fn edit(
    svc: &Services,
    actor: &Actor,
    user_id: Uuid,
    input: Edit,
) -> AppResult<user::Model> {
    check_edit(&input)?;
    let mut work = Work::begin(&svc.db).await?;
    let user = editable_user(&work, actor, user_id, &input).await?;
    // Roles not given: unchanged.
    let roles = input.roles.unwrap_or(roles_of(&user));
    apply_role_change(&mut work, actor, &user, roles, input.depot_id).await?;
    let changes_membership = input.changes_membership();
    let user = edited(user, input, roles).update(&*work).await?;
    // Sessions opened with the old roles end on every instance once this commits.
    if changes_membership {
        work.access_changed(AccessChange::MembershipChanged { user_id: user.id });
    }
    work.commit(&svc.outlets).await?;
    Ok(user)
}

impl Edit {
    /// Whether the edit touches the membership (roles or depot), which needs a manager.
    fn changes_membership(&self) -> bool {
        self.roles.is_some() || self.depot_id.is_some() || self.clear_depot
    }
}

/// The rules an edit meets on its own, before anything is read.
fn check_edit(input: &Edit) -> AppResult<()> {
    if let Some(roles) = input.roles {
        check_roles(roles)?;
    }
    if input.clear_depot && input.depot_id.is_some() {
        return Err(AppError::refused(
            Input::ClearDepot,
            "pass either depotId or clearDepot",
        ));
    }
    Ok(())
}

/// The user to edit, locked, when the actor may make this edit to it.
async fn editable_user(
    work: &Work,
    actor: &Actor,
    user_id: Uuid,
    input: &Edit,
) -> AppResult<user::Model> {
    lock_organization(&**work, actor.organization_id).await?;
    let user = lock_user(&**work, user_id)
        .await?
        .filter(|u| u.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("user"))?;
    if user.id != actor.user_id || input.changes_membership() {
        actor.require_manager()?;
    }
    check_admin_rule(actor, Some(&user), input.roles)?;
    if user.status == UserStatus::Invited {
        return Err(AppError::conflict(
            "an INVITED user cannot be edited until the invitation is accepted",
        ));
    }
    Ok(user)
}

/// What giving `user` the roles `roles` (and the depot) requires: the depot is the
/// organization's, an ADMIN leaving keeps another, a DRIVER leaving is retired.
async fn apply_role_change(
    work: &mut Work,
    actor: &Actor,
    user: &user::Model,
    roles: Roles,
    depot_id: Option<Uuid>,
) -> AppResult<()> {
    check_depot_holder(depot_id, roles)?;
    if let Some(depot_id) = depot_id {
        own_depot(&**work, actor, depot_id).await?;
    }
    if user.is_admin && !roles.admin {
        ensure_other_active_admin(&**work, user).await?;
    }
    if user.is_driver && !roles.driver {
        let events = retire_driver(&**work, user).await?;
        work.events(events);
    }
    Ok(())
}

/// The row after the edit: names and phone as given, the roles, and the depot (none for a
/// non-driver, whose INACTIVE status, a driver's only, becomes ACTIVE).
fn edited(user: user::Model, input: Edit, roles: Roles) -> user::ActiveModel {
    let was_inactive = user.status == UserStatus::Inactive;
    let mut active = user.into_active_model();
    if let Some(n) = input.first_name {
        active.first_name = Set(n.into_inner());
    }
    if let Some(n) = input.last_name {
        active.last_name = Set(n.into_inner());
    }
    if let Some(p) = input.phone {
        active.phone = Set(p.map(Phone::into_inner));
    }
    active.is_admin = Set(roles.admin);
    active.is_dispatcher = Set(roles.dispatcher);
    active.is_driver = Set(roles.driver);
    if !roles.driver {
        active.depot_id = Set(None);
        if was_inactive {
            active.status = Set(UserStatus::Active);
        }
    } else if input.clear_depot {
        active.depot_id = Set(None);
    } else if let Some(depot_id) = input.depot_id {
        active.depot_id = Set(Some(depot_id));
    }
    active.updated_at = Set(Utc::now());
    active
}

/// CONFLICT unless the organization keeps another ACTIVE ADMIN besides `user`.
/// The caller holds the organization lock ([`lock_organization`]).
pub async fn ensure_other_active_admin(
    conn: &impl ConnectionTrait,
    user: &user::Model,
) -> AppResult<()> {
    let others = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(user.organization_id))
        .filter(user::Column::IsAdmin.eq(true))
        .filter(user::Column::Status.eq(UserStatus::Active))
        .filter(user::Column::Id.ne(user.id))
        .all(conn)
        .await?;
    if others.is_empty() && user.status == UserStatus::Active {
        return Err(AppError::conflict(
            "the organization must keep at least one ACTIVE ADMIN",
        ));
    }
    Ok(())
}

/// What deleting a driver (or removing its role) requires: not on an active route of any
/// organization; its shares end, each with an UNSHARED event.
async fn retire_driver(
    conn: &impl ConnectionTrait,
    driver: &user::Model,
) -> AppResult<Vec<status_event::Model>> {
    ensure_not_busy(conn, driver.id, None).await?;
    let shares = share::Entity::find()
        .filter(share::Column::DriverId.eq(driver.id))
        .all(conn)
        .await?;
    let mut events = Vec::with_capacity(shares.len());
    for s in shares {
        share::Entity::delete_by_id(s.id).exec(conn).await?;
        let mut e = NewEvent::same_status(EventKind::Unshared, driver);
        e.partner_id = Some(s.partner_id);
        events.push(events::append(conn, driver, e).await?);
    }
    Ok(events)
}

/// Deletes a user; completed routes keep the driver's name.
pub async fn delete(svc: &Services, actor: &Actor, user_id: Uuid) -> AppResult<Uuid> {
    let mut work = Work::begin(&svc.db).await?;
    lock_organization(&*work, actor.organization_id).await?;
    let user = lock_user(&*work, user_id)
        .await?
        .filter(|u| u.organization_id == actor.organization_id)
        .ok_or_else(|| AppError::not_found("user"))?;
    actor.require_manager()?;
    check_admin_rule(actor, Some(&user), None)?;
    if user.is_admin {
        ensure_other_active_admin(&*work, &user).await?;
    }
    if user.is_driver {
        ensure_not_busy(&*work, user.id, None).await?;
    }
    // DELETED first, so partners sharing the driver are still in its audience.
    let mut events = vec![
        events::append(
            &*work,
            &user,
            NewEvent::transition(EventKind::Deleted, Some(user.status), None),
        )
        .await?,
    ];
    if user.is_driver {
        events.extend(retire_driver(&*work, &user).await?);
    }
    user::Entity::delete_by_id(user.id).exec(&*work).await?;
    work.events(events);
    work.access_changed(AccessChange::MembershipDeleted { user_id: user.id });
    work.commit(&svc.outlets).await?;
    Ok(user.id)
}

/// What the Welcome page shows about a pending invitation before it is accepted.
#[derive(Debug, Clone)]
pub struct InvitationPreview {
    /// The inviting organization.
    pub organization: organization::Model,
    /// The invited email.
    pub email: String,
    /// The invited user's first name.
    pub first_name: String,
    /// Whether an account exists for the email (sign in instead of creating one).
    pub account_exists: bool,
    /// When the invitation stops working.
    pub expires_at: chrono::DateTime<Utc>,
}

/// The invitation behind a token, while it can still be accepted; `None` for an unknown,
/// used or expired token alike, so the answer tells nothing about which.
pub async fn preview_invitation(
    conn: &impl ConnectionTrait,
    presented: &str,
) -> AppResult<Option<InvitationPreview>> {
    let Some((invitation, user)) = pending_invitation(conn, presented).await? else {
        return Ok(None);
    };
    let Some(organization) = organization::Entity::find_by_id(user.organization_id)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let account_exists = match Email::parse(&user.email) {
        Ok(email) => account::find_account(conn, &email).await?.is_some(),
        Err(_) => false,
    };
    Ok(Some(InvitationPreview {
        organization,
        email: user.email,
        first_name: user.first_name,
        account_exists,
        expires_at: invitation.expires_at,
    }))
}

/// When the pending invitation of each of `user_ids` expires (users without one are absent).
pub async fn invitation_expiries(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> AppResult<std::collections::HashMap<Uuid, chrono::DateTime<Utc>>> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(invitation::Column::UsedAt.is_null())
        .all(conn)
        .await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let newest = found.entry(row.user_id).or_insert(row.expires_at);
        if row.expires_at > *newest {
            *newest = row.expires_at;
        }
    }
    Ok(found)
}

/// What user and driver lists may be ordered by (then by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrderField {
    /// Last name.
    LastName,
    /// First name.
    FirstName,
    /// Email.
    Email,
    /// Status.
    Status,
    /// When invited.
    InvitedAt,
}

/// The order key of `field` in `direction`, for the list named `list` (its cursors are its own).
pub fn order_key(
    list: &'static str,
    field: UserOrderField,
    direction: page::Direction,
) -> page::OrderKey<user::Column> {
    use page::KeyKind::{Text, Time};
    let (column, kind, name) = match field {
        UserOrderField::LastName => (user::Column::LastName, Text, "LAST_NAME"),
        UserOrderField::FirstName => (user::Column::FirstName, Text, "FIRST_NAME"),
        UserOrderField::Email => (user::Column::Email, Text, "EMAIL"),
        UserOrderField::Status => (user::Column::Status, Text, "STATUS"),
        UserOrderField::InvitedAt => (user::Column::InvitedAt, Time, "INVITED_AT"),
    };
    page::OrderKey {
        column,
        kind,
        direction,
        list,
        name,
    }
}

/// One page of users in the order of `key`.
pub async fn list_ordered(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    filter: &UserFilter,
    key: &page::OrderKey<user::Column>,
    window: &page::OrderedWindow,
) -> AppResult<page::OrderedPage<user::Model>> {
    page::fetch_ordered(
        conn,
        query(actor, filter),
        key,
        user::Column::Id,
        |u| u.id,
        window,
    )
    .await
}

/// Most invitations one `inviteUsers` takes.
pub const MAX_BULK_INVITES: usize = 500;

/// Invites each of `inputs` on its own, as [`invite`] would (an item already refused at the
/// boundary keeps its error): one failure undoes nothing else. Results are in input order.
/// More than [`MAX_BULK_INVITES`] items, or a role that may not invite, refuses the whole batch.
pub async fn invite_many(
    svc: &Services,
    actor: &Actor,
    inputs: Vec<AppResult<Invite>>,
) -> AppResult<Vec<AppResult<user::Model>>> {
    actor.require_manager()?;
    if inputs.len() > MAX_BULK_INVITES {
        return Err(AppError::refused(
            Input::Batch,
            format!("at most {MAX_BULK_INVITES} invitations at once"),
        ));
    }
    let mut results = Vec::with_capacity(inputs.len());
    for input in inputs {
        results.push(match input {
            Ok(input) => invite(svc, actor, input).await,
            Err(refused) => Err(refused),
        });
    }
    Ok(results)
}
