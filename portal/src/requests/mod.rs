//! Service requests: a customer (or the dealer, or a device's own alert) asks for a technician.
//! A request moves submitted → acknowledged → scheduled → in progress → on hold → completed →
//! closed, or is cancelled; every step, assignment, schedule and comment is an event on its
//! timeline, and the people on both sides are told (`notifications`).
//!
//! Customers open requests for their account's devices, comment, cancel one nobody works on yet,
//! and close one that was completed; dealer staff holding `requests.manage` do the rest. A
//! device alert opens a request (or suggests one to staff, per the tenant's setting), never a
//! second one while one for the same device and alert is open.

pub mod http;
pub mod pages;
mod store;
pub mod work;

use crate::ids::{AccountId, EquipmentId, UserId};
use ingest::domain::ParseError;

pub use store::{Attachment, Event, RequestView};

use crate::web::i18n::n_;

ingest::typed_id!(RequestId);

/// How soon it matters, as the customer says.
pub const PRIORITIES: &[(&str, &str)] = &[
    ("low", n_("Low")),
    ("normal", n_("Normal")),
    ("high", n_("High")),
    ("urgent", n_("Urgent")),
    (
        "emergency",
        n_("Emergency — the device is down for everyone"),
    ),
];

/// What is wrong, in the customer's words.
pub const PROBLEM_TYPES: &[(&str, &str)] = &[
    ("paper_jam", n_("Paper jams")),
    (
        "print_quality",
        n_("Print quality (streaks, faint, smudged)"),
    ),
    ("error_code", n_("An error code or message on the screen")),
    ("not_printing", n_("Does not print or scan")),
    ("noise", n_("Unusual noise")),
    ("network", n_("Network, scanning to e-mail or folders")),
    ("install_move", n_("Install, move or remove a device")),
    ("other", n_("Something else")),
];

/// The steps of a request.
pub const STATUSES: &[(&str, &str)] = &[
    ("submitted", n_("Submitted")),
    ("acknowledged", n_("Acknowledged")),
    ("scheduled", n_("Scheduled")),
    ("in_progress", n_("In progress")),
    ("on_hold", n_("On hold")),
    ("completed", n_("Completed")),
    ("closed", n_("Closed")),
    ("cancelled", n_("Cancelled")),
];

/// Where a request may go from where it is (dealer staff).
pub fn next_steps(status: &str) -> &'static [&'static str] {
    match status {
        "submitted" => &["acknowledged", "scheduled", "in_progress", "cancelled"],
        "acknowledged" => &["scheduled", "in_progress", "on_hold", "cancelled"],
        "scheduled" => &["in_progress", "on_hold", "acknowledged", "cancelled"],
        "in_progress" => &["on_hold", "completed", "scheduled"],
        "on_hold" => &["in_progress", "scheduled", "cancelled"],
        "completed" => &["closed", "in_progress"],
        _ => &[],
    }
}

/// Where a customer may take their request: cancel it before work starts, close it once done.
pub fn customer_steps(status: &str) -> &'static [&'static str] {
    match status {
        "submitted" | "acknowledged" => &["cancelled"],
        "completed" => &["closed"],
        _ => &[],
    }
}

pub fn is_open(status: &str) -> bool {
    !matches!(status, "completed" | "closed" | "cancelled")
}

pub fn label(table: &'static [(&'static str, &'static str)], code: &str) -> &'static str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, l)| *l)
}

fn one_of(what: &'static str, table: &[(&str, &str)], raw: &str) -> Result<String, ParseError> {
    let s = raw.trim();
    if table.iter().any(|(c, _)| *c == s) {
        Ok(s.to_owned())
    } else {
        Err(ParseError::Invalid {
            what,
            value: s.escape_debug().to_string(),
            why: "choose one of the listed values",
        })
    }
}

/// A day the customer prefers and the part of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PreferredDate {
    /// `YYYY-MM-DD`
    pub date: String,
    /// `morning`, `afternoon` or `any`
    pub window: String,
}

/// A request as submitted, checked.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub equipment: EquipmentId,
    pub priority: String,
    pub problem_type: String,
    pub description: String,
    pub preferred: Vec<PreferredDate>,
}

impl NewRequest {
    pub fn parse(
        equipment: EquipmentId,
        priority: &str,
        problem_type: &str,
        description: &str,
        preferred: Vec<(String, String)>,
    ) -> Result<Self, ParseError> {
        let description = description.trim();
        if description.is_empty() {
            return Err(ParseError::Empty {
                what: "description",
            });
        }
        let len = description.chars().count();
        if len > 10_000 {
            return Err(ParseError::TooLong {
                what: "description",
                len,
                max: 10_000,
            });
        }
        if description
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ParseError::Invalid {
                what: "description",
                value: String::new(),
                why: "it contains control characters",
            });
        }
        if preferred.len() > 3 {
            return Err(ParseError::Invalid {
                what: "preferred dates",
                value: preferred.len().to_string(),
                why: "give at most three",
            });
        }
        let preferred = preferred
            .into_iter()
            .filter(|(d, _)| !d.trim().is_empty())
            .map(|(date, window)| {
                Ok(PreferredDate {
                    date: crate::equipment::parse_iso_date(&date)?,
                    window: one_of(
                        "time window",
                        &[("morning", ""), ("afternoon", ""), ("any", "")],
                        if window.trim().is_empty() {
                            "any"
                        } else {
                            &window
                        },
                    )?,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(NewRequest {
            equipment,
            priority: one_of("priority", PRIORITIES, priority)?,
            problem_type: one_of("problem type", PROBLEM_TYPES, problem_type)?,
            description: description.to_owned(),
            preferred,
        })
    }
}

/// A comment's text: 1–5,000 characters, line breaks allowed, no other control characters.
pub fn parse_comment(raw: &str) -> Result<String, ParseError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ParseError::Empty { what: "comment" });
    }
    let len = s.chars().count();
    if len > 5_000 {
        return Err(ParseError::TooLong {
            what: "comment",
            len,
            max: 5_000,
        });
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ParseError::Invalid {
            what: "comment",
            value: String::new(),
            why: "it contains control characters",
        });
    }
    Ok(s.to_owned())
}

/// Who is told about a request: its account's users who may read requests, and the staff who
/// manage them — but never the person who did it.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    Customers,
    Staff,
    Both,
}

/// The tenant setting saying what a device alert does: `open` a request, or `suggest` one to
/// staff (default).
pub const FROM_ALERTS: &str = "requests.from_alerts";

/// A filter of the request list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub account: Option<AccountId>,
    pub equipment: Option<EquipmentId>,
    pub open_only: bool,
    pub assigned_to: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_goes_forward_and_ends() {
        for (status, _) in STATUSES {
            for next in next_steps(status) {
                assert!(STATUSES.iter().any(|(s, _)| s == next), "{status} → {next}");
                assert_ne!(status, next);
            }
        }
        assert!(next_steps("closed").is_empty() && next_steps("cancelled").is_empty());
        assert_eq!(
            customer_steps("in_progress"),
            &[] as &[&str],
            "nobody cancels work under way"
        );
        assert_eq!(customer_steps("completed"), &["closed"]);
    }

    #[test]
    fn requests_are_checked() {
        let ok = NewRequest::parse(
            EquipmentId(1),
            "urgent",
            "paper_jam",
            "Jams in tray 2\nevery time",
            vec![
                ("2026-03-02".into(), "morning".into()),
                ("".into(), "".into()),
            ],
        )
        .unwrap();
        assert_eq!(ok.preferred.len(), 1);
        for (priority, problem, description) in [
            ("asap", "paper_jam", "x"),
            ("low", "fire", "x"),
            ("low", "other", "  "),
            ("low", "other", "bell\u{7}"),
        ] {
            assert!(
                NewRequest::parse(EquipmentId(1), priority, problem, description, vec![]).is_err()
            );
        }
        assert!(
            NewRequest::parse(EquipmentId(1), "low", "other", &"x".repeat(10_001), vec![]).is_err()
        );
        assert!(
            NewRequest::parse(
                EquipmentId(1),
                "low",
                "other",
                "x",
                vec![("2026-02-30".into(), "any".into())]
            )
            .is_err()
        );
        assert!(
            NewRequest::parse(
                EquipmentId(1),
                "low",
                "other",
                "x",
                vec![("2026-02-03".into(), "night".into())]
            )
            .is_err()
        );
    }
}
