use super::{Tenant, TenantSlug};
use crate::auth::BUILTIN_ROLES;
use crate::db::{Db, DbError, TenantTx};
use ingest::domain::STANDARD_METER_KINDS;
use ingest::ids::TenantId;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! columns {
    () => {
        "tenant_id, slug, name, status, created_at"
    };
}

fn from_row(row: &AnyRow) -> Result<Tenant, DbError> {
    let slug: String = row.try_get("slug")?;
    Ok(Tenant {
        id: TenantId(row.try_get("tenant_id")?),
        slug: TenantSlug::parse(&slug).map_err(|e| DbError::Refused(e.to_string()))?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The tenant directory: the only tenant-independent reads and writes there are.
impl Db {
    /// Creates a tenant with its meter kinds and built-in roles, all or nothing.
    pub async fn create_tenant(&self, slug: &TenantSlug, name: &str) -> Result<Tenant, DbError> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(concat!(
            "INSERT INTO tenants (slug, name, created_at) VALUES ($1, $2, $3) RETURNING ",
            columns!()
        ))
        .bind(slug.as_str())
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let tenant = from_row(&row)?;
        let mut tx = TenantTx::enter(tx, tenant.id, self.backend(), now).await?;
        tx.seed_new_tenant().await?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, DbError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM tenants WHERE slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(self.pool())
        .await?
        .ok_or(DbError::NotFound)?;
        from_row(&row)
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, DbError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM tenants ORDER BY tenant_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

impl TenantTx {
    /// This tenant's own directory row.
    pub async fn tenant(&mut self) -> Result<Tenant, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM tenants WHERE tenant_id = $1"
        ))
        .bind(t)
        .fetch_one(self.conn())
        .await?;
        from_row(&row)
    }

    async fn seed_new_tenant(&mut self) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        for (code, label, billable) in STANDARD_METER_KINDS {
            sqlx::query(
                "INSERT INTO meter_kinds (tenant_id, code, label, billable) VALUES ($1, $2, $3, $4)",
            )
            .bind(t)
            .bind(*code)
            .bind(*label)
            .bind(i64::from(*billable))
            .execute(self.conn())
            .await?;
        }
        for role in BUILTIN_ROLES {
            let role_id: i64 = sqlx::query_scalar(
                "INSERT INTO roles (tenant_id, name, scope, builtin, created_at) \
                 VALUES ($1, $2, $3, 1, $4) RETURNING id",
            )
            .bind(t)
            .bind(role.name)
            .bind(role.scope)
            .bind(now)
            .fetch_one(self.conn())
            .await?;
            for p in role.permissions {
                sqlx::query(
                    "INSERT INTO role_permissions (tenant_id, role_id, permission) VALUES ($1, $2, $3)",
                )
                .bind(t)
                .bind(role_id)
                .bind(p.as_str())
                .execute(self.conn())
                .await?;
            }
        }
        Ok(())
    }
}

/// Per-tenant settings: a small key → text map (`tenant_settings`); each setting's meaning and
/// validation belongs to the domain that reads it.
impl TenantTx {
    pub async fn setting(&mut self, key: &str) -> Result<Option<String>, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT value FROM tenant_settings WHERE tenant_id = $1 AND key = $2",
        )
        .bind(t)
        .bind(key)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Sets a setting; returns the value it had.
    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<Option<String>, DbError> {
        let before = self.setting(key).await?;
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO tenant_settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(t)
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(before)
    }
}
