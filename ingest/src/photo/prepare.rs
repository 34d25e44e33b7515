//! Preparing a photo for OCR: find where the writing is, how it is turned, and how big it
//! is, then cut that part out upright, at the size Tesseract reads best, with its contrast
//! stretched. Works on any subject (a panel, a page, a display) against any background: it
//! looks for strokes, not for a particular frame.

use image::{GrayImage, Luma};
use imageproc::filter::{box_filter, gaussian_blur_f32};
use serde::Serialize;

/// The side of the small image the layout is measured on.
const ANALYSIS_SIDE: u32 = 800;
/// The height text lines are scaled to (Tesseract is best at 25–40 px capitals).
const TARGET_LINE: f32 = 34.0;
/// Turns beyond this are not searched: a photo of a panel is rarely held at more than 30°.
const MAX_SKEW_DEG: f32 = 30.0;

/// Where the writing is in the working image, in its own upright frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Counter-clockwise turn of the writing, in degrees.
    pub skew_deg: f32,
    /// The writing's box, in working-image pixels measured along the turned axes
    /// (x' = x·cos + y·sin, y' = −x·sin + y·cos).
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    /// Typical height of a line of writing, working-image pixels.
    pub line_height: f32,
    /// Share of the analysis image that looks like strokes (0 for a blank or smooth photo).
    pub ink: f32,
}

/// Measures the layout of a working grey image.
pub fn layout(working: &GrayImage) -> Option<Layout> {
    let small = super::decode::shrink(working.clone(), ANALYSIS_SIDE);
    let factor = working.width() as f32 / small.width() as f32;
    let points = stroke_points(&small);
    let total = (small.width() * small.height()) as f32;
    if points.len() < 200 {
        return None;
    }
    let skew = best_skew(&points);
    let (sin, cos) = skew.to_radians().sin_cos();
    let mut xs: Vec<f32> = points.iter().map(|&(x, y)| x * cos + y * sin).collect();
    let mut ys: Vec<f32> = points.iter().map(|&(x, y)| -x * sin + y * cos).collect();
    let (x0, x1) = spread(&mut xs);
    let (y0, y1) = spread(&mut ys);
    let line = line_height(&ys, y0, y1);
    let margin = (line * 1.5).max(8.0);
    Some(Layout {
        skew_deg: skew,
        x0: (x0 - margin) * factor,
        y0: (y0 - margin) * factor,
        x1: (x1 + margin) * factor,
        y1: (y1 + margin) * factor,
        line_height: line * factor,
        ink: points.len() as f32 / total,
    })
}

/// The upright, scaled, contrast-stretched cut of the writing that Tesseract reads.
pub fn upright(working: &GrayImage, layout: &Layout, line_target: f32) -> GrayImage {
    upright_measured(working, layout, line_target).0
}

/// The upright cut and the quality of its writing, measured before the stretch.
pub fn upright_measured(
    working: &GrayImage,
    layout: &Layout,
    line_target: f32,
) -> (GrayImage, Quality) {
    let mut out = upright_raw(working, layout, line_target);
    let quality = quality_of(&out);
    stretch(&mut out);
    (out, quality)
}

/// A stretched cut thresholded against each pixel's neighbourhood (about two text lines
/// across): black writing on white whatever the light did across the photo.
pub fn binarised(cut: &GrayImage) -> GrayImage {
    let radius = (TARGET_LINE * 0.5) as u32;
    imageproc::contrast::adaptive_threshold(cut, radius, 10)
}

/// The upright cut scaled to a given width: for displays, whose digits dwarf their labels.
pub fn upright_width(working: &GrayImage, layout: &Layout, width: f32) -> GrayImage {
    let scale = (width / (layout.x1 - layout.x0).max(1.0)).min(3.0);
    let mut fitted = *layout;
    fitted.line_height = TARGET_LINE / scale;
    upright(working, &fitted, TARGET_LINE)
}

/// Prepared-image pixels per working-image pixel when lines are scaled to `target`.
pub fn scale(layout: &Layout, target: f32) -> f32 {
    (target / layout.line_height.max(1.0)).clamp(0.2, 4.0)
}

/// Tesseract's time grows with the pixels it is given; a cut is never larger than this.
const MAX_CUT_PIXELS: f32 = 2_500_000.0;

/// The scale a cut is actually made at: as asked, unless that would exceed the pixel cap.
pub fn cut_scale(layout: &Layout, target: f32) -> f32 {
    let width = (layout.x1 - layout.x0).max(1.0);
    let height = (layout.y1 - layout.y0).max(1.0);
    let scale = scale(layout, target);
    if width * height * scale * scale > MAX_CUT_PIXELS {
        (MAX_CUT_PIXELS / (width * height)).sqrt()
    } else {
        scale
    }
}

/// The part of a layout that a box of a cut (made at `scale`) covers, grown by `margin`
/// working pixels: for a closer second look at the counters alone.
pub fn within(layout: &Layout, scale: f32, region: [i32; 4], margin: f32) -> Layout {
    let [left, top, width, height] = region.map(|v| v as f32);
    Layout {
        x0: (layout.x0 + left / scale - margin).max(layout.x0),
        y0: (layout.y0 + top / scale - margin).max(layout.y0),
        x1: (layout.x0 + (left + width) / scale + margin).min(layout.x1),
        y1: (layout.y0 + (top + height) / scale + margin).min(layout.y1),
        ..*layout
    }
}

fn upright_raw(working: &GrayImage, layout: &Layout, target: f32) -> GrayImage {
    let width = (layout.x1 - layout.x0).max(1.0);
    let height = (layout.y1 - layout.y0).max(1.0);
    let scale = cut_scale(layout, target);
    let w = ((width * scale).max(1.0) as u32).min(3000);
    let h = ((height * scale).max(1.0) as u32).min(3000);
    let (sin, cos) = layout.skew_deg.to_radians().sin_cos();
    let mut out = GrayImage::new(w, h);
    let background = median(working);
    for v in 0..h {
        for u in 0..w {
            let xr = layout.x0 + u as f32 / scale;
            let yr = layout.y0 + v as f32 / scale;
            // back from the turned frame to the photo's
            let x = xr * cos - yr * sin;
            let y = xr * sin + yr * cos;
            out.put_pixel(u, v, Luma([bilinear(working, x, y).unwrap_or(background)]));
        }
    }
    out
}

/// What the photo's writing looks like before any stretching: the evidence for "a person
/// could not read this either".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Grey levels between the 1st and 99th percentile of the cut (0–255).
    pub contrast: f32,
    /// Pixel noise: median absolute difference to the 4-neighbour mean, in grey levels.
    pub noise: f32,
    /// Edge width in pixels at the normalised line height: contrast over the steepest
    /// gradients. Sharp print ≈ 1.5–3; heavy blur ≥ 5.
    pub edge_width: f32,
}

/// Measures the quality of the writing at the normalised scale, unstretched.
/// Measures the quality of an unstretched cut.
pub fn quality_of(cut: &GrayImage) -> Quality {
    let (w, h) = cut.dimensions();
    let mut levels: Vec<u8> = cut.pixels().map(|p| p.0[0]).collect();
    let n = levels.len().max(1);
    levels.sort_unstable();
    let contrast = f32::from(levels[(n * 99 / 100).min(n - 1)]) - f32::from(levels[n / 100]);
    let mut residuals = Vec::new();
    let mut gradients = Vec::new();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let p = |dx: i32, dy: i32| {
                f32::from(
                    cut.get_pixel((x as i32 + dx) as u32, (y as i32 + dy) as u32)
                        .0[0],
                )
            };
            let mean = (p(1, 0) + p(-1, 0) + p(0, 1) + p(0, -1)) / 4.0;
            residuals.push((p(0, 0) - mean).abs());
            let gx = (p(1, 0) - p(-1, 0)) / 2.0;
            let gy = (p(0, 1) - p(0, -1)) / 2.0;
            gradients.push((gx * gx + gy * gy).sqrt());
        }
    }
    let pick = |v: &mut Vec<f32>, share: f64| -> f32 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 * share) as usize).min(v.len() - 1);
        *v.select_nth_unstable_by(i, f32::total_cmp).1
    };
    let noise = pick(&mut residuals, 0.5);
    let steep = pick(&mut gradients, 0.995);
    Quality {
        contrast,
        noise,
        edge_width: if steep > 0.0 {
            contrast / steep
        } else {
            f32::INFINITY
        },
    }
}

/// Pixels that belong to strokes: clearly darker or lighter than their neighbourhood.
fn stroke_points(small: &GrayImage) -> Vec<(f32, f32)> {
    let smooth = gaussian_blur_f32(small, 1.2);
    let local = box_filter(&smooth, 12, 12);
    let mut diffs: Vec<u8> = smooth
        .pixels()
        .zip(local.pixels())
        .map(|(a, b)| a.0[0].abs_diff(b.0[0]))
        .collect();
    let n = diffs.len();
    let (_, p99, _) = diffs.select_nth_unstable(n * 99 / 100);
    let threshold = (*p99 / 2).max(14);
    let mut points = Vec::new();
    for (x, y, p) in smooth.enumerate_pixels() {
        if p.0[0].abs_diff(local.get_pixel(x, y).0[0]) >= threshold {
            points.push((x as f32, y as f32));
        }
    }
    points
}

/// The turn that makes the strokes' rows sharpest (projection profile), to 0.1°.
fn best_skew(points: &[(f32, f32)]) -> f32 {
    let score = |deg: f32| -> f64 {
        let (sin, cos) = deg.to_radians().sin_cos();
        let mut bins = vec![0u32; 4096];
        for &(x, y) in points {
            let yr = -x * sin + y * cos + 1200.0;
            if let Some(b) = bins.get_mut(yr.max(0.0) as usize) {
                *b += 1;
            }
        }
        bins.iter().map(|&c| f64::from(c) * f64::from(c)).sum()
    };
    let best_of = |from: f32, to: f32, step: f32| {
        let mut best = (f64::MIN, from);
        let mut deg = from;
        while deg <= to + 1e-3 {
            let s = score(deg);
            if s > best.0 {
                best = (s, deg);
            }
            deg += step;
        }
        best.1
    };
    let coarse = best_of(-MAX_SKEW_DEG, MAX_SKEW_DEG, 1.0);
    best_of(coarse - 1.0, coarse + 1.0, 0.1)
}

/// The range holding the middle 99 % of the values (stray specks fall outside).
fn spread(values: &mut [f32]) -> (f32, f32) {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    (values[n / 200], values[(n * 199 / 200).min(n - 1)])
}

/// The median height of runs of rows dense with strokes: a line of writing.
fn line_height(ys: &[f32], y0: f32, y1: f32) -> f32 {
    let rows = (y1 - y0).max(1.0) as usize + 1;
    let mut profile = vec![0u32; rows];
    for &y in ys {
        if y >= y0 && y <= y1 {
            profile[((y - y0) as usize).min(rows - 1)] += 1;
        }
    }
    let peak = profile.iter().copied().max().unwrap_or(0);
    let floor = (peak / 8).max(2);
    let mut runs = Vec::new();
    let mut run = 0;
    for &c in &profile {
        if c >= floor {
            run += 1;
        } else if run > 0 {
            runs.push(run);
            run = 0;
        }
    }
    if run > 0 {
        runs.push(run);
    }
    runs.retain(|&r| r >= 3);
    if runs.is_empty() {
        return 10.0;
    }
    runs.sort_unstable();
    runs[runs.len() / 2] as f32
}

fn bilinear(image: &GrayImage, x: f32, y: f32) -> Option<u8> {
    if x < 0.0 || y < 0.0 {
        return None;
    }
    let (x0, y0) = (x as u32, y as u32);
    if x0 + 1 >= image.width() || y0 + 1 >= image.height() {
        return None;
    }
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |dx, dy| f32::from(image.get_pixel(x0 + dx, y0 + dy).0[0]);
    let top = p(0, 0) * (1.0 - fx) + p(1, 0) * fx;
    let bottom = p(0, 1) * (1.0 - fx) + p(1, 1) * fx;
    Some((top * (1.0 - fy) + bottom * fy).round() as u8)
}

fn median(image: &GrayImage) -> u8 {
    let mut histogram = [0u64; 256];
    for p in image.pixels() {
        histogram[p.0[0] as usize] += 1;
    }
    let half = (image.width() as u64 * image.height() as u64) / 2;
    let mut seen = 0;
    for (value, count) in histogram.iter().enumerate() {
        seen += count;
        if seen > half {
            return value as u8;
        }
    }
    128
}

/// Stretches the 1st–99th percentile of the grey levels over the full range.
fn stretch(image: &mut GrayImage) {
    let mut histogram = [0u64; 256];
    for p in image.pixels() {
        histogram[p.0[0] as usize] += 1;
    }
    let n: u64 = histogram.iter().sum();
    let level = |share: u64| {
        let mut seen = 0;
        for (value, count) in histogram.iter().enumerate() {
            seen += count;
            if seen * 100 >= n * share {
                return value as f32;
            }
        }
        255.0
    };
    let (lo, hi) = (level(1), level(99));
    if hi - lo < 8.0 {
        return;
    }
    for p in image.pixels_mut() {
        p.0[0] = ((f32::from(p.0[0]) - lo) * 255.0 / (hi - lo)).clamp(0.0, 255.0) as u8;
    }
}
