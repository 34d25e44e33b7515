//! Signing in through the real pages, as a browser does: sessions and their cookies, sign-out,
//! fixation, CSRF, attempt limits that do not lock the real user out, the second factor, and
//! bad input that changes nothing. Every test runs on SQLite and PostgreSQL.

use crate::backends;
use crate::browser::{Browser, DEVICE, PRE_CSRF, SESSION};
use crate::harness::{TEST_SECRET_KEY, TestApp, TestDb, count, spawn_app};
use portal::accounts::NewAccount;
use portal::auth::password::hash_password;
use portal::clock::Clock;
use portal::db::TenantDb;
use portal::ids::{AccountId, UserId};
use portal::users::{NewUser, UserKind};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery";

/// A dealer `acme` with a customer account and the app serving it.
pub struct Dealer {
    pub app: TestApp,
    pub db: TenantDb,
    pub account: AccountId,
    pub other_account: AccountId,
}

pub async fn dealer(t: TestDb, configure: impl FnOnce(&mut portal::config::Config)) -> Dealer {
    let db = t.tenant("acme").await;
    let (account, other_account) = db
        .run(async |tx| {
            Ok((
                tx.create_account(&NewAccount::new("A-1", "Acme Dental")?)
                    .await?
                    .id,
                tx.create_account(&NewAccount::new("B-2", "Bravo Law")?)
                    .await?
                    .id,
            ))
        })
        .await
        .unwrap();
    Dealer {
        app: spawn_app(t, configure).await,
        db,
        account,
        other_account,
    }
}

/// A JSON call with an API token.
pub async fn api(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => panic!("{other}"),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An API token for a user holding `permissions` (none named: all the user holds).
pub async fn token(d: &Dealer, email: &str, permissions: &[&str]) -> String {
    let named: std::collections::BTreeSet<_> = permissions
        .iter()
        .map(|p| portal::auth::Permission::parse(p).unwrap())
        .collect();
    let email = ingest::domain::EmailAddress::parse(email).unwrap();
    d.db.run(async |tx| {
        let u = tx.user_by_email(&email).await?;
        let wanted = if named.is_empty() {
            tx.permissions_of(u.id).await?
        } else {
            named.clone()
        };
        tx.create_api_token(u.id, "test", &wanted).await
    })
    .await
    .unwrap()
}

/// A device of `account`.
pub async fn device(
    d: &Dealer,
    account: AccountId,
    serial: &str,
    make: &str,
    model: &str,
) -> portal::ids::EquipmentId {
    d.db.run(async |tx| {
        Ok(tx
            .create_equipment(&portal::equipment::NewEquipment::new(
                account,
                ingest::domain::SerialNumber::parse(serial)?,
                make,
                model,
            )?)
            .await?
            .id)
    })
    .await
    .unwrap()
}

/// A person who can sign in with [`PASSWORD`], named after their address (`ada@…`: "Ada").
pub async fn person(db: &TenantDb, kind: UserKind, email: &str, role: &str) -> UserId {
    let phc = hash_password(PASSWORD).unwrap();
    let local = email.split('@').next().unwrap();
    let name = format!("{}{}", local[..1].to_uppercase(), &local[1..]);
    db.run(async |tx| {
        let role = tx.role_by_name(role).await?;
        let new = NewUser::new(kind, ingest::domain::EmailAddress::parse(email)?, &name)?
            .password_hash(phc);
        Ok(tx.create_user(&new, &[role.id]).await?.id)
    })
    .await
    .unwrap()
}

async fn audit_actions(t: &TestDb) -> Vec<String> {
    let mut c = t.admin().await;
    sqlx::query_scalar::<sqlx::Any, String>("SELECT action FROM audit_log ORDER BY tenant_id, seq")
        .fetch_all(&mut c)
        .await
        .unwrap()
}

async fn a_customer_signs_in_and_out(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "ada@acme.test",
        "account_user",
    )
    .await;
    let mut b = Browser::new(&d.app.base);

    // not signed in: the portal sends the browser to the sign-in form
    let home = b.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/sign-in"));
    let form = b.get("/sign-in?dealer=acme").await;
    assert_eq!(form.status, 200);
    assert!(form.contains("Sign in"), "{}", form.body);
    let pre = form
        .set_cookie(PRE_CSRF)
        .expect("a pre-sign-in CSRF cookie");
    assert!(pre.contains("Secure") && pre.contains("HttpOnly") && pre.contains("SameSite=Lax"));

    let signed_in = b.sign_in("acme", "ada@acme.test", PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location.as_deref(), Some("/"));
    let cookie = signed_in.set_cookie(SESSION).expect("a session cookie");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies have no Domain: {cookie}"
    );
    assert!(
        signed_in.set_cookie(DEVICE).is_some(),
        "the browser is remembered"
    );
    let token = b.cookies[SESSION].clone();
    assert_eq!(
        count(
            &d.app.t,
            &format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'")
        )
        .await,
        0,
        "only the token's hash is stored"
    );

    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.contains("Hello, Ada"));
    assert_eq!(home.headers["cache-control"], "no-store");
    assert_eq!(home.headers["x-frame-options"], "DENY");
    assert!(
        home.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    let out = b.post("/sign-out", &[("csrf", &home.csrf())]).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie(SESSION).unwrap().contains("Max-Age=0"));
    assert_eq!(b.get("/").await.status, 303);

    // the old cookie, replayed after sign-out, opens nothing
    b.cookies.insert(SESSION.into(), token);
    let replay = b.get("/").await;
    assert_eq!(replay.status, 303);
    assert!(
        replay.set_cookie(SESSION).unwrap().contains("Max-Age=0"),
        "the dead cookie is cleared"
    );
    assert_eq!(
        audit_actions(&d.app.t).await,
        ["auth.sign_in", "auth.sign_out"]
    );
}

async fn a_session_ends_when_idle_and_at_its_absolute_limit(t: TestDb) {
    let d = dealer(t, |c| {
        c.session_idle_minutes = 30;
        c.session_absolute_hours = 2;
    })
    .await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    assert_eq!(
        b.sign_in("acme", "ada@dealer.test", PASSWORD).await.status,
        303
    );
    // active every 20 minutes: the idle limit keeps moving…
    for _ in 0..5 {
        d.app.t.clock.advance_ms(20 * 60_000);
        assert_eq!(b.get("/").await.status, 200);
    }
    // …until the absolute limit, however active
    d.app.t.clock.advance_ms(25 * 60_000);
    assert_eq!(b.get("/").await.status, 303, "2 hours after sign-in");

    assert_eq!(
        b.sign_in("acme", "ada@dealer.test", PASSWORD).await.status,
        303
    );
    d.app.t.clock.advance_ms(31 * 60_000);
    assert_eq!(b.get("/").await.status, 303, "31 idle minutes");
}

async fn signing_in_always_makes_a_new_session(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(&d.db, UserKind::Staff, "eve@dealer.test", "service").await;

    // a session id planted in the victim's browser before sign-in is worthless
    let planted = format!("pxs_{}_{}", d.db.tenant_id().0, "ab".repeat(32));
    let mut victim = Browser::new(&d.app.base);
    victim.cookies.insert(SESSION.into(), planted.clone());
    assert_eq!(
        victim
            .sign_in("acme", "ada@dealer.test", PASSWORD)
            .await
            .status,
        303
    );
    assert_ne!(victim.cookies[SESSION], planted);
    let mut attacker = Browser::new(&d.app.base);
    attacker.cookies.insert(SESSION.into(), planted);
    assert_eq!(attacker.get("/").await.status, 303);

    // the attacker's own real session, planted in the victim's browser, ends at the
    // victim's sign-in instead of becoming the victim's
    assert_eq!(
        attacker
            .sign_in("acme", "eve@dealer.test", PASSWORD)
            .await
            .status,
        303
    );
    let eves = attacker.cookies[SESSION].clone();
    let mut victim = Browser::new(&d.app.base);
    let form = victim.get("/sign-in?dealer=acme").await;
    victim.cookies.insert(SESSION.into(), eves.clone());
    let r = victim
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("dealer", "acme"),
                ("email", "ada@dealer.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_ne!(victim.cookies[SESSION], eves);
    assert!(victim.get("/").await.contains("Hello, Ada"));
    assert_eq!(
        attacker.get("/").await.status,
        303,
        "the planted session was ended"
    );
}

async fn state_changing_requests_need_their_csrf_token(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    let ada = person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let csrf = b.session_csrf().await;
    let mut other = Browser::new(&d.app.base);
    person(&d.db, UserKind::Staff, "bob@dealer.test", "admin").await;
    other.sign_in("acme", "bob@dealer.test", PASSWORD).await;
    let bobs_csrf = other.session_csrf().await;

    let change = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("display_name".to_owned(), "Mallory".to_owned()),
            ("locale".to_owned(), "en".to_owned()),
            ("time_zone".to_owned(), "UTC".to_owned()),
        ]
    };
    for (why, token) in [
        ("no token", ""),
        ("a wrong token", "00"),
        ("another session's token", bobs_csrf.as_str()),
    ] {
        let fields = change(token);
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(k, v)| k != "csrf" || !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = b.post("/profile", &fields).await;
        assert_eq!(r.status, 403, "{why}: {}", r.body);
        assert!(r.contains("Reload the page"), "{why}: a clear message");
    }
    // a cross-site post is refused even with the right token
    let fields = change(&csrf);
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::browser::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = b
        .post_raw(
            "/profile",
            body.into_bytes(),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 403);
    let name =
        d.db.read(async |tx| tx.user(ada).await)
            .await
            .unwrap()
            .display_name;
    assert_eq!(name, "Ada", "nothing changed");

    // the JSON API with the session cookie needs the token as a header
    let client = reqwest::Client::new();
    let cookie = format!("{SESSION}={}", b.cookies[SESSION]);
    let body = serde_json::json!({"display_name": "Mallory", "locale": "en", "time_zone": "UTC"});
    let r = client
        .put(d.app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .put(d.app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // the sign-in form has its own token: a post without its cookie is refused
    let mut stranger = Browser::new(&d.app.base);
    let r = stranger
        .post(
            "/sign-in",
            &[
                ("csrf", "whatever"),
                ("dealer", "acme"),
                ("email", "ada@dealer.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.set_cookie(SESSION).is_none());
}

async fn a_wrong_password_and_an_unknown_address_get_the_same_answer(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let disabled = person(&d.db, UserKind::Staff, "old@dealer.test", "admin").await;
    d.db.run(async |tx| tx.set_user_status(disabled, "disabled").await)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for (email, password) in [
        ("ada@dealer.test", "wrong password!"),
        ("nobody@dealer.test", PASSWORD),
        ("old@dealer.test", PASSWORD),
    ] {
        let mut b = Browser::new(&d.app.base);
        let r = b.sign_in("acme", email, password).await;
        assert_eq!(r.status, 401);
        assert!(r.set_cookie(SESSION).is_none());
        // the page differs only in the address typed and the form's token
        answers.push(r.body.replace(email, "").replace(&b.cookies[PRE_CSRF], ""));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    assert!(answers[0].contains("The e-mail address or the password is not right."));
}

async fn guessing_is_slowed_without_locking_the_real_user_out(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    // Ada's own browser signed in before: it holds a device cookie
    let mut ada = Browser::new(&d.app.base);
    assert_eq!(
        ada.sign_in("acme", "ada@dealer.test", PASSWORD)
            .await
            .status,
        303
    );
    ada.cookies.remove(SESSION);

    // an attacker guesses: six wrong passwords, then even the right one is refused
    let mut attacker = Browser::new(&d.app.base);
    for i in 0..6 {
        let r = attacker
            .sign_in("acme", "ada@dealer.test", &format!("guess number {i}"))
            .await;
        assert_eq!(r.status, 401, "guess {i}");
    }
    let r = attacker.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.contains("Try again in 15 minutes"), "{}", r.body);
    assert!(r.set_cookie(SESSION).is_none());

    // Ada, from her own browser, still signs in
    let r = ada.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    assert_eq!(r.status, 303, "the real user is not locked out: {}", r.body);

    // the window passes; the attacker may try again (and is counted again)
    d.app.t.clock.advance_ms(15 * 60_000 + 1);
    let r = attacker
        .sign_in("acme", "ada@dealer.test", "guess number 7")
        .await;
    assert_eq!(r.status, 401);

    // one address trying many accounts is stopped too
    for i in 0..40 {
        let email = format!("user{i}@dealer.test");
        let r = attacker.sign_in("acme", &email, "guess").await;
        if r.status == 429 {
            assert!(i >= 20, "stopped after {i} accounts");
            return;
        }
    }
    panic!("40 accounts tried from one address without being slowed");
}

async fn the_second_factor(t: TestDb) {
    let d = dealer(t, |c| c.secret_key = Some(TEST_SECRET_KEY.into())).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;

    // set-up: the page shows the key; the first code turns it on and renews the session
    let setup = b.get("/profile/two-factor").await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    assert!(setup.contains("<svg"), "a QR code");
    let key = setup.element_text("totp-key").unwrap();
    let seed = portal::auth::totp::decode_base32(&key).unwrap();
    let wrong = b
        .post(
            "/profile/two-factor",
            &[("csrf", &setup.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let before = b.cookies[SESSION].clone();
    let code = portal::auth::totp::current_code(&seed, d.app.t.clock.now_ms());
    let on = b
        .post(
            "/profile/two-factor",
            &[("csrf", &setup.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(on.status, 303, "{}", on.body);
    assert_ne!(
        b.cookies[SESSION], before,
        "a new session id once the factor is given"
    );
    assert_eq!(b.get("/profile").await.status, 200);
    let mut old = Browser::new(&d.app.base);
    old.cookies.insert(SESSION.into(), before);
    assert_eq!(old.get("/").await.status, 303);
    let sealed = count(
        &d.app.t,
        "SELECT COUNT(*) FROM totp_secrets WHERE confirmed_at IS NOT NULL",
    )
    .await;
    assert_eq!(sealed, 1);

    // signing in now stops at the code
    let mut b = Browser::new(&d.app.base);
    let r = b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    assert_eq!(r.location.as_deref(), Some("/sign-in/second-factor"));
    let home = b.get("/").await;
    assert_eq!(
        home.location.as_deref(),
        Some("/sign-in/second-factor"),
        "nothing else opens"
    );
    let api = reqwest::Client::new()
        .get(d.app.url("/api/v1/me"))
        .header("cookie", format!("{SESSION}={}", b.cookies[SESSION]))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let form = b.get("/sign-in/second-factor").await;
    // the code just used to turn the factor on is spent
    let replay = b
        .post(
            "/sign-in/second-factor",
            &[("csrf", &form.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(replay.status, 401, "a code is used once");
    d.app.t.clock.advance_ms(30_000);
    let code = portal::auth::totp::current_code(&seed, d.app.t.clock.now_ms());
    let pending = b.cookies[SESSION].clone();
    let done = b
        .post(
            "/sign-in/second-factor",
            &[("csrf", &form.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_ne!(b.cookies[SESSION], pending);
    assert_eq!(b.get("/").await.status, 200);
}

async fn a_tenant_can_require_the_second_factor_for_staff(t: TestDb) {
    let d = dealer(t, |c| c.secret_key = Some(TEST_SECRET_KEY.into())).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    person(&d.db, UserKind::Staff, "sam@dealer.test", "service").await;
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    let mut admin = Browser::new(&d.app.base);
    admin.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let page = admin.get("/admin/security").await;
    let r = admin
        .post(
            "/admin/security",
            &[("csrf", &page.csrf()), ("require_staff_two_factor", "on")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // staff without a factor can only set one up
    let mut sam = Browser::new(&d.app.base);
    let r = sam.sign_in("acme", "sam@dealer.test", PASSWORD).await;
    assert_eq!(r.location.as_deref(), Some("/profile/two-factor"));
    assert_eq!(
        sam.get("/audit").await.location.as_deref(),
        Some("/profile/two-factor")
    );
    let setup = sam.get("/profile/two-factor").await;
    assert!(setup.contains("requires staff"), "{}", setup.body);
    let seed = portal::auth::totp::decode_base32(&setup.element_text("totp-key").unwrap()).unwrap();
    let code = portal::auth::totp::current_code(&seed, d.app.t.clock.now_ms());
    let r = sam
        .post(
            "/profile/two-factor",
            &[("csrf", &setup.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sam.get("/audit").await.status, 200);

    // customers are not asked
    let mut cy = Browser::new(&d.app.base);
    assert_eq!(
        cy.sign_in("acme", "cy@acme.test", PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/")
    );

    // without a secret key the requirement cannot be switched on
    let d2 = dealer(TestDb::new(d.app.t.backend).await, |_| {}).await;
    person(&d2.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut admin = Browser::new(&d2.app.base);
    admin.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let page = admin.get("/admin/security").await;
    let r = admin
        .post(
            "/admin/security",
            &[("csrf", &page.csrf()), ("require_staff_two_factor", "on")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("secret_key"), "{}", r.body);
}

async fn bad_form_input_is_refused_and_changes_nothing(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    let ada = person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let csrf = b.session_csrf().await;
    let sessions = count(&d.app.t, "SELECT COUNT(*) FROM sessions").await;
    let unchanged = async |d: &Dealer| {
        let u = d.db.read(async |tx| tx.user(ada).await).await.unwrap();
        assert_eq!(
            (u.display_name.as_str(), u.formats.zone.name()),
            ("Ada", "UTC")
        );
    };

    // a field twice
    let body = format!("csrf={csrf}&display_name=A&display_name=B&locale=en&time_zone=UTC");
    let r = b.post_raw("/profile", body.into_bytes(), &[]).await;
    assert_eq!(r.status, 422);
    assert!(r.contains("sent more than once"), "{}", r.body);
    // a line break in a name (a header in the making)
    let r = b
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Ada\r\nBcc: all@example.com"),
                ("locale", "en"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("control character"), "{}", r.body);
    // not UTF-8
    let mut body = format!("csrf={csrf}&display_name=").into_bytes();
    body.extend_from_slice(b"%FF%FE&locale=en&time_zone=UTC");
    let r = b.post_raw("/profile", body, &[]).await;
    assert_eq!(r.status, 422);
    assert!(r.contains("not valid text"), "{}", r.body);
    // a time zone that is not one
    let r = b
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Ada"),
                ("locale", "en"),
                ("time_zone", "../../etc/passwd"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("Area/City"), "{}", r.body);
    // a date format that is not offered
    let r = b
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Ada"),
                ("locale", "en"),
                ("time_zone", "UTC"),
                ("date_format", "%s%n"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("listed date formats"), "{}", r.body);
    // far too much
    let big = format!("csrf={csrf}&display_name={}", "A".repeat(70 * 1024));
    let r = b.post_raw("/profile", big.into_bytes(), &[]).await;
    assert_eq!(r.status, 413);
    unchanged(&d).await;

    // the sign-in form: two addresses, a malformed one
    let mut b = Browser::new(&d.app.base);
    let form = b.get("/sign-in?dealer=acme").await;
    let pre = form.csrf();
    let r = b
        .post_raw(
            "/sign-in",
            format!("csrf={pre}&dealer=acme&email=ada%40dealer.test&email=eve%40x.test&password=x")
                .into_bytes(),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("sent more than once"));
    let r = b
        .post(
            "/sign-in",
            &[
                ("csrf", &pre),
                ("dealer", "acme"),
                ("email", "not an address"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    let r = b
        .post(
            "/sign-in",
            &[
                ("csrf", &pre),
                ("dealer", "no-such-dealer"),
                ("email", "ada@dealer.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("There is no dealer"));
    assert_eq!(
        count(&d.app.t, "SELECT COUNT(*) FROM sessions").await,
        sessions,
        "no session made"
    );
}

async fn after_sign_in_the_browser_goes_back_but_never_elsewhere(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    let r = b.get("/audit").await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?next=/audit"));
    for (next, expected) in [
        ("/audit", "/audit"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ] {
        b.cookies.remove(SESSION);
        let form = b.get("/sign-in?dealer=acme").await;
        let r = b
            .post(
                "/sign-in",
                &[
                    ("csrf", &form.csrf()),
                    ("dealer", "acme"),
                    ("email", "ada@dealer.test"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.location.as_deref(), Some(expected), "{next}");
    }
}

async fn old_sessions_and_attempt_counts_are_swept(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", "a wrong one!").await;
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let (sessions, buckets) = (
        "SELECT COUNT(*) FROM sessions",
        "SELECT COUNT(*) FROM auth_throttle",
    );
    assert_eq!(count(&d.app.t, sessions).await, 1);
    assert!(count(&d.app.t, buckets).await >= 1);
    // a day on: the session is over (12 h), but kept a week for the user's session list
    d.app.t.clock.advance_ms(26 * 3_600_000);
    portal::maintenance::sweep(&d.app.t.db).await.unwrap();
    assert_eq!(count(&d.app.t, sessions).await, 1);
    assert_eq!(count(&d.app.t, buckets).await, 0, "windows over a day old");
    d.app.t.clock.advance_ms(7 * 86_400_000);
    portal::maintenance::sweep(&d.app.t.db).await.unwrap();
    assert_eq!(count(&d.app.t, sessions).await, 0);
    assert_eq!(b.get("/").await.status, 303);
}

/// Twenty guesses at once against a limit of six: exactly six get through, on both databases.
async fn concurrent_attempts_are_counted_one_by_one(t: TestDb) {
    use portal::auth::throttle::{Limit, ThrottleError};
    let db = t.tenant("acme").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            let r = tx
                .throttle("sign-in:account:ada@dealer.test", Limit::SIGN_IN_ACCOUNT)
                .await;
            tx.commit().await.unwrap();
            r
        }));
    }
    let mut passed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => passed += 1,
            Err(ThrottleError::Throttled(t)) => assert!(t.retry_after_s > 0),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(passed, Limit::SIGN_IN_ACCOUNT.max);
}

backends!(
    concurrent_attempts_are_counted_one_by_one,
    old_sessions_and_attempt_counts_are_swept,
    a_customer_signs_in_and_out,
    a_session_ends_when_idle_and_at_its_absolute_limit,
    signing_in_always_makes_a_new_session,
    state_changing_requests_need_their_csrf_token,
    a_wrong_password_and_an_unknown_address_get_the_same_answer,
    guessing_is_slowed_without_locking_the_real_user_out,
    the_second_factor,
    a_tenant_can_require_the_second_factor_for_staff,
    bad_form_input_is_refused_and_changes_nothing,
    after_sign_in_the_browser_goes_back_but_never_elsewhere,
);
