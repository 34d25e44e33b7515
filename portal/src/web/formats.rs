//! How one person reads times and numbers: their time zone, the order of a date's parts and
//! the marks that group digits. Chosen on the profile page, carried on the [`Principal`] of
//! each request, applied wherever a page shows a time, a meter value or an amount. The JSON
//! API never uses them: it speaks epoch milliseconds and plain numbers.
//!
//! [`Principal`]: crate::auth::Principal

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// The order of a date's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// 2026-03-31 14:05
    #[default]
    Iso,
    /// 03/31/2026 2:05 PM
    Us,
    /// 31/03/2026 14:05
    Uk,
    /// 31.03.2026 14:05
    Dotted,
}

/// How digits are grouped and decimals marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberStyle {
    /// 1,234,567.89
    #[default]
    Comma,
    /// 1.234.567,89
    Dot,
    /// 1 234 567,89 (narrow no-break spaces)
    Space,
    /// 1234567.89
    Plain,
}

pub const DATE_STYLES: &[(DateStyle, &str, &str)] = &[
    (DateStyle::Iso, "iso", "2026-03-31 14:05"),
    (DateStyle::Us, "us", "03/31/2026 2:05 PM"),
    (DateStyle::Uk, "uk", "31/03/2026 14:05"),
    (DateStyle::Dotted, "dotted", "31.03.2026 14:05"),
];

pub const NUMBER_STYLES: &[(NumberStyle, &str, &str)] = &[
    (NumberStyle::Comma, "en", "1,234,567.89"),
    (NumberStyle::Dot, "de", "1.234.567,89"),
    (NumberStyle::Space, "fr", "1\u{202f}234\u{202f}567,89"),
    (NumberStyle::Plain, "plain", "1234567.89"),
];

impl DateStyle {
    pub fn parse(code: &str) -> Option<DateStyle> {
        DATE_STYLES
            .iter()
            .find(|(_, c, _)| *c == code.trim())
            .map(|(s, _, _)| *s)
    }

    pub fn code(self) -> &'static str {
        DATE_STYLES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("iso", |(_, c, _)| c)
    }

    fn date(self) -> &'static str {
        match self {
            DateStyle::Iso => "%Y-%m-%d",
            DateStyle::Us => "%m/%d/%Y",
            DateStyle::Uk => "%d/%m/%Y",
            DateStyle::Dotted => "%d.%m.%Y",
        }
    }

    fn time(self) -> &'static str {
        match self {
            DateStyle::Us => "%-I:%M %p",
            _ => "%H:%M",
        }
    }
}

impl NumberStyle {
    pub fn parse(code: &str) -> Option<NumberStyle> {
        NUMBER_STYLES
            .iter()
            .find(|(_, c, _)| *c == code.trim())
            .map(|(s, _, _)| *s)
    }

    pub fn code(self) -> &'static str {
        NUMBER_STYLES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("en", |(_, c, _)| c)
    }

    /// (thousands mark, decimal mark)
    fn marks(self) -> (&'static str, &'static str) {
        match self {
            NumberStyle::Comma => (",", "."),
            NumberStyle::Dot => (".", ","),
            NumberStyle::Space => ("\u{202f}", ","),
            NumberStyle::Plain => ("", "."),
        }
    }
}

/// A time zone from the tz database (`Europe/Berlin`), or `None` with a name it does not know.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub zone: Tz,
    pub date: DateStyle,
    pub number: NumberStyle,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            zone: Tz::UTC,
            date: DateStyle::Iso,
            number: NumberStyle::Comma,
        }
    }
}

impl Formats {
    /// From the stored codes; anything unreadable (a zone the tz database dropped) falls back
    /// to the default rather than failing a page.
    pub fn from_codes(zone: &str, date: &str, number: &str) -> Formats {
        Formats {
            zone: parse_zone(zone).unwrap_or(Tz::UTC),
            date: DateStyle::parse(date).unwrap_or_default(),
            number: NumberStyle::parse(number).unwrap_or_default(),
        }
    }

    fn local(&self, epoch_ms: i64) -> Option<DateTime<Tz>> {
        DateTime::from_timestamp_millis(epoch_ms).map(|t| t.with_timezone(&self.zone))
    }

    /// A moment with its zone's abbreviation, so that a reader knows which clock it is on.
    pub fn when(&self, epoch_ms: i64) -> String {
        self.local(epoch_ms)
            .map(|t| {
                t.format(&format!("{} {} %Z", self.date.date(), self.date.time()))
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The calendar day a moment falls on, in this person's zone.
    pub fn day(&self, epoch_ms: i64) -> String {
        self.local(epoch_ms)
            .map(|t| t.format(self.date.date()).to_string())
            .unwrap_or_default()
    }

    /// A whole number with digit grouping (meter values, page counts).
    pub fn number(&self, n: i64) -> String {
        let (group, _) = self.number.marks();
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * group.len() + 1);
        if n < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(group);
            }
            out.push(c);
        }
        out
    }

    /// An amount of money from cents, with its currency code ("1,234.50 USD").
    pub fn money(&self, cents: i64, currency: &str) -> String {
        let (_, decimal) = self.number.marks();
        let sign = if cents < 0 { "-" } else { "" };
        let whole = self.number((cents / 100).abs());
        format!(
            "{sign}{whole}{decimal}{:02} {currency}",
            (cents % 100).unsigned_abs()
        )
    }

    /// A local date and time typed into a form (`2026-01-05T09:00`, the shape of
    /// `<input type="datetime-local">`) as the moment it names in this person's zone. A time
    /// skipped by a clock change names nothing; one repeated by it, the earlier moment.
    pub fn parse_local(&self, raw: &str) -> Option<i64> {
        let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M").ok()?;
        self.zone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
    }

    /// A moment as `<input type="datetime-local">` wants it, in this person's zone.
    pub fn local_input(&self, epoch_ms: i64) -> String {
        self.local(epoch_ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARCH_31_12_05_UTC: i64 = 1_774_958_700_000;

    fn f(zone: &str, date: &str, number: &str) -> Formats {
        Formats::from_codes(zone, date, number)
    }

    #[test]
    fn a_moment_reads_in_the_readers_zone_and_order() {
        let t = MARCH_31_12_05_UTC;
        assert_eq!(f("UTC", "iso", "en").when(t), "2026-03-31 12:05 UTC");
        assert_eq!(
            f("Europe/Berlin", "dotted", "de").when(t),
            "31.03.2026 14:05 CEST"
        );
        assert_eq!(
            f("America/New_York", "us", "en").when(t),
            "03/31/2026 8:05 AM EDT"
        );
        assert_eq!(
            f("Europe/London", "uk", "en").when(t),
            "31/03/2026 13:05 BST"
        );
        assert_eq!(f("Pacific/Auckland", "iso", "en").day(t), "2026-04-01");
    }

    #[test]
    fn numbers_are_grouped_the_readers_way() {
        assert_eq!(f("UTC", "iso", "en").number(1_234_567), "1,234,567");
        assert_eq!(f("UTC", "iso", "de").number(1_234_567), "1.234.567");
        assert_eq!(
            f("UTC", "iso", "fr").number(1_234_567),
            "1\u{202f}234\u{202f}567"
        );
        assert_eq!(f("UTC", "iso", "plain").number(1_234_567), "1234567");
        assert_eq!(f("UTC", "iso", "en").number(999), "999");
        assert_eq!(f("UTC", "iso", "en").number(-1000), "-1,000");
        assert_eq!(f("UTC", "iso", "en").number(0), "0");
        assert_eq!(
            f("UTC", "iso", "en").number(i64::MIN),
            "-9,223,372,036,854,775,808"
        );
        assert_eq!(f("UTC", "iso", "de").money(123_450, "EUR"), "1.234,50 EUR");
        assert_eq!(f("UTC", "iso", "en").money(-5, "USD"), "-0.05 USD");
    }

    #[test]
    fn typed_local_times_name_the_moment_in_the_readers_zone() {
        let berlin = f("Europe/Berlin", "iso", "en");
        let t = berlin.parse_local("2026-03-31T14:05").unwrap();
        assert_eq!(t, MARCH_31_12_05_UTC);
        assert_eq!(berlin.local_input(t), "2026-03-31T14:05");
        // 02:30 on the last Sunday of March does not exist in Berlin
        assert_eq!(berlin.parse_local("2026-03-29T02:30"), None);
        // 02:30 on the last Sunday of October happens twice: the first one
        let twice = berlin.parse_local("2026-10-25T02:30").unwrap();
        assert_eq!(berlin.when(twice), "2026-10-25 02:30 CEST");
        assert_eq!(berlin.parse_local("tomorrow"), None);
    }

    #[test]
    fn unknown_codes_fall_back_and_parse_refuses_them() {
        assert_eq!(f("Mars/Olympus", "x", "y"), Formats::default());
        assert_eq!(parse_zone("Mars/Olympus"), None);
        assert_eq!(DateStyle::parse("uk"), Some(DateStyle::Uk));
        assert_eq!(NumberStyle::parse("nope"), None);
        for (s, code, _) in DATE_STYLES {
            assert_eq!(s.code(), *code);
        }
        for (s, code, _) in NUMBER_STYLES {
            assert_eq!(s.code(), *code);
        }
    }
}
