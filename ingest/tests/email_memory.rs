//! Memory stays bounded on hostile mail: what extraction allocates beyond the input it is
//! given is measured as the growth of the process's peak resident set (VmHWM). Alone in its
//! test binary, so no other test's allocations count.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // reads /proc/self/status

use ingest::email::{Limits, extract};

fn peak_kib() -> u64 {
    e2e::peak_rss_kib()
}

fn headers(content_type: &str) -> String {
    format!(
        "From: a@b.example\r\nTo: m@c.example\r\nDate: Fri, 31 Oct 2025 23:30:00 +0100\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    )
}

#[test]
fn hostile_mail_costs_little_beyond_its_own_bytes() {
    // the inputs are built first: their own size is not what is measured
    let mut huge = headers("multipart/mixed; boundary=\"x\"").into_bytes();
    huge.extend_from_slice(b"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    while huge.len() < 50 * 1024 * 1024 {
        huge.extend_from_slice(
            b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n",
        );
    }
    huge.extend_from_slice(b"--x--\r\n");
    let mut parts = headers("multipart/mixed; boundary=\"x\"");
    for _ in 0..100_000 {
        parts.push_str("--x\r\nContent-Type: text/plain\r\n\r\n1\r\n");
    }
    parts.push_str("--x--\r\n");
    let mut nested = headers("multipart/mixed; boundary=\"b0\"");
    for i in 1..100 {
        nested.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        ));
    }
    // under the size limit but large: 20 MB of one text part
    let mut big_text = headers("text/plain").into_bytes();
    big_text.extend(std::iter::repeat_n(b'a', 20 * 1024 * 1024));

    let before = peak_kib();
    for raw in [
        &huge[..],
        parts.as_bytes(),
        nested.as_bytes(),
        &big_text[..],
    ] {
        let out = extract(raw, &Limits::default());
        assert!(out.devices.is_empty());
    }
    let grown_mib = (peak_kib() - before) / 1024;
    // the 20 MB text is decoded once (≈ its size); nothing else may come near the inputs
    eprintln!("peak grew by {grown_mib} MiB");
    assert!(grown_mib < 64, "peak grew by {grown_mib} MiB");
}
