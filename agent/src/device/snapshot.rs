//! What a device answered: OID → value. Filled by SNMP GET/GETBULK, or from a snmprec
//! recording (snmpsim's format) in tests and the simulated fleet.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Text(String),
    Oid(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Text(t) => t.trim().parse().ok(),
            // some devices give counters as strings
            Self::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            Self::Oid(_) => None,
        }
    }

    /// Text as a person would read it: control characters and padding removed.
    pub fn as_text(&self) -> Option<String> {
        let raw = match self {
            Self::Text(t) => t.clone(),
            Self::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Self::Oid(o) => o.clone(),
            Self::Int(i) => i.to_string(),
        };
        let clean: String = raw.chars().filter(|c| !c.is_control()).collect();
        let clean = clean.trim().to_owned();
        (!clean.is_empty()).then_some(clean)
    }
}

/// OIDs are numeric dotted strings without a leading dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snmprec line {line}: {why}")]
pub struct RecError {
    pub line: usize,
    pub why: String,
}

impl Snapshot {
    pub fn insert(&mut self, oid: &str, value: Value) {
        self.0.insert(oid.trim_start_matches('.').to_owned(), value);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, oid: &str) -> Option<&Value> {
        self.0.get(oid.trim_start_matches('.'))
    }

    /// Rows under a table column: (index suffix, value), e.g. `1.1` for `column.1.1`.
    pub fn column<'a>(
        &'a self,
        column: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.0.iter().filter_map(move |(oid, v)| {
            let rest = oid.strip_prefix(column)?.strip_prefix('.')?;
            Some((rest, v))
        })
    }

    /// Parses snmpsim's `OID|type|value` lines (types: 2 integer, 4 octet string, 4x hex
    /// string, 6 OID, 64x IP address, 65/66/67/70 counters, gauges, ticks). Unknown types and
    /// comments are skipped; a malformed line is an error naming it.
    pub fn from_snmprec(text: &str) -> Result<Self, RecError> {
        let mut s = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: &str| RecError {
                line: n + 1,
                why: why.to_owned(),
            };
            let mut parts = line.splitn(3, '|');
            let (Some(oid), Some(typ), Some(raw)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(err("expected OID|type|value"));
            };
            if oid.is_empty() || !oid.split('.').all(|p| p.parse::<u32>().is_ok()) {
                return Err(err("not a numeric OID"));
            }
            let (code, hex) = typ.strip_suffix('x').map_or((typ, false), |c| (c, true));
            let bytes = |raw: &str| -> Result<Vec<u8>, RecError> {
                if !raw.len().is_multiple_of(2) {
                    return Err(err("odd-length hex value"));
                }
                // byte-wise slicing below needs one byte per character
                if !raw.is_ascii() {
                    return Err(err("bad hex value"));
                }
                (0..raw.len())
                    .step_by(2)
                    .map(|i| {
                        u8::from_str_radix(&raw[i..i + 2], 16).map_err(|_| err("bad hex value"))
                    })
                    .collect()
            };
            let value = match code {
                "2" | "65" | "66" | "67" | "70" => {
                    Value::Int(raw.trim().parse().map_err(|_| err("not an integer"))?)
                }
                "4" if hex => {
                    let b = bytes(raw)?;
                    match String::from_utf8(b.clone()) {
                        Ok(t) if !t.chars().any(|c| c.is_control() && c != '\n' && c != '\r') => {
                            Value::Text(t)
                        }
                        _ => Value::Bytes(b),
                    }
                }
                "4" => Value::Text(raw.to_owned()),
                "6" => Value::Oid(raw.trim_start_matches('.').to_owned()),
                "64" if hex => Value::Bytes(bytes(raw)?),
                _ => continue,
            };
            s.insert(oid, value);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_types_recordings_use() {
        let s = Snapshot::from_snmprec(
            "1.3.6.1.2.1.1.1.0|4|RICOH Aficio\n# comment\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1\n\
             1.3.6.1.2.1.43.10.2.1.4.1.1|65|271871\n1.3.6.1.2.1.43.11.1.1.6.1.1|4x|426c61636b\n\
             1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3\n",
        )
        .unwrap();
        assert_eq!(
            s.get("1.3.6.1.2.1.43.10.2.1.4.1.1").and_then(Value::as_i64),
            Some(271_871)
        );
        assert_eq!(
            s.get(".1.3.6.1.2.1.43.11.1.1.6.1.1")
                .and_then(Value::as_text)
                .as_deref(),
            Some("Black")
        );
        assert_eq!(
            s.get("1.3.6.1.2.1.1.2.0"),
            Some(&Value::Oid("1.3.6.1.4.1.367.1.1".into()))
        );
        assert_eq!(
            s.column("1.3.6.1.2.1.43.11.1.1.9").collect::<Vec<_>>(),
            [("1.1", &Value::Int(-3))]
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        assert_eq!(Snapshot::from_snmprec("1.3.6|2|x").unwrap_err().line, 1);
        assert!(Snapshot::from_snmprec("ok\n").is_err());
        assert!(Snapshot::from_snmprec("1.3.6|4x|abc").is_err());
    }
}
