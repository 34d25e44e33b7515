//! One photo through each stage: the layout, the words of each read, what they pair to, the
//! display reader; the cuts are written to /tmp/dbg_*.png to look at.
//!
//!     OMP_THREAD_LIMIT=1 cargo run --release -p ingest --example photo_debug PHOTO
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)]
use ingest::photo::{Limits, decode, ocr, prepare, read};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let photo = decode::decode(&bytes, &Limits::default()).unwrap();
    let layout = prepare::layout(&photo.grey).unwrap();
    println!("{layout:?}");
    let mut engine = ocr::Engine::new(None).unwrap();
    for target in [34.0, 48.0] {
        let cut = prepare::upright(&photo.grey, &layout, target);
        cut.save(format!("/tmp/dbg_{target}.png")).unwrap();
        let words = engine.words(&cut, ocr::Pass::Sparse).unwrap();
        let line: Vec<String> = words
            .iter()
            .map(|w| {
                format!(
                    "{}[{:.0}]@{},{}h{}",
                    w.text,
                    w.conf,
                    w.left,
                    w.centre_y(),
                    w.height
                )
            })
            .collect();
        println!("{target}: {}", line.join(" "));
        let f = read::find(&words, "x");
        println!(
            "  -> {:?} drift {} unvalued {:?}",
            f.counters.iter().map(|(k, v)| (k, v.0)).collect::<Vec<_>>(),
            f.drift,
            f.unvalued
        );
    }
    for radius in [8u32, 16, 24] {
        let cut = prepare::upright(&photo.grey, &layout, 34.0);
        let bin = imageproc::contrast::adaptive_threshold(&cut, radius, 10);
        bin.save(format!("/tmp/dbg_bin{radius}.png")).unwrap();
        let words = engine.words(&bin, ocr::Pass::Sparse).unwrap();
        let f = read::find(&words, "x");
        println!(
            "adaptive {radius}: {:?}",
            f.counters
                .iter()
                .map(|(k, v)| (k, v.0, v.1.conf))
                .collect::<Vec<_>>()
        );
    }
    for w in [1000.0, 1400.0] {
        let cut = prepare::upright_width(&photo.grey, &layout, w);
        cut.save(format!("/tmp/dbg_w{w}.png")).unwrap();
        println!("display {w}: {:?}", ingest::photo::segments::read(&cut));
    }
}
