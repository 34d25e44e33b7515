//! One e-mail, unpacked: headers that matter, decoded texts, attachments and forwarded
//! messages, under limits. What is structurally broken is listed in `problems`: a broken
//! message yields no reading, even where parts of it decode (a truncated report is not
//! trusted).

use super::time;
use chrono::{DateTime, FixedOffset};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Bounds on what one message may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_parts: usize,
    pub max_depth: usize,
    /// Text and attachments larger than this are left unread (named in a warning).
    pub max_part_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 30 * 1024 * 1024,
            max_parts: 500,
            max_depth: 8,
            max_part_bytes: 5 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub subject: String,
    pub from: Option<String>,
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// Every address it was sent to (To, Cc, Delivered-To, X-Original-To): a reply to the
    /// meter request carries the request's token in one of them.
    pub recipients: Vec<String>,
    pub date: Option<DateTime<FixedOffset>>,
    /// What the receiving server's `Authentication-Results` say of the sender.
    pub authentication: Authentication,
    /// Auto-Submitted, Precedence bulk/junk/list, List-Unsubscribe, or a delivery report.
    pub automatic: bool,
    /// A delivery status notification (bounce).
    pub bounce: bool,
    /// Whether it answers another message (In-Reply-To / References / `Re:`-style subject).
    pub is_reply: bool,
    /// The plain-text bodies (an HTML-only body converted to text).
    pub texts: Vec<String>,
    /// HTML bodies as text, for where a format is only there.
    pub html_texts: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub forwarded: Vec<Mail>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The verdict of the receiving server's SPF / DKIM / DMARC checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// No `Authentication-Results` header.
    #[default]
    Absent,
    Passed,
    /// DMARC failed, or SPF/DKIM failed with nothing passing: the sender may be forged.
    Failed,
}

impl Authentication {
    fn of(results: &[&str]) -> Self {
        if results.is_empty() {
            return Self::Absent;
        }
        let all = results.join(";").to_ascii_lowercase();
        let has = |k: &str| all.contains(k);
        if has("dmarc=fail")
            || ((has("spf=fail") || has("spf=softfail") || has("dkim=fail"))
                && !has("dkim=pass")
                && !has("spf=pass")
                && !has("dmarc=pass"))
        {
            Self::Failed
        } else {
            Self::Passed
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub name: Option<String>,
    /// `type/subtype`, lower case.
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Attachment {
    /// The attachment as text when it is a text format.
    pub fn text(&self) -> Option<String> {
        let name = self.name.as_deref().unwrap_or("").to_ascii_lowercase();
        let textual = self.content_type.starts_with("text/")
            || self.content_type.contains("xml")
            || self.content_type.contains("csv")
            || [".csv", ".xml", ".txt", ".htm", ".html"]
                .iter()
                .any(|e| name.ends_with(e));
        textual.then(|| String::from_utf8_lossy(&self.data).into_owned())
    }
}

/// Charsets the decoder knows (mail-parser's table) or that need no decoding.
fn known_charset(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii")
        || mail_parser::decoders::charsets::map::charset_decoder(lower.as_bytes()).is_some()
}

/// Unpacks `raw`. Never panics on any input; what is wrong is in `problems`.
pub fn parse(raw: &[u8], limits: &Limits) -> Mail {
    let mut mail = Mail::default();
    if raw.len() > limits.max_bytes {
        mail.problems.push(format!(
            "message is {} bytes, over the limit of {}",
            raw.len(),
            limits.max_bytes
        ));
        return mail;
    }
    // Bound the parser's work before it starts: every part begins at a delimiter line.
    let delimiters = raw
        .split(|b| *b == b'\n')
        .filter(|line| line.starts_with(b"--"))
        .count();
    if delimiters > limits.max_parts * 2 {
        mail.problems.push(format!(
            "{delimiters} MIME delimiter lines, over the limit of {} parts",
            limits.max_parts
        ));
        return mail;
    }
    // mail-parser 0.11.9 has debug assertions on inputs it otherwise recovers from; a panic
    // in a parser must not take the worker down, whatever the build
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::default().parse(raw)
    }));
    let message = match parsed {
        Ok(Some(message)) => message,
        Ok(None) => {
            mail.problems.push("not an RFC 5322 message".into());
            return mail;
        }
        Err(_) => {
            mail.problems
                .push("the MIME structure is too broken to parse".into());
            return mail;
        }
    };
    unpack(&message, raw, limits, 0, &mut mail);
    mail
}

fn unpack(
    message: &mail_parser::Message<'_>,
    raw: &[u8],
    limits: &Limits,
    depth: usize,
    mail: &mut Mail,
) {
    if depth > limits.max_depth {
        mail.problems
            .push(format!("messages nested deeper than {}", limits.max_depth));
        return;
    }
    if message.parts.len() > limits.max_parts {
        mail.problems.push(format!(
            "{} MIME parts, over the limit of {}",
            message.parts.len(),
            limits.max_parts
        ));
        return;
    }
    mail.subject = message.subject().unwrap_or_default().trim().to_owned();
    mail.from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_owned);
    mail.message_id = message
        .message_id()
        .map(|m| m.trim().trim_matches(['<', '>']).to_owned())
        .filter(|m| !m.is_empty());
    for header in ["To", "Cc", "Delivered-To", "X-Original-To"] {
        for value in message.header_values(header) {
            if let Some(list) = value.as_address() {
                mail.recipients
                    .extend(list.iter().filter_map(|a| a.address()).map(str::to_owned));
            } else if let Some(text) = value.as_text() {
                mail.recipients
                    .push(text.trim().trim_matches(['<', '>']).to_owned());
            }
        }
    }
    let results: Vec<&str> = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value)
        .collect();
    mail.authentication = Authentication::of(&results);
    match (message.header_raw("Date"), message.date()) {
        (None, _) => mail.problems.push("no Date header".into()),
        (Some(raw_date), None) => mail
            .problems
            .push(format!("Date header unreadable: {}", raw_date.trim())),
        (Some(_), Some(d)) => mail.date = time::header_date(d),
    }
    if mail.date.is_none() && !mail.problems.iter().any(|p| p.contains("Date")) {
        mail.problems.push("Date header out of range".into());
    }
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let content_type = message
        .content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
        .unwrap_or_default();
    mail.bounce = content_type == "multipart/report"
        || mail
            .from
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().starts_with("mailer-daemon"));
    mail.automatic = mail.bounce
        || header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list"))
        || message.header_raw("List-Unsubscribe").is_some()
        || message.header_raw("X-Autoreply").is_some()
        || message.header_raw("X-Autorespond").is_some();
    mail.is_reply = message.header_raw("In-Reply-To").is_some()
        || message.header_raw("References").is_some()
        || reply_prefix(&mail.subject);

    structural_problems(message, raw, mail);
    let nesting = multipart_depth(message, 0, 0);
    if nesting > limits.max_depth {
        mail.problems.push(format!(
            "MIME parts nested deeper than {}",
            limits.max_depth
        ));
        return;
    }

    for (i, part) in message.parts.iter().enumerate() {
        let ct = part.content_type();
        let ctype = ct
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_else(|| "text/plain".into());
        if let Some(charset) = ct.and_then(|c| c.attribute("charset"))
            && !known_charset(charset)
        {
            let bytes = &raw[part.offset_body as usize..(part.offset_end as usize).min(raw.len())];
            if !bytes.is_ascii() {
                mail.problems
                    .push(format!("unknown charset {charset} with 8-bit text"));
            }
        }
        if part.len() > limits.max_part_bytes {
            mail.warnings.push(format!(
                "part {i} ({ctype}) is {} bytes: not read",
                part.len()
            ));
            continue;
        }
        let is_body_text = message.text_body.contains(&(i as u32));
        let is_body_html = message.html_body.contains(&(i as u32));
        match &part.body {
            PartType::Text(text) if is_body_text || part.attachment_name().is_none() => {
                mail.texts.push(text.to_string());
            }
            PartType::Html(html) if is_body_html && !is_body_text => {
                mail.html_texts.push(html_to_text(html));
            }
            PartType::Html(html) if is_body_html => mail.html_texts.push(html_to_text(html)),
            PartType::Message(inner) => {
                let mut forwarded = Mail::default();
                // offsets of nested parts count from the start of the outermost message
                unpack(inner, raw, limits, depth + 1, &mut forwarded);
                mail.problems.extend(
                    forwarded
                        .problems
                        .drain(..)
                        .map(|p| format!("forwarded message: {p}")),
                );
                mail.forwarded.push(forwarded);
            }
            PartType::Multipart(_) => {}
            PartType::Text(_)
            | PartType::Html(_)
            | PartType::Binary(_)
            | PartType::InlineBinary(_) => {
                mail.attachments.push(Attachment {
                    name: part.attachment_name().map(str::to_owned),
                    content_type: ctype,
                    data: part.contents().to_vec(),
                });
            }
        }
    }
    // Zip archives (accounting exports, zipped CSV reports) are read as their entries.
    let mut expanded = Vec::with_capacity(mail.attachments.len());
    for a in std::mem::take(&mut mail.attachments) {
        if is_zip(&a) {
            match unzip(&a, limits) {
                Ok(entries) => expanded.extend(entries),
                Err(why) => mail.warnings.push(format!(
                    "zip {}: {why}: not read",
                    a.name.as_deref().unwrap_or("attachment")
                )),
            }
        } else {
            expanded.push(a);
        }
    }
    mail.attachments = expanded;
    // A body that is only HTML is read as text.
    if mail.texts.is_empty() {
        mail.texts = mail.html_texts.clone();
    }
}

fn is_zip(a: &Attachment) -> bool {
    a.content_type.contains("zip")
        || a.name
            .as_deref()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".zip"))
}

/// Most entries read from one archive.
const MAX_ZIP_ENTRIES: usize = 50;
/// An entry inflating more than this many times its compressed size is a bomb.
const MAX_ZIP_RATIO: u64 = 100;

/// The archive's files, bounded before anything is inflated: entry count, each entry's and
/// the total declared size, the compression ratio — and the inflated bytes are counted
/// again while reading, since a declared size can lie.
fn unzip(a: &Attachment, limits: &Limits) -> Result<Vec<Attachment>, String> {
    use std::io::Read;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(&a.data)).map_err(|e| e.to_string())?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(format!("{} entries, over {MAX_ZIP_ENTRIES}", archive.len()));
    }
    let budget = limits.max_part_bytes as u64;
    let mut total = 0u64;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| e.to_string())?;
        if entry.is_dir() {
            continue;
        }
        let (size, packed) = (entry.size(), entry.compressed_size().max(1));
        if size > budget || total + size > budget || size / packed > MAX_ZIP_RATIO {
            return Err(format!("entry {} inflates to {size} bytes", entry.name()));
        }
        total += size;
        let name = entry.name().to_owned();
        let mut data = Vec::new();
        // bounded by take(): never more than the declared size (plus one to notice a lie)
        #[allow(clippy::disallowed_methods)]
        entry
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if data.len() as u64 > size {
            return Err(format!("entry {name} is larger than it declares"));
        }
        let content_type = if name.to_ascii_lowercase().ends_with(".xml") {
            "application/xml"
        } else if name.to_ascii_lowercase().ends_with(".csv") {
            "text/csv"
        } else {
            "application/octet-stream"
        };
        out.push(Attachment {
            name: Some(name),
            content_type: content_type.into(),
            data,
        });
    }
    Ok(out)
}

fn reply_prefix(subject: &str) -> bool {
    let lower = subject.trim_start().to_ascii_lowercase();
    [
        // replies only: a forward (Fwd:, WG:, TR:) of a device report is not an answer
        "re:", "aw:", "sv:", "vs:", "antw:", "r:", "rif:", "odp:",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// What mail-parser recovers silently but a reading must not be taken from: a multipart
/// without boundary, a multipart whose closing boundary never comes (the message was cut), a
/// part it could not decode (base64 cut in the middle).
fn structural_problems(message: &mail_parser::Message<'_>, raw: &[u8], mail: &mut Mail) {
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        if ct.ctype().eq_ignore_ascii_case("multipart") {
            match ct.attribute("boundary") {
                None => mail.problems.push("multipart without a boundary".into()),
                Some(boundary) => {
                    let closing = format!("--{boundary}--");
                    if !contains(raw, closing.as_bytes()) {
                        mail.problems.push(format!(
                            "multipart never closed (no {closing}): the message was cut"
                        ));
                    }
                }
            }
        }
        if part.is_encoding_problem {
            mail.problems.push(format!(
                "a {} part cannot be decoded (cut or corrupt)",
                ct.ctype()
            ));
        }
    }
}

/// How deep multiparts nest under part `id` (iteratively bounded by the part count).
fn multipart_depth(message: &mail_parser::Message<'_>, id: usize, level: usize) -> usize {
    if level > 64 {
        return level;
    }
    match message.parts.get(id).map(|p| &p.body) {
        Some(PartType::Multipart(children)) => children
            .iter()
            .map(|c| multipart_depth(message, *c as usize, level + 1))
            .max()
            .unwrap_or(level + 1),
        _ => level,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// HTML as text: tags dropped, block ends and table cells turned into line breaks and ` | `,
/// entities decoded, quoted blocks (`<blockquote>`) marked with `> ` like plain-text quotes.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut quote_depth = 0usize;
    let mut rest = html;
    let mut at_line_start = true;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt], quote_depth, &mut at_line_start);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        rest = &rest[lt + gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let closing = tag.starts_with('/');
        match name.as_str() {
            "style" | "script" | "head" if !closing => {
                let end = format!("</{name}");
                rest = rest
                    .to_ascii_lowercase()
                    .find(&end)
                    .map_or("", |i| &rest[i..]);
            }
            "blockquote" => {
                newline(&mut out, &mut at_line_start);
                quote_depth = if closing {
                    quote_depth.saturating_sub(1)
                } else {
                    quote_depth + 1
                };
            }
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table" | "ul"
            | "ol" => {
                newline(&mut out, &mut at_line_start);
                if name == "li" && !closing {
                    push_text(&mut out, "* ", quote_depth, &mut at_line_start);
                }
            }
            "td" | "th" if !closing => push_text(&mut out, " | ", quote_depth, &mut at_line_start),
            _ => {}
        }
    }
    push_text(&mut out, rest, quote_depth, &mut at_line_start);
    out
}

fn newline(out: &mut String, at_line_start: &mut bool) {
    if !*at_line_start {
        out.push('\n');
        *at_line_start = true;
    }
}

fn push_text(out: &mut String, text: &str, quote_depth: usize, at_line_start: &mut bool) {
    let decoded = decode_entities(text);
    let mut collapsed = String::new();
    for (i, piece) in decoded.split_whitespace().enumerate() {
        if i > 0 {
            collapsed.push(' ');
        }
        collapsed.push_str(piece);
    }
    if collapsed.is_empty() {
        if !decoded.is_empty() && !*at_line_start && !out.ends_with(' ') {
            out.push(' ');
        }
        return;
    }
    if *at_line_start {
        for _ in 0..quote_depth {
            out.push_str("> ");
        }
        *at_line_start = false;
    } else if decoded.starts_with(char::is_whitespace) && !out.ends_with(' ') {
        out.push(' ');
    }
    out.push_str(&collapsed);
    if decoded.ends_with(char::is_whitespace) {
        out.push(' ');
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // an entity is short: look for its `;` among the next few characters only
        let Some(semi) = rest
            .char_indices()
            .take(10)
            .find_map(|(i, c)| (c == ';').then_some(i))
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_reads_as_lines_with_quotes_marked() {
        let text = html_to_text(
            "<div>readings:</div><ul><li><b>Black</b>: 41.980</li></ul><blockquote>old 40,211</blockquote>",
        );
        assert_eq!(text.trim_end(), "readings:\n* Black: 41.980\n> old 40,211");
    }

    #[test]
    fn an_ampersand_before_multibyte_text_is_not_cut_inside_a_character() {
        // found by the fuzz target: `&` followed by 3-byte characters within 10 bytes
        assert_eq!(
            html_to_text("a &\u{fffd}\u{fffd}\u{fffd}\u{fffd} b").trim_end(),
            "a &\u{fffd}\u{fffd}\u{fffd}\u{fffd} b"
        );
        assert_eq!(
            html_to_text("x &amp; y &#233; z").trim_end(),
            "x & y \u{e9} z"
        );
    }

    #[test]
    fn tables_become_cells() {
        let text = html_to_text(
            "<table><tr><th>Serial</th><th>B&amp;W</th></tr><tr><td>X1</td><td>90 412</td></tr></table>",
        );
        assert_eq!(text.trim_end(), "| Serial | B&W\n| X1 | 90 412");
    }
}

#[cfg(test)]
mod authentication_tests {
    use super::Authentication;

    #[test]
    fn a_forged_sender_fails_a_real_one_passes() {
        assert_eq!(Authentication::of(&[]), Authentication::Absent);
        assert_eq!(
            Authentication::of(&["mx.example; spf=pass smtp.mailfrom=a.example; dkim=pass"]),
            Authentication::Passed
        );
        assert_eq!(
            Authentication::of(&["mx.example; dmarc=fail (p=reject)"]),
            Authentication::Failed
        );
        assert_eq!(
            Authentication::of(&["mx.example; spf=fail; dkim=none"]),
            Authentication::Failed
        );
        assert_eq!(
            Authentication::of(&["mx.example; spf=softfail; dkim=pass"]),
            Authentication::Passed,
            "DKIM vouches for it"
        );
    }
}
