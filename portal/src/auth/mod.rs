//! Who may do what. Permissions are data: a role is a named set of permission names stored in
//! `role_permissions`; this module only knows the vocabulary and the roles a tenant starts with.

pub mod password;
mod permissions;

pub use permissions::{BUILTIN_ROLES, BuiltinRole, Permission};
