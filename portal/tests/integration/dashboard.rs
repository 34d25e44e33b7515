//! The start page: each card counts what its reader may see (a customer their account, staff
//! every account), the chart draws the customer's devices month by month, and the JSON API
//! says the same. Both databases.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{T0, TestDb};
use crate::sign_in::{Dealer, PASSWORD, api, dealer, device, person, token};
use portal::clock::Clock;
use portal::ids::{AccountId, EquipmentId};
use portal::users::UserKind;
use serde_json::json;

const DAY: i64 = 86_400_000;

async fn ricoh(d: &Dealer, account: AccountId, serial: &str) -> EquipmentId {
    device(d, account, serial, "Ricoh", "MP C3004").await
}

/// Toner at `percent`, as an agent reports it now.
async fn toner(d: &Dealer, e: EquipmentId, percent: u8) {
    let supply: ingest::wire::Supply = serde_json::from_value(json!({
        "description": "Black Toner", "kind": "toner", "color": "black",
        "level": percent, "max_capacity": 100, "percent": percent
    }))
    .unwrap();
    let now = d.app.t.clock.now_ms();
    d.db.run(async |tx| {
        tx.record_supplies(e, std::slice::from_ref(&supply), now)
            .await
    })
    .await
    .unwrap();
}

async fn sql(d: &Dealer, statement: &str) {
    let mut c = d.app.t.admin().await;
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
}

async fn the_start_page_counts_what_needs_attention(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    // a billing day (the 1st), so the collection window is open; meters read a month ago
    d.app.t.clock.set_ms(T0 - 31 * DAY);
    let busy = ricoh(&d, d.account, "E-BUSY").await;
    let quiet = ricoh(&d, d.account, "E-QUIET").await;
    let agent = ricoh(&d, d.account, "E-AGENT").await;
    let theirs = ricoh(&d, d.other_account, "E-THEIRS").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let tok = token(&d, "cy@acme.test", &[]).await;
    for (e, v) in [(busy, 10_000), (quiet, 500)] {
        let (s, body) = api(
            &d.app.base,
            "POST",
            &format!("/api/v1/equipment/{}/readings", e.0),
            &tok,
            Some(json!({"counters": {"total": v}, "submission": format!("first{v:0>16}")})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    d.app.t.clock.set_ms(T0 + 2 * 3_600_000);
    let (s, body) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/equipment/{}/readings", busy.0),
        &tok,
        Some(json!({"counters": {"total": 14_000}, "submission": "second0000000000014000"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    d.app.t.clock.set_ms(T0 + 8 * 3_600_000);
    // the busy one has its meter for this cycle (read this morning); the quiet one does not; the
    // agent's device reported an hour ago, and its toner is low; another account's device
    // is low too, and its agent fell silent a week ago
    sql(
        &d,
        &format!(
            "UPDATE equipment SET last_reported_at = {} WHERE id = {}",
            d.app.t.clock.now_ms() - 3_600_000,
            agent.0
        ),
    )
    .await;
    sql(
        &d,
        &format!(
            "UPDATE equipment SET last_reported_at = {} WHERE id = {}",
            T0 - 7 * DAY,
            theirs.0
        ),
    )
    .await;
    toner(&d, agent, 8).await;
    toner(&d, theirs, 3).await;
    toner(&d, busy, 80).await;
    let (s, body) = api(
        &d.app.base,
        "POST",
        "/api/v1/requests",
        &tok,
        Some(json!({"equipment": quiet.0, "priority": "normal", "problem_type": "paper_jam", "description": "Jams in tray 2"})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    // two invoices: one paid in part and overdue, one not yet due; one of the other account's
    sql(&d, &format!(
        "INSERT INTO invoices (tenant_id, number, account_id, period_start, period_end, status, currency, \
           subtotal_cents, total_cents, amount_paid_cents, due_at, created_at) VALUES \
         ({t}, 1, {a}, '2025-11-01', '2025-11-30', 'partially_paid', 'USD', 100000, 100000, 25050, {past}, {past}), \
         ({t}, 2, {a}, '2025-12-01', '2025-12-31', 'issued', 'USD', 50000, 50000, 0, {future}, {past}), \
         ({t}, 3, {b}, '2025-12-01', '2025-12-31', 'issued', 'USD', 99900, 99900, 0, {past}, {past})",
        t = d.db.tenant_id().0,
        a = d.account.0,
        b = d.other_account.0,
        past = T0 - 2 * DAY,
        future = T0 + 20 * DAY,
    ))
    .await;

    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let home = cy.get("/").await;
    assert_eq!(home.status, 200);
    let card = |label: &str| -> String {
        let at = home
            .body
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {}", home.body));
        let rest = &home.body[at..];
        rest[..rest
            .find("</span>\n")
            .map_or(rest.len(), |e| e + 200)
            .min(rest.len())]
            .to_owned()
    };
    assert!(card("Open service requests").contains("<strong>1</strong>"));
    let meters = card("Meters to send");
    assert!(
        meters.contains("<strong>1</strong>") && meters.contains("due by 2026-01-01"),
        "the quiet device only (the busy one sent, the agent reports): {meters}"
    );
    assert!(
        card("Low on toner").contains("<strong>1</strong>"),
        "its own account's only"
    );
    assert!(card("Stopped reporting").contains("<strong>0</strong>"));
    let unpaid = card("Unpaid invoices");
    assert!(
        unpaid.contains("<strong>2</strong>") && unpaid.contains("1,249.50 USD due, 1 overdue"),
        "{unpaid}"
    );
    assert!(
        home.contains("<a href=\"/invoices\" class=\"attention\">"),
        "the card opens the invoices, flagged for the overdue one"
    );
    assert!(home.contains("href=\"/meters\">Send meter readings"));
    assert!(home.contains("href=\"/requests/new\">Report a problem"));
    assert!(!home.contains("Dispatch board"), "not a customer's");
    // the chart: the busiest device first, December's pages read across the month's ends
    assert!(
        home.contains("Pages printed per month, by device"),
        "{}",
        home.body
    );
    assert!(home.contains("MP C3004 (E-BUSY) Dec 25: "), "{}", home.body);
    assert!(!home.contains("E-THEIRS"));

    let (s, summary) = api(&d.app.base, "GET", "/api/v1/dashboard", &tok, None).await;
    assert_eq!(s, 200);
    assert_eq!(summary["open_requests"], 1);
    assert_eq!(summary["meters_due"]["devices"], 1);
    assert_eq!(summary["low_toner"], 1);
    assert_eq!(summary["unpaid"][0]["due_cents"], 124_950);
    assert_eq!(
        summary["monthly_pages"]["devices"][0]["name"],
        "Ricoh MP C3004 (E-BUSY)"
    );
    assert_eq!(
        summary["monthly_pages"]["devices"][0]["pages"],
        json!([null, null, null, null, 3989, 11])
    );

    // staff see every account, and no customer chart
    let mut ada = Browser::new(&d.app.base);
    ada.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let home = ada.get("/").await;
    assert!(home.contains("Dispatch board") && home.contains("Review readings"));
    let staff = token(&d, "ada@dealer.test", &[]).await;
    let (_, summary) = api(&d.app.base, "GET", "/api/v1/dashboard", &staff, None).await;
    assert_eq!(summary["low_toner"], 2);
    assert_eq!(summary["stopped_reporting"], 1);
    assert_eq!(summary["meters_due"]["devices"], 2, "{summary}");
    assert_eq!(summary["unpaid"][0]["invoices"], 3);
    assert!(summary["monthly_pages"].is_null());

    // a token without the invoice permission: no invoice card
    let narrow = token(&d, "cy@acme.test", &["equipment.read"]).await;
    let (_, summary) = api(&d.app.base, "GET", "/api/v1/dashboard", &narrow, None).await;
    assert!(summary["unpaid"].is_null() && summary["open_requests"].is_null());
    assert_eq!(summary["low_toner"], 1);
}

backends!(the_start_page_counts_what_needs_attention);
