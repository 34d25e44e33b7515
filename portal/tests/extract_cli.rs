//! `printyx ingest extract FILE --json`: the contract other tools use, checked on every shared
//! meter e-mail (one file at a time, as the contract states it) and on several files at once.
#![allow(clippy::unwrap_used)]

use e2e::email::{dir, expected, mismatches};
use e2e::{succeeded, workspace_binary};
use std::process::Command;

#[test]
fn every_fixture_through_the_command_line() {
    let printyx = workspace_binary("portal", "printyx");
    let mut failures = Vec::new();
    let expected = expected();
    for (file, e) in &expected {
        let out = Command::new(&printyx)
            .args(["ingest", "extract", "--json"])
            .arg(dir().join(file))
            .output()
            .unwrap();
        let got: serde_json::Value = serde_json::from_str(&succeeded(&out)).unwrap();
        for key in ["kind", "devices", "warnings"] {
            assert!(got.get(key).is_some(), "{file}: no {key:?} in {got}");
        }
        for d in got["devices"].as_array().unwrap() {
            let c = d["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c), "{file}: confidence {c}");
        }
        let m = mismatches(&got, e);
        if !m.is_empty() {
            failures.push(format!("{file}: {}", m.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // several files: one JSON object per line, each naming its file
    let files: Vec<_> = expected.keys().take(3).map(|f| dir().join(f)).collect();
    let out = Command::new(&printyx)
        .args(["ingest", "extract", "--json"])
        .args(&files)
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = succeeded(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0]["file"]
            .as_str()
            .unwrap()
            .ends_with(expected.keys().next().unwrap())
    );
}

#[test]
fn a_missing_file_is_a_one_line_error() {
    let out = Command::new(workspace_binary("portal", "printyx"))
        .args(["ingest", "extract", "--json", "/nonexistent/x.eml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot open /nonexistent/x.eml"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn photos_print_their_counters_with_accept_and_evidence_and_a_non_image_is_a_clear_error() {
    let dir = e2e::photos::dir();
    let fake = tempfile::NamedTempFile::with_suffix(".jpg").unwrap();
    std::fs::write(fake.path(), "Total 123456\n").unwrap();
    let out = Command::new(workspace_binary("portal", "printyx"))
        .env("OMP_THREAD_LIMIT", "1")
        .args(["ingest", "extract", "--json"])
        .arg(dir.join("a030_screen.jpg"))
        .arg(fake.path())
        .arg(dir.join("a036_negative.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad file makes the exit status 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not an image (JPEG or PNG expected)"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "the good photos are still read");
    let screen = &lines[0];
    assert_eq!(screen["kind"], "photo");
    assert_eq!(screen["accept"], true);
    assert_eq!(screen["devices"][0]["serial"], "ANLPKGBX");
    assert_eq!(screen["devices"][0]["counters"]["total"], 2_458_570);
    assert_eq!(screen["devices"][0]["counters"]["mono"], 2_327_781);
    assert_eq!(screen["devices"][0]["counters"]["color"], 130_789);
    assert!(screen["evidence"].as_array().is_some_and(|e| e.len() >= 3));
    let negative = &lines[1];
    assert_eq!(negative["accept"], false);
    assert_eq!(negative["devices"].as_array().map(Vec::len), Some(0));
}
