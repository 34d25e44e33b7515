//! Invoices from accepted readings, end to end on both databases: a month billed from the
//! readings the devices sent (each line naming them), a silent counter estimated and trued up
//! the month after, one invoice per period, the dry run that shows the next one, and each
//! customer seeing only their own.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{T0, TestDb, count};
use crate::sign_in::{Dealer, PASSWORD, api, dealer, device, person, token};
use ingest::domain::{MeterKind, MeterValue, ReadingSource, ReadingStatus};
use portal::billing::arithmetic::Rate;
use portal::billing::invoices;
use portal::clock::Clock;
use portal::contracts::NewContract;
use portal::ids::{ContractId, EquipmentId};
use portal::readings::NewReading;
use portal::users::UserKind;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;

/// 2026-01-01 plus `days`, at noon.
fn day(days: i64) -> i64 {
    T0 + days * DAY + DAY / 2
}

async fn read(d: &Dealer, e: EquipmentId, value: i64, at: i64) -> i64 {
    let new = NewReading {
        equipment_id: e,
        meter_kind: MeterKind::parse("mono").unwrap(),
        segment: 0,
        value: MeterValue::new(value).unwrap(),
        read_at: at,
        source: ReadingSource::AgentSnmp,
        status: ReadingStatus::Accepted,
        reasons: vec![],
        confidence: None,
        evidence_id: None,
        idempotency_key: format!("{}-{value}-{at}", e.0),
        agent_id: None,
        submitted_by: None,
    };
    match d
        .db
        .run(async |tx| tx.insert_reading(&new).await)
        .await
        .unwrap()
    {
        portal::readings::Stored::New(r) => r.id.0,
        other => panic!("{other:?}"),
    }
}

struct Billing {
    d: Dealer,
    staff: String,
    cy: String,
    contract: ContractId,
    a: EquipmentId,
    b: EquipmentId,
}

async fn billing(t: TestDb) -> Billing {
    // the webhook secret is kept sealed: the server needs its key
    let d = dealer(t, |c| {
        c.secret_key = Some(crate::harness::TEST_SECRET_KEY.into())
    })
    .await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    person(
        &d.db,
        UserKind::Customer(d.other_account),
        "bo@bravo.test",
        "account_admin",
    )
    .await;
    let staff = token(&d, "ada@dealer.test", &[]).await;
    let cy = token(&d, "cy@acme.test", &[]).await;
    let a = device(&d, d.account, "E-A", "Ricoh", "MP C3004").await;
    let b = device(&d, d.account, "E-B", "Ricoh", "MP C3004").await;
    let contract =
        d.db.run(async |tx| {
            let mut new = NewContract::new(d.account, "C-1", "2026-01-01".parse().unwrap())?;
            new.base_charge_cents = 4_900;
            let c = tx.create_contract(&new).await?;
            tx.set_rate(
                c,
                &Rate {
                    meter_kind: "mono".into(),
                    included_pages: 1_000,
                    overage_millicents: 800,
                },
            )
            .await?;
            tx.put_on_contract(a, Some(c)).await?;
            tx.put_on_contract(b, Some(c)).await?;
            Ok(c)
        })
        .await
        .unwrap();
    Billing {
        d,
        staff,
        cy,
        contract,
        a,
        b,
    }
}

async fn issue_due(d: &Dealer, on: &str) -> Vec<portal::billing::store::InvoiceView> {
    let on = on.parse().unwrap();
    d.db.run(async |tx| invoices::issue_due(tx, on).await)
        .await
        .unwrap()
}

fn kinds(lines: &Value) -> Vec<(String, i64, bool)> {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["amount_cents"].as_i64().unwrap(),
                l["estimated"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn a_month_is_billed_from_its_readings_and_an_estimate_is_trued_up(t: TestDb) {
    let s = billing(t).await;
    let d = &s.d;
    let clock = &d.app.t.clock;
    // January: A reports until the 28th; B goes silent after the 10th
    let a0 = read(d, s.a, 10_000, day(0)).await;
    let a1 = read(d, s.a, 11_500, day(27)).await;
    read(d, s.b, 5_000, day(0)).await;
    read(d, s.b, 5_300, day(9)).await;

    // the dry run shows February 1st's invoice before it is issued
    clock.set_ms(day(31));
    let (status, preview) = api(
        &d.app.base,
        "GET",
        &format!(
            "/api/v1/contracts/{}/invoice-preview?on=2026-02-01",
            s.contract.0
        ),
        &s.staff,
        None,
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            preview["period_start"].as_str(),
            preview["period_end"].as_str()
        ),
        (Some("2026-01-01"), Some("2026-01-31"))
    );
    // B: 300 pages in 9 days, the 21.5 days to the period's end estimated at that pace →
    // 5,300 + 716 = 6,016: 1,016 pages, 16 over (12.8 ¢ → 13 ¢)
    assert_eq!(
        kinds(&preview["lines"]),
        vec![
            ("base".into(), 4_900, false),
            ("usage".into(), 0, false),
            ("overage".into(), 400, false),
            ("usage".into(), 0, true),
            ("overage".into(), 13, true),
        ],
        "{preview}"
    );
    assert_eq!(preview["subtotal_cents"], 5_313);
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM invoices").await,
        0,
        "a dry run issues nothing"
    );
    let (status, _) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/contracts/{}/invoice-preview", s.contract.0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(status, 403, "the dry run is the dealer's");

    let issued = issue_due(d, "2026-02-01").await;
    assert_eq!(issued.len(), 1);
    assert!(
        issue_due(d, "2026-02-01").await.is_empty(),
        "once per period"
    );
    let (status, _) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/contracts/{}/invoices", s.contract.0),
        &s.staff,
        Some(json!({"on": "2026-02-01"})),
    )
    .await;
    assert_eq!(status, 409);
    let id = issued[0].id;
    let (status, inv) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/invoices/{id}"),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(inv["invoice"]["total_cents"], 5_313);
    assert_eq!(inv["lines"], preview["lines"], "issued as previewed");
    let a_usage = &inv["lines"][1];
    assert_eq!(
        (
            a_usage["start_reading_id"].as_i64(),
            a_usage["end_reading_id"].as_i64()
        ),
        (Some(a0), Some(a1)),
        "the readings it came from"
    );
    assert_eq!(
        (
            a_usage["start_value"].as_i64(),
            a_usage["end_value"].as_i64()
        ),
        (Some(10_000), Some(11_500))
    );
    let b_usage = &inv["lines"][3];
    assert_eq!(
        (
            b_usage["end_reading_id"].as_i64(),
            b_usage["end_value"].as_i64()
        ),
        (None, Some(6_016)),
        "an estimate is no reading"
    );
    // the estimate is not taken for a reading anywhere else
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM readings WHERE source = 'estimate'"
        )
        .await,
        0
    );

    // February: B's real count is under the estimate; A stays within what is included
    read(d, s.a, 12_000, day(57)).await;
    read(d, s.b, 5_900, day(50)).await;
    read(d, s.b, 5_950, day(57)).await;
    clock.set_ms(day(59));
    let (_, response) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/contracts/{}/invoices", s.contract.0),
        &s.staff,
        Some(json!({"on": "2026-03-01"})),
    )
    .await;
    let march = response["id"].as_i64().unwrap();
    let (_, inv) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/invoices/{march}"),
        &s.cy,
        None,
    )
    .await;
    // B started from the estimate 6,016 and ended at 5,950: the 16 overage pages the estimate
    // charged are credited back at the rate they were charged
    assert_eq!(
        kinds(&inv["lines"]),
        vec![
            ("base".into(), 4_900, false),
            ("usage".into(), 0, false),
            ("usage".into(), 0, false),
            ("true_up".into(), -13, false),
        ],
        "{inv}"
    );
    assert_eq!(inv["invoice"]["total_cents"], 4_887);
    assert_eq!(inv["lines"][2]["start_value"], 6_016);
    assert!(
        inv["invoice"]["number"].as_i64().unwrap() > issued[0].number,
        "numbered per tenant"
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.issued'"
        )
        .await,
        2
    );
}

async fn customers_see_their_own_invoices_as_pages_and_csv(t: TestDb) {
    let s = billing(t).await;
    let d = &s.d;
    read(d, s.a, 10_000, day(0)).await;
    read(d, s.a, 11_500, day(27)).await;
    d.app.t.clock.set_ms(day(31));
    let issued = issue_due(d, "2026-02-01").await;
    let id = issued[0].id;
    let (_, n) = api(&d.app.base, "GET", "/api/v1/notifications", &s.cy, None).await;
    assert!(
        n["notifications"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Invoice {}", issued[0].number)),
        "{n}"
    );

    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let list = cy.get("/invoices").await;
    assert!(
        list.contains(&format!("/invoices/{id}")) && list.contains("53.00 USD"),
        "{}",
        list.body
    );
    let page = cy.get(&format!("/invoices/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.contains("0.800 ¢")
            && page.contains("/evidence")
            && page.contains("500 pages over 1000 included"),
        "{}",
        page.body
    );
    let csv = cy.get(&format!("/invoices/{id}/csv")).await;
    assert!(
        csv.body.starts_with("invoice,period_start,period_end,kind"),
        "{}",
        csv.body
    );
    assert!(
        csv.body.contains(",overage,") && csv.body.contains(",10000,11500,500,800,400,no,USD"),
        "{}",
        csv.body
    );

    // another account's customer: not found, on the pages and the API
    let mut bo = Browser::new(&d.app.base);
    bo.sign_in("acme", "bo@bravo.test", PASSWORD).await;
    assert_eq!(bo.get(&format!("/invoices/{id}")).await.status, 404);
    assert_eq!(bo.get(&format!("/invoices/{id}/csv")).await.status, 404);
    let bo_token = token(d, "bo@bravo.test", &[]).await;
    let (status, _) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/invoices/{id}"),
        &bo_token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, theirs) = api(&d.app.base, "GET", "/api/v1/invoices", &bo_token, None).await;
    assert_eq!(theirs["invoices"].as_array().unwrap().len(), 0);
    // a day that is no day
    let (status, body) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/contracts/{}/invoices", s.contract.0),
        &s.staff,
        Some(json!({"on": "2026-02-30"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

/// A sandbox token for a test number, as a browser gets it from the processor's page.
async fn sandbox(d: &Dealer, body: Value) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/sandbox-gateway/tokens", d.app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn add_method(d: &Dealer, tok: &str, kind: &str, token: &str) -> i64 {
    let (status, m) = api(
        &d.app.base,
        "POST",
        "/api/v1/payment-methods",
        tok,
        Some(json!({"kind": kind, "token": token})),
    )
    .await;
    assert_eq!(status, 201, "{m}");
    m["id"].as_i64().unwrap()
}

async fn pay(d: &Dealer, tok: &str, key: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/payments", d.app.base))
        .bearer_auth(tok)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// One invoice of 53.00 USD for Acme, issued on 2026-02-01.
async fn an_invoice(s: &Billing) -> i64 {
    read(&s.d, s.a, 10_000, day(0)).await;
    read(&s.d, s.a, 11_500, day(27)).await;
    s.d.app.t.clock.set_ms(day(31));
    issue_due(&s.d, "2026-02-01").await[0].id
}

async fn invoice_status(d: &Dealer, tok: &str, id: i64) -> (String, i64) {
    let (_, inv) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/invoices/{id}"),
        tok,
        None,
    )
    .await;
    (
        inv["invoice"]["status"].as_str().unwrap().to_owned(),
        inv["invoice"]["amount_paid_cents"].as_i64().unwrap(),
    )
}

async fn a_payment_sent_twice_at_once_charges_once(t: TestDb) {
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    // the portal's API takes tokens only: a card number is refused as an unknown field
    let (status, _) = api(
        &d.app.base,
        "POST",
        "/api/v1/payment-methods",
        &s.cy,
        Some(json!({"kind": "card", "number": "4242424242424242"})),
    )
    .await;
    assert_eq!(status, 422);
    let card = sandbox(d, json!({"number": "4242 4242 4242 4242"})).await;
    let method = add_method(d, &s.cy, "card", &card).await;
    let (_, methods) = api(&d.app.base, "GET", "/api/v1/payment-methods", &s.cy, None).await;
    assert_eq!(methods[0]["last4"], "4242");

    // part of it first
    let (status, part) = pay(
        d,
        &s.cy,
        "pay-part-000001",
        json!({"invoices": [invoice], "amount_cents": 1_000, "method": method}),
    )
    .await;
    assert_eq!(
        (status, part["status"].as_str()),
        (201, Some("succeeded")),
        "{part}"
    );
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("partially_paid".into(), 1_000)
    );
    // more than is open: refused, nothing charged
    let (status, _) = pay(
        d,
        &s.cy,
        "pay-too-much-001",
        json!({"invoices": [invoice], "amount_cents": 5_000, "method": method}),
    )
    .await;
    assert_eq!(status, 422);
    // the rest, twice at once: one payment, one charge
    let body = json!({"invoices": [invoice], "method": method});
    let (a, b) = tokio::join!(
        pay(d, &s.cy, "pay-rest-000001", body.clone()),
        pay(d, &s.cy, "pay-rest-000001", body.clone())
    );
    assert_eq!(a.1["id"], b.1["id"], "{a:?} {b:?}");
    assert_eq!(a.1["amount_cents"], 4_300);
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("paid".into(), 5_300)
    );
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM payments").await, 2);
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM payment_attempts").await,
        2
    );
    // nothing left to pay
    let (status, _) = pay(
        d,
        &s.cy,
        "pay-again-00001",
        json!({"invoices": [invoice], "method": method}),
    )
    .await;
    assert_eq!(status, 422);

    // another account: its customer cannot pay (or see) Acme's invoice
    let bo = token(d, "bo@bravo.test", &[]).await;
    let bo_card = sandbox(d, json!({"number": "4242424242424242"})).await;
    let bo_method = add_method(d, &bo, "card", &bo_card).await;
    let (status, _) = pay(
        d,
        &bo,
        "pay-bravo-00001",
        json!({"invoices": [invoice], "method": bo_method}),
    )
    .await;
    assert_eq!(status, 404);
    // nor use Bravo's card for Acme's
    let (status, _) = pay(
        d,
        &s.cy,
        "pay-bravo-00002",
        json!({"invoices": [invoice], "method": bo_method}),
    )
    .await;
    assert_eq!(status, 422);
    let (_, history) = api(&d.app.base, "GET", "/api/v1/payments", &s.cy, None).await;
    assert_eq!(history.as_array().unwrap().len(), 2);
}

/// The domain functions with the test's own sandbox, to look behind the processor's curtain.
fn principal(d: &Dealer, user: i64) -> portal::auth::Principal {
    portal::auth::Principal {
        tenant: d.db.tenant_id(),
        user: portal::ids::UserId(user),
        kind: UserKind::Customer(d.account),
        permissions: [
            portal::auth::Permission::PaymentsMake,
            portal::auth::Permission::InvoicesRead,
        ]
        .into(),
        via: portal::auth::Via::ApiToken(0),
        client: portal::audit::Client::default(),
        formats: portal::web::formats::Formats::default(),
        lang: portal::web::i18n::Lang::En,
    }
}

/// A payment method of Acme's as the processor's token, stored as the API would.
async fn stored_method(
    d: &Dealer,
    kind: &str,
    processor: &str,
    token: &str,
    last4: Option<&str>,
) -> i64 {
    d.db.run(async |tx| {
        tx.insert_method(d.account, kind, processor, token, last4)
            .await
    })
    .await
    .unwrap()
}

async fn cy_id(d: &Dealer) -> i64 {
    count(
        &d.app.t,
        "SELECT id FROM users WHERE email = 'cy@acme.test'",
    )
    .await
}

async fn no_answer_is_asked_about_and_never_charged_twice(t: TestDb) {
    use portal::billing::gateway::Sandbox;
    use portal::billing::payments::{self, Pay};
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    let g = Sandbox::default();
    let cy = principal(d, cy_id(d).await);
    // the timeout card: the processor charges, the answer is lost
    let card = g.tokenize_card("4000000000000069").unwrap();
    let method = stored_method(d, "card", "sandbox", &card, Some("0069")).await;
    let req = Pay {
        invoices: vec![invoice],
        amount_cents: None,
        method,
        key: "timeout-000001".into(),
    };
    let p = payments::pay(&d.db, &g, &cy, &req).await.unwrap();
    assert_eq!(p.status, "processing", "not known yet");
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "issued");
    assert_eq!(
        payments::reconcile(&d.db, &g).await.unwrap(),
        1,
        "an unknown answer is asked about at once"
    );
    let p = d.db.read(async |tx| tx.payment(p.id).await).await.unwrap();
    assert_eq!(p.status, "succeeded");
    assert_eq!(g.charges_of(&card), 1);
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "paid");
    // the same request again (a reload after the timeout) charges nothing
    let again = payments::pay(&d.db, &g, &cy, &req).await.unwrap();
    assert_eq!((again.id, g.charges_of(&card)), (p.id, 1));
}

async fn a_crash_before_the_answer_is_reconciled_then_retried(t: TestDb) {
    use portal::billing::gateway::{Charge, GatewayError, Outcome, PaymentGateway, Sandbox};
    use portal::billing::payments::{self, Pay};
    /// A processor that is never reached (the process died before the request left).
    #[derive(Debug)]
    struct Unreachable;
    impl PaymentGateway for Unreachable {
        fn name(&self) -> &'static str {
            "unreachable"
        }
        async fn charge(&self, _: &Charge) -> Result<Outcome, GatewayError> {
            Err(GatewayError::Unavailable("connection refused".into()))
        }
        async fn lookup(&self, _: &Charge) -> Result<Option<Outcome>, GatewayError> {
            Err(GatewayError::Unavailable("connection refused".into()))
        }
    }
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    let g = Sandbox::default();
    let cy = principal(d, cy_id(d).await);
    let card = g.tokenize_card("4242424242424242").unwrap();
    let method = stored_method(d, "card", "sandbox", &card, Some("4242")).await;
    let req = Pay {
        invoices: vec![invoice],
        amount_cents: None,
        method,
        key: "crashed-000001".into(),
    };
    payments::pay(&d.db, &Unreachable, &cy, &req).await.unwrap();
    // the real processor never saw it: failed, to be tried again with a new key
    assert_eq!(payments::reconcile(&d.db, &g).await.unwrap(), 1);
    assert_eq!(g.charges_of(&card), 0);
    assert_eq!(
        payments::retry_due(&d.db, &g).await.unwrap(),
        0,
        "not before the retry is due"
    );
    d.app.t.clock.set_ms(day(33));
    assert_eq!(payments::retry_due(&d.db, &g).await.unwrap(), 1);
    assert_eq!(g.charges_of(&card), 1);
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "paid");
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM payment_attempts WHERE idempotency_key = 'crashed-000001-2'"
        )
        .await,
        1
    );
}

async fn refused_payments_are_retried_on_schedule_only_when_they_may_succeed(t: TestDb) {
    use portal::billing::gateway::Sandbox;
    use portal::billing::payments::{self, Pay};
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    let g = Sandbox::default();
    let cy = principal(d, cy_id(d).await);
    let method_for = |number: &'static str| {
        let token = g.tokenize_card(number).unwrap();
        async move { stored_method(d, "card", "sandbox", &token, None).await }
    };
    // declined: no retry
    let declined = method_for("4000000000000002").await;
    let p = payments::pay(
        &d.db,
        &g,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: Some(100),
            method: declined,
            key: "declined-00001".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(p.status, "failed");
    // insufficient funds: after 1, 3 and 7 days, then no more
    let poor = method_for("4000000000009995").await;
    let p = payments::pay(
        &d.db,
        &g,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: Some(100),
            method: poor,
            key: "poor-000000001".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(p.status, "pending");
    let clock = &d.app.t.clock;
    let start = clock.now_ms();
    for (after_days, expected) in [
        (0.5, 0),
        (1.0, 1),
        (3.9, 0),
        (4.0, 1),
        (10.9, 0),
        (11.0, 1),
        (40.0, 0),
    ] {
        clock.set_ms(start + (after_days * DAY as f64) as i64);
        assert_eq!(
            payments::retry_due(&d.db, &g).await.unwrap(),
            expected,
            "after {after_days} days"
        );
    }
    let p = d.db.read(async |tx| tx.payment(p.id).await).await.unwrap();
    assert_eq!((p.status.as_str(), p.attempts), ("failed", 4));
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("issued".into(), 0)
    );
    let (_, n) = api(&d.app.base, "GET", "/api/v1/notifications", &s.cy, None).await;
    assert!(
        n["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"].as_str().unwrap().contains("insufficient_funds")),
        "{n}"
    );
}

async fn ach_returns_are_presented_again_only_when_the_code_allows(t: TestDb) {
    use portal::billing::gateway::Sandbox;
    use portal::billing::payments::{self, Pay};
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    let g = Sandbox::default();
    let cy = principal(d, cy_id(d).await);
    let account = |number: &'static str| {
        let token = g.tokenize_account("110000000", number).unwrap();
        async move { stored_method(d, "ach", "sandbox", &token, None).await }
    };
    let r01 = account("000111111116").await;
    let p = payments::pay(
        &d.db,
        &g,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: Some(1_000),
            method: r01,
            key: "ach-r01-000001".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(p.status, "succeeded");
    let clock = &d.app.t.clock;
    // returned R01 three times: presented again twice, then no more
    for round in 0..3 {
        let again =
            d.db.run(async |tx| payments::ach_return(tx, p.id, "R01").await)
                .await
                .unwrap();
        assert_eq!(again, round < 2, "round {round}");
        assert_eq!(
            invoice_status(d, &s.cy, invoice).await.1,
            0,
            "undone on the invoice"
        );
        clock.set_ms(clock.now_ms() + 2 * DAY);
        let made = payments::retry_due(&d.db, &g).await.unwrap();
        assert_eq!(made, usize::from(round < 2));
    }
    let p = d.db.read(async |tx| tx.payment(p.id).await).await.unwrap();
    assert_eq!((p.status.as_str(), p.attempts), ("returned", 3));
    // R02 (account closed): never again
    let r02 = account("000111111113").await;
    let q = payments::pay(
        &d.db,
        &g,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: Some(500),
            method: r02,
            key: "ach-r02-000001".into(),
        },
    )
    .await
    .unwrap();
    assert!(
        !d.db
            .run(async |tx| payments::ach_return(tx, q.id, "R02").await)
            .await
            .unwrap()
    );
    clock.set_ms(clock.now_ms() + 30 * DAY);
    assert_eq!(payments::retry_due(&d.db, &g).await.unwrap(), 0);
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payment.returned'"
        )
        .await,
        4
    );
}

/// Stripe's API as far as the adapter uses it: answers from the fixtures, a repeated
/// idempotency key answered as the first time, every creating request kept for the test.
struct StandIn {
    base: String,
    created: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

async fn stripe_stand_in() -> StandIn {
    use axum::http::{HeaderMap, StatusCode};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/stripe/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let (ok, declined, broken) = (
        fixture("payment_intent_succeeded"),
        fixture("card_declined_insufficient_funds"),
        fixture("api_error"),
    );
    let created = Arc::new(Mutex::new(Vec::new()));
    let answers: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
    let seen = created.clone();
    let app = axum::Router::new().route(
        "/v1/payment_intents",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (ok, declined, broken, seen, answers) = (
                ok.clone(),
                declined.clone(),
                broken.clone(),
                seen.clone(),
                answers.clone(),
            );
            async move {
                let reply =
                    |(status, body): (u16, String)| (StatusCode::from_u16(status).unwrap(), body);
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some("Bearer sk_test_printyx")
                {
                    return reply((401, r#"{"error":{"type":"invalid_request_error"}}"#.into()));
                }
                let Some(key) = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                else {
                    return reply((400, r#"{"error":{"type":"invalid_request_error"}}"#.into()));
                };
                if let Some(first) = answers.lock().unwrap().get(&key) {
                    return reply(first.clone());
                }
                let answer = if body.contains("payment_method=pm_card_visa") {
                    (200, ok)
                } else if body.contains("payment_method=pm_card_chargeDeclinedInsufficientFunds") {
                    (402, declined)
                } else {
                    (500, broken)
                };
                if answer.0 < 500 {
                    seen.lock().unwrap().push(body);
                    answers.lock().unwrap().insert(key, answer.clone());
                }
                reply(answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn { base, created }
}

async fn the_stripe_adapter_charges_once_per_key_and_reads_its_answers(t: TestDb) {
    use portal::billing::gateway::{Charge, GatewayError, Outcome, PaymentGateway};
    use portal::billing::payments::{self, Pay};
    use portal::billing::stripe::Stripe;
    let s = billing(t).await;
    let d = &s.d;
    let stand_in = stripe_stand_in().await;
    let stripe = Stripe::new(&stand_in.base, "sk_test_printyx");
    let charge = |key: &str, pm: &str| Charge {
        idempotency_key: key.into(),
        token: pm.into(),
        amount_cents: 5_300,
        currency: "USD".into(),
        description: "Invoices 1".into(),
    };
    let first = stripe.charge(&charge("key-visa-1", "pm_card_visa")).await;
    assert_eq!(
        first,
        Ok(Outcome::Succeeded {
            reference: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into()
        })
    );
    assert_eq!(
        stripe.charge(&charge("key-visa-1", "pm_card_visa")).await,
        first
    );
    assert_eq!(
        stripe.lookup(&charge("key-visa-1", "pm_card_visa")).await,
        Ok(first.clone().ok())
    );
    {
        let created = stand_in.created.lock().unwrap();
        assert_eq!(created.len(), 1, "one key, one PaymentIntent");
        for part in [
            "amount=5300",
            "currency=usd",
            "confirm=true",
            "off_session=true",
            "metadata%5Bidempotency_key%5D=key-visa-1",
        ] {
            assert!(created[0].contains(part), "{part}: {}", created[0]);
        }
    }
    assert_eq!(
        stripe
            .charge(&charge(
                "key-poor-1",
                "pm_card_chargeDeclinedInsufficientFunds"
            ))
            .await,
        Ok(Outcome::Failed {
            code: "insufficient_funds".into(),
            retryable: true
        })
    );
    assert!(matches!(
        stripe
            .charge(&charge("key-broken-1", "pm_card_error"))
            .await,
        Err(GatewayError::Unavailable(_))
    ));
    let wrong_key = Stripe::new(&stand_in.base, "sk_test_wrong");
    assert!(matches!(
        wrong_key
            .charge(&charge("key-visa-2", "pm_card_visa"))
            .await,
        Ok(Outcome::Failed {
            retryable: false,
            ..
        })
    ));

    // paying an invoice through it
    let invoice = an_invoice(&s).await;
    let method = stored_method(d, "card", "stripe", "pm_card_visa", Some("4242")).await;
    let cy = principal(d, cy_id(d).await);
    let p = payments::pay(
        &d.db,
        &stripe,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: None,
            method,
            key: "stripe-pay-0001".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(p.status, "succeeded");
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "paid");
}

async fn webhooks_are_taken_signed_fresh_and_once(t: TestDb) {
    use portal::billing::payments::{self, Pay};
    use portal::billing::stripe::{Stripe, sign};
    let s = billing(t).await;
    let d = &s.d;
    let keys = portal::secrets::Keyring::new(Some(crate::harness::TEST_SECRET_KEY), &[]).unwrap();
    d.db.run(async |tx| tx.put_secret(&keys, "stripe.webhook", b"whsec_test").await)
        .await
        .unwrap();
    let invoice = an_invoice(&s).await;
    // Stripe is down when the payment is made: its fate is unknown
    let stripe = Stripe::new("http://127.0.0.1:9", "sk_test_printyx");
    let method = stored_method(d, "card", "stripe", "pm_card_visa", Some("4242")).await;
    let cy = principal(d, cy_id(d).await);
    let p = payments::pay(
        &d.db,
        &stripe,
        &cy,
        &Pay {
            invoices: vec![invoice],
            amount_cents: None,
            method,
            key: "hooked-000001".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(p.status, "processing");

    let event = |id: &str, kind: &str, status: &str| {
        json!({"id": id, "object": "event", "type": kind, "data": {"object": {
            "id": "pi_hooked", "object": "payment_intent", "status": status,
            "metadata": {"idempotency_key": "hooked-000001"},
            "last_payment_error": if status == "succeeded" { Value::Null } else { json!({"code": "R01"}) }}}})
        .to_string()
    };
    let now = d.app.t.clock.now_ms() / 1000;
    let post = |body: String, signature: String, tenant: &'static str| async move {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/webhooks/stripe?tenant={tenant}",
                d.app.base
            ))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let ok = event("evt_1", "payment_intent.succeeded", "succeeded");
    // forged, stale, unsigned, another dealer: refused, nothing changes
    assert_eq!(
        post(ok.clone(), sign(b"whsec_other", ok.as_bytes(), now), "acme")
            .await
            .0,
        403
    );
    assert_eq!(
        post(
            ok.clone(),
            sign(b"whsec_test", ok.as_bytes(), now - 301),
            "acme"
        )
        .await
        .0,
        403
    );
    assert_eq!(post(ok.clone(), String::new(), "acme").await.0, 403);
    assert_eq!(
        post(
            ok.clone(),
            sign(b"whsec_test", ok.as_bytes(), now),
            "nobody"
        )
        .await
        .0,
        404
    );
    assert_eq!(
        d.db.read(async |tx| tx.payment(p.id).await)
            .await
            .unwrap()
            .status,
        "processing"
    );
    // the real one, then its replay
    let (status, answer) = post(ok.clone(), sign(b"whsec_test", ok.as_bytes(), now), "acme").await;
    assert_eq!((status, answer["handled"].as_bool()), (200, Some(true)));
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "paid");
    let (status, answer) = post(ok.clone(), sign(b"whsec_test", ok.as_bytes(), now), "acme").await;
    assert_eq!(
        (status, answer["handled"].as_bool()),
        (200, Some(false)),
        "a replay changes nothing"
    );
    // days later the bank returns the debit
    let back = event(
        "evt_2",
        "payment_intent.payment_failed",
        "requires_payment_method",
    );
    let (status, answer) = post(
        back.clone(),
        sign(b"whsec_test", back.as_bytes(), now),
        "acme",
    )
    .await;
    assert_eq!((status, answer["handled"].as_bool()), (200, Some(true)));
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("issued".into(), 0)
    );
    assert_eq!(
        d.db.read(async |tx| tx.payment(p.id).await)
            .await
            .unwrap()
            .status,
        "pending",
        "R01: presented again"
    );
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM gateway_events").await,
        2
    );
}

async fn a_customer_pays_from_the_invoice_page_with_a_card_typed_at_the_processor(t: TestDb) {
    let s = billing(t).await;
    let d = &s.d;
    let invoice = an_invoice(&s).await;
    d.db.run(async |tx| {
        tx.set_setting(
            "billing.wire_instructions",
            "Bank of Springfield\nIBAN XX00 1234",
        )
        .await
    })
    .await
    .unwrap();
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let page = cy.get(&format!("/invoices/{invoice}")).await;
    assert!(
        page.contains("Open: 53.00 USD") && page.contains("IBAN XX00 1234"),
        "{}",
        page.body
    );
    assert!(
        page.contains("/payment-methods/new"),
        "no method yet: {}",
        page.body
    );
    let pdf = cy.get(&format!("/invoices/{invoice}/pdf")).await;
    assert!(
        pdf.body.starts_with("%PDF-1.4")
            && pdf.body.contains("Invoice")
            && pdf.body.contains("IBAN XX00 1234")
    );

    // the number goes to the processor's page, which answers with a token only
    let hosted = cy
        .get("/sandbox-gateway/card?return_to=/payment-methods/new")
        .await;
    assert_eq!(hosted.status, 200);
    let bad = cy
        .post(
            "/sandbox-gateway/card",
            &[
                ("return_to", "/payment-methods/new"),
                ("number", "4111 1111 1111 1111"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    let back = cy
        .post(
            "/sandbox-gateway/card",
            &[
                ("return_to", "https://evil.example/"),
                ("number", "4242 4242 4242 4242"),
            ],
        )
        .await;
    assert_eq!(back.status, 303);
    let to = back.location.clone().unwrap();
    assert!(
        to.starts_with("/?token=tok_sandbox_card_success_4242_"),
        "never elsewhere: {to}"
    );
    let back = cy
        .post(
            "/sandbox-gateway/card",
            &[
                ("return_to", "/payment-methods/new"),
                ("number", "4242 4242 4242 4242"),
            ],
        )
        .await;
    let confirm = cy.get(back.location.as_deref().unwrap()).await;
    assert!(confirm.contains("ending 4242"), "{}", confirm.body);
    let csrf = confirm.csrf();
    let token = confirm.input_value("token").unwrap();
    let added = cy
        .post("/payment-methods", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM payment_methods WHERE last4 = '4242'"
        )
        .await,
        1
    );

    // pay part, then the rest; the same form sent twice pays once
    let page = cy.get(&format!("/invoices/{invoice}")).await;
    let (csrf, key, method) = (
        page.csrf(),
        page.input_value("key").unwrap(),
        page.input_value("method").unwrap_or_default(),
    );
    let method = if method.is_empty() {
        count(
            &d.app.t,
            "SELECT id FROM payment_methods WHERE last4 = '4242'",
        )
        .await
        .to_string()
    } else {
        method
    };
    let part = cy
        .post(
            &format!("/invoices/{invoice}/pay"),
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("method", &method),
                ("amount", "10.00"),
            ],
        )
        .await;
    assert_eq!(
        (part.status, part.location.as_deref()),
        (303, Some("/payments?notice=payment-made"))
    );
    let again = cy
        .post(
            &format!("/invoices/{invoice}/pay"),
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("method", &method),
                ("amount", "10.00"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("partially_paid".into(), 1_000)
    );
    let page = cy.get(&format!("/invoices/{invoice}")).await;
    assert!(page.contains("Open: 43.00 USD"), "{}", page.body);
    let key = page.input_value("key").unwrap();
    let rest = cy
        .post(
            &format!("/invoices/{invoice}/pay"),
            &[("csrf", &csrf), ("key", &key), ("method", &method)],
        )
        .await;
    assert_eq!(rest.status, 303);
    assert_eq!(
        invoice_status(d, &s.cy, invoice).await,
        ("paid".into(), 5_300)
    );
    let history = cy.get("/payments?notice=payment-made").await;
    assert!(
        history.contains("Thank you: the payment was received.") && history.contains("43.00 USD"),
        "{}",
        history.body
    );
    let receipt_id = count(&d.app.t, "SELECT MAX(id) FROM payments").await;
    let receipt = cy.get(&format!("/payments/{receipt_id}/receipt")).await;
    assert!(
        receipt.body.starts_with("%PDF-1.4")
            && receipt.body.contains("Receipt")
            && receipt.body.contains("ending 4242"),
        "{}",
        receipt.body
    );
    // another account's customer gets no receipt of it
    let mut bo = Browser::new(&d.app.base);
    bo.sign_in("acme", "bo@bravo.test", PASSWORD).await;
    assert_eq!(
        bo.get(&format!("/payments/{receipt_id}/receipt"))
            .await
            .status,
        404
    );
    assert_eq!(
        bo.get(&format!("/invoices/{invoice}/pdf")).await.status,
        404
    );
}

async fn autopay_pays_new_invoices_once_and_billing_staff_record_wires(t: TestDb) {
    let s = billing(t).await;
    let d = &s.d;
    let card = sandbox(d, json!({"number": "4242424242424242"})).await;
    let method = add_method(d, &s.cy, "card", &card).await;
    let (status, _) = api(
        &d.app.base,
        "PUT",
        "/api/v1/autopay",
        &s.cy,
        Some(json!({"enabled": true, "method": 999_999})),
    )
    .await;
    assert_eq!(status, 422, "not one of the account's methods");
    let (status, _) = api(
        &d.app.base,
        "PUT",
        "/api/v1/autopay",
        &s.cy,
        Some(json!({"enabled": true, "method": method})),
    )
    .await;
    assert_eq!(status, 204);
    let invoice = an_invoice(&s).await;
    // the server's own sandbox is not reachable from here: autopay runs with a test one that
    // knows the same token format
    let g = portal::billing::gateway::Sandbox::default();
    assert_eq!(
        portal::billing::payments::autopay(&d.db, &g).await.unwrap(),
        1
    );
    assert_eq!(
        portal::billing::payments::autopay(&d.db, &g).await.unwrap(),
        0,
        "once"
    );
    assert_eq!(invoice_status(d, &s.cy, invoice).await.0, "paid");
    let (_, n) = api(&d.app.base, "GET", "/api/v1/notifications", &s.cy, None).await;
    let receipt = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["title"]
                .as_str()
                .unwrap()
                .starts_with("Payment of 53.00 USD")
        })
        .cloned()
        .unwrap();
    assert!(
        receipt["link"].as_str().unwrap().ends_with("/receipt"),
        "{receipt}"
    );

    // Bravo pays by wire; billing staff record it from the bank statement
    d.db.run(async |tx| {
        let mut new = NewContract::new(d.other_account, "C-2", "2026-01-01".parse().unwrap())?;
        new.base_charge_cents = 10_000;
        tx.create_contract(&new).await
    })
    .await
    .unwrap();
    let wired = issue_due(d, "2026-02-01").await;
    assert_eq!(wired.len(), 1, "Bravo's base charge");
    let body = json!({"invoices": [wired[0].id], "amount_cents": 10_000, "reference": "BANK-REF 2026/02/17"});
    let (status, _) = api(
        &d.app.base,
        "POST",
        "/api/v1/payments/wire",
        &s.cy,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403, "customers do not record transfers");
    let (status, too_much) = api(
        &d.app.base,
        "POST",
        "/api/v1/payments/wire",
        &s.staff,
        Some(json!({"invoices": [wired[0].id], "amount_cents": 10_001, "reference": "X"})),
    )
    .await;
    assert_eq!(status, 422, "{too_much}");
    let (status, p) = api(
        &d.app.base,
        "POST",
        "/api/v1/payments/wire",
        &s.staff,
        Some(body),
    )
    .await;
    assert_eq!(
        (status, p["status"].as_str()),
        (201, Some("succeeded")),
        "{p}"
    );
    let bo_token = token(d, "bo@bravo.test", &[]).await;
    assert_eq!(
        invoice_status(d, &bo_token, wired[0].id).await,
        ("paid".into(), 10_000)
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM payments WHERE reference = 'BANK-REF 2026/02/17'"
        )
        .await,
        1
    );
}

/// With `[stripe]` configured the server charges through Stripe, and the sandbox's page and
/// test numbers are gone.
async fn a_server_configured_for_stripe_pays_through_it(t: TestDb) {
    let stand_in = stripe_stand_in().await;
    let base = stand_in.base.clone();
    let d = dealer(t, move |c| {
        c.stripe = Some(portal::config::StripeConfig {
            secret_key: "sk_test_printyx".into(),
            api_base: base,
        });
    })
    .await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    let cy = token(&d, "cy@acme.test", &[]).await;
    let a = device(&d, d.account, "E-A", "Ricoh", "MP C3004").await;
    d.db.run(async |tx| {
        let mut new = NewContract::new(d.account, "C-1", "2026-01-01".parse().unwrap())?;
        new.base_charge_cents = 4_900;
        let c = tx.create_contract(&new).await?;
        tx.put_on_contract(a, Some(c)).await
    })
    .await
    .unwrap();
    d.app.t.clock.set_ms(day(31));
    let invoice = issue_due(&d, "2026-02-01").await[0].id;
    let r = reqwest::Client::new()
        .post(format!("{}/sandbox-gateway/tokens", d.app.base))
        .json(&json!({"number": "4242424242424242"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no sandbox when Stripe is the processor");
    // the token Stripe's own page gave the customer's browser
    let method = add_method(&d, &cy, "card", "pm_card_visa").await;
    let (status, paid) = pay(
        &d,
        &cy,
        "stripe-api-0001",
        json!({"invoices": [invoice], "method": method}),
    )
    .await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (201, Some("succeeded")),
        "{paid}"
    );
    assert_eq!(stand_in.created.lock().unwrap().len(), 1);
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM payment_methods WHERE processor = 'stripe'"
        )
        .await,
        1
    );
}

/// Dealer staff set a contract up over the API; a pooled one shares its included pages, and a
/// confirmed counter reset in the period is billed across.
async fn a_pooled_contract_set_up_over_the_api_bills_across_a_reset(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    let staff = token(&d, "ada@dealer.test", &[]).await;
    let cy = token(&d, "cy@acme.test", &[]).await;
    let a = device(&d, d.account, "E-A", "Ricoh", "MP C3004").await;
    let b = device(&d, d.account, "E-B", "Ricoh", "MP C3004").await;
    let theirs = device(&d, d.other_account, "E-X", "Ricoh", "MP C3004").await;
    let body = |equipment: Vec<i64>, number: &str| {
        json!({"account": d.account.0, "number": number, "kind": "pooled", "base_charge_cents": 2_000,
               "starts_on": "2026-01-01", "rates": [{"meter_kind": "mono", "included_pages": 2_000, "overage_millicents": 1_000}],
               "equipment": equipment})
    };
    // refused, nothing kept
    let (status, _) = api(
        &d.app.base,
        "POST",
        "/api/v1/contracts",
        &cy,
        Some(body(vec![a.0], "P-1")),
    )
    .await;
    assert_eq!(status, 403, "customers do not write contracts");
    let (status, e) = api(
        &d.app.base,
        "POST",
        "/api/v1/contracts",
        &staff,
        Some(body(vec![a.0, theirs.0], "P-1")),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    let mut bad = body(vec![a.0], "P-1");
    bad["rates"][0]["overage_millicents"] = json!(-5);
    assert_eq!(
        api(&d.app.base, "POST", "/api/v1/contracts", &staff, Some(bad))
            .await
            .0,
        422
    );
    let mut bad = body(vec![a.0], "P-1");
    bad["billing_day"] = json!(31);
    assert_eq!(
        api(&d.app.base, "POST", "/api/v1/contracts", &staff, Some(bad))
            .await
            .0,
        422
    );
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM contracts").await, 0);
    let (status, c) = api(
        &d.app.base,
        "POST",
        "/api/v1/contracts",
        &staff,
        Some(body(vec![a.0, b.0], "P-1")),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["equipment"], json!([a.0, b.0]));
    assert_eq!(
        api(
            &d.app.base,
            "POST",
            "/api/v1/contracts",
            &staff,
            Some(body(vec![], "P-1"))
        )
        .await
        .0,
        409,
        "the same number twice"
    );

    // January: A prints 1,500; B 400 before its counter is reset (confirmed), then 300
    read(&d, a, 10_000, day(0)).await;
    read(&d, a, 11_500, day(28)).await;
    read(&d, b, 5_000, day(0)).await;
    read(&d, b, 5_400, day(10)).await;
    let reset = NewReading {
        segment: 1,
        ..reading_of(b, 0, day(12))
    };
    d.db.run(async |tx| tx.insert_reading(&reset).await)
        .await
        .unwrap();
    let after = NewReading {
        segment: 1,
        ..reading_of(b, 300, day(28))
    };
    d.db.run(async |tx| tx.insert_reading(&after).await)
        .await
        .unwrap();
    d.app.t.clock.set_ms(day(31));
    let id = c["id"].as_i64().unwrap();
    let (status, preview) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/contracts/{id}/invoice-preview?on=2026-02-01"),
        &staff,
        None,
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    // 1,500 + (400 + 300) = 2,200 pages in the pool, 200 over at 1 ¢
    let lines: Vec<(String, i64, i64)> = preview["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
                l["amount_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("base".into(), 1, 2_000),
            ("usage".into(), 1_500, 0),
            ("usage".into(), 700, 0),
            ("overage".into(), 200, 200)
        ],
        "{preview}"
    );
}

/// A mono reading of `value` at `at`.
fn reading_of(e: EquipmentId, value: i64, at: i64) -> NewReading {
    NewReading {
        equipment_id: e,
        meter_kind: MeterKind::parse("mono").unwrap(),
        segment: 0,
        value: MeterValue::new(value).unwrap(),
        read_at: at,
        source: ReadingSource::AgentSnmp,
        status: ReadingStatus::Accepted,
        reasons: vec![],
        confidence: None,
        evidence_id: None,
        idempotency_key: format!("r-{}-{value}-{at}", e.0),
        agent_id: None,
        submitted_by: None,
    }
}

backends!(
    a_pooled_contract_set_up_over_the_api_bills_across_a_reset,
    a_server_configured_for_stripe_pays_through_it,
    autopay_pays_new_invoices_once_and_billing_staff_record_wires,
    a_customer_pays_from_the_invoice_page_with_a_card_typed_at_the_processor,
    the_stripe_adapter_charges_once_per_key_and_reads_its_answers,
    webhooks_are_taken_signed_fresh_and_once,
    a_payment_sent_twice_at_once_charges_once,
    no_answer_is_asked_about_and_never_charged_twice,
    a_crash_before_the_answer_is_reconciled_then_retried,
    refused_payments_are_retried_on_schedule_only_when_they_may_succeed,
    ach_returns_are_presented_again_only_when_the_code_allows,
    a_month_is_billed_from_its_readings_and_an_estimate_is_trued_up,
    customers_see_their_own_invoices_as_pages_and_csv,
);
