//! Customer replies to the monthly meter request. Only what the customer wrote counts: the
//! quoted request, older history (`>` quotes, `-----Original Message-----` blocks,
//! `<blockquote>`), signatures, phone numbers, dates, addresses and references never give a
//! number. The one exception is a value typed right after `=` on a quoted request line.
//!
//! The request names each device (`Device 1: TASKalfa 2554ci, serial W9C4100322, location:
//! Reception`) under its reference (`MR-2510-0417`, also in the subject); a reply names a
//! device by serial, by its last digits, or by model or location — or not at all when the
//! request had one device.

use super::message::Mail;
use super::numbers::{self, Found};
use super::report::{DeviceReading, normalise};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub devices: Vec<DeviceReading>,
    pub warnings: Vec<String>,
    /// The serials the request asked about.
    pub asked: Vec<String>,
}

/// A lone number without a label, taken as the total: true by convention, less sure than a
/// labelled one.
const UNLABELLED_TOTAL: &str = "total?";

/// What the customer's text states: counters (by the asked device they belong to, when
/// said) and models written beside a serial.
#[derive(Debug, Default)]
struct Said {
    counters: Vec<(Option<usize>, String, u64)>,
    models: Vec<(Option<usize>, String)>,
}

/// A device the request asked about.
#[derive(Debug, Clone, Default)]
struct Asked {
    serial: String,
    model: String,
    location: String,
    /// Values typed after `=` in the quoted request.
    typed: BTreeMap<String, u64>,
}

/// Reads the answer, when the mail answers a meter request (a reference in the subject, or a
/// reply quoting a request).
pub fn read(mail: &Mail) -> Option<Answer> {
    let text = mail.texts.first().cloned().unwrap_or_default();
    let (new, history) = split(&text);
    let reference = reference(&mail.subject);
    let asked = request(&history, reference.as_deref());
    if reference.is_none() && (!mail.is_reply || asked.is_empty()) {
        return None;
    }
    let mut answer = Answer {
        asked: asked.iter().map(|a| a.serial.clone()).collect(),
        ..Answer::default()
    };
    let photos = mail
        .attachments
        .iter()
        .filter(|a| a.content_type.starts_with("image/"))
        .count();
    if photos > 0 {
        // a photo's numbers are for the photo reader and a person, never for the text reader
        answer
            .warnings
            .push(format!("{photos} photo(s) attached: for the photo reader"));
    }
    let mut said = Said::default();
    read_text(
        &cut_signature(&new),
        &asked,
        &mut said,
        &mut answer.warnings,
    );
    if said.counters.is_empty() {
        // nothing in the body: the subject after the reference ("… [MR-2510-0733] - 412,077")
        if let Some(after) = mail.subject.rsplit_once(']').map(|(_, a)| a) {
            read_text(after, &asked, &mut said, &mut answer.warnings);
        }
    }
    let mut by_device: BTreeMap<usize, BTreeMap<String, u64>> = BTreeMap::new();
    for (i, device) in asked.iter().enumerate() {
        if !device.typed.is_empty() {
            by_device.insert(i, device.typed.clone());
        }
    }
    let mut models: BTreeMap<usize, String> = said
        .models
        .into_iter()
        .filter_map(|(d, m)| Some((d?, m)))
        .collect();
    for (device, counter, value) in said.counters {
        let device = match device {
            Some(d) => Some(d),
            None if asked.len() == 1 => Some(0),
            None => None,
        };
        let Some(d) = device else {
            answer.warnings.push(format!(
                "{counter} {value}: which device is meant is not said"
            ));
            continue;
        };
        by_device.entry(d).or_default().insert(counter, value);
    }
    for (i, device) in asked.iter().enumerate() {
        match by_device.remove(&i) {
            Some(mut counters) if !counters.is_empty() => {
                let mut confidence = 0.9;
                if let Some(v) = counters.remove(UNLABELLED_TOTAL) {
                    counters.entry("total".into()).or_insert(v);
                    confidence = 0.7;
                }
                answer.devices.push(DeviceReading {
                    serial: device.serial.clone(),
                    model: models.remove(&i),
                    read_at: None,
                    counters,
                    confidence,
                });
            }
            _ => answer.warnings.push(format!(
                "no reading for {} ({})",
                device.serial, device.location
            )),
        }
    }
    Some(answer)
}

/// `MR-2510-0417` (optionally with a suffix such as `-L`) from the subject.
fn reference(subject: &str) -> Option<String> {
    let start = subject.find("MR-")?;
    let token: String = subject[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (token.len() >= 10).then_some(token)
}

/// What the customer wrote, and everything quoted or forwarded below or within it.
fn split(text: &str) -> (String, Vec<(usize, String)>) {
    let mut new = String::new();
    let mut history = Vec::new();
    let mut in_history = false;
    for line in text.lines() {
        let trimmed = line.trim();
        let depth = quote_depth(line);
        if depth == 0 && !in_history && starts_history(trimmed) {
            in_history = true;
            continue;
        }
        if depth > 0 || in_history {
            history.push((depth.max(1), strip_quotes(line).to_owned()));
        } else {
            new.push_str(line);
            new.push('\n');
        }
    }
    (new, history)
}

fn quote_depth(line: &str) -> usize {
    let mut depth = 0;
    for c in line.chars() {
        match c {
            '>' => depth += 1,
            ' ' | '\t' if depth > 0 => {}
            _ => break,
        }
    }
    depth
}

fn strip_quotes(line: &str) -> &str {
    line.trim_start_matches(['>', ' ', '\t'])
}

/// The first line of quoted or forwarded history in the various clients' words: an
/// attribution ("On … wrote:", "Am … schrieb …:", "Le … a écrit :") or an Outlook header block.
fn starts_history(line: &str) -> bool {
    let lower = line.to_lowercase();
    (lower.starts_with("on ") && lower.contains(" wrote"))
        || (lower.starts_with("am ") && lower.contains(" schrieb"))
        || (lower.starts_with("le ") && lower.contains(" a écrit"))
        || lower.starts_with("-----original message-----")
        || lower.starts_with("-----ursprüngliche nachricht-----")
        || lower.starts_with("-----message d'origine-----")
        || lower.starts_with("---------- forwarded message")
        || lower.starts_with("________________________________")
        || ["from:", "von:", "de :", "de:"]
            .iter()
            .any(|p| lower.starts_with(p) && lower.contains('@'))
}

/// The devices of the request block with this reference (the first block when none matches),
/// with values typed after `=`.
fn request(history: &[(usize, String)], reference: Option<&str>) -> Vec<Asked> {
    let mut blocks: Vec<(Option<String>, Vec<Asked>)> = Vec::new();
    let mut depth_of_block = 0;
    for (depth, line) in history {
        let line = line.trim();
        if let Some(r) = line.strip_prefix("Reference:") {
            blocks.push((Some(r.trim().to_owned()), Vec::new()));
            depth_of_block = *depth;
            continue;
        }
        let Some((_, devices)) = blocks.last_mut() else {
            continue;
        };
        if *depth != depth_of_block {
            continue;
        }
        if let Some(device) = device_line(line) {
            devices.push(device);
        } else if let Some((label, value)) = line.split_once('=')
            && let Some(device) = devices.last_mut()
            && let Some(counter) = label_of(&normalise(label))
            && let Some(v) = numbers::meter(value.trim())
        {
            device.typed.insert(counter.to_owned(), v);
        }
    }
    let chosen = blocks
        .iter()
        .position(|(r, _)| reference.is_some() && r.as_deref() == reference)
        .unwrap_or(0);
    blocks
        .into_iter()
        .nth(chosen)
        .map(|(_, d)| d)
        .unwrap_or_default()
}

/// `Device 1: TASKalfa 2554ci, serial W9C4100322, location: Reception`
fn device_line(line: &str) -> Option<Asked> {
    let rest = line.strip_prefix("Device ")?;
    let (_, rest) = rest.split_once(':')?;
    let (model, rest) = rest.split_once(", serial ")?;
    let (serial, location) = match rest.split_once(',') {
        Some((s, l)) => (s, l.trim().trim_start_matches("location:").trim()),
        None => (rest, ""),
    };
    Some(Asked {
        serial: serial.trim().to_owned(),
        model: model.trim().to_owned(),
        location: location.to_owned(),
        typed: BTreeMap::new(),
    })
}

/// What a label names.
fn label_of(word: &str) -> Option<&'static str> {
    const MONO: &[&str] = &[
        "black & white",
        "black and white",
        "black",
        "b&w",
        "b/w",
        "bw",
        "mono",
        "monochrome",
        "schwarz/weiß",
        "schwarz/weiss",
        "schwarzweiss",
        "schwarz",
        "schwarzweiß",
        "s/w",
        "sw",
        "noir",
        "noir et blanc",
        "n&b",
        "n/b",
    ];
    const COLOR: &[&str] = &["colour", "color", "farbe", "couleur", "col"];
    const TOTAL: &[&str] = &[
        "total",
        "meter",
        "counter",
        "gesamt",
        "zähler",
        "zählerstand",
        "compteur",
        "stand",
    ];
    let w = word.trim().trim_end_matches([':', '.', ',']).trim();
    if MONO.contains(&w) {
        Some("mono")
    } else if COLOR.contains(&w) {
        Some("color")
    } else if TOTAL.contains(&w) {
        Some("total")
    } else {
        None
    }
}

/// The lines before a sign-off (`--`, `Regards`, `Thanks,`, `Sent from my …`): the rest is
/// a signature, full of numbers that are not meters.
fn cut_signature(text: &str) -> String {
    const SIGN_OFFS: &[&str] = &[
        "regards",
        "best regards",
        "kind regards",
        "best",
        "thanks",
        "thank you",
        "many thanks",
        "cheers",
        "mit freundlichen grüßen",
        "viele grüße",
        "grüße",
        "gruß",
        "cordialement",
        "bien à vous",
        "merci",
        "sincerely",
    ];
    let mut out = String::new();
    for line in text.lines() {
        let lower = line.trim().to_lowercase();
        let bare = lower.trim_end_matches([',', '!', '.']);
        if lower == "--" || lower.starts_with("sent from my") || SIGN_OFFS.contains(&bare) {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Month and weekday names: a number next to one is a date.
fn is_calendar_word(word: &str) -> bool {
    const NAMES: &[&str] = &[
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "januar",
        "februar",
        "märz",
        "mai",
        "juni",
        "juli",
        "oktober",
        "dezember",
        "janvier",
        "février",
        "mars",
        "avril",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    NAMES.contains(
        &word
            .to_lowercase()
            .trim_matches(|c: char| !c.is_alphanumeric()),
    )
}

/// Words that make the number after them something else than a meter.
fn is_disqualifying(word: &str) -> bool {
    const WORDS: &[&str] = &[
        "tel",
        "tel.",
        "phone",
        "call",
        "fax",
        "mobile",
        "mob",
        "p:",
        "f:",
        "t:",
        "ext",
        "ext.",
        "ref",
        "ref.",
        "invoice",
        "no.",
        "nr",
        "nr.",
        "#",
        "suite",
        "po",
        "box",
        "room",
        "floor",
        "~",
        "approx",
        "approx.",
        "approximately",
        "roughly",
        "about",
        "around",
        "ca",
        "ca.",
        "circa",
        "etwa",
        "environ",
        "ungefähr",
        "reference",
        "order",
    ];
    WORDS.contains(&word.to_lowercase().as_str())
}

/// Labelled numbers of `text`, each with the device the line (or an earlier one) names.
fn read_text(text: &str, asked: &[Asked], said: &mut Said, warnings: &mut Vec<String>) {
    if read_table(text, asked, said) {
        return;
    }
    let found = &mut said.counters;
    let mut current: Option<usize> = None;
    let mut unlabelled: Vec<(Option<usize>, u64)> = Vec::new();
    for line in text.lines() {
        if let Some(d) = device_named(line, asked) {
            current = Some(d);
        }
        let numbers: Vec<Found> = numbers::find_all(line)
            .into_iter()
            .filter(|n| n.digits >= 2)
            .filter(|n| !asked.iter().any(|a| a.serial == line[n.start..n.end]))
            .filter(|n| {
                let before = line[..n.start].split_whitespace().last().unwrap_or("");
                let after = line[n.end..].split_whitespace().next().unwrap_or("");
                !is_calendar_word(before)
                    && !is_calendar_word(after)
                    && !is_disqualifying(before)
                    && !line[..n.start].trim_end().ends_with(['~', '(', '+'])
                    && !line[..n.start].to_lowercase().contains("mr-")
            })
            .collect();
        // each label word goes to the nearest number on its line
        let mut labels: Vec<Option<&'static str>> = vec![None; numbers.len()];
        let mut distance: Vec<usize> = vec![usize::MAX; numbers.len()];
        for (at, word) in words(line) {
            let Some(label) = label_of(&normalise(word)) else {
                continue;
            };
            let nearest = numbers
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let d = if at < n.start {
                        n.start - (at + word.len())
                    } else {
                        at.saturating_sub(n.end) + 1
                    };
                    (d, i)
                })
                .min();
            if let Some((d, i)) = nearest
                && d < distance[i]
                && d <= 12
            {
                distance[i] = d;
                labels[i] = Some(label);
            }
        }
        for (n, label) in numbers.iter().zip(labels) {
            match label {
                Some(l) => found.push((current, l.to_owned(), n.value)),
                None => unlabelled.push((current, n.value)),
            }
        }
    }
    // "A single unlabelled number in a reply is the device's total."
    match unlabelled.as_slice() {
        [(device, value)] if found.iter().all(|(d, _, _)| d != device) => {
            found.push((*device, UNLABELLED_TOTAL.into(), *value));
        }
        [] | [_] => {}
        many => warnings.push(format!(
            "{} numbers without a label were not taken: {:?}",
            many.len(),
            many.iter().map(|(_, v)| v).collect::<Vec<_>>()
        )),
    }
}

/// Words with their byte offsets.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let part = c.is_alphanumeric() || matches!(c, '&' | '/');
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// The asked device a line names: its serial, its last digits (4 or more), its location or
/// its model.
fn device_named(line: &str, asked: &[Asked]) -> Option<usize> {
    let lower = line.to_lowercase();
    let tokens: Vec<&str> = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= 4)
        .collect();
    asked
        .iter()
        .position(|a| tokens.iter().any(|t| t.eq_ignore_ascii_case(&a.serial)))
        .or_else(|| {
            asked.iter().position(|a| {
                tokens.iter().any(|t| {
                    t.chars().any(|c| c.is_ascii_digit())
                        && a.serial.len() > t.len()
                        && a.serial.to_lowercase().ends_with(&t.to_lowercase())
                })
            })
        })
        .or_else(|| asked.iter().position(|a| mentions(&lower, &a.location)))
        .or_else(|| asked.iter().position(|a| mentions(&lower, &a.model)))
}

/// Whether `line` (lower case) names `what` as whole words (of three letters or more).
fn mentions(line: &str, what: &str) -> bool {
    let what = what.trim().to_lowercase();
    if what.len() < 3 {
        return false;
    }
    line.match_indices(&what).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + what.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A pipe table with a header row naming its columns (`| Serial | Model | B&W | Colour |`).
fn read_table(text: &str, asked: &[Asked], said: &mut Said) -> bool {
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect()
        })
        .collect();
    let Some((head, body)) = rows.split_first() else {
        return false;
    };
    let columns: Vec<Option<&str>> = head
        .iter()
        .map(|h| {
            let h = normalise(h);
            if h.starts_with("serial") || h == "s/n" {
                Some("serial")
            } else if h == "model" || h == "device" {
                Some("model")
            } else {
                label_of(&h)
            }
        })
        .collect();
    if !columns.contains(&Some("serial")) {
        return false;
    }
    for row in body {
        if row
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':' || ch == ' '))
        {
            continue;
        }
        let cell = |name: &str| {
            columns
                .iter()
                .position(|c| *c == Some(name))
                .and_then(|i| row.get(i))
                .copied()
        };
        let device = cell("serial").and_then(|s| device_named(s, asked));
        if let Some(model) = cell("model") {
            said.models.push((device, model.to_owned()));
        }
        for (i, column) in columns.iter().enumerate() {
            if let (Some(counter @ ("mono" | "color" | "total")), Some(v)) =
                (column, row.get(i).and_then(|c| numbers::meter(c)))
            {
                said.counters.push((device, (*counter).to_owned(), v));
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::message::Mail;

    fn reply(subject: &str, body: &str) -> Answer {
        let mail = Mail {
            subject: subject.into(),
            is_reply: true,
            texts: vec![body.into()],
            ..Mail::default()
        };
        read(&mail).unwrap()
    }

    const REQUEST: &str = "> Reference: MR-2510-0001\n> Device 1: TASKalfa 2554ci, serial W9C4100322, location: Empfang\n>   Last reading 30/09/2025: Black & white 48,112   Colour 11,907\n>   Black & white = \n>   Colour = \n";

    fn counters(a: &Answer) -> Vec<(String, u64)> {
        a.devices
            .iter()
            .flat_map(|d| d.counters.iter().map(|(k, v)| (k.clone(), *v)))
            .collect()
    }

    #[test]
    fn german_labels_sign_off_and_attribution() {
        let a = reply(
            "AW: Zählerstände [MR-2510-0001]",
            &format!(
                "Schwarz/Weiß: 50.331\nFarbe: 12.440\n\nMit freundlichen Grüßen\nMax Muster\nTel. 030 1234567\n\nAm 31.10.2025 um 08:00 schrieb Northbridge <billing@n.example>:\n{REQUEST}"
            ),
        );
        assert_eq!(
            counters(&a),
            [("color".into(), 12_440), ("mono".into(), 50_331)]
        );
    }

    #[test]
    fn french_labels() {
        let a = reply(
            "RE: Relevé [MR-2510-0001]",
            &format!(
                "Noir : 50 331\nCouleur : 12 440\n\nCordialement\n\nLe 31/10/2025, Northbridge a écrit :\n{REQUEST}"
            ),
        );
        assert_eq!(
            counters(&a),
            [("color".into(), 12_440), ("mono".into(), 50_331)]
        );
    }

    #[test]
    fn approximate_values_are_not_readings() {
        for body in [
            "roughly 50,000 black",
            "about 50,000 pages",
            "~50331 black",
            "ca. 50.331",
        ] {
            let a = reply(
                "Re: [MR-2510-0001]",
                &format!("{body}\n\nOn Fri, someone wrote:\n{REQUEST}"),
            );
            assert!(a.devices.is_empty(), "{body}: {:?}", a.devices);
        }
    }

    #[test]
    fn a_lone_number_is_the_total_but_less_sure() {
        let a = reply(
            "Re: [MR-2510-0001]",
            &format!("it shows 0065210 today\n\nOn Fri, someone wrote:\n{REQUEST}"),
        );
        assert_eq!(counters(&a), [("total".into(), 65_210)]);
        assert!(a.devices[0].confidence < 0.8);
    }

    #[test]
    fn outlook_history_without_quote_marks_is_not_read() {
        let a = reply(
            "RE: [MR-2510-0001]",
            "BW 50,331\n\nFrom: Meter Desk <billing@n.example>\nSent: 31 October 2025 08:00\nReference: MR-2510-0001\nDevice 1: TASKalfa 2554ci, serial W9C4100322, location: Empfang\n  Last reading 30/09/2025: Black & white 48,112   Colour 11,907\n",
        );
        assert_eq!(counters(&a), [("mono".into(), 50_331)]);
    }

    #[test]
    fn a_device_named_by_its_last_digits_or_location() {
        let two = "> Reference: MR-2510-0002\n> Device 1: A, serial W9C4100322, location: Reception\n> Device 2: B, serial VJR7Z03518, location: Back office\n";
        let a = reply(
            "Re: [MR-2510-0002]",
            &format!(
                "...0322: black 50,331\nBack office: black 123,988\n\nOn Fri, x wrote:\n{two}"
            ),
        );
        let by: Vec<(&str, u64)> = a
            .devices
            .iter()
            .map(|d| (d.serial.as_str(), d.counters["mono"]))
            .collect();
        assert_eq!(by, [("W9C4100322", 50_331), ("VJR7Z03518", 123_988)]);
    }

    #[test]
    fn numbers_for_no_named_device_among_several_are_not_guessed() {
        let two = "> Reference: MR-2510-0002\n> Device 1: A, serial W9C4100322, location: Reception\n> Device 2: B, serial VJR7Z03518, location: Back office\n";
        let a = reply(
            "Re: [MR-2510-0002]",
            &format!("black 50,331\n\nOn Fri, x wrote:\n{two}"),
        );
        assert!(a.devices.is_empty());
        assert!(
            a.warnings.iter().any(|w| w.contains("which device")),
            "{:?}",
            a.warnings
        );
    }
}
