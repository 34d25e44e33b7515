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
    let d = dealer(t, |_| {}).await;
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

backends!(
    a_month_is_billed_from_its_readings_and_an_estimate_is_trued_up,
    customers_see_their_own_invoices_as_pages_and_csv,
);
