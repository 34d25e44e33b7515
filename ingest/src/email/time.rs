//! When a device read its counters. Device bodies write local time without a zone; the zone
//! comes from the message's Date header. Usually the header is in the same local time as the
//! body; after an Exchange relay or a forward it is in UTC, and then the offset is the one that
//! makes the body's time equal the header's instant (rounded to 15 minutes).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

/// The Date header as mail-parser read it.
pub fn header_date(d: &mail_parser::DateTime) -> Option<DateTime<FixedOffset>> {
    let seconds = (i32::from(d.tz_hour) * 60 + i32::from(d.tz_minute)) * 60;
    let offset = if d.tz_before_gmt {
        FixedOffset::west_opt(seconds)
    } else {
        FixedOffset::east_opt(seconds)
    }?;
    let naive = NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))?
        .and_hms_opt(u32::from(d.hour), u32::from(d.minute), u32::from(d.second))?;
    naive.and_local_timezone(offset).single()
}

/// A body's local time placed in the zone the Date header tells.
pub fn localise(
    local: NaiveDateTime,
    header: Option<DateTime<FixedOffset>>,
) -> Option<DateTime<FixedOffset>> {
    let header = header?;
    let same_zone = local.and_local_timezone(*header.offset()).single()?;
    if header.offset().local_minus_utc() != 0 {
        return Some(same_zone);
    }
    // A UTC header (relayed, forwarded): the offset that turns the body time into the
    // header's instant, when that is a whole quarter hour give or take the few minutes a mail
    // takes to leave; otherwise the body time is taken as UTC.
    let minutes = (local - header.naive_utc()).num_minutes();
    let quarter = (minutes as f64 / 15.0).round() as i64 * 15;
    if quarter == 0 || quarter.abs() > 14 * 60 || (minutes - quarter).abs() > 5 {
        return Some(same_zone);
    }
    let offset = FixedOffset::east_opt(i32::try_from(quarter * 60).ok()?)?;
    local.and_local_timezone(offset).single()
}

/// Parses the timestamp formats device mails use. Dates alone give `None` (the caller falls
/// back to the header).
pub fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    const FORMATS: [&str; 12] = [
        "%a %d %b %Y %H:%M:%S", // Kyocera: Fri 31 Oct 2025 23:30:00
        "%Y/%m/%d %H:%M:%S",    // Sharp
        "%Y/%m/%d %H:%M",       // Toshiba, Brother
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",    // VersaLink
        "%m/%d/%Y %I:%M %p", // Xerox, Canon (US)
        "%m/%d/%Y %I:%M:%S %p",
        "%d.%m.%Y %H:%M:%S", // German
        "%d.%m.%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
}

/// An ISO 8601 time with its own offset (XML reports).
pub fn parse_with_offset(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text.trim()).ok()
}

/// `2025-10-31T23:30:00+01:00`: what the extract contract prints.
pub fn format(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc2822(s).ok()
    }

    #[test]
    fn the_body_time_takes_the_headers_zone() {
        let local = parse_local("Fri 31 Oct 2025 23:30:00").unwrap();
        let at = localise(local, header("Fri, 31 Oct 2025 23:30:00 +0100")).unwrap();
        assert_eq!(format(at), "2025-10-31T23:30:00+01:00");
    }

    #[test]
    fn a_utc_header_gives_the_offset_that_matches_its_instant() {
        let local = parse_local("Mon 28 Jul 2025 00:00:00").unwrap();
        let at = localise(local, header("Sun, 27 Jul 2025 16:00:00 +0000")).unwrap();
        assert_eq!(format(at), "2025-07-28T00:00:00+08:00");
    }

    #[test]
    fn device_formats() {
        for (raw, iso) in [
            ("2025/10/31 22:00:05", "2025-10-31T22:00:05"),
            ("10/31/2025 11:05 PM", "2025-10-31T23:05:00"),
            ("11/01/2025 12:10 AM", "2025-11-01T00:10:00"),
            ("2025-11-01 06:00", "2025-11-01T06:00:00"),
        ] {
            assert_eq!(
                parse_local(raw)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
                iso
            );
        }
        assert_eq!(
            parse_local("23/10/2025"),
            None,
            "a date alone is not a reading time"
        );
    }
}
