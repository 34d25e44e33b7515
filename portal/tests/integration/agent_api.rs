//! The agent endpoints over real HTTP, on both databases: enrollment, uploads through the
//! validation pipeline, idempotency, and bad input that changes nothing.

use crate::backends;
use crate::harness::{T0, TestApp, TestDb, count, spawn_app};
use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::db::TenantDb;
use portal::equipment::NewEquipment;
use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

struct Fleet {
    app: TestApp,
    db: TenantDb,
    token: String,
}

/// A tenant with one account and one registered copier (serial E174M12345), and an enrolled
/// agent.
async fn fleet(t: TestDb, configure: impl FnOnce(&mut portal::config::Config)) -> Fleet {
    let db = t.tenant("acme").await;
    db.run(async |tx| {
        let acc = tx
            .create_account(&NewAccount::new("A-1", "Acme Dental")?)
            .await?;
        tx.create_equipment(&NewEquipment::new(
            acc.id,
            SerialNumber::parse("E174M12345")?,
            "Ricoh",
            "MP C3004",
        )?)
        .await
    })
    .await
    .unwrap();
    let code = db
        .run(async |tx| tx.create_agent("Acme office").await)
        .await
        .unwrap()
        .enrollment_code;
    let app = spawn_app(t, configure).await;
    let (status, body) = post(
        &app,
        "/api/v1/agent/enroll",
        None,
        json!({ "code": code, "hostname": "pc-1", "agent_version": "0.1.0" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    Fleet { app, db, token }
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    post_raw(app, path, token, body.to_string().into_bytes()).await
}

async fn post_raw(app: &TestApp, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn observation(id: &str, serial: &str, read_at: i64, meters: Value) -> Value {
    json!({ "id": id, "read_at": read_at, "source": "snmp", "device": { "serial": serial, "ip": "10.0.0.7" }, "meters": meters })
}

fn batch(id: &str, observations: Vec<Value>) -> Value {
    json!({ "protocol": 1, "batch_id": id, "agent_version": "0.1.0", "sent_at": T0, "observations": observations })
}

fn outcomes(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect()
}

async fn enrollment_trades_a_one_time_code_for_a_token(t: TestDb) {
    let db = t.tenant("acme").await;
    // an agent revoked before it enrolled: its code must not work
    let revoked = db
        .run(async |tx| {
            let created = tx.create_agent("Office").await?;
            tx.revoke_agent(created.agent.id).await?;
            Ok(created.enrollment_code)
        })
        .await
        .unwrap();
    let stale = db
        .run(async |tx| tx.create_agent("Old").await)
        .await
        .unwrap()
        .enrollment_code;
    t.clock.advance_ms(8 * DAY);
    let fresh = db
        .run(async |tx| tx.create_agent("New").await)
        .await
        .unwrap()
        .enrollment_code;
    let app = spawn_app(t, |_| {}).await;
    let enroll = |code: &str| json!({ "code": code, "hostname": "pc-1", "agent_version": "0.1.0" });

    let (status, body) = post(&app, "/api/v1/agent/enroll", None, enroll(&fresh)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().unwrap().starts_with("pxa_"));
    for (code, why) in [
        (fresh.as_str(), "used"),
        (stale.as_str(), "expired"),
        ("acme-AAAAAAAAAAAA", "wrong"),
        ("nobody-AAAAAAAAAAAA", "no tenant"),
        (revoked.as_str(), "revoked"),
    ] {
        let (status, _) = post(&app, "/api/v1/agent/enroll", None, enroll(code)).await;
        assert_eq!(status, 401, "{why} code");
    }
    let (status, body) = post_raw(&app, "/api/v1/agent/enroll", None, b"{not json".to_vec()).await;
    assert_eq!(status, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("invalid JSON"),
        "{body}"
    );
}

async fn uploads_go_through_the_pipeline_and_answer_per_observation(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let tok = Some(f.token.as_str());
    let first = batch(
        "b1",
        vec![observation(
            "o1",
            "E174M12345",
            T0 - 30 * DAY,
            json!({ "total": 100_000, "mono": 70_000, "color": 30_000 }),
        )],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, first).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(outcomes(&body), ["accepted"]);

    let second = batch(
        "b2",
        vec![
            observation(
                "o2",
                "e174m-12345",
                T0,
                json!({ "total": 109_000, "mono": 76_000, "color": 33_000 }),
            ),
            observation("o3", "ZZ999", T0, json!({ "total": 5 })),
            observation(
                "o4",
                "E174M12345",
                T0 + 60_000,
                json!({ "total": 10_900, "a3_color": 3 }),
            ),
        ],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, second.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcomes(&body),
        ["accepted", "review", "rejected"],
        "{body:#}"
    );
    let o2 = &body["results"][0];
    assert!(
        o2["counters"][0]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("taken as E174M12345"),
        "{o2:#}"
    );
    let o4 = &body["results"][2];
    let by_kind = |k: &str| {
        o4["counters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_kind("total")["outcome"],
        "review",
        "a lost digit waits for a person: {o4:#}"
    );
    assert_eq!(
        by_kind("a3_color")["outcome"],
        "rejected",
        "a meter kind this dealer does not define"
    );

    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM readings").await,
        3 + 3 + 1
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM review_items WHERE status = 'open'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM discovered_devices WHERE serial = 'ZZ999'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM evidence").await,
        3,
        "one per stored observation"
    );

    // the same batch again: the same answer, nothing new
    let (status, again) = post(&f.app, "/api/v1/agent/readings", tok, second.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(again, body);
    assert_eq!(count(&f.app.t, "SELECT COUNT(*) FROM readings").await, 7);

    // the same batch id with other contents, or a re-sent observation with other values: 422
    let mut altered = second.clone();
    altered["observations"][0]["meters"]["total"] = json!(109_001);
    let (status, err) = post(&f.app, "/api/v1/agent/readings", tok, altered.clone()).await;
    assert_eq!(status, 422, "{err}");
    altered["batch_id"] = json!("b3");
    let (status, err) = post(&f.app, "/api/v1/agent/readings", tok, altered).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["detail"].as_str().unwrap().contains("o2"), "{err}");

    // a re-sent observation in a new batch (agent crashed before marking it sent): duplicate
    let resent = batch("b4", vec![second["observations"][0].clone()]);
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, resent).await;
    assert_eq!(status, 200);
    assert_eq!(outcomes(&body), ["duplicate"]);
    assert_eq!(count(&f.app.t, "SELECT COUNT(*) FROM readings").await, 7);
}

async fn supplies_and_alerts_are_kept_as_signals(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let tok = Some(f.token.as_str());
    let mut obs = observation("s1", "E174M12345", T0, json!({}));
    obs["supplies"] = json!([
        { "description": "Black Toner", "kind": "toner", "color": "black", "level": 15, "max_capacity": 100, "percent": 15 },
        { "description": "Waste Toner", "kind": "waste_toner", "level": "some_remaining", "max_capacity": "unknown" }
    ]);
    obs["alerts"] = json!([{ "code": "1104", "severity": "warning", "description": "Toner low" }]);
    let (status, body) = post(
        &f.app,
        "/api/v1/agent/readings",
        tok,
        batch("s-1", vec![obs.clone()]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM supply_levels WHERE level = -3 AND max_capacity = -2"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM device_alerts WHERE cleared_at IS NULL"
        )
        .await,
        1
    );

    // polled again, still low: the same open alert; a meters-only poll says nothing about alerts
    obs["id"] = json!("s2");
    post(
        &f.app,
        "/api/v1/agent/readings",
        tok,
        batch("s-2", vec![obs.clone()]),
    )
    .await;
    let meters_only = observation("s3", "E174M12345", T0 + 1, json!({ "total": 10 }));
    post(
        &f.app,
        "/api/v1/agent/readings",
        tok,
        batch("s-3", vec![meters_only]),
    )
    .await;
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM device_alerts").await,
        1
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM device_alerts WHERE cleared_at IS NULL"
        )
        .await,
        1
    );

    // polled with no alerts: it clears
    obs["id"] = json!("s4");
    obs["alerts"] = json!([]);
    post(
        &f.app,
        "/api/v1/agent/readings",
        tok,
        batch("s-4", vec![obs]),
    )
    .await;
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM device_alerts WHERE cleared_at IS NULL"
        )
        .await,
        0
    );
}

async fn bad_requests_are_refused_and_change_nothing(t: TestDb) {
    let f = fleet(t, |c| c.max_upload_bytes = 64 * 1024).await;
    let good = batch(
        "b1",
        vec![observation("o1", "E174M12345", T0, json!({ "total": 1 }))],
    );
    let upload = "/api/v1/agent/readings";
    assert_eq!(post(&f.app, upload, None, good.clone()).await.0, 401);
    assert_eq!(
        post(
            &f.app,
            upload,
            Some("pxa_1_0000000000000000000000000000000000000000000000000000000000000000"),
            good.clone()
        )
        .await
        .0,
        401
    );
    assert_eq!(
        post(&f.app, upload, Some("garbage"), good.clone()).await.0,
        401
    );

    let tok = Some(f.token.as_str());
    let (status, body) = post_raw(
        &f.app,
        upload,
        tok,
        b"{\"protocol\": 1, \"batch_id\":".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let mut v2 = good.clone();
    v2["protocol"] = json!(2);
    let (status, body) = post(&f.app, upload, tok, v2).await;
    assert_eq!(status, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("protocol version 2"),
        "{body}"
    );
    let huge = batch(
        "big",
        vec![observation("o1", "E174M12345", T0, json!({ "total": 1 }))],
    )
    .to_string()
        + &" ".repeat(70 * 1024);
    let (status, _) = post_raw(&f.app, upload, tok, huge.into_bytes()).await;
    assert_eq!(status, 413, "refused by size before it is read");
    assert_eq!(count(&f.app.t, "SELECT COUNT(*) FROM readings").await, 0);
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM agent_batches").await,
        0
    );

    // a revoked agent is locked out at once
    let agent_id = portal::ids::AgentId(count(&f.app.t, "SELECT MIN(id) FROM agents").await);
    f.db.run(async |tx| tx.revoke_agent(agent_id).await)
        .await
        .unwrap();
    assert_eq!(post(&f.app, upload, tok, good).await.0, 401);
}

async fn an_agent_cannot_report_into_another_dealers_fleet(t: TestDb) {
    let other = t.tenant("other-dealer").await;
    other
        .run(async |tx| {
            let acc = tx
                .create_account(&NewAccount::new("B-1", "Their customer")?)
                .await?;
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse("THEIRS-1")?,
                "HP",
                "M404",
            )?)
            .await
        })
        .await
        .unwrap();
    let f = fleet(t, |_| {}).await;
    let sneaky = batch(
        "x1",
        vec![
            observation("o1", "E174M12345", T0, json!({ "total": 1 })),
            observation("o2", "THEIRS-1", T0, json!({ "total": 99 })),
        ],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", Some(&f.token), sneaky).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("another dealer"),
        "{body}"
    );
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM readings").await,
        0,
        "nothing of the batch is kept"
    );
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM discovered_devices").await,
        0
    );
    let trail: Vec<_> =
        f.db.run(async |tx| tx.audit_entries(10).await)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.1 != "agent.enrolled")
            .collect();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].1, "agent.upload_refused");
    assert!(trail[0].2.contains("THEIRS-1"), "{:?}", trail[0]);
}

async fn identical_batches_at_once_are_stored_once(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let b = batch(
        "same",
        (0..20)
            .map(|i| {
                observation(
                    &format!("o{i}"),
                    "E174M12345",
                    T0 + i * 1_000,
                    json!({ "total": 100 + i }),
                )
            })
            .collect(),
    );
    let sends = (0..6).map(|_| post(&f.app, "/api/v1/agent/readings", Some(&f.token), b.clone()));
    let answers = futures::future::join_all(sends).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].1, "every sender gets the same answer");
    }
    assert_eq!(count(&f.app.t, "SELECT COUNT(*) FROM readings").await, 20);
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM agent_batches").await,
        1
    );
}

async fn devices_are_found_by_mac_or_asset_tag_only_without_a_serial(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    f.db.run(async |tx| {
        let acc = tx.list_accounts(None, 1).await?[0].id;
        let new = NewEquipment::new(
            acc,
            SerialNumber::parse("KM-77")?,
            "Konica Minolta",
            "bizhub C300i",
        )?
        .mac(ingest::domain::MacAddress::parse("00:20:6b:aa:bb:cc")?)
        .asset_tag("TAG-9")?;
        tx.create_equipment(&new).await
    })
    .await
    .unwrap();
    let with_device = |id: &str, device: Value| {
        // each observation an hour and a few pages after the previous one
        let n = ["by-mac", "by-tag", "serial-wins", "ip-only"]
            .iter()
            .position(|x| *x == id)
            .unwrap() as i64;
        json!({ "id": id, "read_at": T0 - (4 - n) * 3_600_000, "source": "snmp", "device": device, "meters": { "total": 500 + n } })
    };
    let b = batch(
        "ids",
        vec![
            with_device("by-mac", json!({ "mac": "00-20-6B-AA-BB-CC" })),
            with_device("by-tag", json!({ "asset_tag": "TAG-9" })),
            // a reported serial that is unknown is a new device, even if the MAC matches
            with_device(
                "serial-wins",
                json!({ "serial": "NOT-REGISTERED", "mac": "00:20:6b:aa:bb:cc" }),
            ),
            // an IP address alone identifies nothing
            with_device("ip-only", json!({ "ip": "10.0.0.7" })),
        ],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", Some(&f.token), b.clone()).await;
    assert_eq!(
        status, 422,
        "an observation identified only by IP makes the batch invalid: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("does not identify"),
        "{body}"
    );
    let mut b = b;
    b["observations"].as_array_mut().unwrap().pop();
    let (status, body) = post(&f.app, "/api/v1/agent/readings", Some(&f.token), b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcomes(&body),
        ["accepted", "accepted", "review"],
        "{body:#}"
    );
    let note = |i: usize| {
        body["results"][i]["counters"][0]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        note(0).contains("MAC") && note(1).contains("asset tag"),
        "{body:#}"
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM discovered_devices WHERE serial = 'NOT-REGISTERED'"
        )
        .await,
        1
    );

    // an unregistered device known only by its MAC is one device however the MAC is written
    let unknown = |id: &str, mac: &str| json!({ "id": id, "read_at": T0 - 60_000, "source": "snmp", "device": { "mac": mac }, "meters": { "total": 7 } });
    let spellings = batch(
        "macs",
        vec![
            unknown("m1", "00-1B-A9-99-88-77"),
            unknown("m2", "001ba9998877"),
        ],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", Some(&f.token), spellings).await;
    assert_eq!(status, 200, "{body}");
    let by_mac = "SELECT COUNT(*) FROM discovered_devices WHERE identity_key = '00:1b:a9:99:88:77'";
    assert_eq!(count(&f.app.t, by_mac).await, 1);
    assert_eq!(
        count(&f.app.t, "SELECT COUNT(*) FROM discovered_devices").await,
        2
    );
}

/// The model's rated speed reaches the pipeline through the device lookup: more pages than the
/// device can print at it are refused.
async fn a_devices_rated_speed_bounds_what_it_can_have_printed(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let mut c: AnyConnection = f.app.t.admin().await;
    for sql in [
        "INSERT INTO device_models (tenant_id, make, model, rated_ppm, rated_monthly_volume) \
         SELECT tenant_id, 'Ricoh', 'MP C3004', 30, 20000 FROM equipment WHERE serial = 'E174M12345'",
        "UPDATE equipment SET model_id = (SELECT id FROM device_models WHERE model = 'MP C3004') \
         WHERE serial = 'E174M12345'",
    ] {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let tok = Some(f.token.as_str());
    let first = batch(
        "r1",
        vec![observation(
            "r1",
            "E174M12345",
            T0 - DAY,
            json!({ "total": 100_000 }),
        )],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, first).await;
    assert_eq!(
        (status, outcomes(&body)),
        (200, vec!["accepted".to_owned()]),
        "{body}"
    );
    // a day at 30 pages a minute is at most 43,200 pages
    let second = batch(
        "r2",
        vec![observation(
            "r2",
            "E174M12345",
            T0,
            json!({ "total": 150_000 }),
        )],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(outcomes(&body), ["rejected"], "{body:#}");
    let reasons = body["results"][0]["counters"][0]["reasons"].to_string();
    assert!(reasons.contains("rated 30 pages per minute"), "{reasons}");
}

/// A batch is decided set-wise, but a device that appears twice in it is judged in order:
/// its second reading against its first, not against the history before the batch.
async fn a_device_twice_in_one_batch_is_judged_against_itself(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let tok = Some(f.token.as_str());
    let history = batch(
        "b1",
        vec![observation(
            "o1",
            "E174M12345",
            T0 - 30 * DAY,
            json!({ "total": 100_000 }),
        )],
    );
    let (status, body) = post(&f.app, "/api/v1/agent/readings", tok, history).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &f.app,
        "/api/v1/agent/readings",
        tok,
        batch(
            "b2",
            vec![
                observation(
                    "o2",
                    "E174M12345",
                    T0 - 3 * HOUR,
                    json!({ "total": 109_000 }),
                ),
                // above the history before the batch, below the reading just before it
                observation(
                    "o3",
                    "E174M12345",
                    T0 - 2 * HOUR,
                    json!({ "total": 108_000 }),
                ),
                // and back in order: judged against o2, the latest accepted before it
                observation("o4", "E174M12345", T0 - HOUR, json!({ "total": 109_050 })),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcomes(&body),
        ["accepted", "review", "accepted"],
        "{body:#}"
    );
    let reasons = body["results"][1]["counters"][0]["reasons"].to_string();
    assert!(
        reasons.contains("109000") || reasons.contains("109,000"),
        "{reasons}"
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM readings WHERE status = 'accepted'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &f.app.t,
            "SELECT COUNT(*) FROM review_items WHERE status = 'open'"
        )
        .await,
        1
    );
}

/// The dealer's agent list shows when each agent last made contact: written with the upload
/// itself, at most once a minute, and also when the upload is refused.
async fn an_agents_last_contact_is_kept_to_the_minute(t: TestDb) {
    let f = fleet(t, |_| {}).await;
    let tok = Some(f.token.as_str());
    let seen = async || {
        count(
            &f.app.t,
            "SELECT COALESCE(MAX(last_seen_at), 0) FROM agents",
        )
        .await
    };
    let upload = async |id: &str| {
        let body = batch(
            id,
            vec![observation(
                id,
                "E174M12345",
                T0 - HOUR,
                json!({ "total": 100 }),
            )],
        );
        post(&f.app, "/api/v1/agent/readings", tok, body).await.0
    };
    assert_eq!(upload("o1").await, 200);
    assert_eq!(seen().await, T0);
    f.app.t.clock.advance_ms(30_000);
    assert_eq!(upload("o2").await, 200);
    assert_eq!(seen().await, T0, "within the minute: nothing written");
    f.app.t.clock.advance_ms(31_000);
    let (status, _) = post_raw(&f.app, "/api/v1/agent/readings", tok, b"{broken".to_vec()).await;
    assert_eq!(status, 422);
    assert_eq!(seen().await, T0 + 61_000, "a refused upload is contact too");
    f.app.t.clock.advance_ms(60_000);
    assert_eq!(upload("o3").await, 200);
    assert_eq!(seen().await, T0 + 121_000);
}

/// Guessing enrolment codes is slowed per network address: after 10 tries in an hour even a
/// good code waits; an hour later it works.
async fn enrolment_attempts_are_limited_per_address(t: TestDb) {
    let db = t.tenant("acme").await;
    let good = db
        .run(async |tx| tx.create_agent("Office").await)
        .await
        .unwrap()
        .enrollment_code;
    let app = spawn_app(t, |_| {}).await;
    let enroll = |code: &str| json!({ "code": code, "hostname": "pc-1", "agent_version": "0.1.0" });
    for i in 0..10 {
        let (status, _) = post(
            &app,
            "/api/v1/agent/enroll",
            None,
            enroll(&format!("acme-GUESS{i:07}")),
        )
        .await;
        assert_eq!(status, 401, "guess {i}");
    }
    let (status, body) = post(&app, "/api/v1/agent/enroll", None, enroll(&good)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("too many attempts"),
        "{body}"
    );
    app.t.clock.advance_ms(3_600_001);
    let (status, body) = post(&app, "/api/v1/agent/enroll", None, enroll(&good)).await;
    assert_eq!(status, 200, "{body}");
}

backends!(
    enrolment_attempts_are_limited_per_address,
    an_agents_last_contact_is_kept_to_the_minute,
    a_device_twice_in_one_batch_is_judged_against_itself,
    a_devices_rated_speed_bounds_what_it_can_have_printed,
    devices_are_found_by_mac_or_asset_tag_only_without_a_serial,
    enrollment_trades_a_one_time_code_for_a_token,
    uploads_go_through_the_pipeline_and_answer_per_observation,
    supplies_and_alerts_are_kept_as_signals,
    bad_requests_are_refused_and_change_nothing,
    an_agent_cannot_report_into_another_dealers_fleet,
    identical_batches_at_once_are_stored_once,
);
