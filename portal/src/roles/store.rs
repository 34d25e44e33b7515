use super::{RoleSpec, RoleView};
use crate::auth::Permission;
use crate::db::{DbError, TenantTx, one_row};
use crate::ids::RoleId;

impl TenantTx {
    pub async fn role_views(&mut self) -> Result<Vec<RoleView>, DbError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM roles WHERE tenant_id = $1 ORDER BY scope DESC, id")
                .bind(self.t())
                .fetch_all(self.conn())
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.role_view(RoleId(id)).await?);
        }
        Ok(out)
    }

    pub async fn role_view(&mut self, id: RoleId) -> Result<RoleView, DbError> {
        let role = self.role(id).await?;
        let permissions = self.role_permissions(id).await?;
        let t = self.t();
        let holders: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM user_roles WHERE tenant_id = $1 AND role_id = $2",
        )
        .bind(t)
        .bind(id.0)
        .fetch_one(self.conn())
        .await?;
        Ok(RoleView {
            id: role.id.0,
            name: role.name,
            scope: role.scope,
            builtin: role.builtin,
            permissions: permissions.iter().map(|p| p.as_str()).collect(),
            holders,
        })
    }

    pub(super) async fn create_role(&mut self, spec: &RoleSpec) -> Result<RoleId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO roles (tenant_id, name, scope, builtin, created_at) VALUES ($1, $2, $3, 0, $4) \
             RETURNING id",
        )
        .bind(t)
        .bind(&spec.name)
        .bind(&spec.scope)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        self.set_role_permissions(RoleId(id), &spec.permissions)
            .await?;
        Ok(RoleId(id))
    }

    pub(super) async fn update_role(&mut self, id: RoleId, spec: &RoleSpec) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query("UPDATE roles SET name = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(id.0)
                .bind(&spec.name)
                .execute(self.conn())
                .await?,
        )?;
        self.set_role_permissions(id, &spec.permissions).await
    }

    async fn set_role_permissions(
        &mut self,
        id: RoleId,
        permissions: &std::collections::BTreeSet<Permission>,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2")
            .bind(t)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        for p in permissions {
            sqlx::query(
                "INSERT INTO role_permissions (tenant_id, role_id, permission) VALUES ($1, $2, $3)",
            )
            .bind(t)
            .bind(id.0)
            .bind(p.as_str())
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    pub(super) async fn role_in_use(&mut self, id: RoleId) -> Result<bool, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM user_roles WHERE tenant_id = $1 AND role_id = $2) + \
                    (SELECT COUNT(*) FROM invitations WHERE tenant_id = $1 AND role_id = $2 \
                       AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3)",
        )
        .bind(t)
        .bind(id.0)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(n > 0)
    }

    /// Deletes a role no one holds; closed invitations that offered it go with it.
    pub(super) async fn delete_role(&mut self, id: RoleId) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM invitations WHERE tenant_id = $1 AND role_id = $2")
            .bind(t)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        one_row(
            sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2 AND builtin = 0")
                .bind(t)
                .bind(id.0)
                .execute(self.conn())
                .await?,
        )
    }
}
