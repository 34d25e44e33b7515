//! API tokens for integrations and scripts: `pxt_{tenant_id}_{secret}`, stored as a SHA-256
//! hash, each scoped to a set of permissions no wider than its user's.

use super::{Permission, Principal};
use crate::db::{Db, DbError, TenantTx};
use crate::ids::UserId;
use crate::users::UserKind;
use ingest::ids::TenantId;
use std::collections::BTreeSet;

fn hash(secret: &str) -> String {
    crate::agents::secret_hash(secret)
}

fn tenant_of(token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix("pxt_")?;
    let (tenant, secret) = rest.split_once('_')?;
    (secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| tenant.parse().ok().map(TenantId))
        .flatten()
}

impl TenantTx {
    /// Issues a token for `user` holding `permissions` (each must be one the user has).
    /// Returns the token, shown once.
    pub async fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        permissions: &BTreeSet<Permission>,
    ) -> Result<String, DbError> {
        if self.user(user).await?.status != "active" {
            return Err(DbError::Refused(
                "only an active user can hold an API token".into(),
            ));
        }
        let held = self.permissions_of(user).await?;
        if let Some(p) = permissions.iter().find(|p| !held.contains(p)) {
            return Err(DbError::Refused(format!("the user does not hold {p}")));
        }
        let name = crate::tenants::parse_name("token name", name)?;
        let secret: [u8; 32] = rand::random();
        let token = format!("pxt_{}_{}", self.t(), hex::encode(secret));
        let scope = permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO api_tokens (tenant_id, name, token_hash, permissions, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t)
        .bind(name)
        .bind(hash(&token))
        .bind(scope)
        .bind(user.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(token)
    }
}

impl Db {
    /// Who a bearer token speaks for: its user, limited to the permissions both the token and
    /// (still) the user hold. `NotFound` for anything else — malformed, unknown, revoked,
    /// expired, or a user no longer active.
    pub async fn authenticate_api_token(&self, token: &str) -> Result<Principal, DbError> {
        let tenant = tenant_of(token).ok_or(DbError::NotFound)?;
        self.tenant(tenant)
            .run(async |tx| {
                let (t, now) = (tx.t(), tx.now_ms());
                let row: Option<(i64, String)> = sqlx::query_as(
                    "UPDATE api_tokens SET last_used_at = $3 \
                     WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL \
                       AND (expires_at IS NULL OR expires_at > $3) \
                     RETURNING created_by, permissions",
                )
                .bind(t)
                .bind(hash(token))
                .bind(now)
                .fetch_optional(tx.conn())
                .await?;
                let (user_id, scope) = row.ok_or(DbError::NotFound)?;
                let user = tx.user(UserId(user_id)).await?;
                if user.status != "active" {
                    return Err(DbError::NotFound);
                }
                let held = tx.permissions_of(user.id).await?;
                let permissions = scope
                    .split_whitespace()
                    .filter_map(Permission::parse)
                    .filter(|p| held.contains(p))
                    .collect();
                Ok(Principal {
                    tenant,
                    user: user.id,
                    kind: user.kind,
                    permissions,
                })
            })
            .await
    }
}

impl Principal {
    pub fn is_staff(&self) -> bool {
        self.kind == UserKind::Staff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_locate_their_tenant() {
        let good = format!("pxt_7_{}", "ab".repeat(32));
        assert_eq!(tenant_of(&good), Some(TenantId(7)));
        for bad in ["pxt_7_short", "pxa_7_00", "", "pxt__00"] {
            assert_eq!(tenant_of(bad), None, "{bad}");
        }
    }
}
