//! Service requests end to end over the real pages (forms with their CSRF tokens, a multipart
//! upload as a browser sends it) and the API: a customer asks, the dealer acknowledges,
//! assigns, schedules and completes, both sides are told at each step and see one timeline
//! (staff notes staying with staff); bad input and other accounts' devices are refused with
//! nothing stored; a device's alert opens a request once. Both databases.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{TestDb, count};
use crate::sign_in::{Dealer, PASSWORD, api, dealer, device, person, token};
use portal::ids::EquipmentId;
use portal::users::UserKind;
use serde_json::json;

const BOUNDARY: &str = "printyx-request-boundary";

/// A browser's multipart body: text fields, then files (name, bytes, declared type).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8], &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes, ty) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{name}\"\r\n\
                 Content-Type: {ty}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Sends the new-request form as a browser does; returns (status, Location, body).
async fn send_request_form(
    d: &Dealer,
    b: &mut Browser,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8], &str)],
) -> (u16, Option<String>, String) {
    let form = b.get("/requests/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(d.app.url(&format!("/requests/new?csrf={csrf}")))
        .header("cookie", cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(fields, files))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, location, r.text().await.unwrap())
}

/// A photo the preview is made from (the fixtures' counter screen).
fn photo() -> Vec<u8> {
    e2e::photos::bytes("a030_screen.jpg")
}

async fn devices(d: &Dealer) -> (EquipmentId, EquipmentId) {
    (
        device(d, d.account, "SR-A", "Ricoh", "IM C3000").await,
        device(d, d.other_account, "SR-B", "Canon", "iR C3226").await,
    )
}

fn uploads(c: &mut portal::config::Config) {
    c.upload_dir = std::env::temp_dir().join(format!("printyx-sr-{}", rand::random::<u64>()));
}

async fn a_request_from_first_report_to_closing(t: TestDb) {
    let d = dealer(t, uploads).await;
    let (mine, _) = devices(&d).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    let sam = person(&d.db, UserKind::Staff, "sam@dealer.test", "service").await;
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;

    let pdf = b"%PDF-1.4\n% a service report\n".to_vec();
    let (status, location, body) = send_request_form(
        &d,
        &mut cy,
        &[
            ("equipment", &mine.0.to_string()),
            ("problem_type", "paper_jam"),
            ("priority", "urgent"),
            ("description", "Jams in tray 2\nevery morning"),
            ("date1", "2026-01-05"),
            ("window1", "morning"),
        ],
        &[
            ("jam.jpg", &photo(), "image/jpeg"),
            ("manual.pdf", &pdf, "application/pdf"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let location = location.unwrap();
    let id: i64 = location
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = cy.get(&location).await;
    assert!(page.contains("Your request was sent"), "{}", page.body);
    assert!(
        page.contains("Paper jams")
            && page.contains("Urgent")
            && page.contains("2026-01-05 (morning)")
    );
    // the device's page lists it among its open requests
    let device_page = cy.get(&format!("/equipment/{}", mine.0)).await;
    assert!(
        device_page.contains("Open service requests")
            && device_page.contains(&format!("href=\"/requests/{id}\""))
            && device_page.contains("Paper jams"),
        "{}",
        device_page.body
    );
    // the photo shows as a small preview; both files download, never run
    let preview = cy
        .get(&format!(
            "/requests/{id}/files/{}/preview",
            count(
                &d.app.t,
                "SELECT MIN(file_id) FROM service_request_attachments"
            )
            .await
        ))
        .await;
    assert_eq!(preview.status, 200);
    assert_eq!(preview.headers["content-type"], "image/jpeg");
    assert!(page.contains("/preview\" alt=\"jam.jpg\""), "{}", page.body);
    let pdf_id = count(
        &d.app.t,
        "SELECT id FROM files WHERE content_type = 'application/pdf'",
    )
    .await;
    let download = cy.get(&format!("/requests/{id}/files/{pdf_id}")).await;
    assert_eq!(download.status, 200);
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"manual.pdf\"")
    );
    assert_eq!(download.headers["x-content-type-options"], "nosniff");

    // staff: the dispatch board, acknowledge, assign, schedule
    let staff_told = count(&d.app.t, &format!("SELECT COUNT(*) FROM notifications WHERE user_id = {} AND event_type = 'request.created'", sam.0)).await;
    assert_eq!(
        staff_told, 1,
        "the technician's side heard of the new request"
    );
    let mut ada = Browser::new(&d.app.base);
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    ada.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let board = ada.get("/dispatch").await;
    assert!(
        board.contains("Paper jams") && board.contains("SR-A"),
        "{}",
        board.body
    );
    let csrf = ada.session_csrf().await;
    let r = ada
        .post(
            &format!("/requests/{id}/status"),
            &[("csrf", &csrf), ("status", "acknowledged")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = ada
        .post(
            &format!("/requests/{id}/assign"),
            &[("csrf", &csrf), ("technician", &sam.0.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = ada
        .post(
            &format!("/requests/{id}/schedule"),
            &[
                ("csrf", &csrf),
                ("start", "2026-01-05T09:00"),
                ("end", "2026-01-05T10:30"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = ada
        .post(
            &format!("/requests/{id}/comment"),
            &[
                ("csrf", &csrf),
                ("text", "Bring the tray-2 roller kit"),
                ("internal", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = ada
        .post(
            &format!("/requests/{id}/comment"),
            &[("csrf", &csrf), ("text", "Sam comes on Monday")],
        )
        .await;
    assert_eq!(r.status, 303);

    // the customer sees every step but the staff note, and was told at each
    let seen = cy.get(&format!("/requests/{id}")).await;
    assert!(
        seen.contains("Scheduled")
            && seen.contains("Technician: Sam")
            && seen.contains("Sam comes on Monday"),
        "{}",
        seen.body
    );
    assert!(seen.contains("2026-01-05 09:00 UTC"));
    assert!(
        !seen.contains("roller kit"),
        "a staff-only note reached the customer"
    );
    let cy_id = count(
        &d.app.t,
        "SELECT id FROM users WHERE email = 'cy@acme.test'",
    )
    .await;
    let told = count(&d.app.t, &format!("SELECT COUNT(*) FROM notifications WHERE user_id = {cy_id} AND event_type IN ('request.updated', 'request.comment')")).await;
    assert_eq!(
        told, 4,
        "acknowledged, assigned, scheduled, the public comment"
    );
    let tok = token(&d, "cy@acme.test", &[]).await;
    let (_, api) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/requests/{id}"),
        &tok,
        None,
    )
    .await;
    assert!(!api.to_string().contains("roller kit"));
    assert_eq!(api["request"]["status"], "scheduled");

    // work goes on: the customer may no longer cancel; once completed, closes it
    let csrf_cy = cy.session_csrf().await;
    let r = cy
        .post(
            &format!("/requests/{id}/status"),
            &[("csrf", &csrf_cy), ("status", "cancelled")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.contains("cannot become cancelled"), "{}", r.body);
    let status = count(
        &d.app.t,
        &format!("SELECT COUNT(*) FROM service_requests WHERE id = {id} AND status = 'cancelled'"),
    )
    .await;
    assert_eq!(
        status, 0,
        "a scheduled request is not the customer's to cancel"
    );
    for step in ["in_progress", "completed"] {
        let r = ada
            .post(
                &format!("/requests/{id}/status"),
                &[("csrf", &csrf), ("status", step)],
            )
            .await;
        assert_eq!(r.status, 303, "{step}: {}", r.body);
    }
    let r = ada
        .post(
            &format!("/requests/{id}/status"),
            &[("csrf", &csrf), ("status", "submitted")],
        )
        .await;
    assert_eq!(r.status, 422, "not a step from completed");
    let r = cy
        .post(
            &format!("/requests/{id}/status"),
            &[("csrf", &csrf_cy), ("status", "closed")],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = cy.get(&format!("/requests/{id}")).await;
    assert!(page.contains("<strong>Closed</strong>"), "{}", page.body);
    let device_page = cy.get(&format!("/equipment/{}", mine.0)).await;
    assert!(
        !device_page.contains(&format!("href=\"/requests/{id}\"")),
        "a closed request is not open: {}",
        device_page.body
    );
    let trail: Vec<String> = {
        let mut c = d.app.t.admin().await;
        sqlx::query_scalar::<sqlx::Any, String>(
            "SELECT action FROM audit_log WHERE action LIKE 'request.%' ORDER BY seq",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    };
    assert_eq!(
        trail,
        [
            "request.created",
            "request.status_changed",
            "request.assigned",
            "request.scheduled",
            "request.commented",
            "request.commented",
            "request.status_changed",
            "request.status_changed",
            "request.status_changed",
        ],
        "every step is in the audit log, refused ones are not"
    );
}

async fn bad_requests_are_refused_and_nothing_is_stored(t: TestDb) {
    let d = dealer(t, uploads).await;
    let (mine, theirs) = devices(&d).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let ok = mine.0.to_string();
    let base = [
        ("equipment", ok.as_str()),
        ("problem_type", "other"),
        ("priority", "normal"),
        ("description", "Broken"),
    ];
    let with = |k: &'static str, v: &'static str| -> Vec<(&'static str, String)> {
        base.iter()
            .map(|(a, b)| {
                if *a == k {
                    (*a, v.to_owned())
                } else {
                    (*a, (*b).to_owned())
                }
            })
            .collect()
    };
    let long = "x".repeat(10_001);
    let whole = photo();
    /// Form fields, attached files (field, bytes, file name), expected status, what the answer names.
    type Case<'a> = (
        Vec<(&'a str, String)>,
        Vec<(&'a str, &'a [u8], &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (with("description", ""), vec![], 422, "description"),
        (with("priority", "yesterday"), vec![], 422, "priority"),
        (with("problem_type", "fire"), vec![], 422, "problem type"),
        (
            base.iter()
                .map(|(a, b)| {
                    (
                        *a,
                        if *a == "description" {
                            long.clone()
                        } else {
                            (*b).to_owned()
                        },
                    )
                })
                .collect(),
            vec![],
            422,
            "description",
        ),
        (
            with("equipment", "not a number"),
            vec![],
            422,
            "Choose the device",
        ),
        (
            base.iter()
                .map(|(a, b)| {
                    (
                        *a,
                        if *a == "equipment" {
                            theirs.0.to_string()
                        } else {
                            (*b).to_owned()
                        },
                    )
                })
                .collect(),
            vec![],
            404,
            "no such",
        ),
        (
            base.iter().map(|(a, b)| (*a, (*b).to_owned())).collect(),
            vec![(
                "photo.jpg",
                b"<html><script>alert(1)</script></html>",
                "image/jpeg",
            )],
            422,
            "only photos",
        ),
        (
            base.iter().map(|(a, b)| (*a, (*b).to_owned())).collect(),
            vec![("cut.jpg", &whole[..50_000], "image/jpeg")],
            422,
            "could not be read",
        ),
    ];
    for (fields, files, status, message) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, _, body) = send_request_form(&d, &mut cy, &fields, &files).await;
        assert_eq!(s, status, "{message}: {body}");
        assert!(
            body.to_lowercase().contains(&message.to_lowercase()),
            "{message}: {body}"
        );
    }
    // 50 MB: refused before it is read
    let big = vec![0xffu8; 50 * 1024 * 1024];
    let fields: Vec<(&str, &str)> = base.to_vec();
    let (s, _, body) =
        send_request_form(&d, &mut cy, &fields, &[("huge.jpg", &big, "image/jpeg")]).await;
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("larger than this server accepts"));
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM service_requests").await,
        0
    );
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM files").await, 0);
    // the API alike
    let tok = token(&d, "cy@acme.test", &[]).await;
    for (body, status) in [
        (
            json!({"equipment": theirs.0, "priority": "low", "problem_type": "other", "description": "x"}),
            404,
        ),
        (
            json!({"equipment": mine.0, "priority": "low", "problem_type": "other", "description": "x", "extra": 1}),
            422,
        ),
        (
            json!({"equipment": mine.0, "priority": "low", "problem_type": "other"}),
            422,
        ),
    ] {
        let r = reqwest::Client::new()
            .post(d.app.url("/api/v1/requests"))
            .bearer_auth(&tok)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
    }
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM service_requests").await,
        0
    );
}

async fn a_device_alert_opens_one_request(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    let (mine, _) = devices(&d).await;
    person(&d.db, UserKind::Staff, "sam@dealer.test", "service").await;
    let jam = ingest::wire::Alert {
        code: "8".into(),
        severity: ingest::wire::AlertSeverity::Critical,
        description: "Paper jam in tray 2".into(),
    };
    let low = ingest::wire::Alert {
        code: "1101".into(),
        severity: ingest::wire::AlertSeverity::Warning,
        description: "Toner low".into(),
    };
    // by default: a suggestion to staff, no request
    d.db.run(async |tx| tx.record_alerts(mine, &[jam.clone(), low.clone()], 1).await)
        .await
        .unwrap();
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM service_requests").await,
        0
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM notifications WHERE event_type = 'request.suggested'"
        )
        .await,
        1
    );
    // the dealer chooses to open requests from alerts
    d.db.run(async |tx| tx.set_setting(portal::requests::FROM_ALERTS, "open").await)
        .await
        .unwrap();
    d.db.run(async |tx| tx.record_alerts(mine, &[], 2).await)
        .await
        .unwrap(); // cleared
    d.db.run(async |tx| tx.record_alerts(mine, std::slice::from_ref(&jam), 3).await)
        .await
        .unwrap();
    d.db.run(async |tx| tx.record_alerts(mine, std::slice::from_ref(&jam), 4).await)
        .await
        .unwrap(); // still on
    d.db.run(async |tx| tx.record_alerts(mine, &[], 5).await)
        .await
        .unwrap();
    d.db.run(async |tx| tx.record_alerts(mine, std::slice::from_ref(&jam), 6).await)
        .await
        .unwrap(); // again, request still open
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM service_requests WHERE source = 'alert' AND alert_code = '8'"
        )
        .await,
        1,
        "one request while it is open"
    );
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM service_requests WHERE priority = 'high' AND problem_type = 'error_code'").await, 1);
}

backends!(
    a_request_from_first_report_to_closing,
    bad_requests_are_refused_and_nothing_is_stored,
    a_device_alert_opens_one_request,
);
