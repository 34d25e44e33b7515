//! Managing people: the list, their roles, disabling. Customers with `users.manage` manage
//! their own account's users only; nobody manages a user who holds a permission they lack
//! (no one disables or re-roles someone more powerful than themselves), and nobody changes
//! their own roles or status.

use super::{User, UserKind};
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::ids::{RoleId, UserId};

/// A user as the people who manage users see them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// `staff` or `customer`
    pub kind: &'static str,
    pub account_id: Option<i64>,
    pub status: String,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Forbidden(#[from] crate::auth::Forbidden),
    #[error(transparent)]
    Db(#[from] DbError),
}

async fn view(tx: &mut TenantTx, u: User) -> Result<UserView, DbError> {
    let roles = tx
        .roles_of(u.id)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let (kind, account_id) = match u.kind {
        UserKind::Staff => ("staff", None),
        UserKind::Customer(a) => ("customer", Some(a.0)),
    };
    Ok(UserView {
        id: u.id.0,
        email: u.email.as_str().to_owned(),
        display_name: u.display_name,
        kind,
        account_id,
        status: u.status,
        roles,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    })
}

/// The user `id` if `by` may see them; another account's (or tenant's) user is `NotFound`.
pub(crate) async fn visible_user(
    tx: &mut TenantTx,
    by: &Principal,
    id: UserId,
) -> Result<User, DbError> {
    let u = tx.user(id).await?;
    match (by.account(), u.kind) {
        (None, _) => Ok(u),
        (Some(own), UserKind::Customer(a)) if own == a => Ok(u),
        _ => Err(DbError::NotFound),
    }
}

/// The user `id` if `by` may manage them (see the module rules).
pub(crate) async fn manageable_user(
    tx: &mut TenantTx,
    by: &Principal,
    id: UserId,
) -> Result<User, ManageError> {
    by.require(Permission::UsersManage)?;
    let u = visible_user(tx, by, id).await?;
    if u.id == by.user {
        return Err(ManageError::Refused(
            "you cannot change your own roles or status; ask another administrator".into(),
        ));
    }
    let theirs = tx.permissions_of(u.id).await?;
    if let Some(p) = theirs.iter().find(|p| !by.permissions.contains(p)) {
        return Err(ManageError::Refused(format!(
            "{} holds {p}, which you do not hold: only someone holding it can manage them",
            u.display_name
        )));
    }
    Ok(u)
}

pub async fn list(db: &TenantDb, by: &Principal) -> Result<Vec<UserView>, ManageError> {
    by.require(Permission::UsersRead)?;
    Ok(db
        .read(async |tx| {
            let users = match by.account() {
                Some(a) => tx.users_of_account(a).await?,
                None => tx.list_users(None, 500).await?,
            };
            let mut out = Vec::with_capacity(users.len());
            for u in users {
                out.push(view(tx, u).await?);
            }
            Ok(out)
        })
        .await?)
}

pub async fn get(db: &TenantDb, by: &Principal, id: UserId) -> Result<UserView, ManageError> {
    by.require(Permission::UsersRead)?;
    Ok(db
        .read(async |tx| {
            let u = visible_user(tx, by, id).await?;
            view(tx, u).await
        })
        .await?)
}

/// Gives the user exactly `roles` (of the user's scope, each grantable by `by`).
pub async fn set_roles(
    db: &TenantDb,
    by: &Principal,
    id: UserId,
    roles: &[RoleId],
) -> Result<UserView, ManageError> {
    let mut tx = db.begin().await?;
    let u = manageable_user(&mut tx, by, id).await?;
    let before: Vec<String> = tx.roles_of(id).await?.into_iter().map(|r| r.name).collect();
    let mut after = Vec::new();
    for role in roles {
        let r = match tx.role(*role).await {
            Ok(r) => r,
            Err(DbError::NotFound) => {
                return Err(ManageError::Refused("there is no such role".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if r.scope != u.kind.role_scope() {
            return Err(ManageError::Refused(format!(
                "{} is a {} role; {} needs a {} role",
                r.name,
                r.scope,
                u.display_name,
                u.kind.role_scope()
            )));
        }
        if let Some(p) = tx
            .role_permissions(r.id)
            .await?
            .iter()
            .find(|p| !by.permissions.contains(p))
        {
            return Err(ManageError::Refused(format!(
                "{} holds {p}, which you do not hold yourself",
                r.name
            )));
        }
        after.push(r.name);
    }
    tx.replace_roles(id, roles).await?;
    tx.audit(
        &by.actor(),
        "user.roles_changed",
        ("user", Some(id.to_string())),
        customer_account(&u),
        serde_json::json!({ "before": before, "after": after }),
    )
    .await?;
    let changed = tx.user(id).await?;
    let v = view(&mut tx, changed).await?;
    tx.commit().await?;
    Ok(v)
}

/// Disables a user (every session ends, sign-in and tokens stop working) or enables them
/// again.
pub async fn set_enabled(
    db: &TenantDb,
    by: &Principal,
    id: UserId,
    enabled: bool,
) -> Result<UserView, ManageError> {
    let mut tx = db.begin().await?;
    let u = manageable_user(&mut tx, by, id).await?;
    let status = if enabled { "active" } else { "disabled" };
    if !matches!(u.status.as_str(), "active" | "disabled") {
        return Err(ManageError::Refused(format!(
            "{} is {}: there is nothing to {}",
            u.display_name,
            u.status,
            if enabled { "enable" } else { "disable" }
        )));
    }
    tx.set_user_status(id, status).await?;
    let ended = if enabled {
        0
    } else {
        tx.end_sessions_of(id, None).await?
    };
    tx.audit(
        &by.actor(),
        if enabled {
            "user.enabled"
        } else {
            "user.disabled"
        },
        ("user", Some(id.to_string())),
        customer_account(&u),
        serde_json::json!({ "before": u.status, "after": status, "sessions_ended": ended }),
    )
    .await?;
    let changed = tx.user(id).await?;
    let v = view(&mut tx, changed).await?;
    tx.commit().await?;
    Ok(v)
}

pub(crate) fn customer_account(u: &User) -> Option<crate::ids::AccountId> {
    match u.kind {
        UserKind::Staff => None,
        UserKind::Customer(a) => Some(a),
    }
}

/// The roles `by` may hand out: customers only customer roles, and nobody a role holding a
/// permission they lack.
pub async fn grantable_roles(
    tx: &mut TenantTx,
    by: &Principal,
) -> Result<Vec<super::Role>, DbError> {
    let mut out = Vec::new();
    for role in tx.roles().await? {
        if !by.is_staff() && role.scope != "customer" {
            continue;
        }
        let permissions = tx.role_permissions(role.id).await?;
        if permissions.iter().all(|p| by.permissions.contains(p)) {
            out.push(role);
        }
    }
    Ok(out)
}

/// Whether `by` may manage `u` (the list's actions), without saying why not.
pub(crate) async fn may_manage(
    tx: &mut TenantTx,
    by: &Principal,
    u: &User,
) -> Result<bool, DbError> {
    if !by.permissions.contains(&Permission::UsersManage) || u.id == by.user {
        return Ok(false);
    }
    if let Some(own) = by.account()
        && u.kind != UserKind::Customer(own)
    {
        return Ok(false);
    }
    let theirs = tx.permissions_of(u.id).await?;
    Ok(theirs.iter().all(|p| by.permissions.contains(p)))
}
