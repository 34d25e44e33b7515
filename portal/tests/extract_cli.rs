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
