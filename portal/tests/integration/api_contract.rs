//! The JSON API against its own OpenAPI document: the document names every API route the
//! server declares (and nothing else), with its parameters and who may call it; and the
//! answers of a customer's and a dealer's day through the API — successes and failures —
//! match the schemas the document gives for them (JSON Schema 2020-12, `jsonschema`).

use crate::backends;
use crate::harness::TestDb;
use crate::sign_in::{Dealer, dealer, device, person, token};
use portal::http::routes::{Access, RouteSpec};
use portal::users::UserKind;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn document(d: &Dealer) -> Value {
    let r = reqwest::get(format!("{}/api/v1/openapi.json", d.app.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

fn api_routes(d: &Dealer) -> Vec<RouteSpec> {
    let state = portal::http::AppState::new(
        d.app.t.db.clone(),
        std::sync::Arc::new(portal::config::Config::default()),
    )
    .unwrap();
    portal::http::route_table(&state)
        .1
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect()
}

async fn the_document_names_every_api_route_and_only_those(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    let doc = document(&d).await;
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let routes = api_routes(&d);
    let declared: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.as_str().to_lowercase(), r.path.to_owned()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(
        declared.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "declared but not documented"
    );
    assert_eq!(
        documented.difference(&declared).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in &routes {
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        // every path parameter is declared
        for name in r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            assert!(
                op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path")),
                "{} {}: {{{name}}}",
                r.method,
                r.path
            );
        }
        // who may call it
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(
            secured,
            !matches!(r.access, Access::Public | Access::PublicForm),
            "{} {}",
            r.method,
            r.path
        );
        if let Access::Permission(p) = r.access {
            assert!(
                op["description"].as_str().unwrap().contains(p.as_str()),
                "{} {} names its permission",
                r.method,
                r.path
            );
        }
        assert!(
            op["responses"]["default"].is_object(),
            "failures documented"
        );
    }
    // every reference resolves
    let text = doc.to_string();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
}

/// What in `body` does not match `schema` (which may refer to the document's components).
fn violations(doc: &Value, schema: &Value, body: &Value) -> Vec<String> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).unwrap();
    validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Checks one answer against the document: the schema for its status (or `default`).
struct Contract {
    doc: Value,
    checked: BTreeSet<(String, String, u16)>,
}

impl Contract {
    fn check(&mut self, method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        let response = match &op["responses"][status.to_string()] {
            Value::Null => &op["responses"]["default"],
            r => r,
        };
        assert!(
            response.is_object(),
            "{method} {path}: status {status} is not documented"
        );
        let media = content_type.split(';').next().unwrap_or("").trim();
        let schema = &response["content"][media]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status}: {media} is not what the document says ({})",
            response["content"]
        );
        let errors = violations(&self.doc, schema, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the document: {errors:?}\n{body:#}"
        );
        self.checked
            .insert((method.to_owned(), path.to_owned(), status));
    }

    /// Calls `concrete` (the route `path` with its ids) and checks the answer.
    async fn call(
        &mut self,
        d: &Dealer,
        token: &str,
        method: &str,
        path: &str,
        concrete: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut req = client
            .request(method.parse().unwrap(), format!("{}{concrete}", d.app.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {concrete}: {e}: {text}"))
        };
        if status != 204 {
            self.check(method, path, status, &content_type, &body);
        }
        (status, body)
    }
}

async fn answers_match_the_document(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    let mut c = Contract {
        doc: document(&d).await,
        checked: BTreeSet::new(),
    };
    // the check can fail: a request whose id is text, or without its status, is not one
    let request = json!({"$ref": "#/components/schemas/RequestView"});
    assert!(!violations(&c.doc, &request, &json!({"id": "seven"})).is_empty());
    assert!(
        !violations(
            &c.doc,
            &json!({"$ref": "#/components/schemas/Problem"}),
            &json!({"title": "x"})
        )
        .is_empty()
    );
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_admin",
    )
    .await;
    let device = device(&d, d.account, "E-1", "Ricoh", "MP C3004").await.0;
    let cy = token(&d, "cy@acme.test", &[]).await;
    let ada = token(&d, "ada@dealer.test", &[]).await;
    let e = |p: &str| p.replace("{equipment}", &device.to_string());

    // the customer's day
    let p = "/api/v1/equipment/{equipment}/readings";
    let (s, _) = c
        .call(
            &d,
            &cy,
            "POST",
            p,
            &e(p),
            Some(json!({"counters": {"total": 1000}, "submission": "0123456789abcdef0123"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = c
        .call(
            &d,
            &cy,
            "POST",
            p,
            &e(p),
            Some(json!({"counters": {"total": 900}, "submission": "0123456789abcdef0124"})),
        )
        .await;
    assert_eq!(s, 200, "lower than the last: answered, for review");
    let (s, _) = c
        .call(
            &d,
            &cy,
            "POST",
            p,
            &e(p),
            Some(json!({"counters": {"total": -5}, "submission": "0123456789abcdef0125"})),
        )
        .await;
    assert_eq!(s, 422, "a malformed body is a problem+json answer");
    let (s, page) = c.call(&d, &cy, "GET", p, &e(p), None).await;
    assert_eq!(s, 200);
    let reading = page["readings"][0]["id"].as_i64().unwrap();
    let p = "/api/v1/readings/{reading}/evidence";
    c.call(
        &d,
        &cy,
        "GET",
        p,
        &p.replace("{reading}", &reading.to_string()),
        None,
    )
    .await;
    let (s, request) = c
        .call(
            &d,
            &cy,
            "POST",
            "/api/v1/requests",
            "/api/v1/requests",
            Some(json!({"equipment": device, "priority": "high", "problem_type": "paper_jam",
                        "description": "Jams in tray 2", "preferred": [{"date": "2026-01-05", "window": "morning"}]})),
        )
        .await;
    assert_eq!(s, 201, "{request}");
    let r = request["id"].as_i64().unwrap().to_string();
    let rq = |p: &str| p.replace("{request}", &r);
    for (who, method, path, body) in [
        (&cy, "GET", "/api/v1/requests/{request}", None),
        (
            &cy,
            "POST",
            "/api/v1/requests/{request}/comments",
            Some(json!({"text": "Still jamming"})),
        ),
        (
            &ada,
            "POST",
            "/api/v1/requests/{request}/status",
            Some(json!({"status": "acknowledged"})),
        ),
        (
            &ada,
            "PUT",
            "/api/v1/requests/{request}/assignment",
            Some(json!({"technician": null})),
        ),
        (
            &ada,
            "PUT",
            "/api/v1/requests/{request}/schedule",
            Some(json!({"start": 1_767_600_000_000_i64, "end": 1_767_605_400_000_i64})),
        ),
        (
            &cy,
            "POST",
            "/api/v1/requests/{request}/status",
            Some(json!({"status": "submitted"})),
        ),
    ] {
        c.call(&d, who, method, path, &rq(path), body).await;
    }
    for path in [
        "/api/v1/requests",
        "/api/v1/dashboard",
        "/api/v1/me",
        "/api/v1/me/api-tokens",
        "/api/v1/me/sessions",
        "/api/v1/notifications",
        "/api/v1/notifications/preferences",
        "/api/v1/equipment",
        "/api/v1/equipment/{equipment}",
    ] {
        let (s, _) = c.call(&d, &cy, "GET", path, &e(path), None).await;
        assert_eq!(s, 200, "{path}");
    }
    let (_, prefs) = c
        .call(
            &d,
            &cy,
            "GET",
            "/api/v1/notifications/preferences",
            "/api/v1/notifications/preferences",
            None,
        )
        .await;
    c.call(
        &d,
        &cy,
        "PUT",
        "/api/v1/notifications/preferences",
        "/api/v1/notifications/preferences",
        Some(prefs),
    )
    .await;
    c.call(
        &d,
        &cy,
        "POST",
        "/api/v1/notifications/read-all",
        "/api/v1/notifications/read-all",
        None,
    )
    .await;
    let (s, _) = c
        .call(
            &d,
            &cy,
            "PUT",
            "/api/v1/me",
            "/api/v1/me",
            Some(json!({"display_name": "Cy", "locale": "en", "time_zone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = c
        .call(
            &d,
            &cy,
            "POST",
            "/api/v1/me/api-tokens",
            "/api/v1/me/api-tokens",
            Some(json!({"name": "scanner", "permissions": ["equipment.read"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = c
        .call(
            &d,
            &cy,
            "GET",
            "/api/v1/review-items",
            "/api/v1/review-items",
            None,
        )
        .await;
    assert_eq!(s, 403, "a refusal is a problem+json answer too");

    // the dealer's day
    for path in [
        "/api/v1/review-items",
        "/api/v1/users",
        "/api/v1/invitations",
        "/api/v1/permissions",
        "/api/v1/roles",
        "/api/v1/settings/security",
        "/api/v1/audit-log",
        "/api/v1/discovered-devices",
        "/api/v1/dashboard",
        "/api/v1/equipment",
    ] {
        let (s, _) = c.call(&d, &ada, "GET", path, path, None).await;
        assert_eq!(s, 200, "{path}");
    }
    let (_, items) = c
        .call(
            &d,
            &ada,
            "GET",
            "/api/v1/review-items",
            "/api/v1/review-items",
            None,
        )
        .await;
    let item = items["items"][0]["id"]
        .as_i64()
        .expect("the lower reading waits");
    let p = "/api/v1/review-items/{review_item}/decision";
    let (s, _) = c
        .call(
            &d,
            &ada,
            "POST",
            p,
            &p.replace("{review_item}", &item.to_string()),
            Some(json!({"action": "reject"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, role) = c
        .call(&d, &ada, "POST", "/api/v1/roles", "/api/v1/roles", Some(json!({"name": "Front desk", "scope": "customer", "permissions": ["equipment.read"]})))
        .await;
    assert_eq!(s, 201);
    let p = "/api/v1/roles/{role}";
    let concrete = p.replace("{role}", &role["id"].to_string());
    c.call(
        &d,
        &ada,
        "PUT",
        p,
        &concrete,
        Some(json!({"name": "Front desk", "permissions": ["equipment.read", "readings.submit"]})),
    )
    .await;
    let (s, _) = c
        .call(
            &d,
            &ada,
            "POST",
            "/api/v1/invitations",
            "/api/v1/invitations",
            Some(json!({"email": "dee@acme.test", "role": role["id"], "account": d.account.0})),
        )
        .await;
    assert_eq!(s, 201);
    let (_, users) = c
        .call(&d, &ada, "GET", "/api/v1/users", "/api/v1/users", None)
        .await;
    let user = users[0]["id"].as_i64().unwrap().to_string();
    let p = "/api/v1/users/{user}";
    c.call(&d, &ada, "GET", p, &p.replace("{user}", &user), None)
        .await;
    let p = "/api/v1/equipment/{equipment}";
    let (s, _) = c
        .call(
            &d,
            &ada,
            "GET",
            p,
            &p.replace("{equipment}", "999999"),
            None,
        )
        .await;
    assert_eq!(s, 404);

    // a stranger asks for a reset: the same answer for known and unknown addresses
    let (s, _) = c
        .call(
            &d,
            "",
            "POST",
            "/api/v1/password-reset",
            "/api/v1/password-reset",
            Some(json!({"dealer": "acme", "email": "nobody@acme.test"})),
        )
        .await;
    assert_eq!(s, 202);
    let p = "/api/v1/requests/{request}";
    let (s, _) = c
        .call(&d, &cy, "GET", p, &p.replace("{request}", "999999"), None)
        .await;
    assert_eq!(s, 404);
    assert!(
        c.checked.len() >= 40,
        "only {} answers checked: {:?}",
        c.checked.len(),
        c.checked
    );
}

backends!(
    the_document_names_every_api_route_and_only_those,
    answers_match_the_document,
);
