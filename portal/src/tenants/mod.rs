//! Tenants: the dealers. A tenant is created with the standard meter kinds and the built-in
//! roles, in the same transaction, so it is usable the moment it exists.

pub mod http;
pub mod pages;
pub mod security;
mod store;

use ingest::domain::ParseError;
use ingest::ids::TenantId;

/// The dealer's short name in URLs and on the command line: 1–63 of `a-z 0-9 -`, starting
/// with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::Empty {
                what: "tenant slug",
            });
        }
        if s.len() > 63 {
            return Err(ParseError::TooLong {
                what: "tenant slug",
                len: s.len(),
                max: 63,
            });
        }
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !s.chars().all(ok_char) || s.starts_with('-') {
            return Err(ParseError::Invalid {
                what: "tenant slug",
                value: s.to_owned(),
                why: "use lower-case letters, digits and -, not starting with -",
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name shown to people: trimmed, 1–200 characters, no control characters.
pub fn parse_name(what: &'static str, raw: &str) -> Result<String, ParseError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ParseError::Empty { what });
    }
    let len = s.chars().count();
    if len > 200 {
        return Err(ParseError::TooLong {
            what,
            len,
            max: 200,
        });
    }
    if s.chars().any(char::is_control) {
        return Err(ParseError::Invalid {
            what,
            value: s.escape_debug().to_string(),
            why: "it contains a control character (line break, tab, …)",
        });
    }
    Ok(s.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub status: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert_eq!(
            TenantSlug::parse(" acme-copiers ").unwrap().as_str(),
            "acme-copiers"
        );
        for bad in [
            "",
            "-acme",
            "Acme",
            "acme copiers",
            "acme_copiers",
            &"a".repeat(64),
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_control_characters_and_excess() {
        assert_eq!(parse_name("name", "  ACME Ltd ").unwrap(), "ACME Ltd");
        assert!(parse_name("name", "ACME\r\nBcc: x").is_err());
        assert!(parse_name("name", "").is_err());
        assert!(parse_name("name", &"x".repeat(201)).is_err());
    }
}
