//! Every fixture photo, read and judged against its label: a quick check while tuning.
//!
//!     OMP_THREAD_LIMIT=1 cargo run --release -p ingest --example photo_eval  # ONLY=a012 for one
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)]
use ingest::photo::{Limits, Reader};
fn main() {
    let labels = e2e::photos::labelled();
    let mut reader = Reader::new(Limits::default()).unwrap();
    let (mut r, mut n) = (0, 0);
    let only = std::env::var("ONLY").ok();
    for p in labels {
        if only.as_deref().is_some_and(|o| !p.file.contains(o)) {
            continue;
        }
        let t = std::time::Instant::now();
        let got = reader.read(&e2e::photos::bytes(&p.file)).unwrap();
        let read = got
            .devices
            .first()
            .map(|d| d.counters.clone())
            .unwrap_or_default();
        let verdict = match (got.accept, read == p.counters, p.readable) {
            (true, true, true) => {
                r += 1;
                "ok"
            }
            (true, true, false) => "ok-unreadable",
            (true, false, _) => "WRONG",
            (false, _, true) => "MISSED",
            _ => "-",
        };
        n += usize::from(p.readable);
        println!(
            "{:24} {:.2}s {verdict:14} {read:?} {:?}",
            p.file,
            t.elapsed().as_secs_f64(),
            got.warnings
        );
    }
    println!("{r}/{n}");
}
