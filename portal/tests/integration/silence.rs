//! Silent devices, on both databases, with the clock moved by hand.

use crate::backends;
use crate::harness::{T0, TestDb, active_user};
use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::equipment::NewEquipment;
use portal::users::UserKind;
use sqlx::{Any, AssertSqlSafe};
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const WINDOW: Duration = Duration::from_secs(72 * 3600);

async fn notifications(t: &TestDb) -> Vec<(String, String)> {
    let mut admin = t.admin().await;
    sqlx::query_as::<Any, (String, String)>(AssertSqlSafe(
        "SELECT u.email, n.title FROM notifications n JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.user_id \
         WHERE n.event_type = 'equipment.silent' ORDER BY n.id"
            .to_owned(),
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap()
}

async fn a_silent_device_is_announced_once_per_silence(t: TestDb) {
    let db = t.tenant("acme").await;
    let quiet = db
        .run(async |tx| {
            let acc = tx
                .create_account(&NewAccount::new("A-1", "Acme Dental")?)
                .await?;
            let other = tx.create_account(&NewAccount::new("A-2", "Other")?).await?;
            active_user(tx, UserKind::Staff, "svc@dealer.test", "service").await?;
            active_user(tx, UserKind::Staff, "bill@dealer.test", "billing").await?;
            active_user(
                tx,
                UserKind::Customer(acc.id),
                "c@acme.test",
                "account_user",
            )
            .await?;
            active_user(
                tx,
                UserKind::Customer(other.id),
                "o@other.test",
                "account_user",
            )
            .await?;
            let quiet = tx
                .create_equipment(&NewEquipment::new(
                    acc.id,
                    SerialNumber::parse("Q1")?,
                    "Ricoh",
                    "MP C3004",
                )?)
                .await?;
            // a device no agent ever reported for is not "silent": it was never heard
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse("NEVER")?,
                "HP",
                "M404",
            )?)
            .await?;
            tx.record_equipment_report(quiet.id, None, T0).await?;
            Ok(quiet.id)
        })
        .await
        .unwrap();

    t.clock.set_ms(T0 + 71 * HOUR);
    assert_eq!(portal::silence::sweep(&t.db, WINDOW).await.unwrap(), 0);
    t.clock.set_ms(T0 + 73 * HOUR);
    assert_eq!(portal::silence::sweep(&t.db, WINDOW).await.unwrap(), 1);
    let told: Vec<String> = notifications(&t)
        .await
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    // the service role may manage equipment, billing may not; only this account's customers
    assert_eq!(told, ["svc@dealer.test", "c@acme.test"]);
    assert!(notifications(&t).await[0].1.contains("Q1"));

    t.clock.set_ms(T0 + 100 * HOUR);
    assert_eq!(
        portal::silence::sweep(&t.db, WINDOW).await.unwrap(),
        0,
        "once per silence"
    );

    // it reports again, then falls silent again: a new announcement
    db.run(async |tx| {
        tx.record_equipment_report(quiet, None, T0 + 101 * HOUR)
            .await
    })
    .await
    .unwrap();
    t.clock.set_ms(T0 + 150 * HOUR);
    assert_eq!(portal::silence::sweep(&t.db, WINDOW).await.unwrap(), 0);
    t.clock.set_ms(T0 + 174 * HOUR);
    assert_eq!(portal::silence::sweep(&t.db, WINDOW).await.unwrap(), 1);
    assert_eq!(notifications(&t).await.len(), 4);
}

backends!(a_silent_device_is_announced_once_per_silence);
