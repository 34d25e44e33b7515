//! Meter photos: the photo reader side by side with plain `tesseract IMAGE stdout` and naive
//! label parsing, on the same images — accuracy and time.
//!
//!     OMP_THREAD_LIMIT=1 taskset -c 0 cargo bench -p ingest --bench photos [-- DIR]
//!
//! DIR holds photos and a labels.json in the fixtures' format (default: the shared
//! meter-photo fixtures). The reader keeps one engine across photos, as the server does; the
//! baseline starts the tesseract program per photo, as a script would. Times are medians
//! over all photos and over the 12-megapixel ones.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)]

use ingest::photo::{Limits, Reader, labels};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

type Counters = BTreeMap<String, u64>;

#[derive(Default)]
struct Tally {
    /// Readable photos whose values were taken (accepted) and right.
    right: usize,
    /// Photos where a value was taken that is not what the photo shows.
    wrong: usize,
    times: Vec<f64>,
    times_12mp: Vec<f64>,
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures/meter-photos"
            )
            .into()
        });
    let labels: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/labels.json")).unwrap())
            .unwrap();
    let started = Instant::now();
    let mut reader = Reader::new(Limits::default()).unwrap();
    let engine_load = started.elapsed().as_secs_f64();
    let (mut ours, mut baseline) = (Tally::default(), Tally::default());
    let mut readable = 0;
    println!(
        "{:24} {:>6} {:>6}  {:28} {:28}",
        "photo", "ours", "cli", "ours read (accept)", "cli read"
    );
    for label in &labels {
        let file = label["file"].as_str().unwrap();
        let path = format!("{dir}/{file}");
        let expected: Counters = serde_json::from_value(label["counters"].clone()).unwrap();
        let is_readable = label["readable"].as_bool().unwrap();
        readable += usize::from(is_readable);
        let bytes = std::fs::read(&path).unwrap();
        let megapixels = image::ImageReader::open(&path)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .map(|(w, h)| f64::from(w) * f64::from(h) / 1e6)
            .unwrap_or(0.0);

        let t = Instant::now();
        let got = reader.read(&bytes).unwrap();
        let ours_time = t.elapsed().as_secs_f64();
        let ours_read: Counters = got
            .devices
            .first()
            .map(|d| d.counters.clone())
            .unwrap_or_default();
        tally(
            &mut ours,
            got.accept,
            &ours_read,
            &expected,
            is_readable,
            ours_time,
            megapixels,
        );

        let t = Instant::now();
        let out = Command::new("tesseract")
            .arg(&path)
            .arg("stdout")
            .env("OMP_THREAD_LIMIT", "1")
            .output()
            .expect("the tesseract program (apt install tesseract-ocr)");
        let cli_time = t.elapsed().as_secs_f64();
        let cli_read = naive(&String::from_utf8_lossy(&out.stdout));
        // the naive parser has no notion of doubt: whatever it finds, it takes
        tally(
            &mut baseline,
            !cli_read.is_empty(),
            &cli_read,
            &expected,
            is_readable,
            cli_time,
            megapixels,
        );

        println!(
            "{file:24} {ours_time:6.2} {cli_time:6.2}  {:28} {:28}",
            format!(
                "{}{}",
                short(&ours_read),
                if got.accept { " ✓" } else { "" }
            ),
            short(&cli_read)
        );
    }
    println!();
    let mut report = e2e::bench::Report::new(
        "Meter photos: the photo reader against plain Tesseract",
        "OMP_THREAD_LIMIT=1 taskset -c 0 cargo bench -p ingest --bench photos",
    );
    report.line(format!(
        "{} photos ({readable} readable), one core. Targets: no wrong value taken; ≥ 90 % of the \
         readable photos taken right; median ≤ 1.5 s per 12 MP photo. Engine load (once per \
         worker): {engine_load:.2} s.\n",
        labels.len()
    ));
    report.line(format!(
        "| | auto-accepted right (of {readable} readable) | wrong values taken | median / p99 s per photo | median s per 12 MP photo | peak RSS |"
    ));
    report.line("|---|---|---|---|---|---|");
    let rss = [
        format!(
            "{:.0} MB (the benchmark's process)",
            e2e::bench::peak_rss_mb()
        ),
        format!(
            "{:.0} MB (largest `tesseract` process)",
            e2e::bench::children_peak_rss_mb()
        ),
    ];
    for ((name, t), rss) in [
        ("photo reader", &mut ours),
        ("tesseract CLI + naive labels", &mut baseline),
    ]
    .into_iter()
    .zip(rss)
    {
        t.times.sort_by(f64::total_cmp);
        report.line(format!(
            "| {name} | {} ({:.0} %) | {} | {:.2} / {:.2} | {:.2} | {rss} |",
            t.right,
            100.0 * t.right as f64 / readable as f64,
            t.wrong,
            e2e::bench::quantile(&t.times, 0.5),
            e2e::bench::quantile(&t.times, 0.99),
            median(&mut t.times_12mp)
        ));
    }
    report.line(format!(
        "\nRatios, reader ÷ CLI: median time {:.2}×; right takes {} vs {}, wrong takes {} vs {}.",
        e2e::bench::quantile(&ours.times, 0.5) / e2e::bench::quantile(&baseline.times, 0.5),
        ours.right,
        baseline.right,
        ours.wrong,
        baseline.wrong
    ));
    report.finish();
}

fn tally(
    t: &mut Tally,
    taken: bool,
    read: &Counters,
    expected: &Counters,
    readable: bool,
    seconds: f64,
    megapixels: f64,
) {
    if taken && read != expected {
        t.wrong += 1;
    }
    if taken && readable && read == expected {
        t.right += 1;
    }
    t.times.push(seconds);
    if megapixels >= 11.5 {
        t.times_12mp.push(seconds);
    }
}

/// The obvious script: a line with a counter word and a number is that counter.
fn naive(text: &str) -> Counters {
    let mut out = Counters::new();
    for line in text.lines() {
        let lower = line.to_lowercase();
        let kind = if lower.contains("colo") {
            "color"
        } else if lower.contains("black") || lower.contains("mono") || lower.contains("b/w") {
            "mono"
        } else if lower.contains("total") || lower.contains("counter") {
            "total"
        } else {
            continue;
        };
        let number = line.split_whitespace().rev().find_map(labels::count);
        if let Some(n) = number {
            out.entry(kind.to_owned()).or_insert(n);
        }
    }
    out
}

fn short(c: &Counters) -> String {
    c.iter()
        .map(|(k, v)| format!("{}={v}", &k[..1]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
