//! Does an answer tell an attacker whether an address has an account? Sign-in and password-reset
//! requests for existing and for unknown addresses, interleaved, through the real server: the
//! same status, and the distributions of answer times side by side.
//!
//!     cargo bench -p portal --bench auth            # both databases
//!     cargo bench -p portal --bench auth -- sqlite  # one
//!
//! Each request comes from its own address (through a trusted proxy's `X-Forwarded-For`) and
//! names its own account, so no attempt limit is reached: what is measured is the work an
//! answer costs. Sign-in: a wrong password for an existing user against an address nobody
//! has (both check an argon2id hash). Reset: an existing user's address against an unknown
//! one (the e-mail is looked up after the answer).
//!
//! PostgreSQL comes from PRINTYX_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_debug_implementations
)]

use portal::db::Backend;
use portal::tenants::TenantSlug;
use portal::users::{NewUser, UserKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{connect_app, drop_target, target};

/// Requests of each kind per measurement.
const N: usize = 300;

/// p50, p99 and mean, in ms.
fn summary(v: Vec<Duration>) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let q = |q| e2e::bench::quantile(&ms, q);
    (q(0.5), q(0.99), mean)
}

async fn measure(backend: Backend, name: &str, report: &mut e2e::bench::Report) {
    let t = target(backend, "auth").await;
    let db = connect_app(&t).await;
    let tenant = db
        .create_tenant(&TenantSlug::parse("bench").unwrap(), "Bench")
        .await
        .unwrap();
    let phc = portal::auth::password::hash_password("the right password").unwrap();
    db.tenant(tenant.id)
        .run(async |tx| {
            let role = tx.role_by_name("service").await?;
            for i in 0..N {
                let email = ingest::domain::EmailAddress::parse(&format!("user{i}@dealer.test"))?;
                let new =
                    NewUser::new(UserKind::Staff, email, "Bench User")?.password_hash(phc.clone());
                tx.create_user(&new, &[role.id]).await?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let config = portal::config::Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..portal::config::Config::default()
    };
    let state = portal::http::AppState::new(db.clone(), Arc::new(config)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app =
        portal::http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = "ab".repeat(32);

    let sign_in = async |i: usize, email: &str| {
        let body = format!(
            "csrf={csrf}&dealer=bench&email={}&password=a+wrong+password",
            email.replace('@', "%40")
        );
        let start = Instant::now();
        let r = http
            .post(format!("{base}/sign-in"))
            .header("cookie", format!("__Host-printyx-csrf={csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "x-forwarded-for",
                format!("10.1.{}.{}", i / 250, i % 250 + 1),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let _ = r.bytes().await.unwrap();
        (start.elapsed(), status)
    };
    let reset = async |i: usize, email: &str| {
        let start = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/password-reset"))
            .header(
                "x-forwarded-for",
                format!("10.2.{}.{}", i / 250, i % 250 + 1),
            )
            .json(&serde_json::json!({ "dealer": "bench", "email": email }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let _ = r.bytes().await.unwrap();
        (start.elapsed(), status)
    };

    // warm-up: connections open, statements prepared, the dummy hash made
    for i in 0..10 {
        sign_in(10_000 + i, &format!("warm{i}@nobody.test")).await;
        reset(10_000 + i, &format!("warm{i}@nobody.test")).await;
    }
    // Each answer on its own: a pause lets the work a request leaves behind finish first,
    // and the order alternates.
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    let (mut reset_known, mut reset_unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        let (k, u) = (
            format!("user{i}@dealer.test"),
            format!("nobody{i}@dealer.test"),
        );
        let order = if i % 2 == 0 { [&k, &u] } else { [&u, &k] };
        for (j, email) in order.into_iter().enumerate() {
            let (d, s) = sign_in(2 * i + j, email).await;
            assert_eq!(s, 401);
            if *email == k {
                known.push(d)
            } else {
                unknown.push(d)
            }
            pause().await;
            let (d, s) = reset(2 * i + j, email).await;
            assert_eq!(s, 202);
            if *email == k {
                reset_known.push(d)
            } else {
                reset_unknown.push(d)
            }
            pause().await;
        }
    }
    // What an attacker could feel instead: a request sent right after one for the address in
    // question, while that one's background work may still run.
    let (mut after_known, mut after_unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        let target = if i % 2 == 0 {
            format!("user{}@dealer.test", (i + 7) % N)
        } else {
            format!("nobody-else{i}@dealer.test")
        };
        reset(20_000 + 2 * i, &target).await;
        let (d, _) = reset(20_000 + 2 * i + 1, &format!("probe{i}@nobody.test")).await;
        if i % 2 == 0 {
            after_known.push(d)
        } else {
            after_unknown.push(d)
        }
        pause().await;
    }
    for (what, k, u) in [
        ("sign-in, wrong password", known, unknown),
        ("password reset request", reset_known, reset_unknown),
        (
            "reset request right after one for the address",
            after_known,
            after_unknown,
        ),
    ] {
        let (k50, k99, km) = summary(k);
        let (u50, u99, um) = summary(u);
        report.line(format!(
            "| {name} | {what} | {k50:.2} / {k99:.2} / {km:.2} ms | {u50:.2} / {u99:.2} / {um:.2} ms | **{:.2}** | {:.2} | {:.2} |",
            u50 / k50,
            u99 / k99,
            um / km
        ));
    }
    db.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop_target(&t).await;
}

#[tokio::main]
async fn main() {
    let only: Option<String> = std::env::args()
        .skip(1)
        .find(|a| a == "sqlite" || a == "postgres");
    let mut report = e2e::bench::Report::new(
        "Sign-in and reset answers: existing accounts against unknown addresses",
        "cargo bench -p portal --bench auth",
    );
    report.line(format!(
        "Through the real server, per database: {N} sign-ins and {N} reset requests for existing \
         accounts and as many for unknown addresses, alternating ({} of each in the third row). \
         The baseline is the existing accounts' answers; ratio = unknown ÷ existing (target: \
         no difference to tell, ~1.00).\n",
        N / 2
    ));
    report.line(
        "| database | request | existing account: p50 / p99 / mean | unknown address: p50 / p99 / mean | p50 ratio | p99 ratio | mean ratio |",
    );
    report.line("|---|---|---|---|---|---|---|");
    for (backend, name) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
        if only.as_deref().is_none_or(|o| o == name) {
            measure(backend, name, &mut report).await;
        }
    }
    report.line(format!(
        "\nPeak resident memory of the benchmark's process (server and clients): {:.0} MB.",
        e2e::bench::peak_rss_mb()
    ));
    report.finish();
}
