//! Every route, swept: each declares who may call it (a public one must be on the list below,
//! on purpose), refuses strangers and principals without its permission, and — for every
//! route that names an object — answers 404 for another tenant's object (to staff) and for
//! another account's object (to customers), and records that in the audit trail.

use crate::backends;
use crate::browser::Browser;
use crate::harness::{TestDb, count};
use crate::isolation::{id_of, seed};
use crate::sign_in::{PASSWORD, dealer, person};
use axum::http::Method;
use portal::auth::Permission;
use portal::http::{Access, RouteSpec};
use portal::users::UserKind;
use serde_json::json;

/// The routes anyone may call, each for a reason.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),                        // liveness, touches nothing
    ("GET", "/readyz"),                         // readiness, says only up or down
    ("GET", "/assets/app.css"),                 // the stylesheet
    ("GET", "/assets/app.js"),                  // the portal's own small script
    ("GET", "/assets/htmx.min.js"),             // vendored htmx
    ("GET", "/assets/htmx-sse.min.js"),         // its server-sent-events extension
    ("POST", "/api/v1/agent/enroll"),           // the enrolment code is the credential
    ("POST", "/api/v1/password-reset"),         // answers the same for every address
    ("POST", "/api/v1/password-reset/confirm"), // the reset token is the credential
    ("GET", "/api/v1/openapi.json"),            // the API's description, no data
    ("POST", "/api/v1/webhooks/stripe"),        // the signature is the credential
    ("POST", "/sandbox-gateway/tokens"),
    ("GET", "/sandbox-gateway/card"), // the sandbox processor's hosted page
    ("POST", "/sandbox-gateway/card"), // test numbers in, a token out // the sandbox processor's tokenisation: test numbers in, tokens out
];
/// The forms shown before sign-in (their posts need the pre-session CSRF token).
const PUBLIC_FORMS: &[&str] = &[
    "/sign-in",
    "/password-reset",
    "/password-reset/confirm",
    "/invitations/accept",
];
/// Routes whose bearer token is an agent's, checked by the handler.
const AGENT: &[&str] = &["/api/v1/agent/readings"];

fn specs(t: &TestDb) -> Vec<RouteSpec> {
    let state = portal::http::AppState::new(
        t.db.clone(),
        std::sync::Arc::new(portal::config::Config::default()),
    )
    .unwrap();
    portal::http::route_table(&state).1
}

/// A route's path with every `{param}` replaced by `id`.
fn concrete(path: &str, id: i64) -> String {
    concrete_with(path, &|_| id)
}

/// A route's path with each `{param}` replaced by the id `id_of(param)` gives.
fn concrete_with(path: &str, id_of: &dyn Fn(&str) -> i64) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => id_of(param).to_string(),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// A body valid enough to reach the object lookup, for routes that take one.
fn json_body_for(r: &RouteSpec) -> Option<serde_json::Value> {
    match (r.method.as_str(), r.path) {
        ("POST", "/api/v1/review-items/{review_item}/decision") => {
            Some(json!({"action": "reject"}))
        }
        ("POST", "/api/v1/meter-photos/{meter_photo}/confirm") => {
            Some(json!({"counters": {"total": 1000}}))
        }
        ("PUT", "/api/v1/users/{user}/roles") => Some(json!({"roles": []})),
        ("PUT", "/api/v1/roles/{role}") => Some(json!({"name": "Renamed", "permissions": []})),
        ("POST", "/api/v1/requests/{request}/comments") => Some(json!({"text": "a comment"})),
        ("POST", "/api/v1/requests/{request}/status") => Some(json!({"status": "cancelled"})),
        ("POST", "/api/v1/orders/{order}/status") => Some(json!({"status": "cancelled"})),
        ("POST", "/api/v1/contracts/{contract}/invoices") => Some(json!({"on": "2026-02-01"})),
        ("PUT", "/api/v1/requests/{request}/assignment") => Some(json!({"technician": null})),
        ("PUT", "/api/v1/requests/{request}/schedule") => Some(json!({"start": 1, "end": 2})),
        ("POST", "/api/v1/equipment/{equipment}/readings") => {
            Some(json!({"counters": {"total": 1000}, "submission": "0123456789abcdef0123"}))
        }
        _ => None,
    }
}

async fn every_route_declares_who_may_call_it(t: TestDb) {
    let specs = specs(&t);
    assert!(
        specs.len() > 60,
        "{} routes: is the table read?",
        specs.len()
    );
    // and the API document describes only routes that are served
    for doc in portal::http::openapi::DOCS {
        assert!(
            specs
                .iter()
                .any(|r| r.method.as_str() == doc.method && r.path == doc.path),
            "{} {} is documented but no route serves it",
            doc.method,
            doc.path
        );
    }
    let d = dealer(t, |_| {}).await;
    // a signed-in customer whose role holds nothing
    count(
        &d.app.t,
        &format!(
            "INSERT INTO roles (tenant_id, name, scope, builtin, created_at) \
             VALUES ({}, 'nothing', 'customer', 0, 0) RETURNING id",
            d.db.tenant_id().0
        ),
    )
    .await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "nil@acme.test",
        "nothing",
    )
    .await;
    let mut nobody = Browser::new(&d.app.base);
    let mut powerless = Browser::new(&d.app.base);
    assert_eq!(
        powerless
            .sign_in("acme", "nil@acme.test", PASSWORD)
            .await
            .status,
        303
    );
    let powerless_csrf = powerless.session_csrf().await;

    for r in &specs {
        let m = r.method.as_str();
        match r.access {
            Access::Public => {
                assert!(
                    PUBLIC.contains(&(m, r.path)),
                    "{m} {} is public but not on the list of public routes",
                    r.path
                );
                continue;
            }
            Access::PublicForm => {
                assert!(
                    PUBLIC_FORMS.contains(&r.path),
                    "{m} {} is a public form but not on the list",
                    r.path
                );
                continue;
            }
            Access::Agent => {
                assert!(
                    AGENT.contains(&r.path),
                    "{m} {} takes agent tokens but is not on the list",
                    r.path
                );
                continue;
            }
            Access::During(_) | Access::SignedIn | Access::Permission(_) => {}
        }
        let path = concrete(r.path, 1);
        let api = r.path.starts_with("/api/");

        // nobody signed in
        let status = send(&mut nobody, &d.app.base, &r.method, &path, None, None).await;
        if api {
            assert_eq!(status.0, 401, "{m} {} answered a stranger", r.path);
        } else {
            assert_eq!(status.0, 303, "{m} {} answered a stranger", r.path);
            assert!(
                status
                    .1
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("/sign-in"),
                "{m} {}",
                r.path
            );
        }
        // signed in, holding nothing
        if let Access::Permission(p) = r.access {
            let status = send(
                &mut powerless,
                &d.app.base,
                &r.method,
                &path,
                Some(&powerless_csrf),
                None,
            )
            .await;
            assert_eq!(status.0, 403, "{m} {} did not check {p}", r.path);
        }
    }
}

/// Sends one request as a browser (pages, with the CSRF token for posts) or with an API
/// token (the JSON API); returns (status, Location).
async fn send(
    b: &mut Browser,
    base: &str,
    method: &Method,
    path: &str,
    csrf: Option<&str>,
    token: Option<&str>,
) -> (u16, Option<String>) {
    if path.starts_with("/api/") {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method.clone(), format!("{base}{path}"));
        match token {
            Some(t) => req = req.bearer_auth(t),
            None => {
                let cookies = b
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                req = req.header("cookie", cookies);
                if let Some(c) = csrf {
                    req = req.header("x-csrf-token", c);
                }
            }
        }
        let r = req.send().await.unwrap();
        return (r.status().as_u16(), None);
    }
    let page = if *method == Method::GET {
        b.get(path).await
    } else {
        b.post(path, &[("csrf", csrf.unwrap_or(""))]).await
    };
    (page.status, page.location)
}

/// Sends a request for an object by id with whatever body the route needs.
async fn ask_for(
    b: &mut Browser,
    base: &str,
    r: &RouteSpec,
    id_of: &dyn Fn(&str) -> i64,
    csrf: &str,
    token: &str,
) -> u16 {
    let path = concrete_with(r.path, id_of);
    if !path.starts_with("/api/") {
        let page = if r.method == Method::GET {
            b.get(&path).await
        } else {
            // a form valid enough for any of the pages' posts to reach its object
            b.post(
                &path,
                &[
                    ("csrf", csrf),
                    ("name", "Renamed"),
                    ("role", "1"),
                    ("total", "1000"),
                    ("action", "reject"),
                    ("submission", "0123456789abcdef0123"),
                    ("text", "a comment"),
                    ("status", "cancelled"),
                    ("technician", ""),
                    ("start", "2026-03-01T09:00"),
                    ("end", "2026-03-01T10:00"),
                ],
            )
            .await
        };
        return page.status;
    }
    let client = reqwest::Client::new();
    let mut req = client
        .request(r.method.clone(), format!("{base}{path}"))
        .bearer_auth(token);
    if r.path.ends_with("/meter-photos") {
        // the device is looked up before a byte of the photo is read
        req = req
            .header("content-type", "image/png")
            .body(b"not read".to_vec());
    } else if let Some(body) = json_body_for(r) {
        req = req.json(&body);
    } else if r.method != Method::GET && r.method != Method::DELETE {
        req = req.json(&json!({}));
    }
    req.send().await.unwrap().status().as_u16()
}

async fn not_found_entries(t: &TestDb) -> i64 {
    count(
        t,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'access.not_found'",
    )
    .await
}

/// Staff of one dealer asking for another dealer's objects: 404, audited.
async fn another_tenants_objects_are_not_found(t: TestDb) {
    let specs = specs(&t);
    let d = dealer(t, |_| {}).await;
    {
        let mut admin = d.app.t.admin().await;
        seed(&mut admin, d.app.t.backend, 1002).await;
    }
    let theirs = id_of(1002);
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let token = full_token(&d, "ada@dealer.test").await;
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let csrf = b.session_csrf().await;
    let mut swept = 0;
    for r in specs.iter().filter(|r| r.path.contains('{')) {
        assert!(
            matches!(r.access, Access::Permission(_) | Access::SignedIn),
            "{} {} names an object: it must require a signed-in user",
            r.method,
            r.path
        );
        let before = not_found_entries(&d.app.t).await;
        let status = ask_for(&mut b, &d.app.base, r, &|_| theirs, &csrf, &token).await;
        assert_eq!(
            status, 404,
            "{} {} with another tenant's id",
            r.method, r.path
        );
        assert_eq!(
            not_found_entries(&d.app.t).await,
            before + 1,
            "{} {} was not audited",
            r.method,
            r.path
        );
        swept += 1;
    }
    assert!(swept >= 20, "only {swept} routes with ids");
}

/// A customer asking for another account's objects (same dealer): 404, audited.
async fn another_accounts_objects_are_not_found(t: TestDb) {
    let specs = specs(&t);
    let d = dealer(t, |_| {}).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    let bo = person(
        &d.db,
        UserKind::Customer(d.other_account),
        "bo@bravo.test",
        "account_admin",
    )
    .await;
    // the other account's objects, one of each kind a route can name
    let equipment =
        d.db.run(async |tx| {
            let e = tx
                .create_equipment(&portal::equipment::NewEquipment::new(
                    d.other_account,
                    ingest::domain::SerialNumber::parse("BRAVO-1")?,
                    "Ricoh",
                    "MP C3004",
                )?)
                .await?;
            tx.create_api_token(
                bo,
                "bo's",
                &[Permission::EquipmentRead].into_iter().collect(),
            )
            .await?;
            Ok(e.id)
        })
        .await
        .unwrap();
    let bos_token_id: i64 = count(
        &d.app.t,
        &format!("SELECT id FROM api_tokens WHERE created_by = {}", bo.0),
    )
    .await;
    d.db.run(async |tx| {
        tx.notify(&portal::notifications::Note {
            event: "equipment.silent",
            subject: Some(equipment.0),
            title: "for Bo".into(),
            body: "only".into(),
            link: None,
            recipients: &[bo],
        })
        .await
    })
    .await
    .unwrap();
    let bos_notification = count(
        &d.app.t,
        &format!("SELECT id FROM notifications WHERE user_id = {}", bo.0),
    )
    .await;
    let t_id = d.db.tenant_id().0;
    let bos_request = count(
        &d.app.t,
        &format!(
            "INSERT INTO service_requests (tenant_id, number, account_id, equipment_id, priority, \
               problem_type, description, created_at, updated_at) \
             VALUES ({t_id}, 900, {}, {}, 'normal', 'other', 'Bravo''s', 0, 0) RETURNING id",
            d.other_account.0, equipment.0
        ),
    )
    .await;
    let bos_file = count(
        &d.app.t,
        &format!(
            "INSERT INTO files (tenant_id, storage_name, original_name, content_type, size_bytes, sha256, created_at) \
             VALUES ({t_id}, 'bo.pdf', 'bo.pdf', 'application/pdf', 1, '{}', 0) RETURNING id",
            "1".repeat(64)
        ),
    )
    .await;
    count(
        &d.app.t,
        &format!(
            "INSERT INTO service_request_attachments (tenant_id, request_id, file_id) \
             VALUES ({t_id}, {bos_request}, {bos_file}) RETURNING file_id"
        ),
    )
    .await;
    let bos_reading = count(
        &d.app.t,
        &format!(
            "INSERT INTO readings (tenant_id, equipment_id, meter_kind, value, read_at, received_at, \
               source, status, idempotency_key) \
             VALUES ({t_id}, {}, 'total', 1000, 0, 0, 'manual', 'accepted', 'bo-1') RETURNING id",
            equipment.0
        ),
    )
    .await;
    let photo = count(
        &d.app.t,
        &format!(
            "INSERT INTO files (tenant_id, storage_name, original_name, content_type, size_bytes, sha256, created_at) \
             VALUES ({t_id}, 'x.png', 'x.png', 'image/png', 1, '{}', 0) RETURNING id",
            "0".repeat(64)
        ),
    )
    .await;
    count(
        &d.app.t,
        &format!(
            "INSERT INTO evidence (tenant_id, kind, file_id, summary, payload, created_at) \
             VALUES ({t_id}, 'photo', {photo}, 'photo', '{{\"equipment_id\": {}, \"read\": {{}}}}', 0) RETURNING id",
            equipment.0
        ),
    )
    .await;
    let bos_order = count(
        &d.app.t,
        &format!(
            "INSERT INTO orders (tenant_id, number, account_id, ship_name, ship_line1, ship_city, \
               ship_postal_code, ship_country, status, total_cents, created_at, updated_at) \
             VALUES ({t_id}, 900, {}, 'Bravo', '1 Law St', 'Town', '1', 'US', 'submitted', 0, 0, 0) RETURNING id",
            d.other_account.0
        ),
    )
    .await;
    let bos_contract = count(
        &d.app.t,
        &format!(
            "INSERT INTO contracts (tenant_id, account_id, number, kind, billing_cycle, starts_on, created_at) \
             VALUES ({t_id}, {}, 'C-BO', 'per_device', 'monthly', '2026-01-01', 0) RETURNING id",
            d.other_account.0
        ),
    )
    .await;
    let bos_invoice = count(
        &d.app.t,
        &format!(
            "INSERT INTO invoices (tenant_id, number, account_id, period_start, period_end, subtotal_cents, \
               total_cents, created_at) VALUES ({t_id}, 900, {}, '2026-01-01', '2026-01-31', 0, 0, 0) RETURNING id",
            d.other_account.0
        ),
    )
    .await;
    let bos_payment = count(
        &d.app.t,
        &format!(
            "INSERT INTO payments (tenant_id, account_id, amount_cents, currency, status, created_at) \
             VALUES ({t_id}, {}, 100, 'USD', 'succeeded', 0) RETURNING id",
            d.other_account.0
        ),
    )
    .await;
    let id_for = |param: &str| -> i64 {
        match param {
            "payment" => bos_payment,
            "order" => bos_order,
            "contract" => bos_contract,
            "invoice" => bos_invoice,
            "equipment" => equipment.0,
            "meter_photo" => photo,
            "user" => bo.0,
            "api_token" => bos_token_id,
            "notification" => bos_notification,
            "reading" => bos_reading,
            "request" => bos_request,
            "file" => bos_file,
            other => {
                panic!("{{{other}}}: which of another account's objects does it name? add it here")
            }
        }
    };
    let token = full_token(&d, "cy@acme.test").await;
    let held =
        d.db.read(async |tx| {
            let u = tx
                .user_by_email(&ingest::domain::EmailAddress::parse("cy@acme.test")?)
                .await?;
            tx.permissions_of(u.id).await
        })
        .await
        .unwrap();
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let csrf = b.session_csrf().await;
    let mut swept = 0;
    for r in specs.iter().filter(|r| r.path.contains('{')) {
        if let Access::Permission(p) = r.access
            && !held.contains(&p)
        {
            continue; // refused for the permission, before any object is looked up
        }
        let before = not_found_entries(&d.app.t).await;
        let status = ask_for(&mut b, &d.app.base, r, &id_for, &csrf, &token).await;
        assert_eq!(
            status, 404,
            "{} {} with another account's id",
            r.method, r.path
        );
        assert_eq!(
            not_found_entries(&d.app.t).await,
            before + 1,
            "{} {} was not audited",
            r.method,
            r.path
        );
        swept += 1;
    }
    assert!(swept >= 12, "only {swept} routes swept");
    // nothing of Bravo's was changed
    let bo_user = d.db.read(async |tx| tx.user(bo).await).await.unwrap();
    assert_eq!(bo_user.status, "active");
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NOT NULL"
        )
        .await,
        0
    );
}

async fn full_token(d: &crate::sign_in::Dealer, email: &str) -> String {
    let email = ingest::domain::EmailAddress::parse(email).unwrap();
    d.db.run(async |tx| {
        let u = tx.user_by_email(&email).await?;
        let all = tx.permissions_of(u.id).await?;
        tx.create_api_token(u.id, "sweep", &all).await
    })
    .await
    .unwrap()
}

backends!(
    every_route_declares_who_may_call_it,
    another_tenants_objects_are_not_found,
    another_accounts_objects_are_not_found,
);
