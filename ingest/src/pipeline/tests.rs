//! The pipeline as a whole: what becomes of a reading, for the cases the field produces.

use super::testing::*;
use super::*;

fn decide_default(sub: &Submission, facts: &Facts) -> Decision {
    decide(sub, facts, &PipelineConfig::default())
}

fn verdicts(d: &Decision) -> Vec<(String, Verdict)> {
    d.counters
        .iter()
        .map(|c| (c.kind.to_string(), c.verdict))
        .collect()
}

fn v(pairs: &[(&str, Verdict)]) -> Vec<(String, Verdict)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn history() -> Facts {
    known()
        .with(
            "total",
            MeterFacts {
                avg_daily_pages: Some(300.0),
                ..before(100_000, NOW - 30 * DAY)
            },
        )
        .with(
            "mono",
            MeterFacts {
                avg_daily_pages: Some(200.0),
                ..before(70_000, NOW - 30 * DAY)
            },
        )
        .with(
            "color",
            MeterFacts {
                avg_daily_pages: Some(100.0),
                ..before(30_000, NOW - 30 * DAY)
            },
        )
}

#[test]
fn an_ordinary_monthly_reading_is_accepted_without_remarks() {
    let d = decide_default(
        &snmp(&[("total", 109_000), ("mono", 76_000), ("color", 33_000)]),
        &history(),
    );
    assert_eq!(d.equipment_id, Some(EquipmentId(7)));
    assert_eq!(
        verdicts(&d),
        v(&[
            ("total", Verdict::Accepted),
            ("mono", Verdict::Accepted),
            ("color", Verdict::Accepted)
        ])
    );
    assert!(d.counters.iter().all(|c| c.reasons.is_empty()));
}

#[test]
fn an_unknown_device_is_never_billed() {
    let facts = Facts {
        device: DeviceMatch::Unknown {
            reported: "serial QQ1".into(),
        },
        meters: BTreeMap::new(),
    };
    let d = decide_default(&snmp(&[("total", 5_000)]), &facts);
    assert_eq!(d.equipment_id, None);
    assert_eq!(verdicts(&d), v(&[("total", Verdict::Review)]));
}

#[test]
fn the_same_reading_again_is_a_duplicate() {
    let facts = known().with("total", before(100_000, NOW));
    let d = decide_default(&snmp(&[("total", 100_000)]), &facts);
    assert_eq!(verdicts(&d), v(&[("total", Verdict::Duplicate)]));
    assert_eq!(
        Verdict::Duplicate.status(),
        None,
        "nothing is stored for it"
    );
}

#[test]
fn drops_wraps_resets_and_lost_digits_wait_for_a_person() {
    for (last, now) in [
        (123_456, 12_456),
        (4_294_960_000, 1_200),
        (250_000, 37),
        (250_000, 240_000),
    ] {
        let d = decide_default(
            &snmp(&[("total", now)]),
            &known().with("total", before(last, NOW - DAY)),
        );
        assert_eq!(
            verdicts(&d),
            v(&[("total", Verdict::Review)]),
            "{last} then {now}"
        );
        assert_eq!(d.counters[0].reasons[0].stage, "monotonic");
    }
}

#[test]
fn mono_plus_colour_beyond_total_holds_those_three_only() {
    let mut facts = history();
    facts
        .meters
        .insert(kind("scan"), before(1_000, NOW - 30 * DAY));
    let d = decide_default(
        &snmp(&[
            ("total", 109_000),
            ("mono", 80_000),
            ("color", 33_000),
            ("scan", 1_200),
        ]),
        &facts,
    );
    assert_eq!(
        verdicts(&d),
        v(&[
            ("total", Verdict::Review),
            ("mono", Verdict::Review),
            ("color", Verdict::Review),
            ("scan", Verdict::Accepted)
        ])
    );
}

#[test]
fn a_late_reading_between_its_neighbours_is_accepted() {
    let facts = known().with(
        "total",
        MeterFacts {
            before: Some(point(100_000, NOW - 20 * DAY)),
            after: Some(point(106_000, NOW + 10 * DAY)),
            avg_daily_pages: Some(200.0),
            ..MeterFacts::default()
        },
    );
    let mut sub = snmp(&[("total", 104_000)]);
    sub.received_at = NOW + 11 * DAY; // the outbox drained late
    assert_eq!(
        verdicts(&decide_default(&sub, &facts)),
        v(&[("total", Verdict::Accepted)])
    );
}

#[test]
fn a_device_clock_in_the_future_goes_to_review() {
    let mut sub = snmp(&[("total", 109_000)]);
    sub.read_at = NOW + DAY;
    sub.received_at = NOW;
    let d = decide_default(&sub, &history());
    assert_eq!(verdicts(&d), v(&[("total", Verdict::Review)]));
    assert_eq!(d.counters[0].reasons[0].stage, "timing");
}

#[test]
fn rejection_outranks_review_and_every_reason_is_kept_in_stage_order() {
    let mut sub = submission(ReadingSource::Photo, NOW, &[("total", 9_100_000)]);
    sub.counters[0].confidence = Some(0.5);
    let d = decide_default(&sub, &known().with("total", before(100_000, NOW - DAY)));
    assert_eq!(verdicts(&d), v(&[("total", Verdict::Rejected)]));
    let stages: Vec<&str> = d.counters[0]
        .reasons
        .iter()
        .map(|r| r.stage.as_str())
        .collect();
    assert_eq!(stages, ["rate_sanity", "confidence"]);
}

#[test]
fn a_confident_photo_reading_consistent_with_history_is_accepted() {
    let mut sub = submission(ReadingSource::Photo, NOW, &[("total", 109_000)]);
    sub.counters[0].confidence = Some(0.96);
    assert_eq!(
        verdicts(&decide_default(&sub, &history())),
        v(&[("total", Verdict::Accepted)])
    );
}

#[test]
fn stage_names_are_unique_and_in_the_documented_order() {
    let names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "identify",
            "dedupe",
            "timing",
            "monotonic",
            "rate_sanity",
            "consistency",
            "confidence"
        ]
    );
}

#[test]
fn dates_in_messages_are_utc_calendar_days() {
    assert_eq!(date(0), "1970-01-01");
    assert_eq!(date(NOW), "2026-03-01");
    assert_eq!(date(NOW - 1), "2026-02-28");
    assert_eq!(date(951_782_400_000), "2000-02-29");
}
