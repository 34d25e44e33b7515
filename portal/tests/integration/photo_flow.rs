//! The customer's photo flow over HTTP, on both databases: upload → what was read → confirm
//! or correct → a reading through the pipeline with the photo as evidence, and a labelled
//! example kept with the image. Customers see only their own account's devices.

use crate::backends;
use crate::harness::{TestDb, count, spawn_app, user_token};
use e2e::photos::bytes;
use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::auth::Permission;
use portal::equipment::NewEquipment;
use portal::users::UserKind;
use serde_json::{Value, json};

struct Dealer {
    /// Devices of account A (the screen photo's copier, then the display's).
    a: [i64; 2],
    /// A device of account B.
    b: i64,
    customer_a: String,
    customer_b: String,
    staff: String,
}

async fn dealer(t: &TestDb) -> Dealer {
    let db = t.tenant("acme").await;
    db.run(async |tx| {
        let acc_a = tx.create_account(&NewAccount::new("A-1", "Alpha")?).await?;
        let acc_b = tx.create_account(&NewAccount::new("B-1", "Beta")?).await?;
        let mut ids = Vec::new();
        for (account, serial) in [
            (acc_a.id, "ANLPKGBX"),
            (acc_a.id, "LCD2010975"),
            (acc_b.id, "BETA0001"),
        ] {
            let e = tx
                .create_equipment(&NewEquipment::new(
                    account,
                    SerialNumber::parse(serial)?,
                    "Sharp",
                    "MX-3071",
                )?)
                .await?;
            ids.push(e.id.0);
        }
        let submit = [Permission::ReadingsSubmit, Permission::ReadingsRead];
        let customer_a = user_token(
            tx,
            UserKind::Customer(acc_a.id),
            "a@alpha.example",
            "account_user",
            &submit,
        )
        .await?;
        let customer_b = user_token(
            tx,
            UserKind::Customer(acc_b.id),
            "b@beta.example",
            "account_user",
            &submit,
        )
        .await?;
        let staff = user_token(tx, UserKind::Staff, "s@acme.example", "admin", &submit).await?;
        Ok(Dealer {
            a: [ids[0], ids[1]],
            b: ids[2],
            customer_a,
            customer_b,
            staff,
        })
    })
    .await
    .unwrap()
}

async fn photo_flow_from_upload_to_a_reading_and_a_labelled_example(t: TestDb) {
    let d = dealer(&t).await;
    let uploads = tempfile::tempdir().unwrap();
    let dir = uploads.path().to_owned();
    let app = spawn_app(t, move |c| c.upload_dir = dir).await;
    let upload = |token: &str, equipment: i64, content_type: &str, body: Vec<u8>| {
        app.http
            .post(app.url(&format!("/api/v1/equipment/{equipment}/meter-photos")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // another account's customer does not see the device; a non-image is refused; neither
    // stores anything
    let screen = bytes("a030_screen.jpg");
    let res = upload(&d.customer_b, d.a[0], "image/jpeg", screen.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = upload(&d.customer_a, d.b, "image/jpeg", screen.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = upload(&d.customer_a, d.a[0], "image/jpeg", b"Total 123".to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert!(problem.to_string().contains("not an image"), "{problem}");
    let res = upload(&d.customer_a, d.a[0], "text/plain", screen.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(count(&app.t, "SELECT COUNT(*) FROM files").await, 0);

    // the customer's own device: what was read, proven by its sum
    let res = upload(&d.customer_a, d.a[0], "image/jpeg", screen.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["accept"], true, "{read}");
    assert_eq!(
        read["counters"],
        json!({"total": 2458570, "mono": 2327781, "color": 130789})
    );
    assert!(!read["evidence"].as_array().unwrap().is_empty());
    let photo = read["photo"].as_i64().unwrap();

    // the image is served to its account and the dealer's staff, to nobody else
    let image = |token: &str| {
        app.http
            .get(app.url(&format!("/api/v1/meter-photos/{photo}/image")))
            .bearer_auth(token)
            .send()
    };
    let res = image(&d.customer_a).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.unwrap().to_vec(), screen);
    assert_eq!(image(&d.staff).await.unwrap().status(), 200);
    assert_eq!(image(&d.customer_b).await.unwrap().status(), 404);

    let confirm = |token: &str, photo: i64, body: Value| {
        app.http
            .post(app.url(&format!("/api/v1/meter-photos/{photo}/confirm")))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    assert_eq!(
        confirm(&d.customer_b, photo, json!({"counters": {"total": 1}}))
            .await
            .unwrap()
            .status(),
        404
    );
    let res = confirm(&d.customer_a, photo, json!({"counters": {"total": "x"}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = confirm(&d.customer_a, photo, json!({"counters": {"pages": 5}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(count(&app.t, "SELECT COUNT(*) FROM readings").await, 0);

    // confirmed as read: accepted readings with the photo as evidence, labelled examples
    let res = confirm(
        &d.customer_a,
        photo,
        json!({"counters": {"total": 2458570, "mono": 2327781, "color": 130789}}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["result"]["outcome"], "accepted", "{done}");
    assert_eq!(done["corrected"], json!([]));
    assert_eq!(
        count(
            &app.t,
            &format!(
                "SELECT COUNT(*) FROM readings r JOIN evidence e ON e.tenant_id = r.tenant_id \
                 AND e.id = r.evidence_id WHERE r.source = 'photo' AND r.status = 'accepted' \
                 AND e.file_id = {photo}"
            )
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &app.t,
            "SELECT COUNT(*) FROM photo_labels WHERE ocr_value = confirmed_value AND reading_id IS NOT NULL"
        )
        .await,
        3
    );
    // once only
    let again = confirm(
        &d.customer_a,
        photo,
        json!({"counters": {"total": 2458570}}),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 409);

    // the same copier again, showing less than it was billed for: not offered as proven
    let res = upload(
        &d.customer_a,
        d.a[0],
        "image/jpeg",
        bytes("a003_screen.jpg"),
    )
    .await
    .unwrap();
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["accept"], false, "{read}");
    assert!(
        read["warnings"]
            .to_string()
            .contains("below the last reading 2458570"),
        "{read}"
    );

    // a display photo corrected by the customer: the correction is kept beside what was read
    let res = upload(&d.customer_a, d.a[1], "image/jpeg", bytes("a041_lcd.jpg"))
        .await
        .unwrap();
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["counters"], json!({"total": 2010975}), "{read}");
    let lcd = read["photo"].as_i64().unwrap();
    let res = confirm(&d.customer_a, lcd, json!({"counters": {"total": 2010976}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["corrected"], json!(["total"]));
    assert_eq!(
        count(
            &app.t,
            "SELECT COUNT(*) FROM photo_labels WHERE ocr_value = 2010975 AND confirmed_value = 2010976"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'photo.%'"
        )
        .await,
        5,
        "three uploads, two confirmations"
    );
}

backends!(photo_flow_from_upload_to_a_reading_and_a_labelled_example);
