use super::ParseError;

const MAX_LEN: usize = 64;

/// A device serial number as printed on the device: trimmed, 1–64 characters of letters,
/// digits and `-_./ `, at least one of them a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::Empty {
                what: "serial number",
            });
        }
        let len = s.chars().count();
        if len > MAX_LEN {
            return Err(ParseError::TooLong {
                what: "serial number",
                len,
                max: MAX_LEN,
            });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_./ ".contains(c);
        if !s.chars().all(allowed) || !s.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(ParseError::Invalid {
                what: "serial number",
                value: s.to_owned(),
                why: "use letters, digits and - _ . / only",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The matching key: upper case, separators removed, and the letters that people and OCR
    /// confuse with digits folded onto them (O→0, I→1), so "ab-o123" typed by a customer finds
    /// the device registered as "AB0123". Equipment is unique per tenant by this key: two
    /// devices whose serials differ only in that way cannot both be registered.
    pub fn key(&self) -> String {
        self.0
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' => '1',
                other => other,
            })
            .collect()
    }
}

text_newtype!(SerialNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_printed_form_and_trims() {
        let s = SerialNumber::parse("  E174M-12345 ").unwrap();
        assert_eq!(s.as_str(), "E174M-12345");
    }

    #[test]
    fn key_folds_case_separators_and_confusable_letters() {
        let typed = SerialNumber::parse("ab-o1i2 3").unwrap();
        let printed = SerialNumber::parse("AB01123").unwrap();
        assert_eq!(typed.key(), "AB01123");
        assert_eq!(typed.key(), printed.key());
    }

    #[test]
    fn refuses_empty_overlong_and_foreign_characters() {
        assert!(matches!(
            SerialNumber::parse("   "),
            Err(ParseError::Empty { .. })
        ));
        assert!(matches!(
            SerialNumber::parse(&"A".repeat(65)),
            Err(ParseError::TooLong { .. })
        ));
        assert!(SerialNumber::parse("AB<script>").is_err());
        assert!(SerialNumber::parse("AB\n12").is_err());
        assert!(SerialNumber::parse("--").is_err());
    }

    #[test]
    fn deserialising_validates() {
        let bad: Result<SerialNumber, _> = serde_json::from_str("\"\"");
        assert!(bad.is_err());
        let good: SerialNumber = serde_json::from_str("\"X1\"").unwrap();
        assert_eq!(good.as_str(), "X1");
    }
}
