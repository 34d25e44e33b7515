//! Which device is this? The facts say how it was matched (serial, serial variant, MAC, asset
//! tag — never IP alone); an unknown device is held for the dealer, never billed.

use crate::domain::Outcome;
use crate::pipeline::{DeviceMatch, Finding, Input, MatchedBy};

pub fn check(input: Input<'_>) -> Vec<Finding> {
    match &input.facts.device {
        DeviceMatch::Unknown { reported } => vec![Finding::all(
            Outcome::Flag,
            format!(
                "unknown device ({reported}): listed for the dealer as a new device, not billed"
            ),
        )],
        DeviceMatch::Known(d) => match &d.matched_by {
            MatchedBy::Serial => vec![],
            MatchedBy::SerialVariant {
                reported,
                registered,
            } => vec![Finding::all(
                Outcome::Note,
                format!(
                    "serial {reported} taken as {registered} (differs only by O/0, I/1, case or separators)"
                ),
            )],
            MatchedBy::Mac => vec![Finding::all(Outcome::Note, "identified by MAC address")],
            MatchedBy::AssetTag => vec![Finding::all(Outcome::Note, "identified by asset tag")],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::*;

    #[test]
    fn a_serial_match_says_nothing_an_unknown_device_waits_for_the_dealer() {
        assert!(run(check, &snmp(&[("total", 5)]), &known()).is_empty());
        let unknown = Facts {
            device: DeviceMatch::Unknown {
                reported: "serial X9".into(),
            },
            ..known()
        };
        let f = run(check, &snmp(&[("total", 5)]), &unknown);
        assert_eq!(outcomes(&f), [Outcome::Flag]);
        assert!(f[0].message.contains("new device") && f[0].kind.is_none());
    }

    #[test]
    fn looser_matches_are_noted() {
        let mut facts = known();
        if let DeviceMatch::Known(d) = &mut facts.device {
            d.matched_by = MatchedBy::SerialVariant {
                reported: "ABO1".into(),
                registered: "AB01".into(),
            };
        }
        let f = run(check, &snmp(&[("total", 5)]), &facts);
        assert_eq!(outcomes(&f), [Outcome::Note]);
        assert!(f[0].message.contains("ABO1") && f[0].message.contains("AB01"));
    }

    use crate::pipeline::{DeviceMatch, Facts};
}
