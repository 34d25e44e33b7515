//! The agent is installed on customer machines: it must build without the web stack, OCR,
//! a database-server driver or anything of the portal. Checked on the resolved dependency
//! graph, so a feature that drags one in fails here.

use std::process::Command;

// hyper and tower-http are allowed: they are reqwest's HTTP client, with which the agent
// uploads. A server framework is not.
const FORBIDDEN: &[&str] = &[
    "portal",
    "axum",
    "sqlx-postgres",
    "tokio-postgres",
    "postgres",
    "tesseract",
    "tesseract-sys",
    "leptonica-sys",
    "askama",
    "utoipa",
    "lettre",
];

#[test]
fn the_agent_pulls_in_no_server_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "agent",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "-f",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"ingest"),
        "the agent uses ingest's wire types:\n{tree}"
    );
    for name in FORBIDDEN {
        assert!(
            !crates.contains(name),
            "the agent depends on {name}:\n{tree}"
        );
    }
}
