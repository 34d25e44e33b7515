//! The review queue over HTTP, on both databases: staff see what the pipeline held back and
//! decide it; every decision changes the reading, is kept with its reasons and is audited.

use crate::backends;
use crate::harness::{T0, TestApp, TestDb, spawn_app, user_token};
use ingest::domain::{EmailAddress, SerialNumber};
use portal::accounts::NewAccount;
use portal::auth::Permission;
use portal::db::TenantDb;
use portal::equipment::NewEquipment;
use portal::users::{NewUser, UserKind};
use serde_json::{Value, json};
use sqlx::{Any, AssertSqlSafe};
use std::collections::BTreeSet;

const DAY: i64 = 86_400_000;

struct Desk {
    app: TestApp,
    db: TenantDb,
    agent: String,
    reviewer: String,
    customer: String,
}

/// A dealer with one copier, an enrolled agent, a reviewer's token and a customer's token.
async fn desk(t: TestDb) -> Desk {
    let db = t.tenant("acme").await;
    let (reviewer, customer, code) = db
        .run(async |tx| {
            let acc = tx
                .create_account(&NewAccount::new("A-1", "Acme Dental")?)
                .await?;
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse("E1")?,
                "Ricoh",
                "MP C3004",
            )?)
            .await?;
            let reviewer = user_token(
                tx,
                UserKind::Staff,
                "rev@dealer.test",
                "billing",
                &[Permission::ReadingsReview],
            )
            .await?;
            let customer = user_token(
                tx,
                UserKind::Customer(acc.id),
                "c@acme.test",
                "account_admin",
                &[Permission::ReadingsRead],
            )
            .await?;
            Ok((
                reviewer,
                customer,
                tx.create_agent("Office").await?.enrollment_code,
            ))
        })
        .await
        .unwrap();
    let app = spawn_app(t, |_| {}).await;
    let enrolled = send(
        &app,
        "POST",
        "/api/v1/agent/enroll",
        None,
        Some(json!({ "code": code, "hostname": "h", "agent_version": "1" })),
    )
    .await;
    let agent = enrolled.1["token"].as_str().unwrap().to_owned();
    Desk {
        app,
        db,
        agent,
        reviewer,
        customer,
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Uploads one total-counter reading of E1; returns its outcome.
async fn read(d: &Desk, id: &str, at: i64, total: i64) -> String {
    let batch = json!({ "protocol": 1, "batch_id": format!("b-{id}"), "agent_version": "1", "sent_at": T0, "observations": [
        { "id": id, "read_at": at, "source": "snmp", "device": { "serial": "E1" }, "meters": { "total": total } }
    ]});
    let (status, body) = send(
        &d.app,
        "POST",
        "/api/v1/agent/readings",
        Some(&d.agent),
        Some(batch),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["results"][0]["outcome"].as_str().unwrap().to_owned()
}

async fn open_items(d: &Desk) -> Vec<Value> {
    let (status, body) = send(
        &d.app,
        "GET",
        "/api/v1/review-items",
        Some(&d.reviewer),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// The review decisions in the audit trail, newest first.
async fn review_trail(d: &Desk) -> Vec<(i64, String, String)> {
    d.db.run(async |tx| tx.audit_entries(50).await)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.1.starts_with("reading.review"))
        .collect()
}

async fn decide(d: &Desk, item: &Value, decision: Value) -> (u16, Value) {
    let path = format!("/api/v1/review-items/{}/decision", item["id"]);
    send(&d.app, "POST", &path, Some(&d.reviewer), Some(decision)).await
}

async fn accept_with_a_correction(t: TestDb) {
    let d = desk(t).await;
    assert_eq!(read(&d, "r1", T0 - 30 * DAY, 123_000).await, "accepted");
    assert_eq!(read(&d, "r2", T0, 12_456).await, "review", "a lost digit");
    let items = open_items(&d).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["value"], 12_456);
    assert!(
        items[0]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("digit"),
        "{:#}",
        items[0]
    );

    // accepting the misread as it is would be negative usage
    let (status, body) = decide(&d, &items[0], json!({ "action": "accept" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("confirm a counter reset instead"),
        "{body}"
    );

    let (status, body) = decide(
        &d,
        &items[0],
        json!({ "action": "accept", "corrected_value": 124_560, "note": "photo checked" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "corrected");
    assert_eq!(body["reading_status"], "accepted");
    assert_eq!(body["value"], 124_560);
    let last = body["reasons"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("corrected from 12456 to 124560 by rev@dealer.test"),
        "{last}"
    );
    assert!(open_items(&d).await.is_empty());

    // decided is decided
    let (status, _) = decide(&d, &items[0], json!({ "action": "reject" })).await;
    assert_eq!(status, 409);

    let trail = review_trail(&d).await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].1, "reading.review.corrected");
    assert!(
        trail[0].2.contains("\"before\"")
            && trail[0].2.contains("12456")
            && trail[0].2.contains("124560"),
        "{:?}",
        trail[0]
    );
}

async fn confirm_a_counter_reset_then_count_on(t: TestDb) {
    let d = desk(t).await;
    assert_eq!(read(&d, "r1", T0 - 30 * DAY, 250_000).await, "accepted");
    assert_eq!(
        read(&d, "r2", T0 - 20 * DAY, 37).await,
        "review",
        "a drop to almost zero"
    );
    let items = open_items(&d).await;
    let (status, body) = decide(
        &d,
        &items[0],
        json!({ "action": "confirm_reset", "note": "controller replaced" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reading_status"], "accepted");
    // the new segment continues from the reset value, so the next normal reading is taken
    assert_eq!(read(&d, "r3", T0 - 10 * DAY, 2_037).await, "accepted");
    let mut admin = d.app.t.admin().await;
    let segments: Vec<(i64, i64)> = sqlx::query_as::<Any, (i64, i64)>(AssertSqlSafe(
        "SELECT value, segment FROM readings ORDER BY read_at".to_owned(),
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(segments, [(250_000, 0), (37, 1), (2_037, 1)]);
}

async fn reject_keeps_the_reading_unbilled(t: TestDb) {
    let d = desk(t).await;
    read(&d, "r1", T0 - 30 * DAY, 100_000).await;
    read(&d, "r2", T0, 90_000).await;
    let items = open_items(&d).await;
    let (status, body) = decide(
        &d,
        &items[0],
        json!({ "action": "reject", "note": "wrong device" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reading_status"], "rejected");
    assert_eq!(body["decision_note"], "wrong device");
    // the next reading is judged against the last accepted one, not the rejected
    assert_eq!(read(&d, "r3", T0 + 60_000, 100_100).await, "accepted");
}

async fn only_staff_with_the_permission_decide(t: TestDb) {
    let other = t.tenant("other").await;
    let foreign = other
        .run(async |tx| {
            user_token(
                tx,
                UserKind::Staff,
                "x@other.test",
                "billing",
                &[Permission::ReadingsReview],
            )
            .await
        })
        .await
        .unwrap();
    let d = desk(t).await;
    read(&d, "r1", T0 - 30 * DAY, 100_000).await;
    read(&d, "r2", T0, 90_000).await;
    let item = open_items(&d).await[0].clone();
    let path = format!("/api/v1/review-items/{}/decision", item["id"]);
    let accept = json!({ "action": "reject" });

    assert_eq!(
        send(&d.app, "GET", "/api/v1/review-items", None, None)
            .await
            .0,
        401
    );
    assert_eq!(
        send(
            &d.app,
            "GET",
            "/api/v1/review-items",
            Some("pxt_1_00"),
            None
        )
        .await
        .0,
        401
    );
    let (status, body) = send(
        &d.app,
        "GET",
        "/api/v1/review-items",
        Some(&d.customer),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("readings.review"),
        "{body}"
    );
    assert_eq!(
        send(
            &d.app,
            "POST",
            &path,
            Some(&d.customer),
            Some(accept.clone())
        )
        .await
        .0,
        403
    );
    // another dealer's staff: the item does not exist for them
    assert_eq!(
        send(&d.app, "POST", &path, Some(&foreign), Some(accept.clone()))
            .await
            .0,
        404
    );
    let (status, body) = send(&d.app, "GET", "/api/v1/review-items", Some(&foreign), None).await;
    assert_eq!((status, body["items"].as_array().unwrap().len()), (200, 0));
    // malformed decisions change nothing
    for bad in [
        json!({ "action": "approve" }),
        json!({ "action": "accept", "corrected_value": -5 }),
        json!({ "action": "reject", "extra": 1 }),
    ] {
        let (status, body) =
            send(&d.app, "POST", &path, Some(&d.reviewer), Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    assert_eq!(open_items(&d).await.len(), 1);
    let trail = review_trail(&d).await;
    assert!(
        trail.is_empty(),
        "refused requests decide nothing: {trail:?}"
    );
}

async fn tokens_are_never_wider_than_their_user(t: TestDb) {
    let db = t.tenant("acme").await;
    let err = db
        .run(async |tx| {
            let acc = tx.create_account(&NewAccount::new("A-1", "Acme")?).await?;
            user_token(
                tx,
                UserKind::Customer(acc.id),
                "c@acme.test",
                "account_user",
                &[Permission::ReadingsReview],
            )
            .await
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not hold readings.review"),
        "{err}"
    );
    let err = db
        .run(async |tx| {
            let role = tx.role_by_name("admin").await?;
            let invited = tx
                .create_user(
                    &NewUser::new(UserKind::Staff, EmailAddress::parse("i@dealer.test")?, "I")?,
                    &[role.id],
                )
                .await?;
            tx.create_api_token(invited.id, "t", &BTreeSet::from([Permission::ReadingsRead]))
                .await
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only an active user"), "{err}");
}

async fn new_devices_are_listed_for_staff_who_manage_equipment(t: TestDb) {
    let d = desk(t).await;
    let service =
        d.db.run(async |tx| {
            user_token(
                tx,
                UserKind::Staff,
                "svc@dealer.test",
                "service",
                &[Permission::EquipmentManage],
            )
            .await
        })
        .await
        .unwrap();
    let batch = json!({ "protocol": 1, "batch_id": "new", "agent_version": "1", "sent_at": T0, "observations": [
        { "id": "n1", "read_at": T0, "source": "snmp", "device": { "serial": "UNREG-9", "ip": "10.1.1.9", "model": "bizhub C300i" },
          "meters": { "total": 4321 } }
    ]});
    assert_eq!(
        send(
            &d.app,
            "POST",
            "/api/v1/agent/readings",
            Some(&d.agent),
            Some(batch)
        )
        .await
        .0,
        200
    );

    let (status, body) = send(
        &d.app,
        "GET",
        "/api/v1/discovered-devices",
        Some(&service),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["serial"], "UNREG-9");
    assert_eq!(list[0]["model"], "bizhub C300i");
    assert_eq!(list[0]["meters"]["total"], 4321);
    // billing staff and customers may not manage equipment
    assert_eq!(
        send(
            &d.app,
            "GET",
            "/api/v1/discovered-devices",
            Some(&d.reviewer),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &d.app,
            "GET",
            "/api/v1/discovered-devices",
            Some(&d.customer),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(&d.app, "GET", "/api/v1/discovered-devices", None, None)
            .await
            .0,
        401
    );
}

async fn a_correction_must_fit_between_its_neighbours(t: TestDb) {
    let d = desk(t).await;
    assert_eq!(read(&d, "r1", T0 - 30 * DAY, 100_000).await, "accepted");
    assert_eq!(read(&d, "r3", T0 - 10 * DAY, 110_000).await, "accepted");
    // arrives late, between the two, but misread
    assert_eq!(read(&d, "r2", T0 - 20 * DAY, 10_500).await, "review");
    let item = open_items(&d).await[0].clone();
    let (status, body) = decide(
        &d,
        &item,
        json!({ "action": "accept", "corrected_value": 150_000 }),
    )
    .await;
    assert_eq!(
        status, 422,
        "above the later reading 110000 would make that one a drop: {body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("110000"),
        "{body}"
    );
    let (status, body) = decide(
        &d,
        &item,
        json!({ "action": "accept", "corrected_value": 105_000 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

backends!(
    a_correction_must_fit_between_its_neighbours,
    new_devices_are_listed_for_staff_who_manage_equipment,
    tokens_are_never_wider_than_their_user,
    accept_with_a_correction,
    confirm_a_counter_reset_then_count_on,
    reject_keeps_the_reading_unbilled,
    only_staff_with_the_permission_decide,
);
