//! Deciding what a photo says and whether it may be taken without review.
//!
//! A photo may be auto-accepted only when it proves its own numbers:
//! - the colour and black-and-white counters add up to the total (a misread digit in any of
//!   the three breaks the sum), or
//! - two reads of the writing at different scales — different pixels for Tesseract — agree
//!   on every counter, with high confidence.
//!
//! Counters that break physics (black-and-white above the total), a counter named twice
//! with different values, or a single read send the photo to review with its candidates.

use super::decode::Photo;
use super::ocr::{self, Engine, Pass};
use super::read::{self, Found};
use super::{PhotoError, PhotoExtraction, labels, prepare, segments};
use crate::email::report::DeviceReading;
use serde::Serialize;
use std::collections::BTreeMap;

/// Below this Tesseract confidence (0–100) two agreeing reads are still not proof.
const AGREEING_READS_MIN_CONF: f32 = 70.0;
/// A photo with fewer legible words than this is not binarised for another look.
const MIN_LEGIBLE_WORDS: usize = 3;
/// A binarised cut darker than this is specks, not writing: Tesseract would spend minutes on
/// it and read nothing.
const MAX_BINARISED_INK: f32 = 0.15;
/// Display digits: the least clear bar's clarity (0–100) two agreeing reads need.
const DISPLAY_MIN_CLARITY: f32 = 50.0;
/// Below this even adding up is not trusted (the words may not be the numbers).
const SUM_MIN_CONF: f32 = 40.0;
/// The word height of the first read (Tesseract reads 25–40 px capitals best).
const FIRST_READ_LINE: f32 = 34.0;
/// The word height of the second read: other pixels for the same writing.
const SECOND_READ_LINE: f32 = 26.0;
/// Below this contrast (grey levels of 255) a photo is too dim for its OCR confidences to
/// mean much: whatever is read goes to review.
const MIN_CONTRAST: f32 = 80.0;

/// One value read for one counter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub counter: String,
    pub value: u64,
    /// 0–1: Tesseract's confidence in the best read of this value.
    pub confidence: f64,
    /// How many of the reads gave this value.
    pub reads: u32,
}

/// Reads the photo: one pass at the estimated text size; when the words Tesseract found are
/// not the size aimed at, again at the measured size; then, unless the counters already add
/// up, once more at a larger size for an independent second read.
pub fn decide(photo: &Photo, engine: &mut Engine) -> Result<PhotoExtraction, PhotoError> {
    let Some(mut layout) = prepare::layout(&photo.grey) else {
        return Ok(nothing("no writing found in the photo"));
    };
    let mut reads = Vec::new();
    let (first, quality) = prepare::upright_measured(&photo.grey, &layout, FIRST_READ_LINE);
    let words = engine.words(&first, Pass::Sparse)?;
    let found = read::find(&words, "sparse");
    let mut legible = confident_words(&words);
    let measured = typical_height(&words);
    let aimed = FIRST_READ_LINE.min(first.height() as f32);
    let off_scale = measured.is_some_and(|h| (h - aimed).abs() > aimed * 0.25);
    let mut read_scale = prepare::cut_scale(&layout, FIRST_READ_LINE);
    if off_scale && !adds_up(&found) {
        // the layout's estimate was off: trust the words' own height from now on
        layout.line_height = measured.unwrap_or(aimed) / read_scale;
        read_scale = prepare::cut_scale(&layout, FIRST_READ_LINE);
        let again = prepare::upright(&photo.grey, &layout, FIRST_READ_LINE);
        let words = engine.words(&again, Pass::Sparse)?;
        legible = confident_words(&words);
        reads.push(read::find(&words, "sparse-rescaled"));
    } else {
        reads.push(found);
    }
    let display_label = reads[0].counters.is_empty() && reads[0].unvalued.contains(&"total");
    if reads[0].counters.is_empty() {
        // a seven-segment display: its digits are bars, not letters
        let mut display = Found::default();
        for (width, pass) in [(1000.0, "display"), (1400.0, "display-large")] {
            let cut = prepare::upright_width(&photo.grey, &layout, width);
            if let Some(number) = segments::read(&cut) {
                display.counters.insert(
                    "total",
                    (
                        number.value,
                        read::Evidence {
                            field: "total".into(),
                            label: if display_label {
                                "total".into()
                            } else {
                                String::new()
                            },
                            text: number.digits.clone(),
                            conf: number.clarity * 100.0,
                            value_box: [0, 0, cut.width() as i32, cut.height() as i32],
                            label_box: [0, 0, 0, 0],
                            pass: pass.into(),
                        },
                    ),
                );
                reads.push(std::mem::take(&mut display));
            }
        }
        if reads.len() > 1 {
            reads.remove(0);
            let mut extraction = combine(&reads);
            if !display_label && extraction.accept {
                extraction.accept = false;
                extraction
                    .warnings
                    .push("a display number without a readable label".to_owned());
            }
            return Ok(finish(extraction, quality));
        }
    }
    // Uneven light (a glare spot, a shadow across the page) can hide a whole column from
    // Tesseract: a binarised cut, thresholded against each pixel's neighbourhood, evens it
    // out. When that finds the counters, the second read is binarised too.
    // Only where Tesseract read other words with confidence: a blurred photo binarises into
    // a field of specks that costs Tesseract minutes and reads nothing.
    let mut binarised = false;
    if reads[0].counters.is_empty() && reads[0].unvalued.is_empty() && legible {
        let cut = prepare::binarised(&prepare::upright(&photo.grey, &layout, FIRST_READ_LINE));
        let ink = cut.pixels().filter(|p| p.0[0] < 128).count() as f32 / cut.len().max(1) as f32;
        let found = if ink <= MAX_BINARISED_INK {
            read::find(&engine.words(&cut, Pass::Sparse)?, "binarised")
        } else {
            Found::default()
        };
        if !found.counters.is_empty() {
            reads[0] = found;
            binarised = true;
        }
    }
    let nothing_to_confirm = reads[0].counters.is_empty() && reads[0].unvalued.is_empty();
    if !adds_up(&reads[0]) && !nothing_to_confirm {
        // a closer look at just the rows the counters were found on, larger: other pixels
        let boxes = reads[0]
            .counters
            .values()
            .flat_map(|(_, e)| [e.value_box, e.label_box]);
        let region = boxes.reduce(|a, b| {
            let (l, t) = (a[0].min(b[0]), a[1].min(b[1]));
            let (r, bt) = (
                (a[0] + a[2]).max(b[0] + b[2]),
                (a[1] + a[3]).max(b[1] + b[3]),
            );
            [l, t, r - l, bt - t]
        });
        let closer = match region {
            Some(region) => prepare::within(&layout, read_scale, region, layout.line_height * 3.0),
            None => layout,
        };
        let mut second = prepare::upright(&photo.grey, &closer, SECOND_READ_LINE);
        let mut pass = "sparse-closer";
        if binarised {
            second = prepare::binarised(&second);
            pass = "binarised-closer";
        }
        reads.push(read::find(&engine.words(&second, Pass::Sparse)?, pass));
        // where the two reads differ, a third, digits-only look at the first read's value
        // decides which candidate is shown first; differing reads are never taken as read
        let disputed: Vec<&'static str> = reads[0]
            .counters
            .iter()
            .filter(|(k, (v, _))| reads[1].counters.get(*k).is_none_or(|(w, _)| w != v))
            .map(|(k, _)| *k)
            .collect();
        if !disputed.is_empty() {
            let image = first_image(&photo.grey, &layout, binarised);
            let mut digits = Found::default();
            for kind in disputed {
                let value_box = reads[0].counters[kind].1.value_box;
                if let Some((value, evidence)) = digits_of(engine, &image, value_box, kind)? {
                    digits.counters.insert(kind, (value, evidence));
                }
            }
            if !digits.counters.is_empty() {
                reads.push(digits);
            }
        }
    }
    Ok(finish(combine(&reads), quality))
}

/// The checks on the photo as a whole, after the counters are decided.
fn finish(mut extraction: PhotoExtraction, quality: prepare::Quality) -> PhotoExtraction {
    if quality.contrast < MIN_CONTRAST && extraction.accept {
        extraction.accept = false;
        extraction.warnings.push(format!(
            "the photo is too dim to take without review (contrast {:.0} of 255)",
            quality.contrast
        ));
    }
    extraction.quality = Some(quality);
    extraction
}

/// The image the first read was made on (made again: cheaper than keeping every cut).
fn first_image(
    grey: &image::GrayImage,
    layout: &prepare::Layout,
    binarised: bool,
) -> image::GrayImage {
    let cut = prepare::upright(grey, layout, FIRST_READ_LINE);
    if binarised {
        prepare::binarised(&cut)
    } else {
        cut
    }
}

/// A value read again from its own box alone, digits only.
pub fn digits_of(
    engine: &mut Engine,
    image: &image::GrayImage,
    [left, top, width, height]: [i32; 4],
    kind: &str,
) -> Result<Option<(u64, read::Evidence)>, PhotoError> {
    let margin = height / 2;
    let x = (left - margin).max(0) as u32;
    let y = (top - margin).max(0) as u32;
    let w = ((width + 2 * margin) as u32).min(image.width().saturating_sub(x));
    let h = ((height + 2 * margin) as u32).min(image.height().saturating_sub(y));
    if w < 4 || h < 4 {
        return Ok(None);
    }
    let crop = image::imageops::crop_imm(image, x, y, w, h).to_image();
    let words = engine.words(&crop, Pass::Digits)?;
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let text = text.join(" ");
    let conf = words.iter().map(|w| w.conf).fold(100.0, f32::min);
    Ok(labels::count(&text).map(|value| {
        (
            value,
            read::Evidence {
                field: kind.to_owned(),
                label: String::new(),
                text,
                conf,
                value_box: [left, top, width, height],
                label_box: [0, 0, 0, 0],
                pass: "digits".into(),
            },
        )
    }))
}

/// Whether Tesseract read the photo's words with confidence, most of them: a sign the photo is
/// legible at all (a blur reads as many short, unsure "words").
fn confident_words(words: &[ocr::Word]) -> bool {
    let long: Vec<&ocr::Word> = words
        .iter()
        .filter(|w| w.text.chars().filter(|c| c.is_alphanumeric()).count() >= 3)
        .collect();
    let sure = long.iter().filter(|w| w.conf >= 85.0).count();
    sure >= MIN_LEGIBLE_WORDS && sure * 2 >= long.len()
}

/// The median height of the words Tesseract is fairly sure of.
fn typical_height(words: &[ocr::Word]) -> Option<f32> {
    let mut heights: Vec<i32> = words
        .iter()
        .filter(|w| w.conf >= 60.0 && w.text.chars().filter(|c| c.is_alphanumeric()).count() >= 3)
        .map(|w| w.height)
        .collect();
    if heights.len() < 2 {
        return None;
    }
    heights.sort_unstable();
    Some(heights[heights.len() / 2] as f32)
}

fn nothing(warning: &str) -> PhotoExtraction {
    PhotoExtraction {
        kind: "photo",
        devices: Vec::new(),
        warnings: vec![warning.to_owned()],
        accept: false,
        evidence: Vec::new(),
        candidates: Vec::new(),
        quality: None,
    }
}

/// Total = black-and-white + colour, all three read with some confidence.
fn adds_up(found: &Found) -> bool {
    let c = &found.counters;
    match (c.get("total"), c.get("mono"), c.get("color")) {
        (Some(t), Some(m), Some(k)) => {
            t.0 == m.0 + k.0
                && found.conflicts.is_empty()
                && [t, m, k].iter().all(|v| v.1.conf >= SUM_MIN_CONF)
        }
        _ => false,
    }
}

/// Merges the reads into candidates, picks a value per counter and decides `accept`.
pub fn combine(reads: &[Found]) -> PhotoExtraction {
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut evidence = Vec::new();
    for found in reads {
        for (kind, (value, seen)) in &found.counters {
            match candidates
                .iter_mut()
                .find(|c| c.counter == *kind && c.value == *value)
            {
                Some(c) => {
                    c.reads += 1;
                    c.confidence = c.confidence.max(f64::from(seen.conf) / 100.0);
                }
                None => candidates.push(Candidate {
                    counter: (*kind).to_owned(),
                    value: *value,
                    confidence: f64::from(seen.conf) / 100.0,
                    reads: 1,
                }),
            }
            evidence.push(seen.clone());
        }
        if let Some((_, seen)) = &found.serial {
            evidence.push(seen.clone());
        }
    }
    candidates.sort_by(|a, b| {
        a.counter
            .cmp(&b.counter)
            .then(b.reads.cmp(&a.reads))
            .then(b.confidence.total_cmp(&a.confidence))
    });
    let mut chosen: BTreeMap<String, u64> = BTreeMap::new();
    for c in &candidates {
        chosen.entry(c.counter.clone()).or_insert(c.value);
    }
    let serial = reads
        .iter()
        .find_map(|f| f.serial.as_ref().map(|(s, _)| s.clone()))
        .unwrap_or_default();

    let mut warnings = Vec::new();
    let conflicts = reads.iter().any(|f| !f.conflicts.is_empty());
    if conflicts {
        warnings.push("a counter is shown twice with different values".to_owned());
    }
    let disputed: Vec<&str> = chosen
        .keys()
        .filter(|k| candidates.iter().filter(|c| &c.counter == *k).count() > 1)
        .map(String::as_str)
        .collect();
    if !disputed.is_empty() {
        warnings.push(format!("reads disagree on {}", disputed.join(", ")));
    }
    let total = chosen.get("total").copied();
    for part in ["mono", "color"] {
        if let (Some(t), Some(p)) = (total, chosen.get(part))
            && *p > t
        {
            warnings.push(format!("the {part} counter is larger than the total"));
        }
    }
    let sum_proves = reads.iter().any(|f| {
        adds_up(f)
            && f.counters
                .iter()
                .all(|(k, (v, _))| chosen.get(*k) == Some(v))
    });
    if let (Some(t), Some(m), Some(k)) = (total, chosen.get("mono"), chosen.get("color"))
        && t != m + k
    {
        warnings.push(format!(
            "black-and-white {m} + colour {k} does not add up to the total {t}"
        ));
    }
    let agreeing = reads.len() >= 2
        && reads.iter().all(|f| !f.drift)
        && !chosen.is_empty()
        && chosen.iter().all(|(k, v)| {
            reads.iter().all(|f| {
                f.counters.get(k.as_str()).is_some_and(|(seen, e)| {
                    let needed = if e.pass.starts_with("display") {
                        DISPLAY_MIN_CLARITY
                    } else {
                        AGREEING_READS_MIN_CONF
                    };
                    seen == v && e.conf >= needed
                })
            })
        });
    if total.is_none() && !chosen.is_empty() {
        warnings.push("no total counter found".to_owned());
    }
    if chosen.contains_key("color") && !chosen.contains_key("mono") {
        warnings.push("a colour counter but no black-and-white counter was read".to_owned());
    }
    let accept = warnings.is_empty() && total.is_some() && (sum_proves || agreeing);
    if chosen.is_empty() {
        warnings.push("no counter found in the photo".to_owned());
    } else if !accept && warnings.is_empty() {
        warnings.push("read once only: needs a person to confirm".to_owned());
    }
    let lowest = chosen
        .iter()
        .filter_map(|(k, v)| {
            candidates
                .iter()
                .find(|c| &c.counter == k && c.value == *v)
                .map(|c| c.confidence)
        })
        .fold(1.0, f64::min);
    let devices = if chosen.is_empty() {
        Vec::new()
    } else {
        vec![DeviceReading {
            serial,
            model: None,
            read_at: None,
            counters: chosen,
            confidence: if accept { lowest } else { lowest.min(0.5) },
        }]
    };
    PhotoExtraction {
        kind: "photo",
        devices,
        warnings,
        accept,
        evidence,
        candidates,
        quality: None,
    }
}

/// With a known device: checks the chosen values against its last accepted readings
/// (`last`, by counter). A value below the last reading (a dropped digit, a misread one) is
/// replaced by another read's candidate at or above it when there is one; a value more than
/// double a sizeable last reading (an added digit) is kept but not taken. Either way the
/// photo goes to review, with the reason.
pub fn check_against_history(extraction: &mut PhotoExtraction, last: &BTreeMap<String, u64>) {
    let Some(device) = extraction.devices.first_mut() else {
        return;
    };
    for (counter, value) in device.counters.iter_mut() {
        let Some(&floor) = last.get(counter) else {
            continue;
        };
        if *value < floor {
            let better = extraction
                .candidates
                .iter()
                .filter(|c| &c.counter == counter && c.value >= floor)
                .min_by_key(|c| c.value - floor);
            match better {
                Some(c) => {
                    extraction.warnings.push(format!(
                        "{counter}: {value} is below the last reading {floor}; another read, {}, is consistent with it",
                        c.value
                    ));
                    *value = c.value;
                }
                None => extraction.warnings.push(format!(
                    "{counter}: {value} is below the last reading {floor}"
                )),
            }
            extraction.accept = false;
        } else if floor >= 10_000 && *value > floor.saturating_mul(2) {
            extraction.warnings.push(format!(
                "{counter}: {value} is more than double the last reading {floor} (an extra digit?)"
            ));
            extraction.accept = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extraction(total: u64, candidates: &[u64]) -> PhotoExtraction {
        PhotoExtraction {
            kind: "photo",
            devices: vec![DeviceReading {
                serial: String::new(),
                model: None,
                read_at: None,
                counters: BTreeMap::from([("total".to_owned(), total)]),
                confidence: 0.9,
            }],
            warnings: Vec::new(),
            accept: true,
            evidence: Vec::new(),
            candidates: candidates
                .iter()
                .map(|&value| Candidate {
                    counter: "total".into(),
                    value,
                    confidence: 0.9,
                    reads: 1,
                })
                .collect(),
            quality: None,
        }
    }

    #[test]
    fn reads_that_differ_are_never_taken_and_the_majority_is_shown_first() {
        let found = |value: u64, pass: &str, conf: f32| {
            let mut f = Found::default();
            f.counters.insert(
                "total",
                (
                    value,
                    read::Evidence {
                        field: "total".into(),
                        label: "Total".into(),
                        text: value.to_string(),
                        conf,
                        value_box: [0, 0, 1, 1],
                        label_box: [0, 0, 1, 1],
                        pass: pass.into(),
                    },
                ),
            );
            f
        };
        let e = combine(&[
            found(1_764_276, "sparse", 95.0),
            found(1_764_278, "sparse-closer", 97.0),
            found(1_764_276, "digits", 90.0),
        ]);
        assert!(!e.accept);
        assert_eq!(e.devices[0].counters["total"], 1_764_276);
        assert!(
            e.warnings.iter().any(|w| w.contains("disagree")),
            "{:?}",
            e.warnings
        );
        assert_eq!(e.candidates.len(), 2);
    }

    #[test]
    fn a_value_below_the_last_reading_takes_the_candidate_consistent_with_history_for_review() {
        let last = BTreeMap::from([("total".to_owned(), 1_764_100)]);
        // a dropped digit in the best read, the right number in the other
        let mut e = extraction(176_427, &[176_427, 1_764_276]);
        check_against_history(&mut e, &last);
        assert_eq!(e.devices[0].counters["total"], 1_764_276);
        assert!(!e.accept);
        assert!(
            e.warnings[0].contains("below the last reading"),
            "{:?}",
            e.warnings
        );
        // no consistent candidate: kept, not taken
        let mut e = extraction(176_427, &[176_427]);
        check_against_history(&mut e, &last);
        assert_eq!(e.devices[0].counters["total"], 176_427);
        assert!(!e.accept);
    }

    #[test]
    fn an_added_digit_is_not_taken_and_a_plausible_value_is_left_alone() {
        let last = BTreeMap::from([("total".to_owned(), 1_764_100)]);
        let mut e = extraction(17_642_760, &[17_642_760]);
        check_against_history(&mut e, &last);
        assert!(!e.accept);
        let mut e = extraction(1_766_000, &[1_766_000]);
        check_against_history(&mut e, &last);
        assert!(e.accept);
        assert!(e.warnings.is_empty());
    }
}
