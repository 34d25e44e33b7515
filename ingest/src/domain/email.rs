use super::ParseError;

/// An e-mail address as used for sign-in, contacts and sender checks: lower-cased, one `@`, a
/// dotted domain, no white space or control characters (so it can never inject a mail header).
/// Deliberately stricter than RFC 5322: quoted local parts and IP-literal domains are refused.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        let invalid = |why| ParseError::Invalid {
            what: "e-mail address",
            value: s.to_owned(),
            why,
        };
        if s.is_empty() {
            return Err(ParseError::Empty {
                what: "e-mail address",
            });
        }
        if s.len() > 254 {
            return Err(ParseError::TooLong {
                what: "e-mail address",
                len: s.len(),
                max: 254,
            });
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
        {
            return Err(invalid(
                "it contains a space or a character not allowed in an address",
            ));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| invalid("it has no @"))?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(invalid("write it as name@example.com"));
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(invalid("the part after @ is not a domain name"));
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

text_newtype!(EmailAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let e = EmailAddress::parse("  Meters@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "meters@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address_or_could_inject_headers() {
        for bad in [
            "",
            "no-at-sign",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a@example..com",
            "a@-example.com",
            "a b@example.com",
            "a@example.com\r\nBcc: x@evil.com",
            "Name <a@example.com>",
            "a@example.com,b@example.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
