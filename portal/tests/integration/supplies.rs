//! Supplies through the API: the dealer's catalogue as CSV; customers ordering only what fits
//! their own devices, told what their contract covers; one checkout one order, even sent twice
//! at once; an order's lifecycle with a notification at each step; and toner that orders
//! itself, once. Both databases.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{T0, TestDb, count};
use crate::sign_in::{Dealer, PASSWORD, api, dealer, device, person, token};
use chrono::NaiveDate;
use ingest::wire::{Level, Supply};
use portal::accounts::Address;
use portal::contracts::NewContract;
use portal::ids::EquipmentId;
use portal::supplies::replenish;
use portal::users::UserKind;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;

const CATALOGUE: &str = "sku,description,kind,colour,price,max_order_qty,compatible_models\r\n\
    TN-K,Black toner,toner,black,89.90,4,Ricoh MP C3004\r\n\
    TN-C,Cyan toner,toner,cyan,119.00,4,Ricoh MP C3004\r\n\
    TN-Y,Yellow toner,toner,yellow,119.00,4,Ricoh MP C3004\r\n\
    PAPER,Paper A4 (5 reams),paper,,24.50,20,Ricoh MP C3004; Kyocera TASKalfa 3554ci\r\n\
    TK-K,Kyocera black toner,toner,black,79.00,4,Kyocera TASKalfa 3554ci\r\n";

/// Sends a request with a raw body and extra headers; answers status and JSON (or text).
async fn call(
    d: &Dealer,
    method: &str,
    path: &str,
    tok: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> (u16, Value) {
    let url = format!("{}{path}", d.app.base);
    let client = reqwest::Client::new();
    let mut req = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        other => panic!("{other}"),
    }
    .bearer_auth(tok);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some((kind, b)) = body {
        req = req.header("content-type", kind).body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn checkout(d: &Dealer, tok: &str, key: &str, body: Value) -> (u16, Value) {
    call(
        d,
        "POST",
        "/api/v1/orders",
        tok,
        &[("idempotency-key", key)],
        Some(("application/json", body.to_string())),
    )
    .await
}

struct Shop {
    d: Dealer,
    staff: String,
    cy: String,
    /// Acme's Ricoh, on a contract that covers consumables.
    ricoh: EquipmentId,
    /// Acme's Kyocera, on no contract.
    kyocera: EquipmentId,
    /// Bravo's Ricoh.
    theirs: EquipmentId,
    site: i64,
    other_site: i64,
}

async fn shop(t: TestDb) -> Shop {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    person(
        &d.db,
        UserKind::Customer(d.other_account),
        "bo@bravo.test",
        "account_user",
    )
    .await;
    let staff = token(&d, "ada@dealer.test", &[]).await;
    let cy = token(&d, "cy@acme.test", &[]).await;
    let ricoh = device(&d, d.account, "E-R", "Ricoh", "MP C3004").await;
    let kyocera = device(&d, d.account, "E-K", "Kyocera", "TASKalfa 3554ci").await;
    let theirs = device(&d, d.other_account, "E-B", "Ricoh", "MP C3004").await;
    let (r, _) = call(
        &d,
        "POST",
        "/api/v1/catalogue/import",
        &staff,
        &[],
        Some(("text/csv", CATALOGUE.into())),
    )
    .await;
    assert_eq!(r, 200);
    let address = Address::new("1 Main St", None, "Springfield", None, "12345", "US").unwrap();
    let (site, other_site) =
        d.db.run(async |tx| {
            let site = tx.create_site(d.account, "Head office", &address).await?;
            let other = tx
                .create_site(d.other_account, "Bravo office", &address)
                .await?;
            let start: NaiveDate = "2025-01-01".parse().unwrap();
            let c = tx
                .create_contract(&NewContract::new(d.account, "C-1", start)?.covering_supplies())
                .await?;
            tx.put_on_contract(ricoh, Some(c)).await?;
            Ok((site.id.0, other.id.0))
        })
        .await
        .unwrap();
    Shop {
        d,
        staff,
        cy,
        ricoh,
        kyocera,
        theirs,
        site,
        other_site,
    }
}

async fn catalogue_comes_and_goes_as_csv_and_a_bad_file_changes_nothing(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let (_, items) = api(&d.app.base, "GET", "/api/v1/catalogue", &s.staff, None).await;
    assert_eq!(items.as_array().unwrap().len(), 5);
    let (status, csv) = call(d, "GET", "/api/v1/catalogue/export", &s.staff, &[], None).await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_owned();
    assert!(csv.starts_with("sku,oem_part_number,description"), "{csv}");
    assert!(
        csv.contains(
            "PAPER,,Paper A4 (5 reams),paper,,,24.50,20,yes,Kyocera TASKalfa 3554ci; Ricoh MP C3004"
        ),
        "{csv}"
    );
    // what was exported imports as the same catalogue
    let (status, body) = call(
        d,
        "POST",
        "/api/v1/catalogue/import",
        &s.staff,
        &[],
        Some(("text/csv", csv.clone())),
    )
    .await;
    assert_eq!((status, body["items"].as_i64()), (200, Some(5)));
    let (_, again) = call(d, "GET", "/api/v1/catalogue/export", &s.staff, &[], None).await;
    assert_eq!(again.as_str().unwrap(), csv);

    // one bad row: the file is refused, naming the row, and nothing changes
    let bad = format!(
        "{}NEW-1,New thing,toner,black,10.00,4,Ricoh MP C3004\r\nTN-K,Black toner,toner,black,-1,4,\r\n",
        CATALOGUE
    );
    let (status, body) = call(
        d,
        "POST",
        "/api/v1/catalogue/import",
        &s.staff,
        &[],
        Some(("text/csv", bad)),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("row 8"), "{body}");
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM supply_items").await,
        5
    );
    let (_, after) = call(d, "GET", "/api/v1/catalogue/export", &s.staff, &[], None).await;
    assert_eq!(after.as_str().unwrap(), csv, "the catalogue is as it was");

    // one item over JSON
    let (status, item) = api(
        &d.app.base,
        "POST",
        "/api/v1/catalogue",
        &s.staff,
        Some(json!({"sku": "TN-K", "description": "Black toner (new box)", "kind": "toner", "colour": "black", "price": "92.00", "compatible_models": "Ricoh MP C3004"})),
    )
    .await;
    assert_eq!(
        (status, item["price_cents"].as_i64()),
        (200, Some(9200)),
        "{item}"
    );

    // customers neither read nor change the dealer's catalogue
    for (method, path) in [
        ("GET", "/api/v1/catalogue"),
        ("GET", "/api/v1/catalogue/export"),
    ] {
        let (status, _) = call(d, method, path, &s.cy, &[], None).await;
        assert_eq!(status, 403, "{path}");
    }
    let (status, _) = call(
        d,
        "POST",
        "/api/v1/catalogue/import",
        &s.cy,
        &[],
        Some(("text/csv", CATALOGUE.into())),
    )
    .await;
    assert_eq!(status, 403);
}

async fn customers_order_only_what_fits_their_own_devices_and_see_what_is_covered(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let (status, offers) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/supplies", s.ricoh.0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let offered: Vec<(String, bool, i64)> = offers
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["item"]["sku"].as_str().unwrap().to_owned(),
                o["covered"].as_bool().unwrap(),
                o["unit_price_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        vec![
            ("TN-C".into(), true, 0),
            ("TN-K".into(), true, 0),
            ("TN-Y".into(), true, 0),
            ("PAPER".into(), false, 2450),
        ],
        "covered toner first at 0; paper is not a consumable of the contract"
    );
    let (_, kyocera) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/supplies", s.kyocera.0),
        &s.cy,
        None,
    )
    .await;
    assert!(
        kyocera
            .as_array()
            .unwrap()
            .iter()
            .all(|o| !o["covered"].as_bool().unwrap()),
        "no contract, nothing covered"
    );
    let (status, _) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/equipment/{}/supplies", s.theirs.0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(status, 404, "another account's device");

    let (status, quote) = api(
        &d.app.base,
        "POST",
        "/api/v1/orders/quote",
        &s.cy,
        Some(json!({"lines": [
            {"equipment": s.ricoh.0, "sku": "TN-K", "quantity": 1},
            {"equipment": s.ricoh.0, "sku": "PAPER", "quantity": 2},
            {"equipment": s.kyocera.0, "sku": "TK-K", "quantity": 1},
        ]})),
    )
    .await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["total_cents"], 2 * 2450 + 7900);

    // bad input: a clear answer, and no order
    let line = |equipment: i64, sku: &str, quantity: i64| json!({"equipment": equipment, "sku": sku, "quantity": quantity});
    let to_site = json!({"site": s.site});
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "unknown SKU",
            json!({"lines": [line(s.ricoh.0, "NOPE-1", 1)], "ship_to": to_site}),
            422,
            "NOPE-1",
        ),
        (
            "a SKU that is no SKU",
            json!({"lines": [line(s.ricoh.0, "<script>", 1)], "ship_to": to_site}),
            422,
            "SKU",
        ),
        (
            "another account's device",
            json!({"lines": [line(s.theirs.0, "TN-K", 1)], "ship_to": to_site}),
            404,
            "",
        ),
        (
            "an item that does not fit",
            json!({"lines": [line(s.kyocera.0, "TN-K", 1)], "ship_to": to_site}),
            422,
            "does not fit",
        ),
        (
            "nothing",
            json!({"lines": [], "ship_to": to_site}),
            422,
            "at least one",
        ),
        (
            "zero",
            json!({"lines": [line(s.ricoh.0, "TN-K", 0)], "ship_to": to_site}),
            422,
            "at least 1",
        ),
        (
            "negative",
            json!({"lines": [line(s.ricoh.0, "TN-K", -3)], "ship_to": to_site}),
            422,
            "at least 1",
        ),
        (
            "over the item's limit",
            json!({"lines": [line(s.ricoh.0, "TN-K", 5)], "ship_to": to_site}),
            422,
            "at most 4",
        ),
        (
            "over the limit in two lines",
            json!({"lines": [line(s.ricoh.0, "TN-K", 3), line(s.ricoh.0, "TN-K", 3)], "ship_to": to_site}),
            422,
            "at most 4",
        ),
        (
            "huge",
            json!({"lines": [line(s.ricoh.0, "TN-K", i64::MAX)], "ship_to": to_site}),
            422,
            "at most 4",
        ),
        (
            "another account's site",
            json!({"lines": [line(s.ricoh.0, "TN-K", 1)], "ship_to": {"site": s.other_site}}),
            422,
            "own sites",
        ),
        (
            "an address without a city",
            json!({"lines": [line(s.ricoh.0, "TN-K", 1)], "ship_to": {"name": "Cy", "line1": "2 Side St", "postal_code": "1", "country": "US"}}),
            422,
            "city",
        ),
        (
            "a country that is no country",
            json!({"lines": [line(s.ricoh.0, "TN-K", 1)], "ship_to": {"name": "Cy", "line1": "2 Side St", "city": "X", "postal_code": "1", "country": "USA"}}),
            422,
            "two-letter",
        ),
        (
            "a field nobody knows",
            json!({"lines": [line(s.ricoh.0, "TN-K", 1)], "ship_to": to_site, "discount": 100}),
            422,
            "discount",
        ),
    ];
    for (what, body, expected, says) in cases {
        let (status, answer) = checkout(d, &s.cy, "key-bad-input-1", body).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap_or("").contains(says),
            "{what}: {answer}"
        );
    }
    let (status, answer) = call(
        d,
        "POST",
        "/api/v1/orders",
        &s.cy,
        &[],
        Some((
            "application/json",
            json!({"lines": [line(s.ricoh.0, "TN-K", 1)], "ship_to": to_site}).to_string(),
        )),
    )
    .await;
    assert_eq!(status, 422, "no idempotency key: {answer}");
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM orders").await,
        0,
        "nothing was ordered"
    );

    // a good order, to a typed address, with a PO number
    let (status, placed) = checkout(
        d,
        &s.cy,
        "key-good-order-1",
        json!({"lines": [line(s.ricoh.0, "TN-K", 1), line(s.ricoh.0, "PAPER", 2)],
               "ship_to": {"name": "Cy at reception", "line1": "2 Side St", "city": "Springfield", "postal_code": "12345", "country": "us"},
               "po_number": "PO-7781"}),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["order"]["status"], "submitted");
    assert_eq!(placed["order"]["total_cents"], 4900);
    assert_eq!(placed["order"]["ship_to"]["country"], "US");
    assert_eq!(placed["order"]["po_number"], "PO-7781");
    let covered: Vec<bool> = placed["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["covered"].as_bool().unwrap())
        .collect();
    assert_eq!(covered, vec![true, false]);
    // the other account sees none of it
    let bo = token(d, "bo@bravo.test", &[]).await;
    let id = placed["order"]["id"].as_i64().unwrap();
    let (status, _) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/orders/{id}"),
        &bo,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, theirs) = api(&d.app.base, "GET", "/api/v1/orders", &bo, None).await;
    assert_eq!(theirs["orders"].as_array().unwrap().len(), 0);
    let (_, by_device) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/orders?equipment={}", s.ricoh.0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(
        by_device["orders"].as_array().unwrap().len(),
        1,
        "order history per device"
    );
}

async fn one_checkout_is_one_order_even_sent_twice_at_once(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let body = json!({"lines": [{"equipment": s.ricoh.0, "sku": "TN-K", "quantity": 1}], "ship_to": {"site": s.site}});
    let (a, b) = tokio::join!(
        checkout(d, &s.cy, "double-click-0001", body.clone()),
        checkout(d, &s.cy, "double-click-0001", body.clone())
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{a:?} {b:?}");
    assert_eq!(a.1["order"]["id"], b.1["order"]["id"]);
    let (status, again) = checkout(d, &s.cy, "double-click-0001", body.clone()).await;
    assert_eq!((status, &again["order"]["id"]), (200, &a.1["order"]["id"]));
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM orders").await, 1);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM order_lines").await, 1);
    // another account cannot read an order through its key
    let bo = token(d, "bo@bravo.test", &[]).await;
    let bravo = json!({"lines": [{"equipment": s.theirs.0, "sku": "TN-K", "quantity": 1}], "ship_to": {"site": s.other_site}});
    let (status, _) = checkout(d, &bo, "double-click-0001", bravo).await;
    assert_eq!(status, 409);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM orders").await, 1);
}

/// Moves an order along through the API.
async fn order_step(d: &Dealer, tok: &str, id: i64, body: Value) -> (u16, Value) {
    api(
        &d.app.base,
        "POST",
        &format!("/api/v1/orders/{id}/status"),
        tok,
        Some(body),
    )
    .await
}

async fn unread(d: &Dealer, tok: &str) -> Vec<String> {
    let (_, n) = api(&d.app.base, "GET", "/api/v1/notifications", tok, None).await;
    n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["read_at"].is_null())
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_order_runs_its_lifecycle_with_a_notification_at_each_step(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let (_, placed) = checkout(d, &s.cy, "lifecycle-0001", json!({"lines": [{"equipment": s.ricoh.0, "sku": "PAPER", "quantity": 3}], "ship_to": {"site": s.site}})).await;
    let id = placed["order"]["id"].as_i64().unwrap();
    let number = placed["order"]["number"].as_i64().unwrap();
    assert!(
        unread(d, &s.staff)
            .await
            .contains(&format!("Order {number} waits for approval"))
    );
    let step = async |tok: &str, body: Value| order_step(d, tok, id, body).await;
    // the customer cannot approve their own order
    let (status, _) = step(&s.cy, json!({"status": "approved"})).await;
    assert_eq!(status, 409);
    for (to, label) in [("approved", "Approved"), ("picked", "Picked")] {
        let (status, o) = step(&s.staff, json!({"status": to})).await;
        assert_eq!((status, o["status"].as_str()), (200, Some(to)), "{o}");
        assert!(
            unread(d, &s.cy)
                .await
                .contains(&format!("Order {number}: {label}")),
            "{to}"
        );
    }
    let (status, answer) = step(&s.staff, json!({"status": "shipped"})).await;
    assert_eq!(status, 422, "shipping needs carrier and tracking: {answer}");
    let (status, o) = step(
        &s.staff,
        json!({"status": "shipped", "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}),
    )
    .await;
    assert_eq!(
        (status, o["tracking_number"].as_str()),
        (200, Some("1Z999AA10123456784"))
    );
    let (status, _) = step(&s.cy, json!({"status": "cancelled"})).await;
    assert_eq!(status, 409, "too late to cancel");
    let (status, _) = step(&s.staff, json!({"status": "delivered"})).await;
    assert_eq!(status, 200);
    let (status, _) = step(
        &s.staff,
        json!({"status": "shipped", "carrier": "UPS", "tracking_number": "X"}),
    )
    .await;
    assert_eq!(status, 409, "delivered is the end");
    let (_, detail) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/orders/{id}"),
        &s.cy,
        None,
    )
    .await;
    let steps: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec!["submitted", "approved", "picked", "shipped", "delivered"]
    );
    let told = unread(d, &s.cy).await;
    assert!(
        told.contains(&format!("Order {number}: Delivered"))
            && told.contains(&format!("Order {number}: Shipped")),
        "{told:?}"
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'order.status'"
        )
        .await,
        4
    );

    // the customer cancels one not yet approved, and the dealer hears of it
    let (_, second) = checkout(d, &s.cy, "lifecycle-0002", json!({"lines": [{"equipment": s.ricoh.0, "sku": "PAPER", "quantity": 1}], "ship_to": {"site": s.site}})).await;
    let second_id = second["order"]["id"].as_i64().unwrap();
    let (status, o) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/orders/{second_id}/status"),
        &s.cy,
        Some(json!({"status": "cancelled", "note": "ordered twice by mistake"})),
    )
    .await;
    assert_eq!((status, o["status"].as_str()), (200, Some("cancelled")));
    let (status, _) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/orders/{second_id}/status"),
        &s.cy,
        Some(json!({"status": "teleported"})),
    )
    .await;
    assert_eq!(status, 422);
}

/// Records toner levels as the agents' upload does.
async fn levels(d: &Dealer, equipment: EquipmentId, at: i64, percents: &[(&str, i64)]) {
    let supplies: Vec<Supply> = percents
        .iter()
        .map(|(colour, p)| Supply {
            description: format!("{colour} toner"),
            kind: "toner".into(),
            color: Some((*colour).into()),
            level: Level::Value(*p),
            max_capacity: Level::Value(100),
            percent: Some(u8::try_from(*p).unwrap()),
        })
        .collect();
    d.db.run(async |tx| tx.record_supplies(equipment, &supplies, at).await)
        .await
        .unwrap();
}

async fn sweep(d: &Dealer) -> replenish::Swept {
    d.db.run(async |tx| replenish::sweep_tenant(tx).await)
        .await
        .unwrap()
}

async fn low_toner_orders_its_covered_cartridge_once(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let clock = &d.app.t.clock;
    let at = |day: i64| T0 + day * DAY;
    // black and cyan fall over two weeks, yellow stays full
    for (day, k, c) in [(0, 60, 70), (7, 40, 45), (14, 15, 18)] {
        clock.set_ms(at(day));
        levels(
            d,
            s.ricoh,
            at(day),
            &[("black", k), ("cyan", c), ("yellow", 95)],
        )
        .await;
    }
    // the Kyocera is low too, but has no contract: nothing is ordered for it
    levels(d, s.kyocera, at(14), &[("black", 5)]).await;
    let swept = sweep(d).await;
    assert_eq!(swept.orders.len(), 1, "{swept:?}");
    assert_eq!(
        swept.skipped,
        vec![(s.kyocera, "no covered cartridge fits")]
    );
    let (_, o) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/orders/{}", swept.orders[0].0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(
        (o["order"]["status"].as_str(), o["order"]["source"].as_str()),
        (Some("suggested"), Some("auto"))
    );
    let skus: Vec<&str> = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, vec!["TN-K", "TN-C"], "two colours low: one order");
    assert_eq!(o["order"]["total_cents"], 0);
    assert!(
        unread(d, &s.cy)
            .await
            .iter()
            .any(|t| t.contains("Toner is running low"))
    );

    // another sweep, a shaken cartridge, a day later: nothing new while the order is open
    clock.set_ms(at(15));
    levels(
        d,
        s.ricoh,
        at(15),
        &[("black", 24), ("cyan", 17), ("yellow", 95)],
    )
    .await;
    assert!(sweep(d).await.orders.is_empty());

    // the customer confirms, the dealer delivers; the cartridges are not in yet
    let id = swept.orders[0].0;
    let post = async |tok: &str, body: Value| order_step(d, tok, id, body).await.0;
    assert_eq!(post(&s.cy, json!({"status": "submitted"})).await, 200);
    for to in ["approved", "picked"] {
        assert_eq!(post(&s.staff, json!({"status": to})).await, 200);
    }
    assert_eq!(
        post(
            &s.staff,
            json!({"status": "shipped", "carrier": "DHL", "tracking_number": "JD0001"})
        )
        .await,
        200
    );
    clock.set_ms(at(17));
    assert_eq!(post(&s.staff, json!({"status": "delivered"})).await, 200);
    clock.set_ms(at(18));
    levels(
        d,
        s.ricoh,
        at(18),
        &[("black", 9), ("cyan", 11), ("yellow", 94)],
    )
    .await;
    assert!(
        sweep(d).await.orders.is_empty(),
        "delivered, not yet put in"
    );

    // put in on day 19; a stale low report the day after is not trusted
    clock.set_ms(at(19));
    levels(
        d,
        s.ricoh,
        at(19),
        &[("black", 100), ("cyan", 100), ("yellow", 93)],
    )
    .await;
    clock.set_ms(at(20));
    levels(
        d,
        s.ricoh,
        at(20),
        &[("black", 8), ("cyan", 99), ("yellow", 93)],
    )
    .await;
    assert!(sweep(d).await.orders.is_empty(), "just replaced");

    // weeks later black runs low for real: one new order, approved at once by the tenant's setting
    d.db.run(async |tx| tx.set_setting("supplies.auto_approve", "1").await)
        .await
        .unwrap();
    for (day, k) in [(30, 60), (40, 30), (45, 12)] {
        clock.set_ms(at(day));
        levels(
            d,
            s.ricoh,
            at(day),
            &[("black", k), ("cyan", 80), ("yellow", 90)],
        )
        .await;
    }
    let swept = sweep(d).await;
    assert_eq!(swept.orders.len(), 1);
    let (_, o) = api(
        &d.app.base,
        "GET",
        &format!("/api/v1/orders/{}", swept.orders[0].0),
        &s.cy,
        None,
    )
    .await;
    assert_eq!(o["order"]["status"], "approved");
    let skus: Vec<&str> = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, vec!["TN-K"]);
    assert!(sweep(d).await.orders.is_empty(), "and only once");
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'order.replenish'"
        )
        .await,
        2
    );
}

/// A CSV file as a browser uploads it from the catalogue page.
fn csv_upload(text: &str) -> Vec<u8> {
    format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"catalogue.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{text}\r\n--{B}--\r\n",
        B = "printyx-csv"
    )
    .into_bytes()
}

async fn the_same_flows_work_through_the_pages(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    // the dealer keeps the catalogue from its page
    let mut ada = Browser::new(&d.app.base);
    ada.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let page = ada.get("/admin/catalogue").await;
    assert!(
        page.contains("Kyocera black toner") && page.contains("89.90"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let bad = ada
        .post_multipart(
            &format!("/admin/catalogue/import?csrf={csrf}"),
            "printyx-csv",
            csv_upload("sku,description,kind,price\r\nX-1,Thing,ink,1\r\n"),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.contains("row 2") && bad.contains("kind"),
        "{}",
        bad.body
    );
    let good = ada
        .post_multipart(
            &format!("/admin/catalogue/import?csrf={csrf}"),
            "printyx-csv",
            csv_upload("sku,description,kind,colour,price,compatible_models\r\nTN-M,Magenta toner,toner,magenta,119.00,Ricoh MP C3004\r\n"),
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let forged = ada
        .post_multipart(
            "/admin/catalogue/import?csrf=0000",
            "printyx-csv",
            csv_upload(CATALOGUE),
        )
        .await;
    assert_eq!(forged.status, 403, "an upload without the form's token");
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM supply_items").await,
        6
    );
    let csv = ada.get("/admin/catalogue.csv").await;
    assert!(
        csv.contains("TN-M,,Magenta toner,toner,magenta"),
        "{}",
        csv.body
    );

    // the customer shops for the Ricoh: covered toner, priced paper
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let shop_page = cy.get(&format!("/supplies?equipment={}", s.ricoh.0)).await;
    assert_eq!(shop_page.status, 200);
    assert!(
        shop_page.contains("covered by your contract") && shop_page.contains("24.50 USD"),
        "{}",
        shop_page.body
    );
    let csrf = shop_page.csrf();
    let ricoh = s.ricoh.0.to_string();
    let k = format!("qty.{ricoh}.TN-K");
    let paper = format!("qty.{ricoh}.PAPER");
    // another account's device slipped into the form: not found, nothing kept
    let theirs = format!("qty.{}.TN-K", s.theirs.0);
    let r = cy
        .post("/cart", &[("csrf", &csrf), (&k, "1"), (&theirs, "1")])
        .await;
    assert_eq!(r.status, 404);
    let r = cy
        .post(
            "/cart",
            &[("csrf", &csrf), ("equipment", &ricoh), (&k, "lots")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("whole number"), "{}", r.body);
    let r = cy
        .post(
            "/cart",
            &[("csrf", &csrf), ("equipment", &ricoh), (&k, "9")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("at most 4"), "{}", r.body);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM cart_lines").await, 0);
    let r = cy
        .post(
            "/cart",
            &[
                ("csrf", &csrf),
                ("equipment", &ricoh),
                (&k, "1"),
                (&paper, "2"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/cart")),
        "{}",
        r.body
    );
    // the cart keeps it; the shop shows what is in it
    let again = cy.get(&format!("/supplies?equipment={ricoh}")).await;
    assert_eq!(again.input_value(&paper).as_deref(), Some("2"));
    let review = cy.get("/cart").await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.contains("49.00 USD")
            && review.contains("Head office")
            && review.contains("covered by your contract"),
        "{}",
        review.body
    );
    let key = review.input_value("key").unwrap();
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("key", &key),
        ("site", "other"),
        ("po_number", "PO-1"),
    ];
    let r = cy.post("/cart/checkout", &fields).await;
    assert_eq!(r.status, 422, "another address, left empty");
    assert!(
        r.contains("two-letter") && r.contains("49.00 USD"),
        "the cart is shown again with why: {}",
        r.body
    );
    let site = s.site.to_string();
    fields[2] = ("site", &site);
    let placed = cy.post("/cart/checkout", &fields).await;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let at = placed.location.clone().unwrap();
    // the same form again (a double click): the same order, though the cart is empty now
    let again = cy.post("/cart/checkout", &fields).await;
    assert_eq!(again.location.as_deref(), Some(at.as_str()));
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM orders").await, 1);
    assert!(cy.get("/cart").await.contains("Your cart is empty."));
    let order = cy.get(&at).await;
    assert!(
        order.contains("Your order was placed")
            && order.contains("PO-1")
            && order.contains("Submitted"),
        "{}",
        order.body
    );
    assert!(order.contains("Cancel this order"));

    // the dealer approves, picks and ships it from the order's page
    let id = at
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let waiting = ada.get("/orders?status=submitted").await;
    assert!(
        waiting.contains(&format!("/orders/{id}")),
        "{}",
        waiting.body
    );
    let page = ada.get(&format!("/orders/{id}")).await;
    let csrf = page.csrf();
    for to in ["approved", "picked"] {
        let r = ada
            .post(
                &format!("/orders/{id}/status"),
                &[("csrf", &csrf), ("status", to)],
            )
            .await;
        assert_eq!(r.status, 303, "{to}: {}", r.body);
    }
    let r = ada
        .post(
            &format!("/orders/{id}/status"),
            &[("csrf", &csrf), ("status", "shipped"), ("carrier", "UPS")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("tracking number"), "{}", r.body);
    let r = ada
        .post(
            &format!("/orders/{id}/status"),
            &[
                ("csrf", &csrf),
                ("status", "shipped"),
                ("carrier", "UPS"),
                ("tracking_number", "1Z42"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let order = cy.get(&format!("/orders/{id}")).await;
    assert!(
        order.contains("Shipped with UPS, tracking number 1Z42"),
        "{}",
        order.body
    );
    assert!(!order.contains("Cancel this order"), "too late to cancel");
    // and another account's customer does not see it
    let mut bo = Browser::new(&d.app.base);
    bo.sign_in("acme", "bo@bravo.test", PASSWORD).await;
    assert_eq!(bo.get(&format!("/orders/{id}")).await.status, 404);
}

async fn a_cart_keeps_what_was_chosen_until_it_is_ordered(t: TestDb) {
    let s = shop(t).await;
    let d = &s.d;
    let put = |lines: Value| {
        let tok = s.cy.clone();
        async move {
            api(
                &d.app.base,
                "PUT",
                "/api/v1/cart",
                &tok,
                Some(json!({ "lines": lines })),
            )
            .await
        }
    };
    let (status, cart) = put(json!([{"equipment": s.ricoh.0, "sku": "PAPER", "quantity": 2}, {"equipment": s.kyocera.0, "sku": "TK-K", "quantity": 1}])).await;
    assert_eq!(
        (status, cart["total_cents"].as_i64()),
        (200, Some(2 * 2450 + 7900)),
        "{cart}"
    );
    // a bad change changes nothing
    for bad in [
        json!([{"equipment": s.ricoh.0, "sku": "PAPER", "quantity": 50}]),
        json!([{"equipment": s.ricoh.0, "sku": "PAPER", "quantity": -1}]),
        json!([{"equipment": s.kyocera.0, "sku": "TN-K", "quantity": 1}]),
    ] {
        let (status, _) = put(bad.clone()).await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, _) = put(json!([{"equipment": s.theirs.0, "sku": "TN-K", "quantity": 1}])).await;
    assert_eq!(status, 404);
    let (_, cart) = api(&d.app.base, "GET", "/api/v1/cart", &s.cy, None).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 2, "{cart}");
    // 0 takes a line out
    let (_, cart) = put(json!([{"equipment": s.kyocera.0, "sku": "TK-K", "quantity": 0}])).await;
    assert_eq!(cart["total_cents"], 4900);

    let order = |key: &'static str| {
        let tok = s.cy.clone();
        let body = json!({"ship_to": {"site": s.site}, "po_number": "PO-9"}).to_string();
        async move {
            call(
                d,
                "POST",
                "/api/v1/cart/checkout",
                &tok,
                &[("idempotency-key", key)],
                Some(("application/json", body)),
            )
            .await
        }
    };
    let (status, placed) = order("cart-checkout-01").await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["order"]["total_cents"], 4900);
    let (_, cart) = api(&d.app.base, "GET", "/api/v1/cart", &s.cy, None).await;
    assert_eq!(
        cart["lines"].as_array().unwrap().len(),
        0,
        "ordered: the cart is empty"
    );
    let (status, again) = order("cart-checkout-01").await;
    assert_eq!(
        (status, &again["order"]["id"]),
        (200, &placed["order"]["id"])
    );
    let (status, empty) = order("cart-checkout-02").await;
    assert_eq!(status, 422);
    assert!(
        empty["detail"].as_str().unwrap().contains("empty"),
        "{empty}"
    );
    let (status, _) = api(&d.app.base, "DELETE", "/api/v1/cart", &s.cy, None).await;
    assert_eq!(status, 204);
    assert_eq!(count(&d.app.t, "SELECT COUNT(*) FROM orders").await, 1);
}

backends!(
    a_cart_keeps_what_was_chosen_until_it_is_ordered,
    the_same_flows_work_through_the_pages,
    catalogue_comes_and_goes_as_csv_and_a_bad_file_changes_nothing,
    customers_order_only_what_fits_their_own_devices_and_see_what_is_covered,
    one_checkout_is_one_order_even_sent_twice_at_once,
    an_order_runs_its_lifecycle_with_a_notification_at_each_step,
    low_toner_orders_its_covered_cartridge_once,
);
