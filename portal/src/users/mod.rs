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
use crate::web::formats::{self, DateStyle, Formats, NumberStyle};
use chrono_tz::Tz;
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
    pub formats: Formats,
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
    /// How times and numbers are shown to this person.
    pub formats: Formats,
}

/// What a profile form or body holds, unchecked.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
    pub date_format: String,
    pub number_format: String,
}

impl Profile {
    pub fn parse(raw: &ProfileInput) -> Result<Self, ParseError> {
        let locale = raw.locale.trim();
        if crate::web::i18n::Lang::parse(locale).is_none() {
            return Err(ParseError::Invalid {
                what: "language",
                value: locale.escape_debug().to_string(),
                why: "choose one of the listed languages",
            });
        }
        let date = DateStyle::parse(&raw.date_format).ok_or_else(|| ParseError::Invalid {
            what: "date format",
            value: raw.date_format.escape_debug().to_string(),
            why: "choose one of the listed date formats",
        })?;
        let number = NumberStyle::parse(&raw.number_format).ok_or_else(|| ParseError::Invalid {
            what: "number format",
            value: raw.number_format.escape_debug().to_string(),
            why: "choose one of the listed number formats",
        })?;
        Ok(Profile {
            display_name: parse_name("display name", &raw.display_name)?,
            locale: locale.to_owned(),
            formats: Formats {
                zone: parse_time_zone(&raw.time_zone)?,
                date,
                number,
            },
        })
    }
}

/// A time zone of the tz database (`Europe/Berlin`, `America/Argentina/Buenos_Aires`, `UTC`),
/// spelt as the database spells it.
pub fn parse_time_zone(raw: &str) -> Result<Tz, ParseError> {
    let s = raw.trim();
    match formats::parse_zone(s) {
        Some(zone) if zone.name() == s => Ok(zone),
        _ => Err(ParseError::Invalid {
            what: "time zone",
            value: s
                .chars()
                .take(64)
                .collect::<String>()
                .escape_debug()
                .to_string(),
            why: "write it as Area/City, e.g. Europe/Berlin, or UTC",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_checked() {
        let input = |name: &str, locale: &str, tz: &str, date: &str, number: &str| ProfileInput {
            display_name: name.into(),
            locale: locale.into(),
            time_zone: tz.into(),
            date_format: date.into(),
            number_format: number.into(),
        };
        let p = Profile::parse(&input(
            " Ada Lovelace ",
            "de",
            "Europe/Berlin",
            "dotted",
            "de",
        ))
        .unwrap();
        assert_eq!(p.display_name, "Ada Lovelace");
        assert_eq!(p.formats.zone, chrono_tz::Europe::Berlin);
        assert_eq!(p.formats.date, DateStyle::Dotted);
        assert_eq!(p.formats.number, NumberStyle::Dot);
        assert!(Profile::parse(&input("Ada\r\nBcc: x@y", "en", "UTC", "iso", "en")).is_err());
        assert!(Profile::parse(&input("Ada", "xx", "UTC", "iso", "en")).is_err());
        assert!(Profile::parse(&input("Ada", "en", "UTC", "julian", "en")).is_err());
        assert!(Profile::parse(&input("Ada", "en", "UTC", "iso", "roman")).is_err());
        for tz in ["America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"] {
            assert!(parse_time_zone(tz).is_ok(), "{tz}");
        }
        for tz in [
            "",
            "Berlin",
            "europe/berlin",
            "../etc/passwd",
            "Europe/Ber lin",
            "Mars/Olympus_Mons",
        ] {
            assert!(parse_time_zone(tz).is_err(), "{tz}");
        }
    }
}
