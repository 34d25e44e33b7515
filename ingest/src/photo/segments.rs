//! Seven-segment displays: the small LCD counters of copiers, which Tesseract's models do
//! not read. Each digit is seven bars; which bars are dark says the digit. The digits are
//! found as the tallest band of dark strokes, straightened (LCD digits lean), cut into
//! cells at the gaps between them, and each cell's bars are measured.

use image::GrayImage;
use imageproc::contrast::otsu_level;

/// A number read from a display.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayNumber {
    /// As shown, leading zeros included.
    pub digits: String,
    pub value: u64,
    /// 0–1: how clearly the least clear bar was on or off.
    pub clarity: f32,
}

/// A bar is on above this share of dark pixels in its region, off below `OFF`; in between
/// the digit is not read.
const ON: f32 = 0.28;
const OFF: f32 = 0.10;
/// Copier displays show at least six digits (zero-padded); fewer is not a counter.
const MIN_DIGITS: usize = 5;

/// Bars a–g (top, upper right, lower right, bottom, lower left, upper left, middle) as a
/// bit set (a = bit 0), for each digit, with the variants fonts use.
const DIGITS: &[(u8, char)] = &[
    (0b0111111, '0'),
    (0b0000110, '1'),
    (0b1011011, '2'),
    (0b1001111, '3'),
    (0b1100110, '4'),
    (0b1101101, '5'),
    (0b1111101, '6'),
    (0b1111100, '6'),
    (0b0000111, '7'),
    (0b0100111, '7'),
    (0b1111111, '8'),
    (0b1101111, '9'),
    (0b1100111, '9'),
];

/// Reads the largest seven-segment number in an upright cut, if every digit is clear.
pub fn read(cut: &GrayImage) -> Option<DisplayNumber> {
    let (w, h) = cut.dimensions();
    if w < 20 || h < 12 {
        return None;
    }
    // half-way between the ink and the glass (Otsu would split a grey frame off instead)
    let mut levels: Vec<u8> = cut.pixels().map(|p| p.0[0]).collect();
    let n = levels.len();
    let ink = *levels.select_nth_unstable(n / 50).1;
    let glass = *levels.select_nth_unstable(n * 3 / 4).1;
    let level = if glass > ink.saturating_add(40) {
        ((u16::from(ink) + u16::from(glass)) / 2) as u8
    } else {
        otsu_level(cut)
    };
    let mut dark: Vec<bool> = cut.pixels().map(|p| p.0[0] < level).collect();
    if dark.iter().filter(|&&d| d).count() * 2 > dark.len() {
        // light bars on a dark glass
        dark.iter_mut().for_each(|d| *d = !*d);
    }
    let at = |x: u32, y: u32| dark[(y * w + x) as usize];
    let (y0, y1) = tallest_band(w, h, &at)?;
    let height = (y1 - y0) as f32;
    if height < 12.0 {
        return None;
    }
    let points: Vec<(f32, u32)> = (y0..y1)
        .flat_map(|y| {
            (0..w)
                .filter(move |&x| at(x, y))
                .map(move |x| (x as f32, y))
        })
        .collect();
    let shear = best_shear(&points, y1, w);
    let straight = |x: f32, y: u32| x + shear * (y1 as f32 - y as f32);
    let mut columns = vec![0u32; (w as f32 * 1.5) as usize + 2];
    let offset = w as f32 * 0.25;
    for &(x, y) in &points {
        let c = (straight(x, y) + offset).max(0.0) as usize;
        if let Some(c) = columns.get_mut(c) {
            *c += 1;
        }
    }
    let mut cells = cells(&columns, height);
    // the frame around the glass, where the cut reaches it
    let (left, right) = (offset as usize + 2, (w as f32 + offset) as usize - 2);
    cells.retain(|&(a, b)| a > left && b < right);
    if cells.len() < MIN_DIGITS || cells.len() > 10 {
        return None;
    }
    // display digits share one width; a "1" is a lone bar
    let mut widths: Vec<usize> = cells
        .iter()
        .map(|(a, b)| b - a)
        .filter(|&wd| wd as f32 >= 0.3 * height)
        .collect();
    widths.sort_unstable();
    if let (Some(&narrow), Some(&wide)) = (widths.first(), widths.last())
        && (wide as f32) > narrow as f32 * 1.35
    {
        return None;
    }
    let mut digits = String::new();
    let mut clarity = 1.0f32;
    for (c0, c1) in cells {
        let width = (c1 - c0) as f32;
        // share of dark pixels in a region of the cell (u, v in 0..1 of width, height)
        let fill = |u0: f32, u1: f32, v0: f32, v1: f32| -> f32 {
            let (mut on, mut all) = (0u32, 0u32);
            let (ya, yb) = (y0 as f32 + v0 * height, y0 as f32 + v1 * height);
            for y in ya as u32..(yb as u32).min(y1) {
                let xa = c0 as f32 - offset + u0 * width - shear * (y1 as f32 - y as f32);
                let xb = c0 as f32 - offset + u1 * width - shear * (y1 as f32 - y as f32);
                for x in xa.max(0.0) as u32..(xb.max(0.0) as u32).min(w) {
                    all += 1;
                    on += u32::from(at(x, y));
                }
            }
            if all == 0 {
                0.0
            } else {
                on as f32 / all as f32
            }
        };
        let (digit, clear) = if width < 0.3 * height {
            // a lone upright bar: a "1", when it runs the full height in two halves
            let (top, bottom) = (fill(0.0, 1.0, 0.1, 0.45), fill(0.0, 1.0, 0.55, 0.9));
            if top > 0.5 && bottom > 0.5 {
                ('1', ((top.min(bottom) - 0.5) * 2.0).min(1.0))
            } else {
                return None;
            }
        } else {
            let bars = [
                fill(0.3, 0.7, 0.0, 0.14),
                fill(0.72, 1.0, 0.16, 0.42),
                fill(0.72, 1.0, 0.58, 0.84),
                fill(0.3, 0.7, 0.86, 1.0),
                fill(0.0, 0.28, 0.58, 0.84),
                fill(0.0, 0.28, 0.16, 0.42),
                fill(0.3, 0.7, 0.42, 0.58),
            ];
            let mut pattern = 0u8;
            let mut clear = 1.0f32;
            for (i, &f) in bars.iter().enumerate() {
                if f >= ON {
                    pattern |= 1 << i;
                    clear = clear.min(((f - ON) / ON).min(1.0));
                } else if f <= OFF {
                    clear = clear.min((OFF - f) / OFF);
                } else {
                    return None;
                }
            }
            let digit = DIGITS.iter().find(|(p, _)| *p == pattern)?.1;
            (digit, clear)
        };
        digits.push(digit);
        clarity = clarity.min(clear);
    }
    let value = digits.parse().ok()?;
    Some(DisplayNumber {
        digits,
        value,
        clarity,
    })
}

/// The tallest run of rows holding dark strokes: the digits (labels are smaller). Columns
/// dark nearly top to bottom (the display's frame, the case around it) do not count.
fn tallest_band(w: u32, h: u32, at: &impl Fn(u32, u32) -> bool) -> Option<(u32, u32)> {
    let frame: Vec<bool> = (0..w)
        .map(|x| (0..h).filter(|&y| at(x, y)).count() as u32 * 10 > h * 6)
        .collect();
    let floor = (w / 100).max(2);
    let mut best: Option<(u32, u32)> = None;
    let mut start = None;
    for y in 0..=h {
        // a row of strokes, not a row of the dark frame around the glass
        let count = if y < h {
            (0..w).filter(|&x| !frame[x as usize] && at(x, y)).count() as u32
        } else {
            0
        };
        let busy = count >= floor && count * 10 <= w * 6;
        match (busy, start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                if best.is_none_or(|(a, b)| y - s > b - a) {
                    best = Some((s, y));
                }
                start = None;
            }
            _ => {}
        }
    }
    best
}

/// The lean that opens the most empty columns between the digits.
fn best_shear(points: &[(f32, u32)], bottom: u32, w: u32) -> f32 {
    let mut best = (0usize, 0.0f32);
    for step in -14..=14 {
        let shear = step as f32 * 0.025;
        let mut columns = vec![false; (w as f32 * 1.5) as usize + 2];
        for &(x, y) in points {
            let c = (x + shear * (bottom as f32 - y as f32) + w as f32 * 0.25).max(0.0) as usize;
            if let Some(c) = columns.get_mut(c) {
                *c = true;
            }
        }
        let first = columns.iter().position(|&c| c).unwrap_or(0);
        let last = columns.iter().rposition(|&c| c).unwrap_or(0);
        let empty = columns[first..=last].iter().filter(|&&c| !c).count();
        if empty > best.0 || (empty == best.0 && shear.abs() < best.1.abs()) {
            best = (empty, shear);
        }
    }
    best.1
}

/// Runs of occupied columns, specks dropped.
fn cells(columns: &[u32], height: f32) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in columns.iter().chain(std::iter::once(&0)).enumerate() {
        match (c >= 2, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if (i - s) as f32 >= 0.06 * height {
                    out.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}
