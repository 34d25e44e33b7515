//! The values a meter reading is made of, each parsed once at the edge so that an invalid one
//! cannot exist further in: a [`SerialNumber`] is never empty, a [`MeterValue`] never negative.

/// The conversions every validated text newtype has: `as_str`, `Display`, and serde through
/// `String`, so that deserialising runs the same `parse` as every other way in.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = super::ParseError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

mod email;
mod mac;
mod meter;
mod reason;
mod serial;

pub use email::EmailAddress;
pub use mac::MacAddress;
pub use meter::{MeterKind, MeterValue, ReadingSource, ReadingStatus, STANDARD_METER_KINDS};
pub use reason::{Outcome, Reason};
pub use serial::SerialNumber;

/// Why a value was refused at the edge; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is too long ({len} characters, at most {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} '{value}' is not valid: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: &'static str,
    },
}
