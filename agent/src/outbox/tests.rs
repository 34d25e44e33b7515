use super::*;
use ingest::wire::{DeviceIdentity, ObservationResult, ObservationSource, ResultOutcome};

fn observation(id: &str, serial: &str, total: u64) -> Observation {
    Observation {
        id: id.into(),
        read_at: 1_000,
        source: ObservationSource::Snmp,
        device: DeviceIdentity {
            serial: Some(serial.into()),
            ..DeviceIdentity::default()
        },
        meters: [(ingest::domain::MeterKind::total(), total)].into(),
        supplies: None,
        alerts: None,
        evidence: None,
        confidence: None,
    }
}

fn answer(batch: &PendingBatch) -> BatchResponse {
    let sent: Batch = serde_json::from_str(&batch.body).unwrap();
    BatchResponse {
        batch_id: sent.batch_id,
        results: sent
            .observations
            .iter()
            .map(|o| ObservationResult {
                id: o.id.clone(),
                outcome: ResultOutcome::Accepted,
                counters: vec![],
                reasons: vec![],
            })
            .collect(),
    }
}

fn ids(batch: &PendingBatch) -> Vec<String> {
    let sent: Batch = serde_json::from_str(&batch.body).unwrap();
    sent.observations.into_iter().map(|o| o.id).collect()
}

#[test]
fn batches_go_out_oldest_first_and_an_unanswered_batch_is_sent_again_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    let mut outbox = Outbox::open(&path, u64::MAX).unwrap();
    for i in 0..5 {
        outbox
            .push(
                Tier::Meters,
                "10.0.0.1",
                &observation(&format!("o{i}"), "S1", i),
                10,
            )
            .unwrap();
    }
    let first = outbox.next_batch(3, "0.1.0", 100).unwrap().unwrap();
    assert_eq!(ids(&first), ["o0", "o1", "o2"]);
    assert_eq!(
        outbox.next_batch(3, "0.1.0", 200).unwrap().unwrap(),
        first,
        "not answered yet: the same bytes again"
    );

    // a crash here: the reopened outbox still has the batch, with the same bytes
    outbox
        .attempt_failed(&first.batch_id, "connection refused", 300)
        .unwrap();
    let bytes = outbox.stats().unwrap().pending_bytes;
    assert!(bytes > 0);
    drop(outbox);
    let mut outbox = Outbox::open(&path, u64::MAX).unwrap();
    assert_eq!(
        outbox.stats().unwrap().pending_bytes,
        bytes,
        "kept count = table"
    );
    let again = outbox.next_batch(3, "0.2.0", 400).unwrap().unwrap();
    assert_eq!(
        (again.body.as_str(), again.attempts),
        (first.body.as_str(), 1)
    );

    outbox
        .acknowledge(&again.batch_id, &answer(&again), 500)
        .unwrap();
    let second = outbox.next_batch(3, "0.1.0", 600).unwrap().unwrap();
    assert_eq!(ids(&second), ["o3", "o4"]);
    assert_ne!(second.batch_id, first.batch_id);
    outbox
        .acknowledge(&second.batch_id, &answer(&second), 700)
        .unwrap();
    assert_eq!(outbox.next_batch(3, "0.1.0", 800).unwrap(), None);
    assert_eq!(outbox.sent_ids().unwrap(), ["o0", "o1", "o2", "o3", "o4"]);
    let stats = outbox.stats().unwrap();
    assert_eq!(
        (
            stats.pending_meters,
            stats.pending_bytes,
            stats.sent,
            stats.open_batch
        ),
        (0, 0, 5, None)
    );
    assert_eq!(
        stats.last_upload_result.as_deref(),
        Some("ok: 2 observations")
    );
}

#[test]
fn the_same_observation_committed_twice_is_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("o.sqlite3"), u64::MAX).unwrap();
    let o = observation("same", "S1", 5);
    outbox.push(Tier::Meters, "d", &o, 1).unwrap();
    outbox.push(Tier::Meters, "d", &o, 2).unwrap();
    assert_eq!(outbox.stats().unwrap().pending_meters, 1);
}

#[test]
fn a_batch_refused_for_good_is_set_aside_and_the_rest_flows() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("o.sqlite3"), u64::MAX).unwrap();
    outbox
        .push(Tier::Meters, "d", &observation("a", "S1", 1), 1)
        .unwrap();
    let bad = outbox.next_batch(10, "0.1.0", 2).unwrap().unwrap();
    outbox
        .push(Tier::Meters, "d", &observation("b", "S1", 2), 3)
        .unwrap();
    outbox
        .dead_letter(&bad.batch_id, "422: invalid", 4)
        .unwrap();
    let next = outbox.next_batch(10, "0.1.0", 5).unwrap().unwrap();
    assert_eq!(ids(&next), ["b"]);
    let stats = outbox.stats().unwrap();
    assert_eq!(stats.dead_letters, 1);
    assert_eq!(
        stats.last_upload_result.as_deref(),
        Some("refused: 422: invalid")
    );
}

#[test]
fn over_budget_status_is_thinned_oldest_first_and_billing_meters_are_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let one = serde_json::to_string(&observation("x0000", "S1", 1))
        .unwrap()
        .len() as u64;
    // room for about six observations
    let mut outbox = Outbox::open(&dir.path().join("o.sqlite3"), one * 6).unwrap();
    for i in 0..4 {
        outbox
            .push(
                Tier::Meters,
                "a",
                &observation(&format!("m{i:04}"), "S1", i),
                i as i64,
            )
            .unwrap();
    }
    for i in 0..6 {
        for device in ["a", "b"] {
            let id = format!("{device}{i:04}");
            outbox
                .push(
                    Tier::Status,
                    device,
                    &observation(&id, "S1", 0),
                    10 + i as i64,
                )
                .unwrap();
        }
    }
    let stats = outbox.stats().unwrap();
    assert_eq!(stats.pending_meters, 4, "billing meters are all kept");
    assert_eq!(stats.pending_status, 2, "status thinned down to the budget");
    assert_eq!(stats.thinned, 10);
    let batch = outbox.next_batch(100, "0.1.0", 99).unwrap().unwrap();
    assert_eq!(
        ids(&batch),
        ["m0000", "m0001", "m0002", "m0003", "a0005", "b0005"],
        "each device's newest status survives"
    );

    // only meters left and still over budget: kept anyway
    for i in 4..12 {
        outbox
            .push(
                Tier::Meters,
                "a",
                &observation(&format!("m{i:04}"), "S1", i),
                100,
            )
            .unwrap();
    }
    assert_eq!(outbox.stats().unwrap().pending_meters, 12);
}

#[test]
fn device_polls_are_remembered_with_the_community_that_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("o.sqlite3"), u64::MAX).unwrap();
    let mut state = DeviceState {
        target: "10.0.0.9:161".into(),
        community: Some("private".into()),
        last_poll_at: 1,
        last_ok_at: Some(1),
        last_error: None,
        serial: Some("S9".into()),
        model: Some("MP C3004".into()),
    };
    outbox.record_poll(&state).unwrap();
    state = DeviceState {
        community: None,
        last_poll_at: 2,
        last_ok_at: None,
        last_error: Some("no answer".into()),
        serial: None,
        model: None,
        ..state
    };
    outbox.record_poll(&state).unwrap();
    let got = &outbox.devices().unwrap()[0];
    assert_eq!(got.community.as_deref(), Some("private"));
    assert_eq!((got.last_poll_at, got.last_ok_at), (2, Some(1)));
    assert_eq!(got.last_error.as_deref(), Some("no answer"));
    assert_eq!(got.serial.as_deref(), Some("S9"));
}
