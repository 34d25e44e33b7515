//! The demo's year, on both databases: the plan's simulated fleet read weekly through the
//! pipeline for a year is accepted reading by reading, invoiced on every billing day, and
//! leaves exactly the work in progress the demo promises (one reading to review, one order to
//! approve, one open request, the latest invoice of each account open).

use crate::backends;
use crate::harness::{T0, TestDb, count};
use portal::demo::fleet::DAY_MS;

async fn a_year_of_demo_history(t: TestDb) {
    let profiles = agent::device::profiles().unwrap();
    let plan = portal::demo::plan(T0 - 365 * DAY_MS, &profiles, 16_161).unwrap();
    let uploads = tempfile::tempdir().unwrap();
    let seeded = portal::demo::seed::seed(
        &t.db,
        &t.clock,
        &plan,
        &profiles,
        &ingest::pipeline::PipelineConfig::default(),
        T0,
        uploads.path(),
    )
    .await
    .unwrap();

    assert_eq!(plan.devices.len(), 200);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM equipment").await, 200);
    // 52 weekly readings of every device, plus today's
    assert!(seeded.readings >= 200 * 52, "{seeded:?}");
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE status <> 'accepted'"
        )
        .await,
        1,
        "only the e-mailed reply waits for a person"
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM review_items WHERE status = 'open'"
        )
        .await,
        1
    );
    // twelve accounts; billing days Feb 1 … Dec 1 (T0 is midnight of Jan 1, before that
    // day's run); all but each account's latest invoice paid
    assert_eq!(seeded.invoices, 12 * 11);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await,
        12 * 10
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM invoices WHERE status = 'issued' AND total_cents > 0"
        )
        .await,
        12
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM orders WHERE status = 'submitted'").await,
        1
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM service_requests").await, 1);
    // every device's counters went up week after week, over 360 days (31,104,000,000 ms)
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM (SELECT equipment_id FROM readings WHERE meter_kind = 'total' \
             GROUP BY equipment_id HAVING MAX(value) > MIN(value) \
               AND MAX(read_at) - MIN(read_at) > 31104000000) AS grown"
        )
        .await,
        200
    );
}

backends!(a_year_of_demo_history);

/// `printyx generate` at a small size: every count comes out as asked, split over the
/// tenants, and a generated customer's start page and a device's meters are served from it.
async fn a_platform_at_scale_in_miniature(t: TestDb) {
    use portal::demo::generate::{Size, generate};
    let size = Size {
        tenants: 2,
        devices: 61,
        readings: 61 * 40,
        devices_per_account: 10,
        devices_per_request: 20,
    };
    let uploads = tempfile::tempdir().unwrap();
    let made = generate(&t.db, &t.clock, size, T0, uploads.path(), |_| {})
        .await
        .unwrap();
    assert_eq!((made.tenants, made.devices), (2, 61));
    assert_eq!(made.readings, 61 * 40);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE status = 'accepted'"
        )
        .await,
        61 * 40
    );
    // 31 + 30 devices: devices 0 and 20 of each dealer
    assert_eq!((made.requests, made.orders), (4, 4));
    assert_eq!(count(&t, "SELECT COUNT(*) FROM service_requests").await, 4);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM orders").await, 4);
    // 4 + 3 accounts, 11 billing days each (T0 is midnight of Jan 1)
    assert_eq!(made.invoices, 7 * 11);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM invoices WHERE total_cents > 0").await,
        7 * 11
    );
    // the counters went only up: no device has a reading below an earlier one
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings a JOIN readings b ON b.tenant_id = a.tenant_id \
               AND b.equipment_id = a.equipment_id AND b.read_at > a.read_at AND b.value < a.value"
        )
        .await,
        0
    );
}

backends!(a_platform_at_scale_in_miniature);
