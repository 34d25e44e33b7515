//! People who sign in: dealer staff (no account, staff roles) and customer users (bound to one
//! account, customer roles). A user's permissions are the union of its roles' permissions.

pub mod http;
pub mod invitations;
pub mod manage;
pub mod pages;
pub mod privacy;
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

/// What a user may change about themselves, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
}

/// The languages the portal speaks.
pub const LOCALES: &[(&str, &str)] = &[("en", "English"), ("de", "Deutsch"), ("fr", "Français")];

impl Profile {
    pub fn parse(display_name: &str, locale: &str, time_zone: &str) -> Result<Self, ParseError> {
        let locale = locale.trim();
        if !LOCALES.iter().any(|(code, _)| *code == locale) {
            return Err(ParseError::Invalid {
                what: "language",
                value: locale.escape_debug().to_string(),
                why: "choose one of the listed languages",
            });
        }
        Ok(Profile {
            display_name: parse_name("display name", display_name)?,
            locale: locale.to_owned(),
            time_zone: parse_time_zone(time_zone)?,
        })
    }
}

/// An IANA time zone name (`Europe/Berlin`, `America/Argentina/Buenos_Aires`) or `UTC`.
/// Checked for shape here; the names themselves are the tz database's.
pub fn parse_time_zone(raw: &str) -> Result<String, ParseError> {
    let s = raw.trim();
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 30
            && p.starts_with(|c: char| c.is_ascii_uppercase())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
    };
    let parts: Vec<&str> = s.split('/').collect();
    let ok =
        s == "UTC" || (parts.len() >= 2 && parts.len() <= 3 && parts.iter().all(|p| part_ok(p)));
    if !ok {
        return Err(ParseError::Invalid {
            what: "time zone",
            value: s.escape_debug().to_string(),
            why: "write it as Area/City, e.g. Europe/Berlin, or UTC",
        });
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_checked() {
        let p = Profile::parse(" Ada Lovelace ", "de", "Europe/Berlin").unwrap();
        assert_eq!(p.display_name, "Ada Lovelace");
        assert!(Profile::parse("Ada\r\nBcc: x@y", "en", "UTC").is_err());
        assert!(Profile::parse("Ada", "xx", "UTC").is_err());
        for tz in ["America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"] {
            assert!(parse_time_zone(tz).is_ok(), "{tz}");
        }
        for tz in [
            "",
            "Berlin",
            "europe/berlin",
            "../etc/passwd",
            "Europe/Ber lin",
        ] {
            assert!(parse_time_zone(tz).is_err(), "{tz}");
        }
    }
}
