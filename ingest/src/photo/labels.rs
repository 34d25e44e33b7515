//! What the words on a counter screen or page mean: labels in the wordings and languages
//! vendors use, mapped to counter kinds; and counter values, told apart from the other
//! numbers around them (addresses, versions, dates, phone numbers).

/// What a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Counter(&'static str),
    Serial,
}

/// Words that name the colour counter. Checked first: "Colour Total" is the colour counter.
const COLOUR: &[&str] = &[
    "color",
    "colour",
    "colors",
    "colours",
    "farbe",
    "farbig",
    "vollfarbe",
    "couleur",
    "couleurs",
    "colore",
    "colori",
    "kleur",
    "fullcolor",
    "fullcolour",
];
/// Words that name the black-and-white counter.
const MONO: &[&str] = &[
    "black",
    "mono",
    "monochrome",
    "bw",
    "b/w",
    "biw",
    "b/vv",
    "schwarz",
    "schwarzweiss",
    "sw",
    "s/w",
    "noir",
    "n&b",
    "nb",
    "monochrom",
    "monocromo",
    "zwart",
];
/// Words that name the total counter.
const TOTAL: &[&str] = &[
    "total",
    "totals",
    "counter",
    "gesamt",
    "gesamtzahler",
    "zahler",
    "compteur",
    "totale",
    "totaal",
    "101",
    "grand",
    "meter",
    "impressions",
];
/// Words that say a number is something else, even beside a counter word
/// ("Total A4", "Colour toner").
const NOT_A_COUNTER: &[&str] = &[
    "a3", "a4", "a5", "b4", "b5", "letter", "legal", "ledger", "tabloid", "toner", "date", "datum",
    "phone", "tel", "telefon", "fax", "ip", "firmware", "version", "mac", "scan", "scans", "fax",
    "drum", "level", "page", "list", "rate",
];
const SERIAL: &[&str] = &[
    "serial",
    "serialno",
    "serialnumber",
    "seriennummer",
    "serien",
    "sn",
    "s/n",
    "serie",
    "numero",
    "machine",
];

/// The label a phrase (one OCR line's words before its value) names, if any.
pub fn label(phrase: &str) -> Option<Label> {
    let words = words(phrase);
    if words.is_empty() {
        return None;
    }
    let has = |set: &[&str]| words.iter().any(|w| set.iter().any(|s| similar(w, s)));
    // "B/W" comes back as "BIW", "BMW", "B/VV": a three-letter B?W is black and white
    let b_w = words.iter().any(|w| {
        let c: Vec<char> = w.chars().collect();
        (c.len() == 3 && c[0] == 'b' && c[2] == 'w') || w == "b/vv"
    });
    if has(SERIAL) && !has(TOTAL) && !has(COLOUR) {
        return Some(Label::Serial);
    }
    if has(NOT_A_COUNTER) {
        return None;
    }
    if has(COLOUR) {
        return Some(Label::Counter("color"));
    }
    if has(MONO) || b_w {
        return Some(Label::Counter("mono"));
    }
    if has(TOTAL) {
        return Some(Label::Counter("total"));
    }
    None
}

/// Words that belong to labels ("Number" in "Serial Number"), never a serial number.
pub fn is_label_word(text: &str) -> bool {
    let w = text.to_lowercase();
    [
        "number", "nummer", "no", "nr", "num", "numero", "serial", "serie",
    ]
    .contains(&w.trim_end_matches('.'))
}

/// Lower-case words with accents folded: "Schwarzweiß" → "schwarzweiss", "B/W" stays "b/w".
fn words(phrase: &str) -> Vec<String> {
    let mut folded = String::new();
    for c in phrase.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' | 'à' | 'â' | 'á' => folded.push('a'),
            'ö' | 'ô' | 'ó' => folded.push('o'),
            'ü' | 'û' | 'ù' | 'ú' => folded.push('u'),
            'é' | 'è' | 'ê' | 'ë' => folded.push('e'),
            'î' | 'ï' | 'í' => folded.push('i'),
            'ç' => folded.push('c'),
            'ß' => folded.push_str("ss"),
            c if c.is_alphanumeric() || c == '/' || c == '&' => folded.push(c),
            _ => folded.push(' '),
        }
    }
    let mut out: Vec<String> = folded.split_whitespace().map(str::to_owned).collect();
    // "Black & White", "Full Color", "Serial No." read as one word too
    let joined: Vec<String> = out
        .windows(2)
        .map(|w| format!("{}{}", w[0], w[1]))
        .collect();
    out.extend(joined);
    out
}

/// Equal, or one OCR slip apart for words of five letters or more ("Colour" read "Co1our").
fn similar(word: &str, known: &str) -> bool {
    if word == known {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (word.chars().collect(), known.chars().collect());
    if b.len() < 5 || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    edit_distance(&a, &b) <= 1
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// A counter value as printed: digits, optionally grouped by thousands with `,` `.` `'` or a
/// space (all groups of three after the first), optionally zero-padded. Anything else — an
/// IP address, a version, a date, a phone number, a decimal — is not a counter.
pub fn count(text: &str) -> Option<u64> {
    let text = text.trim_matches(|c: char| matches!(c, ':' | ';' | '|' | '(' | ')' | '[' | ']'));
    if text.is_empty() || text.chars().filter(char::is_ascii_digit).count() > 10 {
        return None;
    }
    let separators: Vec<char> = text.chars().filter(|c| !c.is_ascii_digit()).collect();
    if let Some(&sep) = separators.first() {
        if !matches!(sep, ',' | '.' | '\'' | ' ' | '\u{a0}' | '\u{202f}')
            || separators.iter().any(|&c| c != sep)
        {
            return None;
        }
        let groups: Vec<&str> = text.split(sep).collect();
        let first = groups[0].len();
        if !(1..=3).contains(&first) || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// A serial number as printed: 5–20 letters and digits (dashes allowed inside).
pub fn serial(text: &str) -> Option<String> {
    let text = text.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let ok = (5..=20).contains(&text.len())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && text.chars().any(|c| c.is_ascii_alphanumeric());
    ok.then(|| text.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_many_wordings_and_languages_name_their_counter() {
        for (phrase, kind) in [
            ("Total Counter", "total"),
            ("Total Count", "total"),
            ("TOTAL", "total"),
            ("COUNTER", "total"),
            ("101", "total"),
            ("Gesamtzähler", "total"),
            ("Compteur total", "total"),
            ("Black & White", "mono"),
            ("B/W", "mono"),
            ("BIW", "mono"),
            ("BMW", "mono"),
            ("Black", "mono"),
            ("Schwarzweiß", "mono"),
            ("Noir et blanc", "mono"),
            ("Full Color", "color"),
            ("Colour", "color"),
            ("Farbe", "color"),
            ("Couleur", "color"),
            ("Co1our", "color"),
            ("Total Colour", "color"),
        ] {
            assert_eq!(label(phrase), Some(Label::Counter(kind)), "{phrase}");
        }
    }

    #[test]
    fn distractor_labels_name_no_counter() {
        for phrase in [
            "IP Address",
            "Firmware",
            "Date",
            "A4",
            "Letter",
            "Phone",
            "Model",
            "Total A4",
            "Colour toner level",
            "Print List",
            "Usage Page",
        ] {
            assert_eq!(label(phrase), None, "{phrase}");
        }
        assert_eq!(label("Serial No."), Some(Label::Serial));
        assert_eq!(label("Serial Number"), Some(Label::Serial));
        assert_eq!(label("Seriennummer"), Some(Label::Serial));
    }

    #[test]
    fn counter_values_parse_with_separators_and_padding() {
        assert_eq!(count("1176525"), Some(1_176_525));
        assert_eq!(count("606,062"), Some(606_062));
        assert_eq!(count("0570463"), Some(570_463));
        assert_eq!(count("1.234.567"), Some(1_234_567));
        assert_eq!(count("1 234 567"), Some(1_234_567));
        assert_eq!(count("1'234"), Some(1_234));
    }

    #[test]
    fn other_numbers_are_not_counter_values() {
        for text in [
            "192.168.151.10",
            "1.60.932",
            "2026/06/23",
            "09:02",
            "+1",
            "12,34",
            "1,234.567",
            "12345678901",
            "",
            "MP",
            "55%",
            "1,2345",
        ] {
            assert_eq!(count(text), None, "{text}");
        }
    }
}
