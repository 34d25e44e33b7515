use super::ParseError;
use std::fmt;
use std::str::FromStr;

/// The meter kinds every tenant starts with: (code, label, billable).
pub const STANDARD_METER_KINDS: &[(&str, &str, bool)] = &[
    ("total", "Total", true),
    ("mono", "Black & white", true),
    ("color", "Colour", true),
    ("copy", "Copies", false),
    ("print", "Prints", false),
    ("scan", "Scans", false),
    ("fax", "Fax", false),
    ("large", "Large format", true),
];

/// Which counter a value belongs to. The standard kinds are in [`STANDARD_METER_KINDS`]; a
/// dealer may define more (e.g. `a3_color`), so this is a validated code, not a closed enum.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeterKind(String);

impl MeterKind {
    pub fn total() -> Self {
        Self("total".into())
    }
    pub fn mono() -> Self {
        Self("mono".into())
    }
    pub fn color() -> Self {
        Self("color".into())
    }

    /// 1–32 characters: a lower-case letter, then lower-case letters, digits or `_`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::Empty { what: "meter kind" });
        }
        if s.len() > 32 {
            return Err(ParseError::TooLong {
                what: "meter kind",
                len: s.len(),
                max: 32,
            });
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(ParseError::Invalid {
                what: "meter kind",
                value: s.to_owned(),
                why: "use a lower-case letter followed by lower-case letters, digits or _",
            });
        }
        Ok(Self(s.to_owned()))
    }
}

text_newtype!(MeterKind);

/// A page counter value. Counters only count up from zero; storage keeps them as `i64`, so a
/// value is at most `i64::MAX` (a 64-bit SNMP counter beyond that is not a page count).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeterValue(i64);

impl MeterValue {
    pub fn new(value: i64) -> Result<Self, ParseError> {
        if value < 0 {
            return Err(ParseError::Invalid {
                what: "meter value",
                value: value.to_string(),
                why: "a page counter cannot be negative",
            });
        }
        Ok(Self(value))
    }

    pub fn from_u64(value: u64) -> Result<Self, ParseError> {
        i64::try_from(value).map_err(|_| ParseError::Invalid {
            what: "meter value",
            value: value.to_string(),
            why: "larger than any page counter",
        })?;
        Self::new(value as i64)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for MeterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<i64> for MeterValue {
    type Error = ParseError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<MeterValue> for i64 {
    fn from(value: MeterValue) -> Self {
        value.0
    }
}

/// Declares a closed vocabulary stored as text: the enum, its text form and parsing.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ParseError::Invalid {
                        what: stringify!($name),
                        value: other.to_owned(),
                        why: "not one of the known values",
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where a reading came from; kept with the reading so a disputed bill can be explained.
    ReadingSource {
        AgentSnmp => "agent_snmp",
        AgentMqtt => "agent_mqtt",
        Mqtt => "mqtt",
        DeviceEmail => "device_email",
        ReplyEmail => "reply_email",
        Photo => "photo",
        Manual => "manual",
        Technician => "technician",
        Estimate => "estimate",
    }
);

text_enum!(
    /// The validation pipeline's decision. Only `Accepted` readings feed billing.
    ReadingStatus {
        Accepted => "accepted",
        Review => "review",
        Rejected => "rejected",
        Superseded => "superseded",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_kind_accepts_codes_and_refuses_the_rest() {
        assert_eq!(MeterKind::parse("a3_color").unwrap().as_str(), "a3_color");
        for bad in [
            "",
            "Total",
            "3d",
            "mono color",
            "x".repeat(33).as_str(),
            "färbe",
        ] {
            assert!(MeterKind::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn standard_kinds_are_valid_codes() {
        for (code, _, _) in STANDARD_METER_KINDS {
            assert_eq!(MeterKind::parse(code).unwrap().as_str(), *code);
        }
    }

    #[test]
    fn meter_value_is_never_negative_nor_beyond_i64() {
        assert_eq!(MeterValue::new(0).unwrap().get(), 0);
        assert!(MeterValue::new(-1).is_err());
        assert!(MeterValue::from_u64(u64::MAX).is_err());
        assert_eq!(
            MeterValue::from_u64(4_294_967_295).unwrap().get(),
            4_294_967_295
        );
        assert!(serde_json::from_str::<MeterValue>("-5").is_err());
    }

    #[test]
    fn text_enums_round_trip() {
        for s in ReadingSource::ALL {
            assert_eq!(s.as_str().parse::<ReadingSource>().unwrap(), *s);
        }
        for s in ReadingStatus::ALL {
            assert_eq!(s.as_str().parse::<ReadingStatus>().unwrap(), *s);
        }
        assert!("agent".parse::<ReadingSource>().is_err());
    }
}
