//! A person's own data: everything the portal keeps about them, downloadable as JSON; and
//! erasure, which removes what identifies them and keeps the business records they took part
//! in (readings they submitted, requests, orders, invoices), attributed to "Erased user N".
//!
//! The audit trail is kept as written (append-only, hash-chained): it records who did what
//! and is the dealer's evidence; an erased user's entries keep their id, not their name.

use super::manage::{ManageError, customer_account, manageable_user};
use crate::auth::Principal;
use crate::db::{DbError, TenantDb, TenantTx};
use crate::ids::UserId;
use serde_json::json;

/// Everything kept about the signed-in user.
pub async fn export(db: &TenantDb, me: &Principal) -> Result<serde_json::Value, DbError> {
    db.read(async |tx| {
        let u = tx.user(me.user).await?;
        let roles: Vec<String> = tx.roles_of(u.id).await?.into_iter().map(|r| r.name).collect();
        let sessions = tx.sessions_of(u.id).await?;
        let tokens = tx.api_tokens_of(u.id).await?;
        let notifications = tx.notifications_export(u.id).await?;
        let audit = tx.audit_by_user(u.id).await?;
        let second_factor = tx.totp_state(u.id).await?.is_some_and(|s| s.confirmed);
        Ok(json!({
            "exported_at": tx.now_ms(),
            "user": {
                "id": u.id.0,
                "email": u.email.as_str(),
                "display_name": u.display_name,
                "kind": match u.kind { super::UserKind::Staff => "staff", super::UserKind::Customer(_) => "customer" },
                "account_id": customer_account(&u).map(|a| a.0),
                "status": u.status,
                "locale": u.locale,
                "time_zone": u.formats.zone.name(),
                "date_format": u.formats.date.code(),
                "number_format": u.formats.number.code(),
                "created_at": u.created_at,
                "last_login_at": u.last_login_at,
                "roles": roles,
                "second_factor": second_factor,
            },
            "sessions": sessions,
            "api_tokens": tokens,
            "notifications": notifications,
            "activity": audit,
        }))
    })
    .await
}

/// Erases a user (see the module): by someone who may manage them, never oneself.
pub async fn erase(db: &TenantDb, by: &Principal, id: UserId) -> Result<(), ManageError> {
    let mut tx = db.begin().await?;
    let u = manageable_user(&mut tx, by, id).await?;
    if u.status == "erased" {
        return Err(ManageError::Refused("this user is already erased".into()));
    }
    tx.erase_user(id).await?;
    tx.audit(
        &by.actor(),
        "user.erased",
        ("user", Some(id.to_string())),
        customer_account(&u),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

impl TenantTx {
    /// The user's notifications and preferences, for the export.
    async fn notifications_export(&mut self, user: UserId) -> Result<serde_json::Value, DbError> {
        let t = self.t();
        let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT event_type, title, body, created_at, read_at FROM notifications \
             WHERE tenant_id = $1 AND user_id = $2 ORDER BY id",
        )
        .bind(t)
        .bind(user.0)
        .fetch_all(self.conn())
        .await?;
        let prefs: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT event_type, channel, enabled FROM notification_preferences \
             WHERE tenant_id = $1 AND user_id = $2 ORDER BY event_type, channel",
        )
        .bind(t)
        .bind(user.0)
        .fetch_all(self.conn())
        .await?;
        Ok(json!({
            "messages": rows.into_iter().map(|(event, title, body, at, read)| json!({
                "event": event, "title": title, "body": body, "created_at": at, "read_at": read,
            })).collect::<Vec<_>>(),
            "preferences": prefs.into_iter().map(|(event, channel, enabled)| json!({
                "event": event, "channel": channel, "enabled": enabled != 0,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Removes what identifies the user; their id stays for the records that name it.
    async fn erase_user(&mut self, user: UserId) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        crate::db::one_row(
            sqlx::query(
                "UPDATE users SET email = $3, display_name = $4, password_hash = NULL, status = 'erased', \
                   locale = 'en', time_zone = 'UTC', date_format = 'iso', number_format = 'en', \
                   updated_at = $5 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(user.0)
            .bind(format!("erased-{}@erased.invalid", user.0))
            .bind(format!("Erased user {}", user.0))
            .bind(now)
            .execute(self.conn())
            .await?,
        )?;
        for statement in [
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM trusted_devices WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM password_reset_tokens WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM totp_secrets WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM notifications WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2",
        ] {
            sqlx::query(statement)
                .bind(t)
                .bind(user.0)
                .execute(self.conn())
                .await?;
        }
        self.revoke_api_tokens_of(user).await?;
        Ok(())
    }
}
