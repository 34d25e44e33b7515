//! What a dealer's customer does every day, through the real pages and the API: sees their
//! devices (never another account's), sends meters and hears back at once, photographs a
//! counter, and is told — live, on an open page — when the dealer decided about a reading.
//! Staff work the review queue. Both databases.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{TestDb, count, mail_to, smtp_on};
use crate::sign_in::{Dealer, PASSWORD, api, dealer, device, person, token};
use portal::ids::EquipmentId;
use portal::users::UserKind;
use serde_json::json;

const DAY: i64 = 86_400_000;

/// These tests move the clock by days; the browsers stay signed in through it.
fn long_sessions(c: &mut portal::config::Config) {
    c.session_idle_minutes = 1_000_000;
    c.session_absolute_hours = 100_000;
}

/// A device for each account (`E-A` for Acme Dental, `E-B` for Bravo Law).
async fn devices(d: &Dealer) -> (EquipmentId, EquipmentId) {
    (
        device(d, d.account, "E-A", "Ricoh", "MP C3004").await,
        device(d, d.other_account, "E-B", "Kyocera", "TASKalfa 3554ci").await,
    )
}

/// Sends the meter form of `device` with these counters; the page answers.
async fn send_meters(
    b: &mut Browser,
    device: EquipmentId,
    counters: &[(&str, &str)],
) -> crate::browser::Page {
    let page = b.get("/meters").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // the device's own form: its submission token follows its anchor
    let at = page
        .body
        .find(&format!("id=\"device-{}\"", device.0))
        .expect("the device is listed");
    let part = crate::browser::Page {
        body: page.body[at..].to_owned(),
        ..page.clone()
    };
    let submission = part.input_value("submission").unwrap();
    let mut fields = vec![("csrf", page.csrf()), ("submission", submission)];
    for (k, v) in counters {
        fields.push((k, (*v).to_owned()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(&format!("/meters/{}", device.0), &fields).await
}

async fn customers_see_their_own_devices_with_every_readings_provenance(t: TestDb) {
    let d = dealer(t, long_sessions).await;
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

    // meters over three months: the chart shows pages per month
    for (days, total) in [(0, 10_000), (31, 12_500), (62, 16_000)] {
        d.app.t.clock.set_ms(crate::harness::T0 + days * DAY);
        let r = send_meters(&mut cy, mine, &[("total", &total.to_string())]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.contains("the reading was accepted"), "{}", r.body);
    }
    let list = cy.get("/equipment").await;
    assert_eq!(list.status, 200);
    assert!(list.contains("MP C3004") && list.contains("E-A"));
    assert!(
        !list.contains("E-B"),
        "another account's device: {}",
        list.body
    );
    let page = cy.get(&format!("/equipment/{}", mine.0)).await;
    assert_eq!(page.status, 200);
    assert!(page.contains("<svg") && page.contains("Pages printed per month"));
    assert!(
        // January: 10,000 → 12,500; February: 12,500 → the line to 16,000 on 4 March at
        // 1 March (15,661); March so far: the rest
        page.contains("Jan 26: 2,500")
            && page.contains("Feb 26: 3,161")
            && page.contains("Mar 26: 339"),
        "{}",
        page.body
    );
    assert!(
        page.contains("Typed in") && page.contains("Accepted"),
        "{}",
        page.body
    );
    assert!(page.contains("2026-03-04 00:00 UTC"), "{}", page.body);

    // the same page on Cy's own clock, with Cy's date order and number marks
    let csrf = cy.session_csrf().await;
    let r = cy
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Cy"),
                ("locale", "en"),
                ("time_zone", "Europe/Berlin"),
                ("date_format", "dotted"),
                ("number_format", "de"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = cy.get(&format!("/equipment/{}", mine.0)).await;
    assert!(
        page.contains("Jan 26: 2.500")
            && page.contains("04.03.2026 01:00 CET")
            && page.contains("16.000"),
        "{}",
        page.body
    );
    // the API keeps plain numbers and epoch milliseconds whatever the person prefers
    let tok = token(&d, "cy@acme.test", &[]).await;
    let (_, body) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/readings", mine.0),
        &tok,
        None,
    )
    .await;
    assert_eq!(body["readings"][0]["value"], 16_000);
    let (_, me) = api(&d.app.base, "GET", "/api/v1/me", &tok, None).await;
    assert_eq!(
        (&me["time_zone"], &me["date_format"], &me["number_format"]),
        (&json!("Europe/Berlin"), &json!("dotted"), &json!("de"))
    );

    // the evidence of a reading: who typed it, and where
    let reading = count(&d.app.t, "SELECT MAX(id) FROM readings").await;
    let ev = cy.get(&format!("/readings/{reading}/evidence")).await;
    assert_eq!(ev.status, 200);
    assert!(
        ev.contains("typed in by Cy (cy@acme.test) on the portal"),
        "{}",
        ev.body
    );

    // another account's device, its readings and its evidence: not found
    assert_eq!(
        cy.get(&format!("/equipment/{}", theirs.0)).await.status,
        404
    );
    let tok = token(&d, "cy@acme.test", &[]).await;
    let (s, body) = api(&d.app.base, "GET", "/api/v1/equipment", &tok, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["equipment"].as_array().unwrap().len(), 1, "{body}");
    let (s, body) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}", mine.0),
        &tok,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["monthly_total"].as_array().unwrap().len(), 12);
    let (s, body) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/readings", mine.0),
        &tok,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["readings"][0]["value"], 16_000, "newest first: {body}");
    assert_eq!(body["readings"][0]["source"], "manual");
    let (s, _) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/readings", theirs.0),
        &tok,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

async fn sent_meters_are_answered_at_once(t: TestDb) {
    let d = dealer(t, long_sessions).await;
    let (mine, theirs) = devices(&d).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    person(&d.db, UserKind::Staff, "rev@dealer.test", "billing").await;
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;

    let r = send_meters(
        &mut cy,
        mine,
        &[
            ("total", "123 456"),
            ("mono", "100.000"),
            ("color", "23'456"),
        ],
    )
    .await;
    assert!(r.contains("the reading was accepted"), "{}", r.body);
    // lower than the last one: kept for a person, with the reason said now
    d.app.t.clock.advance_ms(DAY);
    let r = send_meters(&mut cy, mine, &[("total", "12456")]).await;
    assert_eq!(r.status, 200);
    assert!(r.contains("a person will check it"), "{}", r.body);
    assert!(r.contains("lower"), "the reason: {}", r.body);
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM review_items WHERE status = 'open'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM notifications WHERE event_type = 'reading.review'"
        )
        .await,
        1,
        "the reviewer heard"
    );
    // bad input changes nothing
    let before = count(&d.app.t, "SELECT COUNT(*) FROM readings").await;
    for (fields, why) in [
        (vec![("total", "12a456")], "letters"),
        (vec![("mono", "5")], "no total"),
        (vec![("total", "12345678901")], "11 digits"),
    ] {
        let r = send_meters(&mut cy, mine, &fields).await;
        assert_eq!(r.status, 422, "{why}: {}", r.body);
    }
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM readings").await,
        before
    );

    // the same form sent twice is one reading
    let tok = token(&d, "cy@acme.test", &[]).await;
    let body = json!({"counters": {"total": 130_000}, "submission": "abcdefabcdefabcdef01"});
    let path = format!("/api/v1/equipment/{}/readings", mine.0);
    let (s, first) = api(&d.app.base, "POST", &path, &tok, Some(body.clone())).await;
    assert_eq!(s, 200, "{first}");
    let (_, again) = api(&d.app.base, "POST", &path, &tok, Some(body)).await;
    assert_eq!(again["outcome"], "duplicate", "{again}");
    // another account's device: not found; an unknown counter: refused
    let (s, _) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/equipment/{}/readings", theirs.0),
        &tok,
        Some(json!({"counters": {"total": 1}, "submission": "abcdefabcdefabcdef02"})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, b) = api(
        &d.app.base,
        "POST",
        &path,
        &tok,
        Some(json!({"counters": {"a3_sheets": 1}, "submission": "abcdefabcdefabcdef03"})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
}

async fn a_decision_reaches_the_customers_open_page(t: TestDb) {
    let d = dealer(t, long_sessions).await;
    let (mine, _) = devices(&d).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    person(&d.db, UserKind::Staff, "rev@dealer.test", "billing").await;
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    send_meters(&mut cy, mine, &[("total", "50000")]).await;
    d.app.t.clock.advance_ms(DAY);
    send_meters(&mut cy, mine, &[("total", "5000")]).await; // a lost digit: for review

    // Cy's page listens (the JSON stream, as the page's does with HTML)
    let cookie = format!(
        "{}={}",
        crate::browser::SESSION,
        cy.cookies[crate::browser::SESSION]
    );
    let mut stream = reqwest::Client::new()
        .get(d.app.url("/api/v1/notifications/stream"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    // the reviewer corrects it on the review page
    let mut rev = Browser::new(&d.app.base);
    rev.sign_in("acme", "rev@dealer.test", PASSWORD).await;
    let queue = rev.get("/review").await;
    assert!(
        queue.contains("E-A") && queue.contains("5,000"),
        "{}",
        queue.body
    );
    let item = count(
        &d.app.t,
        "SELECT id FROM review_items WHERE status = 'open'",
    )
    .await;
    let r = rev
        .post(
            &format!("/review/{item}"),
            &[
                ("csrf", &queue.csrf()),
                ("action", "accept"),
                ("corrected_value", "55 000"),
                ("note", "a digit was lost"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // …and Cy's open stream hears it
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !received.contains("event: notification") || !received.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("the decision reached the open stream in time")
            .unwrap()
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        received.contains("was corrected to 55000 and accepted"),
        "{received}"
    );
    assert!(received.contains("a digit was lost"), "{received}");
    // and finds it in the centre, where it is marked read
    let centre = cy.get("/notifications").await;
    assert!(centre.contains("was corrected to 55000"), "{}", centre.body);
    let id = count(
        &d.app.t,
        "SELECT id FROM notifications WHERE event_type = 'reading.decided'",
    )
    .await;
    let r = cy
        .post(
            &format!("/notifications/{id}/read"),
            &[("csrf", &centre.csrf())],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM notifications WHERE event_type = 'reading.decided' AND read_at IS NULL").await, 0);
}

async fn notifications_follow_each_persons_choices(t: TestDb) {
    let smtp = e2e::smtp::smtp_server();
    let d = dealer(t, |c| c.smtp = Some(smtp_on(smtp.port))).await;
    let (mine, _) = devices(&d).await;
    let cy = person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    let dee = person(
        &d.db,
        UserKind::Customer(d.account),
        "dee@acme.test",
        "account_user",
    )
    .await;
    // Dee wants no e-mail about silent devices, and not in the portal either
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "dee@acme.test", PASSWORD).await;
    let prefs = b.get("/notifications/preferences").await;
    assert!(prefs.contains("A device stopped reporting its meters"));
    let r = b
        .post(
            "/notifications/preferences",
            &[("csrf", &prefs.csrf()), ("in_app", "reading.decided")],
        )
        .await;
    assert_eq!(r.status, 303);

    // a burst: three devices fall silent at once; e-mail goes out as one digest
    let mut extra = vec![mine];
    for s in ["E-A2", "E-A3"] {
        extra.push(device(&d, d.account, s, "Ricoh", "IM C3000").await);
    }
    for e in &extra {
        d.db.run(async |tx| {
            tx.record_equipment_report(*e, None, crate::harness::T0)
                .await
        })
        .await
        .unwrap();
    }
    d.app.t.clock.advance_ms(80 * 3_600_000);
    portal::silence::sweep(&d.app.t.db, std::time::Duration::from_secs(72 * 3600))
        .await
        .unwrap();
    let count_for = |u: i64, extra: &str| {
        format!("SELECT COUNT(*) FROM notifications WHERE user_id = {u}{extra}")
    };
    assert_eq!(
        count(&d.app.t, &count_for(cy.0, " AND read_at IS NULL")).await,
        3
    );
    assert_eq!(
        count(&d.app.t, &count_for(dee.0, "")).await,
        0,
        "Dee chose neither channel"
    );
    // not before the digest window
    assert_eq!(
        portal::notifications::queue_digests(&d.app.t.db, &d.app.base)
            .await
            .unwrap(),
        0
    );
    d.app
        .t
        .clock
        .advance_ms(portal::notifications::DIGEST_WINDOW_MS);
    assert_eq!(
        portal::notifications::queue_digests(&d.app.t.db, &d.app.base)
            .await
            .unwrap(),
        1
    );
    let mail = mail_to_after_wake(&d, &smtp, "cy@acme.test").await;
    assert_eq!(mail.subject, "3 updates from acme");
    assert!(
        mail.text.contains("E-A2") && mail.text.contains("/equipment/"),
        "{}",
        mail.text
    );
    // nothing goes twice
    d.app
        .t
        .clock
        .advance_ms(portal::notifications::DIGEST_WINDOW_MS);
    assert_eq!(
        portal::notifications::queue_digests(&d.app.t.db, &d.app.base)
            .await
            .unwrap(),
        0
    );
    // mark all read
    let mut cyb = Browser::new(&d.app.base);
    cyb.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let centre = cyb.get("/notifications").await;
    assert!(
        centre.contains("3</span>") || centre.contains(">3<"),
        "the unread badge"
    );
    cyb.post("/notifications/read-all", &[("csrf", &centre.csrf())])
        .await;
    assert_eq!(
        count(&d.app.t, &count_for(cy.0, " AND read_at IS NULL")).await,
        0
    );
    // preferences through the API: an unknown event is refused, nothing changes
    let tok = token(&d, "cy@acme.test", &[]).await;
    let (s, _) = api(
        &d.app.base,
        "PUT",
        "/api/v1/notifications/preferences",
        &tok,
        Some(json!([{"event": "no.such", "channel": "email", "enabled": true}])),
    )
    .await;
    assert_eq!(s, 422);
}

/// Wakes the sender (the digest was queued outside a request, as the server's digest task
/// queues it and then wakes the sender) and waits for the mail.
async fn mail_to_after_wake(
    d: &Dealer,
    smtp: &e2e::smtp::SmtpServer,
    to: &str,
) -> e2e::smtp::Received {
    d.app.mail.notify_one();
    mail_to(smtp, to, 1).await.remove(0)
}

async fn a_photo_of_the_counter_is_read_checked_and_sent(t: TestDb) {
    let d = dealer(t, |c| {
        c.upload_dir = std::env::temp_dir().join(format!("printyx-up-{}", rand::random::<u32>()))
    })
    .await;
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
    let form = cy.get(&format!("/equipment/{}/photo", mine.0)).await;
    assert_eq!(form.status, 200);
    assert!(form.contains("enctype=\"multipart/form-data\""));
    // the upload form's address (the page's first form is the menu's sign-out)
    let action = form
        .body
        .split("action=\"/equipment/")
        .nth(1)
        .map(|rest| format!("/equipment/{rest}"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    // a Konica Minolta counter screen of the fixtures: total 2,458,570
    let photo = e2e::photos::bytes("a030_screen.jpg");
    let total = "2458570";
    let cookie = cy
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let send = async |path: &str, bytes: &[u8]| {
        reqwest::Client::new()
            .post(d.app.url(path))
            .header("cookie", &cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart_photo(bytes))
            .send()
            .await
            .unwrap()
    };
    let upload = async |path: &str| send(path, &photo).await;
    // a web page named counter.jpg, and 50 MB: refused with the reason, nothing kept
    let r = send(&action, b"<!doctype html><script>alert(1)</script>").await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("not an image (JPEG or PNG expected)"),
        "{text}"
    );
    let r = send(&action, &vec![0xff; 50 * 1024 * 1024]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM files").await, 0);
    let r = upload(&action).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let page = r.text().await.unwrap();
    assert!(page.contains("Check what was read"), "{page}");
    let shown = crate::browser::Page {
        status: 200,
        location: None,
        headers: Default::default(),
        body: page,
    };
    assert_eq!(
        shown.input_value("total").as_deref(),
        Some(total),
        "pre-filled from the photo"
    );
    let confirm = shown
        .body
        .split("action=\"/meter-photos/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let r = cy
        .post(
            &format!("/meter-photos/{confirm}/confirm"),
            &[("csrf", &shown.csrf()), ("total", total)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.contains("Reading sent"), "{}", r.body);
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM readings WHERE source = 'photo'"
        )
        .await,
        1
    );
    // without the token in the form's address, an upload is refused; another account's device
    // is not found, whatever is sent
    let bare = upload(&format!("/equipment/{}/photo", mine.0)).await;
    assert_eq!(bare.status(), 403);
    assert_eq!(
        cy.get(&format!("/equipment/{}/photo", theirs.0))
            .await
            .status,
        404
    );
}

const BOUNDARY: &str = "printyx-test-boundary";

/// A browser's multipart body with one file field `photo`.
fn multipart_photo(bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"counter.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Pages speak the language a person chose on their profile (before sign-in: the one their
/// browser asks for); what people and devices wrote stays as written.
async fn pages_speak_the_language_each_person_chose(t: TestDb) {
    let d = dealer(t, long_sessions).await;
    let (mine, _) = devices(&d).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;

    // before sign-in, the browser's language
    let mut cy = Browser::speaking(&d.app.base, "fr-CA, fr;q=0.9, en;q=0.5");
    let page = cy.get("/sign-in?dealer=acme").await;
    assert!(
        page.contains("<html lang=\"fr\">") && page.contains("Mot de passe oublié ?"),
        "{}",
        page.body
    );
    let wrong = cy
        .post(
            "/sign-in",
            &[
                ("csrf", &page.csrf()),
                ("dealer", "acme"),
                ("email", "cy@acme.test"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert!(
        wrong.contains("L&#39;adresse e-mail ou le mot de passe n&#39;est pas correct."),
        "{}",
        wrong.body
    );
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    // signed in, their own choice (English until they choose)
    let home = cy.get("/").await;
    assert!(home.contains("<html lang=\"en\">") && home.contains("Quick actions"));

    let csrf = cy.session_csrf().await;
    let r = cy
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Cy"),
                ("locale", "de"),
                ("time_zone", "Europe/Berlin"),
                ("date_format", "dotted"),
                ("number_format", "de"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let saved = cy.get(r.location.as_deref().unwrap()).await;
    assert!(
        saved.contains("Ihr Profil wurde gespeichert.") && saved.contains("<html lang=\"de\">"),
        "{}",
        saved.body
    );
    let home = cy.get("/").await;
    for text in [
        "Hallo, Cy",
        "Schnellzugriff",
        "Zählerstände senden",
        "Abmelden",
        ">Geräte<",
    ] {
        assert!(home.contains(text), "{text}: {}", home.body);
    }
    assert!(!home.contains("Quick actions"), "{}", home.body);

    d.app.t.clock.set_ms(crate::harness::T0 + 40 * DAY);
    let r = send_meters(&mut cy, mine, &[("total", "12345")]).await;
    assert!(
        r.contains("Danke: Der Zählerstand wurde angenommen."),
        "{}",
        r.body
    );
    let page = cy.get(&format!("/equipment/{}", mine.0)).await;
    for text in [
        "Seriennummer",
        "Eingetippt",
        "Angenommen",
        "12.345",
        "Seiten pro Monat",
    ] {
        assert!(page.contains(text), "{text}: {}", page.body);
    }
    // the device's own words are not translated
    assert!(page.contains("Ricoh MP C3004"), "{}", page.body);

    // the API is the same whatever the person reads
    let tok = token(&d, "cy@acme.test", &[]).await;
    let (_, me) = api(&d.app.base, "GET", "/api/v1/me", &tok, None).await;
    assert_eq!(me["locale"], "de");
    let (_, body) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/readings", mine.0),
        &tok,
        None,
    )
    .await;
    assert_eq!(body["readings"][0]["source"], "manual");
}

backends!(
    pages_speak_the_language_each_person_chose,
    customers_see_their_own_devices_with_every_readings_provenance,
    sent_meters_are_answered_at_once,
    a_decision_reaches_the_customers_open_page,
    notifications_follow_each_persons_choices,
    a_photo_of_the_counter_is_read_checked_and_sent,
);
