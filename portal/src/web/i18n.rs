//! The language a page speaks. Every text a page shows is written in English in the template
//! or the code, and looked up, at render time, in the reader's catalog
//! (`portal/locales/<code>.tsv`: one `English<TAB>translation` per line). A text a catalog
//! lacks is shown in English rather than failing the page; the `every_text_is_translated`
//! test keeps that from happening to the texts the templates and tables name.
//!
//! Texts with parts that vary are written with `{}` where each part goes, in order
//! ("Serial {} · {}"), so that a translation can move the parts where its grammar wants them.
//!
//! What is not translated: what people typed (names, descriptions, comments), what the
//! devices and the pipeline said (reasons, alerts, OCR warnings) and e-mails, which go to
//! contacts who are not necessarily users of the portal.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

/// A language the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
}

/// Marks a text to be translated where it is shown rather than where it is written (a table
/// of labels, a field filled long before a page is rendered), so that the completeness test
/// finds it. It changes nothing.
pub const fn n_(text: &'static str) -> &'static str {
    text
}

/// The names people read for the codes stored in the database and shown on pages (a reading's
/// source, a decision, a counter, a status); a code not listed here is shown as it is.
const WORDS: &[(&str, &str)] = &[
    // where a reading came from
    ("agent_snmp", n_("Agent (SNMP)")),
    ("agent_mqtt", n_("Agent (MQTT)")),
    ("mqtt", n_("MQTT")),
    ("device_email", n_("Device e-mail")),
    ("reply_email", n_("Reply e-mail")),
    ("photo", n_("Photo")),
    ("manual", n_("Typed in")),
    ("technician", n_("Technician")),
    ("estimate", n_("Estimate")),
    // what the checks decided
    ("accepted", n_("Accepted")),
    ("review", n_("Needs review")),
    ("rejected", n_("Rejected")),
    ("superseded", n_("Superseded")),
    ("duplicate", n_("Duplicate")),
    // counters
    ("total", n_("Total")),
    ("mono", n_("Black & white")),
    ("color", n_("Colour")),
    ("scan", n_("Scans")),
    ("fax", n_("Faxes")),
    ("a3_total", n_("A3 total")),
    ("a3_mono", n_("A3 black & white")),
    ("a3_color", n_("A3 colour")),
    // device alerts
    ("info", n_("Info")),
    ("warning", n_("Warning")),
    ("critical", n_("Critical")),
    // request priorities
    ("low", n_("Low")),
    ("normal", n_("Normal")),
    ("high", n_("High")),
    ("urgent", n_("Urgent")),
    ("emergency", n_("Emergency")),
    // people and roles
    ("staff", n_("Dealer staff")),
    ("customer", n_("Customer")),
    ("invited", n_("Invited")),
    ("active", n_("Active")),
    ("disabled", n_("Disabled")),
    ("erased", n_("Erased")),
    // supplies
    ("toner", n_("Toner")),
    ("drum", n_("Drum")),
    ("waste", n_("Waste toner box")),
    ("staples", n_("Staples")),
    ("paper", n_("Paper")),
    ("other", n_("Other")),
    ("black", n_("Black")),
    ("cyan", n_("Cyan")),
    ("magenta", n_("Magenta")),
    ("yellow", n_("Yellow")),
    // payments
    ("card", n_("Card")),
    ("ach", n_("Bank account")),
    ("wire", n_("Wire transfer")),
    ("processing", n_("Processing")),
    ("pending", n_("Retry scheduled")),
    ("succeeded", n_("Received")),
    ("failed", n_("Failed")),
    ("returned", n_("Returned by the bank")),
    // invoices
    ("issued", n_("Issued")),
    ("partially_paid", n_("Partly paid")),
    ("paid", n_("Paid")),
    ("void", n_("Void")),
    ("draft", n_("Draft")),
    // equipment
    ("inactive", n_("Inactive")),
    ("removed", n_("Removed")),
];

/// Month abbreviations, as chrono writes them.
const MONTHS: [&str; 12] = [
    n_("Jan"),
    n_("Feb"),
    n_("Mar"),
    n_("Apr"),
    n_("May"),
    n_("Jun"),
    n_("Jul"),
    n_("Aug"),
    n_("Sep"),
    n_("Oct"),
    n_("Nov"),
    n_("Dec"),
];

/// Code, name (in that language), catalog.
const LANGS: &[(Lang, &str, &str, &str)] = &[
    (Lang::En, "en", "English", ""),
    (
        Lang::De,
        "de",
        "Deutsch",
        include_str!("../../locales/de.tsv"),
    ),
    (
        Lang::Fr,
        "fr",
        "Français",
        include_str!("../../locales/fr.tsv"),
    ),
];

/// The catalogs, read once from the text compiled into the binary (immutable data, not state).
static CATALOGS: LazyLock<HashMap<&'static str, Catalog>> = LazyLock::new(|| {
    LANGS
        .iter()
        .map(|(_, code, _, text)| (*code, parse_catalog(text)))
        .collect()
});

type Catalog = HashMap<&'static str, &'static str>;

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        LANGS
            .iter()
            .find(|(_, c, _, _)| *c == code.trim())
            .map(|(l, _, _, _)| *l)
    }

    /// From a stored code; an unknown one (a language since retired) reads as English.
    pub fn from_code(code: &str) -> Lang {
        Lang::parse(code).unwrap_or_default()
    }

    /// The first language of an `Accept-Language` header that the portal speaks, for pages
    /// shown before anyone signs in.
    pub fn from_accept(header: Option<&str>) -> Lang {
        let mut offered: Vec<(f32, Lang)> = header
            .unwrap_or("")
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let tag = bits.next()?.trim();
                let primary = tag.split('-').next()?.to_ascii_lowercase();
                let q = bits
                    .find_map(|b| b.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                // Earlier entries win ties, as the header's order means preference.
                Lang::parse(&primary).map(|l| (q - i as f32 * 1e-4, l))
            })
            .filter(|(q, _)| *q > 0.0)
            .collect();
        offered.sort_by(|a, b| b.0.total_cmp(&a.0));
        offered.first().map(|(_, l)| *l).unwrap_or_default()
    }

    pub fn code(self) -> &'static str {
        LANGS
            .iter()
            .find(|(l, _, _, _)| *l == self)
            .map_or("en", |(_, c, _, _)| c)
    }

    /// The languages a person can choose: code and name.
    pub fn choices() -> impl Iterator<Item = (&'static str, &'static str)> {
        LANGS.iter().map(|(_, code, name, _)| (*code, *name))
    }

    /// `text` in this language; itself when it has no translation.
    pub fn t(self, text: &str) -> &str {
        if self == Lang::En {
            return text;
        }
        CATALOGS
            .get(self.code())
            .and_then(|c| c.get(text))
            .copied()
            .unwrap_or(text)
    }

    /// The name of a stored code (see [`WORDS`]) in this language.
    pub fn word(self, code: &str) -> &str {
        self.t(WORDS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code, |(_, w)| *w))
    }

    /// A month label as the domain writes it ("Mar 26", chrono's `%b %y`) in this language.
    pub fn month(self, label: &str) -> String {
        match label.split_once(' ') {
            Some((month, year)) if MONTHS.contains(&month) => format!("{} {year}", self.t(month)),
            _ => label.to_owned(),
        }
    }

    /// A text with `{}` places, translated, then filled in order.
    pub fn fill(self, text: &str, parts: &[&dyn Display]) -> String {
        let mut out = String::with_capacity(text.len() + 16 * parts.len());
        let mut pieces = self.t(text).split("{}");
        if let Some(first) = pieces.next() {
            out.push_str(first);
        }
        for (i, piece) in pieces.enumerate() {
            if let Some(part) = parts.get(i) {
                out.push_str(&part.to_string());
            }
            out.push_str(piece);
        }
        out
    }

    /// Shorthands for templates, which cannot build a slice of trait objects.
    pub fn t1(self, text: &str, a: impl Display) -> String {
        self.fill(text, &[&a])
    }

    pub fn t2(self, text: &str, a: impl Display, b: impl Display) -> String {
        self.fill(text, &[&a, &b])
    }

    pub fn t3(self, text: &str, a: impl Display, b: impl Display, c: impl Display) -> String {
        self.fill(text, &[&a, &b, &c])
    }
}

/// Blank lines and lines starting with `#` are comments; a line without a tab is ignored
/// (the completeness test names the text it would have translated).
fn parse_catalog(text: &'static str) -> Catalog {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn english_is_the_text_itself_and_other_languages_come_from_their_catalog() {
        assert_eq!(Lang::En.t("Equipment"), "Equipment");
        assert_eq!(Lang::De.t("Equipment"), "Geräte");
        assert_eq!(Lang::Fr.t("Equipment"), "Équipements");
        assert_eq!(
            Lang::De.t("a text nobody wrote down"),
            "a text nobody wrote down"
        );
    }

    #[test]
    fn parts_go_where_the_translation_puts_them() {
        assert_eq!(Lang::En.t1("Hello, {}", "Ada"), "Hello, Ada");
        assert_eq!(Lang::De.t1("Hello, {}", "Ada"), "Hallo, Ada");
        assert_eq!(Lang::En.t2("{} of {}", 3, 7), "3 of 7");
        assert_eq!(Lang::De.month("Mar 26"), "Mär 26");
        assert_eq!(Lang::Fr.month("Dec 25"), "déc. 25");
        assert_eq!(Lang::De.month("2026-03"), "2026-03");
    }

    #[test]
    fn accept_language_picks_the_most_wanted_language_spoken_here() {
        assert_eq!(Lang::from_accept(Some("de-DE,de;q=0.9,en;q=0.8")), Lang::De);
        assert_eq!(Lang::from_accept(Some("es, fr;q=0.5, en;q=0.4")), Lang::Fr);
        assert_eq!(Lang::from_accept(Some("en;q=0.2, fr;q=0.9")), Lang::Fr);
        assert_eq!(Lang::from_accept(Some("fr;q=0, de;q=0.1")), Lang::De);
        assert_eq!(Lang::from_accept(Some("ja")), Lang::En);
        assert_eq!(Lang::from_accept(Some(";;;,,q=")), Lang::En);
        assert_eq!(Lang::from_accept(None), Lang::En);
    }

    /// The texts the templates and the code mark for translation: every `chrome.t("…")`,
    /// `t1`/`t2`/`t3`, and `n_("…")` outside test modules.
    #[allow(clippy::disallowed_methods)] // the crate's own small source files
    fn marked_texts() -> BTreeSet<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut stack = vec![root.join("src"), root.join("templates")];
        let mut found = BTreeSet::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
                for marker in ["n_(", ".t(", ".t1(", ".t2(", ".t3("] {
                    for after in text.split(marker).skip(1) {
                        let Some(literal) = after.trim_start().strip_prefix('"') else {
                            continue; // a variable: its values are marked where they are written
                        };
                        let mut out = String::new();
                        let mut chars = literal.chars();
                        while let Some(c) = chars.next() {
                            match c {
                                '"' => break,
                                '\\' => out.extend(chars.next()),
                                c => out.push(c),
                            }
                        }
                        found.insert(out);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_text_is_translated() {
        let marked = marked_texts();
        assert!(
            marked.len() > 300 && marked.contains("Quick actions") && marked.contains("Colour"),
            "only {} texts found: is the scan still reading the templates?",
            marked.len()
        );
        for (lang, code, _, text) in LANGS.iter().skip(1) {
            let catalog = parse_catalog(text);
            let missing: Vec<_> = marked
                .iter()
                .filter(|t| !catalog.contains_key(t.as_str()))
                .collect();
            assert!(missing.is_empty(), "{code}.tsv lacks {missing:#?}");
            let stale: Vec<_> = catalog.keys().filter(|k| !marked.contains(**k)).collect();
            assert!(
                stale.is_empty(),
                "{code}.tsv translates texts no page shows: {stale:#?}"
            );
            for (english, translated) in &catalog {
                assert_eq!(
                    english.matches("{}").count(),
                    translated.matches("{}").count(),
                    "{code}.tsv: '{translated}' must keep the places of '{english}'"
                );
                assert!(
                    !translated.trim().is_empty(),
                    "{code}.tsv: '{english}' is blank"
                );
            }
            assert_ne!(lang.t("Sign out"), "Sign out", "{code} is not used");
        }
    }

    #[test]
    fn stored_codes_read_back() {
        for (code, _) in Lang::choices() {
            assert_eq!(Lang::from_code(code).code(), code);
        }
        assert_eq!(Lang::from_code("xx"), Lang::En);
    }
}
