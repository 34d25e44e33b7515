use super::{NewUser, Profile, Role, User, UserKind};
use crate::auth::Permission;
use crate::db::{DbError, TenantTx, flag, one_row, page_limit};
use crate::ids::{AccountId, RoleId, UserId};
use crate::web::formats::Formats;
use ingest::domain::EmailAddress;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeSet;

macro_rules! user_columns {
    () => {
        "id, kind, account_id, email, display_name, status, locale, time_zone, date_format, number_format, \
         created_at, last_login_at"
    };
}

fn user(row: &AnyRow) -> Result<User, DbError> {
    let kind: String = row.try_get("kind")?;
    let account: Option<i64> = row.try_get("account_id")?;
    let kind = match (kind.as_str(), account) {
        ("staff", None) => UserKind::Staff,
        ("customer", Some(a)) => UserKind::Customer(AccountId(a)),
        _ => {
            return Err(DbError::Refused(format!(
                "user row of kind {kind} is inconsistent"
            )));
        }
    };
    let email: String = row.try_get("email")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        kind,
        email: EmailAddress::parse(&email).map_err(|e| DbError::Refused(e.to_string()))?,
        display_name: row.try_get("display_name")?,
        status: row.try_get("status")?,
        locale: row.try_get("locale")?,
        formats: Formats::from_codes(
            &row.try_get::<String, _>("time_zone")?,
            &row.try_get::<String, _>("date_format")?,
            &row.try_get::<String, _>("number_format")?,
        ),
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

fn role(row: &AnyRow) -> Result<Role, DbError> {
    Ok(Role {
        id: RoleId(row.try_get("id")?),
        name: row.try_get("name")?,
        scope: row.try_get("scope")?,
        builtin: flag(row, "builtin")?,
    })
}

impl TenantTx {
    /// Creates a user holding `roles`; each role must be of the user's scope (a customer user
    /// cannot be given a staff role).
    pub async fn create_user(&mut self, new: &NewUser, roles: &[RoleId]) -> Result<User, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let (kind, account) = match new.kind {
            UserKind::Staff => ("staff", None),
            UserKind::Customer(a) => ("customer", Some(a.0)),
        };
        let status = if new.password_hash.is_some() {
            "active"
        } else {
            "invited"
        };
        let row = sqlx::query(concat!(
            "INSERT INTO users (tenant_id, kind, account_id, email, display_name, password_hash, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
            user_columns!()
        ))
        .bind(t)
        .bind(kind)
        .bind(account)
        .bind(new.email.as_str())
        .bind(&new.display_name)
        .bind(new.password_hash.as_deref())
        .bind(status)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        let created = user(&row)?;
        for role_id in roles {
            self.grant_role(created.id, *role_id).await?;
        }
        Ok(created)
    }

    pub async fn grant_role(&mut self, user_id: UserId, role_id: RoleId) -> Result<(), DbError> {
        let u = self.user(user_id).await?;
        let r = self.role(role_id).await?;
        if r.scope != u.kind.role_scope() {
            return Err(DbError::Refused(format!(
                "role {} is a {} role; this user needs a {} role",
                r.name,
                r.scope,
                u.kind.role_scope()
            )));
        }
        let t = self.t();
        sqlx::query(
            "INSERT INTO user_roles (tenant_id, user_id, role_id) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, user_id, role_id) DO NOTHING",
        )
        .bind(t)
        .bind(user_id.0)
        .bind(role_id.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn user(&mut self, id: UserId) -> Result<User, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        user(&row)
    }

    pub async fn user_by_email(&mut self, email: &EmailAddress) -> Result<User, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND email = $2"
        ))
        .bind(t)
        .bind(email.as_str())
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        user(&row)
    }

    pub async fn list_users(
        &mut self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(t)
        .bind(after.map_or(0, |u| u.0))
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(user).collect()
    }

    pub async fn users_of_account(&mut self, account: AccountId) -> Result<Vec<User>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_id = $1 AND account_id = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(account.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(user).collect()
    }

    /// The stored hash, for sign-in only; `None` until the user has chosen a password.
    pub async fn password_hash_of(&mut self, id: UserId) -> Result<Option<String>, DbError> {
        let t = self.t();
        sqlx::query_scalar("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?
            .ok_or(DbError::NotFound)
    }

    /// Sets a new password hash and activates an invited user.
    pub async fn set_password_hash(&mut self, id: UserId, phc: &str) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE users SET password_hash = $3, updated_at = $4, \
                   status = CASE WHEN status = 'invited' THEN 'active' ELSE status END \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(id.0)
            .bind(phc)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    pub async fn role(&mut self, id: RoleId) -> Result<Role, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, name, scope, builtin FROM roles WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        role(&row)
    }

    pub async fn role_by_name(&mut self, name: &str) -> Result<Role, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, name, scope, builtin FROM roles WHERE tenant_id = $1 AND name = $2",
        )
        .bind(t)
        .bind(name)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        role(&row)
    }

    pub async fn roles(&mut self) -> Result<Vec<Role>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT id, name, scope, builtin FROM roles WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(t)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(role).collect()
    }

    /// Everything the user's roles allow. Unknown names in the table (from a newer version)
    /// grant nothing.
    pub async fn permissions_of(&mut self, id: UserId) -> Result<BTreeSet<Permission>, DbError> {
        let t = self.t();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT rp.permission FROM user_roles ur \
             JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
             WHERE ur.tenant_id = $1 AND ur.user_id = $2",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
    }
}

impl TenantTx {
    /// Notes a successful sign-in.
    pub async fn note_sign_in(&mut self, id: UserId) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query("UPDATE users SET last_login_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(id.0)
                .bind(now)
                .execute(self.conn())
                .await?,
        )
    }

    /// Changes what a user may edit about themselves.
    pub async fn update_profile(&mut self, id: UserId, p: &Profile) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE users SET display_name = $3, locale = $4, time_zone = $5, date_format = $6, \
                   number_format = $7, updated_at = $8 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(id.0)
            .bind(&p.display_name)
            .bind(&p.locale)
            .bind(p.formats.zone.name())
            .bind(p.formats.date.code())
            .bind(p.formats.number.code())
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    /// Sets `active` or `disabled` (erasure has its own operation).
    pub async fn set_user_status(&mut self, id: UserId, status: &str) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE users SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 \
                 AND status IN ('active', 'disabled')",
            )
            .bind(t)
            .bind(id.0)
            .bind(status)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    /// The roles a user holds.
    pub async fn roles_of(&mut self, id: UserId) -> Result<Vec<Role>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.scope, r.builtin FROM user_roles ur \
             JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
             WHERE ur.tenant_id = $1 AND ur.user_id = $2 ORDER BY r.id",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(role).collect()
    }

    /// Replaces the user's roles (each must be of the user's scope).
    pub async fn replace_roles(&mut self, id: UserId, roles: &[RoleId]) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2")
            .bind(t)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        for role in roles {
            self.grant_role(id, *role).await?;
        }
        Ok(())
    }

    /// The permissions of a role.
    pub async fn role_permissions(&mut self, id: RoleId) -> Result<BTreeSet<Permission>, DbError> {
        let t = self.t();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT permission FROM role_permissions WHERE tenant_id = $1 AND role_id = $2",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
    }
}

impl TenantTx {
    /// Active dealer staff holding `permission` (who hears about work of that kind).
    pub async fn staff_holding(&mut self, permission: Permission) -> Result<Vec<UserId>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT u.id FROM users u \
             JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id \
             JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
             WHERE u.tenant_id = $1 AND u.status = 'active' AND u.kind = 'staff' AND rp.permission = $2 \
             ORDER BY u.id",
        )
        .bind(t)
        .bind(permission.as_str())
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}
