//! People and their rights, through the pages and the API: password reset and invitations by
//! real e-mail (aiosmtpd), roles, managing users, the user's own data, and the audit trail
//! each of them sees. Every test runs on SQLite and PostgreSQL.

use crate::backends;
use crate::browser::{Browser, SESSION};
use crate::harness::{TestDb, count, mail_to, smtp_on};
use crate::sign_in::{PASSWORD, api, dealer, person, token};
use portal::users::UserKind;
use serde_json::{Value, json};

async fn a_forgotten_password_is_reset_by_email(t: TestDb) {
    let smtp = e2e::smtp::smtp_server();
    let d = dealer(t, |c| c.smtp = Some(smtp_on(smtp.port))).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut laptop = Browser::new(&d.app.base);
    assert_eq!(
        laptop
            .sign_in("acme", "ada@dealer.test", PASSWORD)
            .await
            .status,
        303
    );

    // known and unknown addresses get the same answer
    let mut b = Browser::new(&d.app.base);
    let form = b.get("/password-reset?dealer=acme").await;
    assert_eq!(form.status, 200);
    let ask = async |b: &mut Browser, email: &str| {
        b.post(
            "/password-reset",
            &[("csrf", &form.csrf()), ("dealer", "acme"), ("email", email)],
        )
        .await
    };
    let unknown = ask(&mut b, "nobody@dealer.test").await;
    let known = ask(&mut b, "ada@dealer.test").await;
    assert_eq!(
        (known.status, &known.location),
        (unknown.status, &unknown.location)
    );
    assert_eq!(
        known.location.as_deref(),
        Some("/sign-in?dealer=acme&notice=reset-sent")
    );
    let notice = b.get(known.location.as_deref().unwrap()).await;
    assert!(
        notice.contains("If an account uses that address"),
        "{}",
        notice.body
    );

    // the e-mail: from the dealer, with a link on the configured base URL
    let mail = mail_to(&smtp, "ada@dealer.test", 1).await.remove(0);
    assert!(
        mail.subject.contains("Reset your acme portal password"),
        "{}",
        mail.subject
    );
    assert!(mail.raw.contains("acme"), "sent in the dealer's name");
    let link = mail
        .link(&format!("{}/password-reset/confirm?token=", d.app.base))
        .expect("a reset link");
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM outbound_emails WHERE to_address = 'nobody@dealer.test'"
        )
        .await,
        0
    );

    // the link: a form; mismatched and short passwords are said next to the field
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.input_value("token").unwrap();
    let post = async |b: &mut Browser, password: &str, confirm: &str| {
        b.post(
            "/password-reset/confirm",
            &[
                ("csrf", &page.csrf()),
                ("token", &token),
                ("password", password),
                ("confirm", confirm),
            ],
        )
        .await
    };
    let r = post(&mut b, "a brand new secret", "another one").await;
    assert_eq!(r.status, 422);
    assert!(r.contains("The two passwords differ"));
    let r = post(&mut b, "short", "short").await;
    assert_eq!(r.status, 422);
    assert!(r.contains("at least 10 characters"));
    let r = post(&mut b, "a brand new secret", "a brand new secret").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("/sign-in?notice=password-reset")
    );

    // every session ended; only the new password works
    assert_eq!(laptop.get("/").await.status, 303);
    let mut fresh = Browser::new(&d.app.base);
    assert_eq!(
        fresh
            .sign_in("acme", "ada@dealer.test", PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        fresh
            .sign_in("acme", "ada@dealer.test", "a brand new secret")
            .await
            .status,
        303
    );

    // once only
    assert_eq!(b.get(&link).await.status, 410);
    let r = post(&mut b, "yet another secret!", "yet another secret!").await;
    assert_eq!(r.status, 410);
    assert!(r.contains("already used"));

    // the sent e-mail no longer holds a working link
    let bodies: Vec<String> = {
        let mut c = d.app.t.admin().await;
        sqlx::query_scalar::<sqlx::Any, String>("SELECT body_text FROM outbound_emails")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    assert!(bodies.iter().all(|b| !b.contains("token=")), "{bodies:?}");

    // a link expires after 30 minutes
    let again = ask(&mut b, "ada@dealer.test").await;
    assert_eq!(again.status, 303);
    let mail = mail_to(&smtp, "ada@dealer.test", 2).await.remove(1);
    let link = mail
        .link(&format!("{}/password-reset/confirm?token=", d.app.base))
        .unwrap();
    d.app.t.clock.advance_ms(31 * 60_000);
    assert_eq!(b.get(&link).await.status, 410);

    // the JSON side answers alike for every address
    let client = reqwest::Client::new();
    for email in ["ada@dealer.test", "nobody@dealer.test"] {
        let r = client
            .post(d.app.url("/api/v1/password-reset"))
            .json(&json!({ "dealer": "acme", "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let r = client
        .post(d.app.url("/api/v1/password-reset/confirm"))
        .json(&json!({ "token": "pxr_1_00", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

async fn an_invited_customer_accepts_and_is_signed_in(t: TestDb) {
    let smtp = e2e::smtp::smtp_server();
    let d = dealer(t, |c| c.smtp = Some(smtp_on(smtp.port))).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let role =
        d.db.read(async |tx| tx.role_by_name("account_user").await)
            .await
            .unwrap();
    let mut admin = Browser::new(&d.app.base);
    admin.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let users = admin.get("/admin/users").await;
    assert_eq!(users.status, 200);
    let r = admin
        .post(
            "/admin/users/invite",
            &[
                ("csrf", &users.csrf()),
                ("email", "neo@acme.test"),
                ("role", &role.id.0.to_string()),
                ("account", "A-1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let mail = mail_to(&smtp, "neo@acme.test", 1).await.remove(0);
    assert!(mail.text.contains("Ada invites you"), "{}", mail.text);
    let link = mail
        .link(&format!("{}/invitations/accept?token=", d.app.base))
        .unwrap();
    let mut neo = Browser::new(&d.app.base);
    let page = neo.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.contains("neo@acme.test") && page.contains("account_user"),
        "{}",
        page.body
    );
    let accept = async |b: &mut Browser, name: &str, password: &str| {
        b.post(
            "/invitations/accept",
            &[
                ("csrf", &page.csrf()),
                ("token", &page.input_value("token").unwrap()),
                ("name", name),
                ("password", password),
                ("confirm", password),
            ],
        )
        .await
    };
    let r = accept(&mut neo, "Neo\nAnderson", "a long enough password").await;
    assert_eq!(r.status, 422, "a line break in a name");
    let r = accept(&mut neo, "Neo Anderson", "a long enough password").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/"));
    assert!(neo.get("/").await.contains("Hello, Neo Anderson"));
    let neo_user =
        d.db.read(async |tx| {
            tx.user_by_email(&ingest::domain::EmailAddress::parse("neo@acme.test")?)
                .await
        })
        .await
        .unwrap();
    assert_eq!(neo_user.kind, UserKind::Customer(d.account));
    // the link is spent
    let mut again = Browser::new(&d.app.base);
    assert_eq!(again.get(&link).await.status, 410);

    // a customer account admin invites into their own account only, and no staff
    person(
        &d.db,
        UserKind::Customer(d.account),
        "cat@acme.test",
        "account_admin",
    )
    .await;
    let cat = token(&d, "cat@acme.test", &[]).await;
    let admin_role =
        d.db.read(async |tx| tx.role_by_name("admin").await)
            .await
            .unwrap();
    let (s, b) = api(
        &d.app.base,
        "POST",
        "/api/v1/invitations",
        &cat,
        Some(json!({"email": "x@acme.test", "role": admin_role.id.0})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = api(
        &d.app.base,
        "POST",
        "/api/v1/invitations",
        &cat,
        Some(json!({"email": "x@acme.test", "role": role.id.0, "account": d.other_account.0})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("their own account"));
    let (s, b) = api(
        &d.app.base,
        "POST",
        "/api/v1/invitations",
        &cat,
        Some(json!({"email": "x@acme.test", "role": role.id.0})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["account_id"], d.account.0);
    // an address that already has an account
    let (s, _) = api(
        &d.app.base,
        "POST",
        "/api/v1/invitations",
        &cat,
        Some(json!({"email": "neo@acme.test", "role": role.id.0})),
    )
    .await;
    assert_eq!(s, 422);
    let actions: Vec<String> = {
        let mut c = d.app.t.admin().await;
        sqlx::query_scalar::<sqlx::Any, String>("SELECT action FROM audit_log ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    assert!(
        actions.contains(&"user.invited".to_owned())
            && actions.contains(&"user.created".to_owned()),
        "{actions:?}"
    );
}

async fn nobody_hands_out_more_than_they_hold(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let ada = token(&d, "ada@dealer.test", &[]).await;
    // a helpdesk role that may manage users and roles but not review readings
    let (s, helpdesk) = api(&d.app.base, "POST", "/api/v1/roles", &ada,
        Some(json!({"name": "Helpdesk", "scope": "staff", "permissions": ["users.read", "users.manage", "roles.manage", "readings.read"]}))).await;
    assert_eq!(s, 201, "{helpdesk}");
    let hid = helpdesk["id"].as_i64().unwrap();
    person(&d.db, UserKind::Staff, "hal@dealer.test", "service").await;
    let hal_id =
        d.db.read(async |tx| {
            tx.user_by_email(&ingest::domain::EmailAddress::parse("hal@dealer.test")?)
                .await
        })
        .await
        .unwrap()
        .id;
    let (s, b) = api(
        &d.app.base,
        "PUT",
        &format!("/api/v1/users/{}/roles", hal_id.0),
        &ada,
        Some(json!({"roles": [hid]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let hal = token(&d, "hal@dealer.test", &[]).await;

    // Hal cannot make a role with readings.review, give himself more, or change admin
    let (s, b) = api(
        &d.app.base,
        "POST",
        "/api/v1/roles",
        &hal,
        Some(json!({"name": "Desk", "scope": "staff", "permissions": ["readings.review"]})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        b["detail"].as_str().unwrap().contains("readings.review"),
        "{b}"
    );
    let (s, _) = api(&d.app.base, "PUT", &format!("/api/v1/roles/{hid}"), &hal,
        Some(json!({"name": "Helpdesk", "permissions": ["users.read", "users.manage", "roles.manage", "readings.read", "invoices.manage"]}))).await;
    assert_eq!(s, 422);
    let admin_id =
        d.db.read(async |tx| tx.role_by_name("admin").await)
            .await
            .unwrap()
            .id
            .0;
    let (s, _) = api(
        &d.app.base,
        "PUT",
        &format!("/api/v1/roles/{admin_id}"),
        &ada,
        Some(json!({"name": "admin", "permissions": ["users.read"]})),
    )
    .await;
    assert_eq!(s, 422, "the admin role stays whole");
    let ada_id =
        d.db.read(async |tx| {
            tx.user_by_email(&ingest::domain::EmailAddress::parse("ada@dealer.test")?)
                .await
        })
        .await
        .unwrap()
        .id;
    let (s, b) = api(
        &d.app.base,
        "POST",
        &format!("/api/v1/users/{}/disable", ada_id.0),
        &hal,
        None,
    )
    .await;
    assert_eq!(s, 422, "Hal cannot disable someone more powerful: {b}");
    let (s, _) = api(
        &d.app.base,
        "PUT",
        &format!("/api/v1/users/{}/roles", hal_id.0),
        &hal,
        Some(json!({"roles": [admin_id]})),
    )
    .await;
    assert_eq!(s, 422, "nor change his own roles");

    // customer roles cannot hold what acts across accounts
    let (s, b) = api(
        &d.app.base,
        "POST",
        "/api/v1/roles",
        &ada,
        Some(json!({"name": "Reviewer", "scope": "customer", "permissions": ["readings.review"]})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    let (s, _) = api(
        &d.app.base,
        "POST",
        "/api/v1/roles",
        &ada,
        Some(json!({"name": "Odd", "scope": "staff", "permissions": ["everything.all"]})),
    )
    .await;
    assert_eq!(s, 422);

    // a role someone holds is not deleted; an unused one is
    let (s, _) = api(
        &d.app.base,
        "DELETE",
        &format!("/api/v1/roles/{hid}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(s, 422);
    let (s, spare) = api(
        &d.app.base,
        "POST",
        "/api/v1/roles",
        &ada,
        Some(json!({"name": "Spare", "scope": "customer", "permissions": ["equipment.read"]})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = api(
        &d.app.base,
        "DELETE",
        &format!("/api/v1/roles/{}", spare["id"]),
        &ada,
        None,
    )
    .await;
    assert_eq!(s, 204);

    // the page shows the roles with a form built from the permission list
    let mut b = Browser::new(&d.app.base);
    b.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let page = b.get("/admin/roles").await;
    assert!(
        page.contains("Helpdesk") && page.contains("value=\"readings.review\""),
        "{}",
        page.body
    );
    let r = b
        .post(
            "/admin/roles",
            &[
                ("csrf", &page.csrf()),
                ("name", "Meter desk"),
                ("scope", "staff"),
                ("permission", "readings.read"),
                ("permission", "readings.review"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let audit = {
        let mut c = d.app.t.admin().await;
        sqlx::query_scalar::<sqlx::Any, String>(
            "SELECT summary FROM audit_log WHERE action = 'role.updated'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    };
    assert!(
        audit.is_empty(),
        "refused changes leave no trace of a change: {audit:?}"
    );
}

async fn disabling_and_erasing_people(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let cy = person(
        &d.db,
        UserKind::Customer(d.account),
        "cy@acme.test",
        "account_user",
    )
    .await;
    let mut cys_browser = Browser::new(&d.app.base);
    assert_eq!(
        cys_browser
            .sign_in("acme", "cy@acme.test", PASSWORD)
            .await
            .status,
        303
    );
    let cys_token = token(&d, "cy@acme.test", &["equipment.read"]).await;
    let mut admin = Browser::new(&d.app.base);
    admin.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let csrf = admin.session_csrf().await;

    let r = admin
        .post(
            &format!("/admin/users/{}/disable", cy.0),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(cys_browser.get("/").await.status, 303, "the session ended");
    assert_eq!(
        cys_browser
            .sign_in("acme", "cy@acme.test", PASSWORD)
            .await
            .status,
        401
    );
    let (s, _) = api(&d.app.base, "GET", "/api/v1/me", &cys_token, None).await;
    assert_eq!(s, 401, "tokens stop working");
    let r = admin
        .post(&format!("/admin/users/{}/enable", cy.0), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        cys_browser
            .sign_in("acme", "cy@acme.test", PASSWORD)
            .await
            .status,
        303
    );

    // Cy downloads everything kept about them
    let export = cys_browser.get("/profile/export").await;
    assert_eq!(export.status, 200);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let data: Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(data["user"]["email"], "cy@acme.test");
    assert!(!data["sessions"].as_array().unwrap().is_empty());
    assert!(
        data["activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "auth.sign_in")
    );

    // erasure: what identifies Cy goes, the records Cy took part in stay
    let entries_before = count(&d.app.t, "SELECT COUNT(*) FROM audit_log").await;
    let r = admin
        .post(&format!("/admin/users/{}/erase", cy.0), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    let u = d.db.read(async |tx| tx.user(cy).await).await.unwrap();
    assert_eq!(u.status, "erased");
    assert!(!u.email.as_str().contains("cy@"));
    assert_eq!(u.display_name, format!("Erased user {}", cy.0));
    for table in ["sessions", "trusted_devices", "user_roles"] {
        assert_eq!(
            count(
                &d.app.t,
                &format!("SELECT COUNT(*) FROM {table} WHERE user_id = {}", cy.0)
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &d.app.t,
            &format!(
                "SELECT COUNT(*) FROM api_tokens WHERE created_by = {} AND revoked_at IS NULL",
                cy.0
            )
        )
        .await,
        0
    );
    assert!(
        count(&d.app.t, "SELECT COUNT(*) FROM audit_log").await > entries_before,
        "the trail is kept and grows"
    );
    assert_eq!(
        cys_browser
            .sign_in("acme", "cy@acme.test", PASSWORD)
            .await
            .status,
        401
    );

    // nobody manages themselves
    let ada =
        d.db.read(async |tx| {
            tx.user_by_email(&ingest::domain::EmailAddress::parse("ada@dealer.test")?)
                .await
        })
        .await
        .unwrap()
        .id;
    let r = admin
        .post(
            &format!("/admin/users/{}/disable", ada.0),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("your own"), "{}", r.body);
}

async fn each_reader_sees_their_part_of_the_trail(t: TestDb) {
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
    for email in ["ada@dealer.test", "cy@acme.test", "bo@bravo.test"] {
        let mut b = Browser::new(&d.app.base);
        assert_eq!(b.sign_in("acme", email, PASSWORD).await.status, 303);
    }
    let mut staff = Browser::new(&d.app.base);
    staff.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let all = staff.get("/audit").await;
    assert_eq!(all.status, 200);
    for who in ["Ada", "Cy", "Bo"] {
        assert!(all.contains(who), "staff see {who}: {}", all.body);
    }
    let mut cy = Browser::new(&d.app.base);
    cy.sign_in("acme", "cy@acme.test", PASSWORD).await;
    let own = cy.get("/audit").await;
    assert_eq!(own.status, 200);
    assert!(own.contains("Cy"));
    assert!(!own.contains("Bo"), "another account's trail: {}", own.body);
    assert!(!own.contains("Ada"), "staff sign-ins are not the account's");
    // a customer user without audit.read gets no trail
    person(
        &d.db,
        UserKind::Customer(d.account),
        "dee@acme.test",
        "account_user",
    )
    .await;
    let mut dee = Browser::new(&d.app.base);
    dee.sign_in("acme", "dee@acme.test", PASSWORD).await;
    assert_eq!(dee.get("/audit").await.status, 403);
    // and the JSON trail agrees
    let tok = token(&d, "cy@acme.test", &["audit.read"]).await;
    let (s, b) = api(&d.app.base, "GET", "/api/v1/audit-log", &tok, None).await;
    assert_eq!(s, 200);
    assert!(
        b["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["account_id"] == d.account.0),
        "{b}"
    );
}

async fn profile_password_and_sessions(t: TestDb) {
    let d = dealer(t, |_| {}).await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let mut phone = Browser::new(&d.app.base);
    phone.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let mut laptop = Browser::new(&d.app.base);
    laptop.sign_in("acme", "ada@dealer.test", PASSWORD).await;
    let page = laptop.get("/profile").await;
    assert!(
        page.contains("(this one)"),
        "the session list marks this one"
    );
    let csrf = page.csrf();

    let r = laptop
        .post(
            "/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Ada King"),
                ("locale", "de"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let shown = laptop.get(r.location.as_deref().unwrap()).await;
    // the page now speaks the language just chosen
    assert!(shown.contains("Ada King") && shown.contains("Ihr Profil wurde gespeichert."));

    let change = async |b: &mut Browser, current: &str| {
        b.post(
            "/profile/password",
            &[
                ("csrf", &csrf),
                ("current", current),
                ("password", "a different long one"),
                ("confirm", "a different long one"),
            ],
        )
        .await
    };
    let r = change(&mut laptop, "not my password").await;
    assert_eq!(r.status, 401);
    assert!(r.contains("current password is not right"));
    let r = change(&mut laptop, PASSWORD).await;
    assert_eq!(r.status, 303);
    assert_eq!(laptop.get("/").await.status, 200, "this session stays");
    assert_eq!(phone.get("/").await.status, 303, "the others end");

    // sign out everywhere, this one included
    let r = laptop
        .post("/profile/sessions/end-all", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(laptop.get("/").await.status, 303);
    assert!(!laptop.cookies.contains_key(SESSION));

    // API tokens from the profile: only what the user holds, shown once, revocable
    laptop
        .sign_in("acme", "ada@dealer.test", "a different long one")
        .await;
    let page = laptop.get("/profile").await;
    let r = laptop
        .post(
            "/profile/tokens",
            &[
                ("csrf", &page.csrf()),
                ("name", "ERP"),
                ("permission", "invoices.read"),
            ],
        )
        .await;
    assert_eq!(r.status, 201);
    let start = r.body.find("pxt_").expect("the token is shown once");
    let tok: String = r.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let (s, me) = api(&d.app.base, "GET", "/api/v1/me", &tok, None).await;
    assert_eq!(s, 200);
    assert_eq!(me["permissions"], json!(["invoices.read"]));
    let again = laptop.get("/profile").await;
    assert!(!again.contains(&tok), "not shown again");
    let id =
        d.db.read(async |tx| {
            let u = tx
                .user_by_email(&ingest::domain::EmailAddress::parse("ada@dealer.test")?)
                .await?;
            tx.api_tokens_of(u.id).await
        })
        .await
        .unwrap()[0]
            .id;
    let r = laptop
        .post(
            &format!("/profile/tokens/{id}/revoke"),
            &[("csrf", &again.csrf())],
        )
        .await;
    assert_eq!(r.status, 303);
    let (s, _) = api(&d.app.base, "GET", "/api/v1/me", &tok, None).await;
    assert_eq!(s, 401, "a revoked token opens nothing");
}

/// Reset requests: per network address a limit that answers 429; per account at most three
/// e-mails an hour, past which the answer stays the same and no more mail is sent. Links are
/// built from the configured base URL, whatever Host the request named.
async fn reset_requests_are_limited_and_links_use_the_configured_address(t: TestDb) {
    let smtp = e2e::smtp::smtp_server();
    let d = dealer(t, |c| {
        c.smtp = Some(smtp_on(smtp.port));
        c.base_url = "https://portal.acme.example".into();
    })
    .await;
    person(&d.db, UserKind::Staff, "ada@dealer.test", "admin").await;
    let client = reqwest::Client::new();
    let ask = async |email: &str| {
        client
            .post(d.app.url("/api/v1/password-reset"))
            .header("host", "evil.example")
            .json(&json!({ "dealer": "acme", "email": email }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    for _ in 0..4 {
        assert_eq!(ask("ada@dealer.test").await, 202);
    }
    for _ in 0..6 {
        assert_eq!(ask("nobody@dealer.test").await, 202);
    }
    assert_eq!(
        ask("ada@dealer.test").await,
        429,
        "the address's eleventh request"
    );
    let mails = mail_to(&smtp, "ada@dealer.test", 3).await;
    for m in &mails {
        assert!(
            m.link("https://portal.acme.example/password-reset/confirm?token=pxr_")
                .is_some(),
            "{}",
            m.text
        );
        assert!(!m.text.contains("evil.example"));
    }
    let queued = "SELECT COUNT(*) FROM outbound_emails WHERE to_address = 'ada@dealer.test'";
    assert_eq!(
        count(&d.app.t, queued).await,
        3,
        "the fourth request sent nothing"
    );
}

backends!(
    reset_requests_are_limited_and_links_use_the_configured_address,
    a_forgotten_password_is_reset_by_email,
    an_invited_customer_accepts_and_is_signed_in,
    nobody_hands_out_more_than_they_hold,
    disabling_and_erasing_people,
    each_reader_sees_their_part_of_the_trail,
    profile_password_and_sessions,
);
