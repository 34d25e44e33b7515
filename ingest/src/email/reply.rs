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
}

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
    let mut answer = Answer::default();
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
            Some(counters) if !counters.is_empty() => answer.devices.push(DeviceReading {
                serial: device.serial.clone(),
                model: models.remove(&i),
                read_at: None,
                counters,
                confidence: 0.8,
            }),
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

/// The first line of quoted or forwarded history in the various clients' words.
fn starts_history(line: &str) -> bool {
    let lower = line.to_lowercase();
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit:"))
        || lower.starts_with("-----original message-----")
        || lower.starts_with("-----ursprüngliche nachricht-----")
        || lower.starts_with("-----message d'origine-----")
        || lower.starts_with("---------- forwarded message")
        || lower.starts_with("________________________________")
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
            found.push((*device, "total".into(), *value));
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
        .or_else(|| {
            asked.iter().position(|a| {
                let location = a.location.to_lowercase();
                !location.is_empty() && lower.contains(&location)
            })
        })
        .or_else(|| {
            asked.iter().position(|a| {
                let model = a.model.to_lowercase();
                !model.is_empty() && lower.contains(&model)
            })
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
