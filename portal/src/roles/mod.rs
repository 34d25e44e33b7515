//! Roles as the tenant's admins shape them: a name, a scope (staff or customer) and a set of
//! permissions from [`Permission::ALL`]. The rules:
//! - a customer role holds only permissions customers may hold (nothing across accounts);
//! - nobody grants a permission they do not hold themselves;
//! - the built-in `admin` role stays whole, so a tenant always has a role that can do
//!   everything (and can repair the others);
//! - a role still held by someone or offered by an open invitation is not deleted.

pub mod http;
pub mod pages;
mod store;

use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb};
use crate::ids::RoleId;
use crate::users::Role;
use std::collections::BTreeSet;

/// A role with its permissions, as the pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub builtin: bool,
    pub permissions: Vec<&'static str>,
    /// How many users hold it.
    pub holders: i64,
}

/// A role's wanted shape, as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    pub name: String,
    pub scope: String,
    pub permissions: BTreeSet<Permission>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Forbidden(#[from] crate::auth::Forbidden),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RoleSpec {
    /// Checks names, scope and permission names (unknown names are refused, not ignored).
    pub fn parse(name: &str, scope: &str, permissions: &[String]) -> Result<Self, RoleError> {
        let name = crate::tenants::parse_name("role name", name)
            .map_err(|e| RoleError::Refused(e.to_string()))?;
        if name.chars().count() > 80 {
            return Err(RoleError::Refused(
                "a role name has at most 80 characters".into(),
            ));
        }
        if !matches!(scope, "staff" | "customer") {
            return Err(RoleError::Refused(
                "a role is for staff or for customers".into(),
            ));
        }
        let mut set = BTreeSet::new();
        for p in permissions {
            let parsed = Permission::parse(p.trim())
                .ok_or_else(|| RoleError::Refused(format!("there is no permission '{p}'")))?;
            set.insert(parsed);
        }
        let spec = RoleSpec {
            name,
            scope: scope.to_owned(),
            permissions: set,
        };
        spec.check_scope()?;
        Ok(spec)
    }

    fn check_scope(&self) -> Result<(), RoleError> {
        if self.scope == "customer"
            && let Some(p) = self.permissions.iter().find(|p| !p.customer_may_hold())
        {
            return Err(RoleError::Refused(format!(
                "{p} acts across accounts: a customer role cannot hold it"
            )));
        }
        Ok(())
    }
}

/// The one rule against escalation: everything granted must be held by the granter.
fn check_grantable(by: &Principal, permissions: &BTreeSet<Permission>) -> Result<(), RoleError> {
    match permissions.iter().find(|p| !by.permissions.contains(p)) {
        Some(p) => Err(RoleError::Refused(format!(
            "you cannot grant {p}: you do not hold it yourself"
        ))),
        None => Ok(()),
    }
}

fn protect_admin(role: &Role) -> Result<(), RoleError> {
    if role.builtin && role.name == "admin" {
        return Err(RoleError::Refused(
            "the built-in admin role cannot be changed or deleted".into(),
        ));
    }
    Ok(())
}

pub async fn list(db: &TenantDb, by: &Principal) -> Result<Vec<RoleView>, RoleError> {
    by.require(Permission::RolesManage)?;
    Ok(db.read(async |tx| tx.role_views().await).await?)
}

pub async fn create(db: &TenantDb, by: &Principal, spec: &RoleSpec) -> Result<RoleView, RoleError> {
    by.require(Permission::RolesManage)?;
    check_grantable(by, &spec.permissions)?;
    let mut tx = db.begin().await?;
    let id = tx.create_role(spec).await.map_err(|e| match e {
        DbError::Conflict(_) => RoleError::Refused(format!("a role named {} exists", spec.name)),
        other => other.into(),
    })?;
    tx.audit(
        &by.actor(),
        "role.created",
        ("role", Some(id.to_string())),
        None,
        serde_json::json!({ "name": spec.name, "scope": spec.scope,
            "permissions": spec.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>() }),
    )
    .await?;
    let view = tx.role_view(id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Renames a role and sets its permissions (its scope stays: its holders are of that scope).
pub async fn update(
    db: &TenantDb,
    by: &Principal,
    id: RoleId,
    name: &str,
    permissions: &BTreeSet<Permission>,
) -> Result<RoleView, RoleError> {
    by.require(Permission::RolesManage)?;
    let mut tx = db.begin().await?;
    let role = tx.role(id).await?;
    protect_admin(&role)?;
    let before = tx.role_permissions(id).await?;
    let spec = RoleSpec::parse(
        name,
        &role.scope,
        &permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect::<Vec<_>>(),
    )?;
    // granting needs the permission; so does taking it away (else a lesser admin could strip
    // a role of powers they cannot give back)
    let changed: BTreeSet<Permission> = before
        .symmetric_difference(&spec.permissions)
        .copied()
        .collect();
    check_grantable(by, &changed)?;
    if role.builtin && spec.name != role.name {
        return Err(RoleError::Refused("a built-in role keeps its name".into()));
    }
    tx.update_role(id, &spec).await.map_err(|e| match e {
        DbError::Conflict(_) => RoleError::Refused(format!("a role named {} exists", spec.name)),
        other => other.into(),
    })?;
    let names = |s: &BTreeSet<Permission>| s.iter().map(|p| p.as_str()).collect::<Vec<_>>();
    tx.audit(
        &by.actor(),
        "role.updated",
        ("role", Some(id.to_string())),
        None,
        serde_json::json!({
            "before": { "name": role.name, "permissions": names(&before) },
            "after": { "name": spec.name, "permissions": names(&spec.permissions) },
        }),
    )
    .await?;
    let view = tx.role_view(id).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(db: &TenantDb, by: &Principal, id: RoleId) -> Result<(), RoleError> {
    by.require(Permission::RolesManage)?;
    let mut tx = db.begin().await?;
    let role = tx.role(id).await?;
    protect_admin(&role)?;
    if role.builtin {
        return Err(RoleError::Refused(
            "built-in roles are not deleted; change their permissions instead".into(),
        ));
    }
    let permissions = tx.role_permissions(id).await?;
    check_grantable(by, &permissions)?;
    if tx.role_in_use(id).await? {
        return Err(RoleError::Refused(format!(
            "{} is held by users or offered in open invitations; take it from them first",
            role.name
        )));
    }
    tx.delete_role(id).await?;
    tx.audit(
        &by.actor(),
        "role.deleted",
        ("role", Some(id.to_string())),
        None,
        serde_json::json!({ "name": role.name,
            "permissions": permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_roles_cannot_hold_staff_only_permissions() {
        let err = RoleSpec::parse("Helpdesk", "customer", &["readings.review".into()]).unwrap_err();
        assert!(err.to_string().contains("across accounts"), "{err}");
        assert!(RoleSpec::parse("Viewer", "customer", &["equipment.read".into()]).is_ok());
        assert!(RoleSpec::parse("Desk", "staff", &["readings.review".into()]).is_ok());
    }

    #[test]
    fn unknown_permissions_and_scopes_are_refused() {
        assert!(RoleSpec::parse("X", "staff", &["equipment.explode".into()]).is_err());
        assert!(RoleSpec::parse("X", "robots", &[]).is_err());
        assert!(RoleSpec::parse("", "staff", &[]).is_err());
        assert!(RoleSpec::parse("A\nB", "staff", &[]).is_err());
    }
}
