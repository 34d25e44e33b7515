//! Meter numbers as people and devices write them: `1,204,331`, `12.440`, `90 412`,
//! `00312904`, with no-break or narrow no-break spaces. Meters are whole numbers, so a `.` or
//! `,` is always a thousands separator and a group after one has exactly three digits;
//! anything else (`4.8`, `020 7946 0958`, `555-0199`) is not a meter.

/// Separators a thousands group may follow.
const SEPARATORS: [char; 5] = [',', '.', ' ', '\u{a0}', '\u{202f}'];

/// The largest meter taken: twelve digits (a trillion pages is not a copier).
const MAX_DIGITS: usize = 12;

/// Parses one whole token as a meter value.
pub fn meter(token: &str) -> Option<u64> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if token.chars().all(|c| c.is_ascii_digit()) {
        return (token.len() <= MAX_DIGITS).then(|| token.parse().ok())?;
    }
    let separator = token.chars().find(|c| !c.is_ascii_digit())?;
    if !SEPARATORS.contains(&separator) {
        return None;
    }
    let groups: Vec<&str> = token.split(separator).collect();
    let (first, rest) = groups.split_first()?;
    let digits_only = |g: &str| !g.is_empty() && g.chars().all(|c| c.is_ascii_digit());
    if !digits_only(first) || first.len() > 3 || rest.is_empty() {
        return None;
    }
    if !rest.iter().all(|g| digits_only(g) && g.len() == 3) {
        return None;
    }
    let joined: String = groups.concat();
    (joined.len() <= MAX_DIGITS).then(|| joined.parse().ok())?
}

/// A number found in free text, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub value: u64,
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
    /// Digits as written, zero padding included.
    pub digits: usize,
}

/// Every run of digits and separators in `text` that reads as one meter number. A run that
/// does not (a phone number, a decimal, a date like `31/10/2025`) yields nothing, not its
/// pieces. Separators at the ends of a run belong to the sentence, not the number.
pub fn find_all(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < chars.len()
            && (chars[end].1.is_ascii_digit()
                || (SEPARATORS.contains(&chars[end].1)
                    && chars.get(end + 1).is_some_and(|(_, c)| c.is_ascii_digit())))
        {
            end += 1;
        }
        i = end;
        // glued to letters or to other number punctuation: a code, a date, a time, a phone
        let before = start.checked_sub(1).map(|b| chars[b].1);
        let after = chars.get(end).map(|(_, c)| *c);
        let glued = |c: Option<char>| {
            c.is_some_and(|c| {
                c.is_alphanumeric() || matches!(c, '/' | '-' | ':' | '+' | '_' | '#' | '@' | '%')
            })
        };
        let decimal_after = after.is_some_and(|c| c == '.' || c == ',')
            && chars.get(end + 1).is_some_and(|(_, c)| c.is_ascii_digit());
        if glued(before) || glued(after) || decimal_after {
            continue;
        }
        let (from, to) = (
            chars[start].0,
            chars.get(end).map_or(text.len(), |(b, _)| *b),
        );
        let raw = &text[from..to];
        if let Some(value) = meter(raw) {
            out.push(Found {
                value,
                start: from,
                end: to,
                digits: raw.chars().filter(char::is_ascii_digit).count(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators_of_every_kind_and_zero_padding() {
        for (raw, value) in [
            ("1,204,331", 1_204_331),
            ("12.440", 12_440),
            ("90 412", 90_412),
            ("409\u{a0}955", 409_955),
            ("27\u{202f}430", 27_430),
            ("00312904", 312_904),
            ("0", 0),
        ] {
            assert_eq!(meter(raw), Some(value), "{raw}");
        }
    }

    #[test]
    fn decimals_phones_and_mixed_groupings_are_not_meters() {
        for raw in [
            "4.8",
            "1,2345",
            "12,34",
            "1.234,567",
            "020 7946 0958",
            "555-0199",
            "",
            "1234567890123",
            "1,",
        ] {
            assert_eq!(meter(raw), None, "{raw}");
        }
    }

    #[test]
    fn numbers_in_text_are_whole_runs_never_pieces() {
        let values = |t: &str| find_all(t).iter().map(|f| f.value).collect::<Vec<_>>();
        assert_eq!(values("BW: 50,331 / Colour 12.440"), [50_331, 12_440]);
        assert_eq!(
            values("Call me on 020 7946 0958 if urgent."),
            Vec::<u64>::new()
        );
        assert_eq!(values("on 31/10/2025 at 08:00"), Vec::<u64>::new());
        assert_eq!(values("black 27 430, colour 4 729"), [27_430, 4_729]);
        assert_eq!(values("ref MR-2510-0733, code KD-4471"), Vec::<u64>::new());
        assert_eq!(values("coverage 4.8 %"), Vec::<u64>::new());
        assert_eq!(values("Total 123456, photo attached."), [123_456]);
    }
}
