//! Who may do what. Permissions are data: a role is a named set of permission names stored in
//! `role_permissions`; this module knows the vocabulary, the roles a tenant starts with, and
//! the [`Principal`] every handler checks with [`Principal::require`].

pub mod password;
mod permissions;
mod tokens;

pub use permissions::{BUILTIN_ROLES, BuiltinRole, Permission};

use crate::ids::UserId;
use crate::users::UserKind;
use ingest::ids::TenantId;
use std::collections::BTreeSet;

/// Who is asking, and what they may do. Built by authentication (API token now; sessions
/// with the sign-in issue); every handler asks it for the permission it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub user: UserId,
    pub kind: UserKind,
    pub permissions: BTreeSet<Permission>,
}

impl Principal {
    /// The one place permissions are checked.
    pub fn require(&self, p: Permission) -> Result<(), Forbidden> {
        if self.permissions.contains(&p) {
            Ok(())
        } else {
            Err(Forbidden(p))
        }
    }
}

/// A permission the principal lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {0} permission")]
pub struct Forbidden(pub Permission);
