//! A dealer's customers: accounts (optionally under a parent account), their sites (where the
//! equipment stands) and their contacts (who gets meter requests and invoices).

mod store;

use crate::ids::{AccountId, ContactId, SiteId};
use crate::tenants::parse_name;
use ingest::domain::{EmailAddress, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    OnHold,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::OnHold => "on_hold",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "active" => Ok(Self::Active),
            "on_hold" => Ok(Self::OnHold),
            "closed" => Ok(Self::Closed),
            other => Err(ParseError::Invalid {
                what: "account status",
                value: other.to_owned(),
                why: "use active, on_hold or closed",
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub parent_id: Option<AccountId>,
    pub number: String,
    pub name: String,
    pub status: AccountStatus,
    pub billing_email: Option<EmailAddress>,
    pub autopay: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new account, validated: build it with [`NewAccount::new`].
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub(crate) number: String,
    pub(crate) name: String,
    pub(crate) parent_id: Option<AccountId>,
    pub(crate) billing_email: Option<EmailAddress>,
}

impl NewAccount {
    pub fn new(number: &str, name: &str) -> Result<Self, ParseError> {
        let number = number.trim();
        if number.is_empty() {
            return Err(ParseError::Empty {
                what: "account number",
            });
        }
        if number.len() > 40 || number.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ParseError::Invalid {
                what: "account number",
                value: number.escape_debug().to_string(),
                why: "at most 40 characters, no spaces",
            });
        }
        Ok(Self {
            number: number.to_owned(),
            name: parse_name("account name", name)?,
            parent_id: None,
            billing_email: None,
        })
    }

    pub fn parent(mut self, parent: AccountId) -> Self {
        self.parent_id = Some(parent);
        self
    }

    pub fn billing_email(mut self, email: EmailAddress) -> Self {
        self.billing_email = Some(email);
        self
    }
}

/// What staff may change on an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub status: Option<AccountStatus>,
    pub billing_email: Option<Option<EmailAddress>>,
    pub autopay: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: SiteId,
    pub account_id: AccountId,
    pub name: String,
    pub address: Address,
}

/// A postal address; `country` is an ISO 3166 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    pub fn new(
        line1: &str,
        line2: Option<&str>,
        city: &str,
        region: Option<&str>,
        postal_code: &str,
        country: &str,
    ) -> Result<Self, ParseError> {
        let optional = |what, v: Option<&str>| -> Result<Option<String>, ParseError> {
            match v.map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => parse_name(what, s).map(Some),
            }
        };
        let country = country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ParseError::Invalid {
                what: "country",
                value: country,
                why: "use the two-letter ISO code, e.g. US, DE, FR",
            });
        }
        Ok(Self {
            line1: parse_name("address line", line1)?,
            line2: optional("address line 2", line2)?,
            city: parse_name("city", city)?,
            region: optional("region", region)?,
            postal_code: parse_name("postal code", postal_code)?,
            country,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    pub name: String,
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
    pub role: String,
    pub receives_meter_requests: bool,
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub(crate) name: String,
    pub(crate) email: Option<EmailAddress>,
    pub(crate) phone: Option<String>,
    pub(crate) role: &'static str,
    pub(crate) receives_meter_requests: bool,
}

impl NewContact {
    /// `role` is one of general, billing, meters, technical.
    pub fn new(name: &str, email: Option<EmailAddress>, role: &str) -> Result<Self, ParseError> {
        let role = match role {
            "general" => "general",
            "billing" => "billing",
            "meters" => "meters",
            "technical" => "technical",
            other => {
                return Err(ParseError::Invalid {
                    what: "contact role",
                    value: other.to_owned(),
                    why: "use general, billing, meters or technical",
                });
            }
        };
        Ok(Self {
            name: parse_name("contact name", name)?,
            email,
            phone: None,
            role,
            receives_meter_requests: role == "meters",
        })
    }

    pub fn phone(mut self, phone: &str) -> Result<Self, ParseError> {
        let p = phone.trim();
        let ok = p.len() <= 32
            && p.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !ok || !p.chars().any(|c| c.is_ascii_digit()) {
            return Err(ParseError::Invalid {
                what: "phone number",
                value: p.escape_debug().to_string(),
                why: "use digits, spaces and + - ( ) . only",
            });
        }
        self.phone = Some(p.to_owned());
        Ok(self)
    }

    pub fn receives_meter_requests(mut self, yes: bool) -> Self {
        self.receives_meter_requests = yes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_number_and_name_are_checked() {
        assert!(NewAccount::new("A-100", "Acme").is_ok());
        assert!(NewAccount::new("", "Acme").is_err());
        assert!(NewAccount::new("A 100", "Acme").is_err());
        assert!(NewAccount::new("A-100", " ").is_err());
    }

    #[test]
    fn address_country_is_two_letters() {
        let a = Address::new("1 Main St", Some(" "), "Springfield", None, "12345", "us").unwrap();
        assert_eq!(a.country, "US");
        assert_eq!(a.line2, None);
        assert!(Address::new("1 Main St", None, "X", None, "1", "USA").is_err());
    }

    #[test]
    fn contact_role_and_phone() {
        let c = NewContact::new("Meter Person", None, "meters").unwrap();
        assert!(c.receives_meter_requests);
        assert!(NewContact::new("X", None, "boss").is_err());
        let c = NewContact::new("X", None, "general").unwrap();
        assert!(c.clone().phone("+1 (555) 010-9999").is_ok());
        assert!(c.phone("call me").is_err());
    }
}
