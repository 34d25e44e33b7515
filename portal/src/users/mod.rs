//! People who sign in: dealer staff (no account, staff roles) and customer users (bound to one
//! account, customer roles). A user's permissions are the union of its roles' permissions.

mod store;

use crate::ids::{AccountId, RoleId, UserId};
use crate::tenants::parse_name;
use ingest::domain::{EmailAddress, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Staff,
    Customer(AccountId),
}

impl UserKind {
    /// The role scope this kind of user may hold.
    pub fn role_scope(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Customer(_) => "customer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub kind: UserKind,
    pub email: EmailAddress,
    pub display_name: String,
    pub status: String,
    pub locale: String,
    pub time_zone: String,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub(crate) kind: UserKind,
    pub(crate) email: EmailAddress,
    pub(crate) display_name: String,
    /// argon2id PHC string; `None` for a user who has been invited but has not chosen one.
    pub(crate) password_hash: Option<String>,
}

impl NewUser {
    pub fn new(
        kind: UserKind,
        email: EmailAddress,
        display_name: &str,
    ) -> Result<Self, ParseError> {
        Ok(Self {
            kind,
            email,
            display_name: parse_name("display name", display_name)?,
            password_hash: None,
        })
    }

    pub fn password_hash(mut self, phc: String) -> Self {
        self.password_hash = Some(phc);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub scope: String,
    pub builtin: bool,
}
