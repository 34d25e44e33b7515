//! From OCR words to counters: a label phrase, then the number on its row to its right.

use super::labels::{self, Label};
use super::ocr::Word;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a value was read: the label and value words, the pass, Tesseract's confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// `total`, `mono`, `color` or `serial`.
    pub field: String,
    pub label: String,
    pub text: String,
    /// Tesseract's confidence in the value's words, 0–100 (the lowest of them).
    pub conf: f32,
    /// The value's box in the prepared image: left, top, width, height.
    pub value_box: [i32; 4],
    /// The label's box in the prepared image.
    pub label_box: [i32; 4],
    /// Which read it came from (`sparse`, `sparse-large`, …).
    pub pass: String,
}

/// What one pass read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub counters: BTreeMap<&'static str, (u64, Evidence)>,
    pub serial: Option<(String, Evidence)>,
    /// Counters named twice with different values.
    pub conflicts: Vec<String>,
    /// Values were paired with labels across rows that drift (perspective): only a sum
    /// proves such a pairing.
    pub drift: bool,
    /// Counters whose label was read but no value beside it (a display's digits, which
    /// Tesseract does not read).
    pub unvalued: Vec<&'static str>,
}

/// Pairs label phrases with the values on their rows.
pub fn find(words: &[Word], pass: &str) -> Found {
    let mut found = Found::default();
    let phrases = phrases(words);
    let rows = RowModel::fit(&phrases, words);
    let pitch = row_pitch(&phrases);
    for phrase in &phrases {
        let Some(kind) = labels::label(&phrase.text) else {
            continue;
        };
        let value = match kind {
            Label::Serial => serial_of(phrase, words, &rows),
            Label::Counter(_) => value_right_of(phrase, words, &rows)
                .or_else(|| value_below(phrase, words, &phrases)),
        };
        let Some((text, value_words)) = value else {
            if let Label::Counter(kind) = kind
                && !found.unvalued.contains(&kind)
            {
                found.unvalued.push(kind);
            }
            continue;
        };
        let conf = value_words.iter().map(|w| w.conf).fold(100.0, f32::min);
        let first = value_words[0];
        let last = value_words[value_words.len() - 1];
        let evidence = |field: &str| Evidence {
            field: field.to_owned(),
            label: phrase.text.clone(),
            text: text.clone(),
            conf,
            value_box: [
                first.left,
                first.top,
                last.right() - first.left,
                value_words.iter().map(|w| w.height).max().unwrap_or(0),
            ],
            label_box: [
                phrase.left,
                phrase.centre_y - phrase.height / 2,
                phrase.right - phrase.left,
                phrase.height,
            ],
            pass: pass.to_owned(),
        };
        match kind {
            Label::Serial => {
                if found.serial.is_none()
                    && let Some(serial) = labels::serial(&text)
                {
                    found.serial = Some((serial, evidence("serial")));
                }
            }
            Label::Counter(kind) => {
                let Some(value) = labels::count(&text) else {
                    continue;
                };
                match found.counters.get(kind) {
                    Some((seen, _)) if *seen != value => found.conflicts.push(kind.to_owned()),
                    Some(_) => {}
                    None => {
                        found.counters.insert(kind, (value, evidence(kind)));
                        found.drift |= rows.drift(phrase) > pitch * 0.3;
                    }
                }
            }
        }
    }
    found
}

/// The words of one Tesseract line that come before its first number: a label.
#[derive(Debug)]
struct Phrase {
    text: String,
    /// The phrase's last word, which may be a serial number after its label.
    last: Option<Word>,
    words: usize,
    left: i32,
    right: i32,
    centre_y: i32,
    height: i32,
}

fn phrases(words: &[Word]) -> Vec<Phrase> {
    let mut out: Vec<Phrase> = Vec::new();
    let mut current: Option<((u32, u32, u32), Phrase)> = None;
    let mut closed = false;
    for w in words {
        let same_line = current.as_ref().is_some_and(|(line, _)| *line == w.line);
        if !same_line {
            if let Some((_, p)) = current.take() {
                out.push(p);
            }
            closed = false;
        }
        if closed {
            continue;
        }
        // a number ends the label (but "101" alone is a label, and so is "B/W")
        let numeric = w.text.chars().any(|c| c.is_ascii_digit())
            && current.is_some()
            && labels::count(&w.text).is_some();
        if numeric {
            closed = true;
            continue;
        }
        match &mut current {
            Some((_, p)) => {
                p.text.push(' ');
                p.text.push_str(&w.text);
                p.right = w.right();
                p.last = Some(w.clone());
                p.words += 1;
                p.height = p.height.max(w.height);
            }
            None => {
                current = Some((
                    w.line,
                    Phrase {
                        text: w.text.clone(),
                        last: Some(w.clone()),
                        words: 1,
                        left: w.left,
                        right: w.right(),
                        centre_y: w.centre_y(),
                        height: w.height,
                    },
                ));
            }
        }
    }
    if let Some((_, p)) = current {
        out.push(p);
    }
    out
}

/// A display's layout: the number on the line right under its label ("TOTAL COUNTER" over
/// "0412077"). Only directly under the label — never a number of another row's column — and
/// only when no other label stands in between.
fn value_below<'w>(
    phrase: &Phrase,
    words: &'w [Word],
    phrases: &[Phrase],
) -> Option<(String, Vec<&'w Word>)> {
    let bottom = phrase.centre_y + phrase.height / 2;
    let reach = bottom + phrase.height * 5 / 2;
    let under = |left: i32| left >= phrase.left - phrase.height && left <= phrase.right;
    let value = words
        .iter()
        .filter(|w| w.top >= bottom && w.top <= reach && under(w.left))
        .min_by_key(|w| w.top)?;
    if !value.text.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let between = phrases.iter().any(|p| {
        p.centre_y > phrase.centre_y
            && p.centre_y < value.centre_y()
            && labels::count(&p.text).is_none()
            && p.left < phrase.right
    });
    (!between).then(|| (value.text.clone(), vec![value]))
}

/// A serial number: the label's own last word ("Serial No. ANLPKGBX" read as one line), or the
/// first word on its row to its right.
fn serial_of<'w>(
    phrase: &'w Phrase,
    words: &'w [Word],
    rows: &RowModel,
) -> Option<(String, Vec<&'w Word>)> {
    if phrase.words >= 2
        && let Some(last) = &phrase.last
        && labels::serial(&last.text).is_some()
        && labels::label(&last.text) != Some(Label::Serial)
        && !labels::is_label_word(&last.text)
        && labels::label(
            phrase
                .text
                .strip_suffix(last.text.as_str())
                .unwrap_or_default(),
        ) == Some(Label::Serial)
    {
        return Some((last.text.clone(), vec![last]));
    }
    let next = rows.row_right_of(phrase, words).into_iter().next()?;
    Some((next.text.clone(), vec![next]))
}

/// The first number on the phrase's row to its right, with the words it was read from;
/// thousands groups split into words ("1 234 567") are joined.
fn value_right_of<'w>(
    phrase: &Phrase,
    words: &'w [Word],
    rows: &RowModel,
) -> Option<(String, Vec<&'w Word>)> {
    let row = rows.row_right_of(phrase, words);
    let start = row
        .iter()
        .position(|w| w.text.chars().any(|c| c.is_ascii_digit()))?;
    // nothing but a separator may stand between label and value
    if row[..start]
        .iter()
        .any(|w| w.text.chars().any(char::is_alphanumeric))
    {
        return None;
    }
    let mut used = vec![row[start]];
    let mut text = row[start].text.clone();
    for w in &row[start + 1..] {
        let previous = used[used.len() - 1];
        let gap = w.left - previous.right();
        let group = w.text.len() == 3 && w.text.chars().all(|c| c.is_ascii_digit());
        if !group || gap > previous.height.max(w.height) {
            break;
        }
        text.push(' ');
        text.push_str(&w.text);
        used.push(w);
    }
    Some((text, used))
}

/// The distance between rows of writing: the median step between phrases' levels.
fn row_pitch(phrases: &[Phrase]) -> f32 {
    let mut ys: Vec<i32> = phrases.iter().map(|p| p.centre_y).collect();
    ys.sort_unstable();
    let typical = phrases.iter().map(|p| p.height).min().unwrap_or(0).max(1);
    let mut steps: Vec<i32> = ys
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d * 2 > typical)
        .collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied().unwrap_or(typical * 2) as f32
}

/// Where a label's row continues to its right: `dy = a + b·y`. On a flat, upright page the
/// values sit level with their labels (a = b = 0); on a page photographed in perspective
/// the value column drifts down or up the page against the label column, by up to half a
/// row or more. The model that lines up the most labels with a word to their right wins.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct RowModel {
    a: f32,
    b: f32,
}

impl RowModel {
    fn predict(&self, phrase: &Phrase) -> f32 {
        phrase.centre_y as f32 + self.a + self.b * phrase.centre_y as f32
    }

    fn tolerance(phrase: &Phrase) -> f32 {
        (phrase.height as f32 * 0.4).max(3.0)
    }

    /// The words on the phrase's row to its right, left to right.
    fn row_right_of<'w>(&self, phrase: &Phrase, words: &'w [Word]) -> Vec<&'w Word> {
        let y = self.predict(phrase);
        let tolerance = Self::tolerance(phrase);
        let mut row: Vec<&Word> = words
            .iter()
            .filter(|w| w.left >= phrase.right - 2 && (w.centre_y() as f32 - y).abs() <= tolerance)
            .collect();
        row.sort_by_key(|w| w.left);
        row
    }

    fn fit(phrases: &[Phrase], words: &[Word]) -> RowModel {
        // (phrase index, phrase y, word y) for every word that could be a phrase's value
        let mut pairs: Vec<(usize, f32, f32)> = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            for w in words {
                let dy = (w.centre_y() - p.centre_y) as f32;
                if w.left > p.right && dy.abs() <= 2.5 * p.height as f32 {
                    pairs.push((i, p.centre_y as f32, w.centre_y() as f32));
                }
            }
        }
        if pairs.len() > 400 {
            return RowModel::default();
        }
        let score = |model: &RowModel| -> (usize, f32) {
            let mut inliers = 0;
            let mut residual = 0.0;
            for (i, p) in phrases.iter().enumerate() {
                let y = model.predict(p);
                let best = pairs
                    .iter()
                    .filter(|(j, _, _)| *j == i)
                    .map(|(_, _, wy)| (wy - y).abs())
                    .fold(f32::INFINITY, f32::min);
                if best <= Self::tolerance(p) {
                    inliers += 1;
                    residual += best;
                }
            }
            (inliers, residual)
        };
        let level = score(&RowModel::default());
        let mut best = (RowModel::default(), (0, f32::INFINITY));
        let mut consider = |model: RowModel| {
            if model.b.abs() > 0.2 {
                return;
            }
            let s = score(&model);
            let better = s.0 > best.1.0 || (s.0 == best.1.0 && s.1 < best.1.1 - 1e-3);
            if better {
                best = (model, s);
            }
        };
        for &(_, py, wy) in &pairs {
            consider(RowModel { a: wy - py, b: 0.0 });
        }
        for (k, &(i, py1, wy1)) in pairs.iter().enumerate() {
            for &(j, py2, wy2) in &pairs[k + 1..] {
                if i == j || (py2 - py1).abs() < 1.0 {
                    continue;
                }
                let b = ((wy2 - py2) - (wy1 - py1)) / (py2 - py1);
                consider(RowModel {
                    a: (wy1 - py1) - b * py1,
                    b,
                });
            }
        }
        // level rows win unless drifting rows pair clearly more labels: a page read with
        // half its labels missing must not slide its values one row up (a drift of one
        // whole row pairs every label but the last with the next row's value)
        if best.1.0 >= level.0 + 2 && best.1.0 * 2 >= level.0 * 3 {
            best.0
        } else {
            RowModel::default()
        }
    }

    /// How far from its own level a phrase's value is looked for. Beyond a third of the
    /// way to the next row, pairing by position starts to be a guess.
    fn drift(&self, phrase: &Phrase) -> f32 {
        (self.predict(phrase) - phrase.centre_y as f32).abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, left: i32, top: i32, line: u32) -> Word {
        Word {
            text: text.into(),
            conf: 95.0,
            left,
            top,
            width: 12 * text.len() as i32,
            height: 20,
            line: (1, 1, line),
        }
    }

    #[test]
    fn labels_take_the_number_on_their_row_even_in_another_column() {
        let words = [
            word("Total", 10, 100, 1),
            word("Count", 80, 100, 1),
            word("IP", 10, 130, 2),
            word("Address", 40, 130, 2),
            word("Black", 10, 160, 3),
            word("&", 80, 160, 3),
            word("White", 100, 160, 3),
            word("1176525", 400, 102, 4),
            word("192.168.1.10", 400, 131, 5),
            word("606,062", 400, 158, 6),
        ];
        let found = find(&words, "test");
        assert_eq!(found.counters["total"].0, 1_176_525);
        assert_eq!(found.counters["mono"].0, 606_062);
        assert_eq!(found.counters.len(), 2);
        assert_eq!(found.counters["mono"].1.label, "Black & White");
    }

    #[test]
    fn values_stay_on_their_row_when_most_labels_were_not_read() {
        // Tesseract missed the labels of four rows: the values of those rows must not pull
        // the remaining labels one row down
        let words = [
            word("Model", 10, 100, 1),
            word("TASKalfa", 400, 100, 2),
            word("IP", 10, 180, 3),
            word("192.168.1.1", 400, 180, 4),
            word("7.35.120", 400, 260, 5),
            word("Total", 10, 340, 6),
            word("1023386", 400, 340, 7),
            word("Black", 10, 420, 8),
            word("444,384", 400, 420, 9),
            word("29023", 400, 500, 10),
            word("9160", 400, 580, 11),
        ];
        let found = find(&words, "t");
        assert!(!found.drift);
        assert_eq!(found.counters["total"].0, 1_023_386);
        assert_eq!(found.counters["mono"].0, 444_384);
    }

    #[test]
    fn a_display_number_under_its_label_is_its_value_but_not_one_in_another_column() {
        let words = [
            word("TOTAL", 30, 40, 1),
            word("COUNTER", 110, 40, 1),
            word("0412077", 70, 80, 2),
        ];
        assert_eq!(find(&words, "t").counters["total"].0, 412_077);
        // a page whose "Total" value was not read: the next row's value is not under the label
        let words = [
            word("Total", 10, 100, 1),
            word("A4", 10, 140, 2),
            word("45861", 400, 140, 3),
        ];
        assert!(find(&words, "t").counters.is_empty());
    }

    #[test]
    fn thousands_groups_split_into_words_are_joined() {
        let words = [
            word("Total", 10, 100, 1),
            word("1", 300, 100, 1),
            word("234", 318, 100, 1),
            word("567", 360, 100, 1),
        ];
        assert_eq!(find(&words, "t").counters["total"].0, 1_234_567);
    }

    #[test]
    fn a_counter_read_twice_differently_is_a_conflict() {
        let words = [
            word("Total", 10, 100, 1),
            word("1000", 300, 100, 1),
            word("Total", 10, 200, 2),
            word("1001", 300, 200, 2),
        ];
        let found = find(&words, "t");
        assert_eq!(found.conflicts, vec!["total".to_owned()]);
    }

    #[test]
    fn a_value_column_drifting_half_a_row_in_perspective_still_pairs_row_by_row() {
        // labels every 40 px; the values drift from +18 px to +26 px below their labels
        let rows = [
            ("Model", "MPC3004"),
            ("IP", "192.168.1.10"),
            ("Total", "0776407"),
            ("B/W", "601870"),
            ("Colour", "174,537"),
            ("A4", "8883"),
            ("Phone", "5550199"),
        ];
        let mut words = Vec::new();
        for (i, (label, value)) in rows.iter().enumerate() {
            let y = 100 + 40 * i as i32;
            words.push(word(label, 10, y, 2 * i as u32));
            words.push(word(
                value,
                400,
                y + 18 + (i as i32 * 8) / 6,
                2 * i as u32 + 1,
            ));
        }
        let found = find(&words, "t");
        assert!(found.drift);
        assert_eq!(found.counters["total"].0, 776_407);
        assert_eq!(found.counters["mono"].0, 601_870);
        assert_eq!(found.counters["color"].0, 174_537);
    }
}
