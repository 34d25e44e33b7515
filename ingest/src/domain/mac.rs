use super::ParseError;

/// A MAC address in the canonical lower-case colon form `aa:bb:cc:dd:ee:ff`, parsed from any
/// of the forms devices and people write (`AA-BB-…`, `aabb.ccdd.eeff`, `AABBCCDDEEFF`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress(String);

impl MacAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        let hex: String = s.chars().filter(|c| !":-. ".contains(*c)).collect();
        let invalid = |why| ParseError::Invalid {
            what: "MAC address",
            value: s.to_owned(),
            why,
        };
        if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid(
                "expected 12 hexadecimal digits, e.g. 00:1b:a9:12:34:56",
            ));
        }
        let hex = hex.to_ascii_lowercase();
        if hex == "000000000000" || hex == "ffffffffffff" {
            return Err(invalid("that is not a device's address"));
        }
        let pairs: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
        Ok(Self(pairs.join(":")))
    }

    /// From the 6 raw bytes SNMP gives (ifPhysAddress).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self::parse(&hex)
    }
}

text_newtype!(MacAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_notation_gives_one_canonical_form() {
        for form in [
            "00:1B:A9:12:34:56",
            "00-1b-a9-12-34-56",
            "001b.a912.3456",
            "001BA9123456",
        ] {
            assert_eq!(
                MacAddress::parse(form).unwrap().as_str(),
                "00:1b:a9:12:34:56"
            );
        }
        assert_eq!(
            MacAddress::from_bytes(&[0, 0x1b, 0xa9, 0x12, 0x34, 0x56])
                .unwrap()
                .as_str(),
            "00:1b:a9:12:34:56"
        );
    }

    #[test]
    fn refuses_wrong_length_non_hex_and_placeholder_addresses() {
        for bad in [
            "",
            "00:1b:a9:12:34",
            "00:1b:a9:12:34:5g",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
        ] {
            assert!(MacAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(MacAddress::from_bytes(&[1, 2, 3]).is_err());
    }
}
