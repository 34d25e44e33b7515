//! Hostile mail: each is refused as malformed with a reason that says why, nothing is read
//! from it, and the work and memory it costs stay bounded.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used)]

use ingest::email::{Limits, MailKind, extract};

fn headers(content_type: &str) -> String {
    format!(
        "From: a@b.example\r\nTo: meters@c.example\r\nDate: Fri, 31 Oct 2025 23:30:00 +0100\r\nSubject: Counter\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    )
}

fn refused(raw: &[u8], reason: &str) {
    let out = extract(raw, &Limits::default());
    assert_eq!(out.kind, MailKind::Malformed, "{:?}", out.warnings);
    assert!(out.devices.is_empty());
    assert!(
        out.warnings.iter().any(|w| w.contains(reason)),
        "expected a reason containing {reason:?}, got {:?}",
        out.warnings
    );
}

/// A Kyocera report body: what a valid message of these tests would carry.
const REPORT: &str = "Model Name:             TASKalfa 3554ci\r\nSerial Number:          W2K4Y01337\r\nMeterDate:              Fri 31 Oct 2025 23:30:00\r\nCounters by Function:\r\n Printed Pages:\r\n  Copier:               22324\r\n  Total:                107418\r\n";

#[test]
fn the_report_these_tests_break_is_read_when_whole() {
    let raw = format!("{}{REPORT}", headers("text/plain; charset=utf-8"));
    let out = extract(raw.as_bytes(), &Limits::default());
    assert_eq!(out.kind, MailKind::DeviceReport, "{:?}", out.warnings);
    assert_eq!(out.devices[0].counters["total"], 107_418);
}

#[test]
fn a_hundred_nested_multiparts() {
    let mut raw = headers("multipart/mixed; boundary=\"b0\"");
    for i in 1..100 {
        raw.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        ));
    }
    raw.push_str(&format!(
        "--b99\r\nContent-Type: text/plain\r\n\r\n{REPORT}\r\n"
    ));
    for i in (0..100).rev() {
        raw.push_str(&format!("--b{i}--\r\n"));
    }
    refused(raw.as_bytes(), "nested deeper than 8");
}

#[test]
fn a_hundred_nested_forwarded_messages() {
    let mut raw = format!("{}{REPORT}", headers("text/plain"));
    for _ in 0..100 {
        raw = format!("{}{raw}", headers("message/rfc822"));
    }
    refused(raw.as_bytes(), "nested deeper than 8");
}

#[test]
fn a_hundred_thousand_parts() {
    let mut raw = headers("multipart/mixed; boundary=\"x\"");
    for _ in 0..100_000 {
        raw.push_str("--x\r\nContent-Type: text/plain\r\n\r\n1\r\n");
    }
    raw.push_str("--x--\r\n");
    refused(raw.as_bytes(), "over the limit");
}

#[test]
fn a_fifty_megabyte_attachment() {
    let mut raw = headers("multipart/mixed; boundary=\"x\"").into_bytes();
    raw.extend_from_slice(format!("--x\r\nContent-Type: text/plain\r\n\r\n{REPORT}\r\n--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes());
    let line = b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n";
    while raw.len() < 50 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--x--\r\n");
    refused(&raw, "over the limit");
}

#[test]
fn a_multipart_without_boundary() {
    let raw = format!(
        "{}--x\r\nContent-Type: text/plain\r\n\r\n{REPORT}",
        headers("multipart/mixed")
    );
    refused(raw.as_bytes(), "without a boundary");
}

#[test]
fn a_multipart_that_never_closes() {
    let raw = format!(
        "{}--x\r\nContent-Type: text/plain\r\n\r\n{REPORT}",
        headers("multipart/mixed; boundary=\"x\"")
    );
    refused(raw.as_bytes(), "never closed");
}

#[test]
fn base64_cut_in_the_middle() {
    let raw = format!(
        "{}--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nTW9kZWwgTmFtZTogVEFTS2FsZmEgMzU1NGNpDQpTZXJpYWwgTnVtYmVyOiBXMks0WTAxMzM3DQpDb3Vu",
        headers("multipart/mixed; boundary=\"x\"")
    );
    refused(raw.as_bytes(), "never closed");
}

#[test]
fn an_unknown_charset_with_eight_bit_text() {
    let mut raw = headers("text/plain; charset=x-unknown-8859").into_bytes();
    raw.extend_from_slice(b"Z\xe4hlerstand 12345 \xff\xfe\r\n");
    refused(&raw, "unknown charset");
}

#[test]
fn no_date_or_an_unreadable_one() {
    let raw = format!("{}{REPORT}", headers("text/plain"))
        .replace("Date: Fri, 31 Oct 2025 23:30:00 +0100\r\n", "");
    refused(raw.as_bytes(), "no Date");
    let raw = format!("{}{REPORT}", headers("text/plain"))
        .replace("Fri, 31 Oct 2025 23:30:00 +0100", "31.10.2025 12:00");
    refused(raw.as_bytes(), "Date header unreadable");
}

#[test]
fn bytes_that_are_not_mail_at_all() {
    for raw in [
        &b""[..],
        b"\x00\x01\x02",
        b"\xff\xd8\xff\xe0 a JPEG",
        b"From:\r\n\r\n",
    ] {
        let out = extract(raw, &Limits::default());
        assert!(out.devices.is_empty());
        assert!(
            matches!(out.kind, MailKind::Malformed | MailKind::Junk),
            "{out:?}"
        );
    }
}

/// Inputs the fuzz target found crashing, kept so they stay fixed.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        #[allow(clippy::disallowed_methods)] // our own small files
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let out = extract(&raw, &Limits::default());
        // both are mangled junk (a newsletter, a bounce): returning at all is the fix, and
        // nothing may be read from them
        assert!(out.devices.is_empty(), "{out:?}");
        n += 1;
    }
    assert!(n > 0);
}

/// A mail with one attachment `name` holding `data`, base64 as a mail client sends it.
fn with_attachment(name: &str, data: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut raw = headers("multipart/mixed; boundary=\"x\"");
    raw.push_str("--x\r\nContent-Type: text/plain\r\n\r\nMonthly device log attached.\r\n");
    raw.push_str(&format!(
        "--x\r\nContent-Type: application/zip; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
    ));
    for chunk in encoded.as_bytes().chunks(76) {
        raw.push_str(std::str::from_utf8(chunk).unwrap());
        raw.push_str("\r\n");
    }
    raw.push_str("--x--\r\n");
    raw.into_bytes()
}

fn zipped(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

const BROTHER_CSV: &str = "Node Name,Model Name,Serial No.,IP Address,Location,Date,Total Page Count,Black&White Total,Color Total\r\nBRN1,HL-L6400DW,E75610K5N654321,192.168.10.32,Mail room,2025/10/31 23:00,158332,158332,\r\n";

#[test]
fn a_report_inside_a_zip_is_read() {
    let raw = with_attachment(
        "devicelog.zip",
        &zipped(&[("devicelog.csv", BROTHER_CSV.as_bytes())]),
    );
    let out = extract(&raw, &Limits::default());
    assert_eq!(out.kind, MailKind::DeviceReport, "{:?}", out.warnings);
    assert_eq!(out.devices[0].counters["total"], 158_332);
}

#[test]
fn a_zip_bomb_is_not_inflated() {
    let zeros = vec![0u8; 40 * 1024 * 1024];
    let raw = with_attachment("bomb.zip", &zipped(&[("a.csv", &zeros)]));
    assert!(raw.len() < 1024 * 1024, "the bomb is small: {}", raw.len());
    let out = extract(&raw, &Limits::default());
    assert!(out.devices.is_empty());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("bomb.zip") && w.contains("inflates")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_zip_of_too_many_entries_is_not_read() {
    let names: Vec<String> = (0..200).map(|i| format!("f{i}.csv")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let out = extract(
        &with_attachment("many.zip", &zipped(&entries)),
        &Limits::default(),
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("200 entries")),
        "{:?}",
        out.warnings
    );
}
