//! Recognition and reading rules on hand-made snapshots; agent/tests/recordings.rs runs the
//! real recordings.

use super::*;

#[test]
fn oem_boxes_and_foreign_object_ids_are_recognised_by_their_own_words() {
    let profiles = profiles().unwrap();
    let device = |descr: &str, oid: &str| {
        let mut s = Snapshot::default();
        s.insert(SYS_DESCR, Value::Text(descr.into()));
        s.insert(SYS_OBJECT_ID, Value::Oid(oid.into()));
        recognise(&s, &profiles).map(|p| p.name.clone())
    };
    assert_eq!(
        device(
            "Savin 4045 3.0 / Savin Network Printer",
            "1.3.6.1.4.1.367.1.1"
        )
        .as_deref(),
        Some("Savin")
    );
    assert_eq!(
        device("TA_UTAX Printing System", "1.3.6.1.4.1.1347.41").as_deref(),
        Some("UTAX")
    );
    assert_eq!(
        device("HP ETHERNET MULTI-ENVIRONMENT", "1.3.6.1.4.1.1347.41").as_deref(),
        Some("HP")
    );
    assert_eq!(
        device("TOSHIBA e-STUDIO305CS", "1.3.6.1.4.1.641.2.1").as_deref(),
        Some("Toshiba")
    );
    assert_eq!(
        device("Generic 28C-1", "1.3.6.1.4.1.18334.1.1.1").as_deref(),
        Some("Konica Minolta"),
        "by enterprise"
    );
    assert_eq!(
        device("Network Printer", "1.3.6.1.4.1.367.1.1").as_deref(),
        Some("Ricoh"),
        "the maker, not an OEM brand"
    );
    assert_eq!(
        device("ZebraNet Wired PS", "1.3.6.1.4.1.683.6.0").as_deref(),
        Some("Zebra")
    );
    assert_eq!(
        device("Some Print Server", "1.3.6.1.4.1.99999.1").as_deref(),
        None,
        "unknown stays unknown"
    );
}

#[test]
fn supply_percent_only_from_real_numbers() {
    let mut s = Snapshot::default();
    for (idx, desc, lvl, max) in [
        ("1.1", "Black Toner", 45, 100),
        ("1.2", "Waste Toner Box", -3, -2),
        ("1.3", "Drum", 17208, 25000),
    ] {
        s.insert(&format!("{SUPPLY}.6.{idx}"), Value::Text(desc.into()));
        s.insert(&format!("{SUPPLY}.9.{idx}"), Value::Int(lvl));
        s.insert(&format!("{SUPPLY}.8.{idx}"), Value::Int(max));
    }
    let got = supplies(&s);
    assert_eq!(
        got.iter().map(|s| s.percent).collect::<Vec<_>>(),
        [Some(45), None, Some(69)]
    );
    assert_eq!(got[1].level, Level::SomeRemaining);
    assert_eq!(got[0].color.as_deref(), Some("black"));
}

#[test]
fn alert_table_rows_become_alerts_with_their_severity() {
    let mut s = Snapshot::default();
    for (i, severity, code, text) in [
        (1, 3, 1101, Some("Toner empty")),
        (2, 4, 1104, Some("Toner low")),
        (3, 1, 3, None),
    ] {
        s.insert(&format!("{ALERT}.2.1.{i}"), Value::Int(severity));
        s.insert(&format!("{ALERT}.7.1.{i}"), Value::Int(code));
        if let Some(t) = text {
            s.insert(&format!("{ALERT}.8.1.{i}"), Value::Text(t.into()));
        }
    }
    s.insert(HR_ERROR_STATE, Value::Bytes(vec![0x30, 0x01]));
    let report = read(&s, &profiles().unwrap());
    let got: Vec<(&str, AlertSeverity, &str)> = report
        .alerts
        .iter()
        .map(|a| (a.code.as_str(), a.severity, a.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("1101", AlertSeverity::Critical, "Toner empty"),
            ("1104", AlertSeverity::Warning, "Toner low"),
            ("3", AlertSeverity::Info, "printer alert 3"),
        ]
    );
    assert_eq!(report.status.errors, ["lowToner", "noToner", "bit15"]);
}

#[test]
fn a_model_name_with_multi_byte_characters_near_the_brand_is_read_not_a_crash() {
    // found by the snmprec fuzz target: "Ricoh" is 5 bytes, and byte 5 is inside Ɨ
    let mut s = Snapshot::default();
    s.insert(SYS_OBJECT_ID, Value::Oid("1.3.6.1.4.1.367.1.1".into()));
    s.insert(HR_DEVICE_DESCR, Value::Text("RicoƗ MP".into()));
    let report = read(&s, &profiles().unwrap());
    assert_eq!(report.identity.model.as_deref(), Some("RicoƗ MP"));
    s.insert(HR_DEVICE_DESCR, Value::Text("RICOH MP C3004ex".into()));
    let report = read(&s, &profiles().unwrap());
    assert_eq!(report.identity.model.as_deref(), Some("MP C3004ex"));
}

#[test]
fn a_hex_value_with_non_ascii_characters_is_an_error_naming_its_line() {
    // found by the snmprec fuzz target: two-byte slices of "éé" split a character
    let err = Snapshot::from_snmprec("1.3.6.1.2.1.1.5.0|4|ok\n1.3.6.1.2.1.1.1.0|4x|\u{e9}\u{e9}\n")
        .unwrap_err();
    assert_eq!((err.line, err.why.as_str()), (2, "bad hex value"));
}
