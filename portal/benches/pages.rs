//! The pages customers use most, at scale: the start page (dashboard), a device's page
//! (meters month by month, recent readings, open requests), the equipment list and the
//! invoices, under concurrent load, side by side with a minimal axum handler running the same
//! domain queries on the same database.
//!
//!     cargo bench -p portal --bench pages                      # small: 4 dealers, 2,000 devices, 400,000 readings
//!     cargo bench -p portal --bench pages -- full              # 100 dealers, 50,000 devices, 10 million readings
//!     cargo bench -p portal --bench pages -- small sqlite      # one database
//!     cargo bench -p portal --bench pages -- full --keep       # keep the data for the next --keep run
//!     PAGES_SERVER_ENV=MALLOC_ARENA_MAX=2 cargo bench …          # one variable for the server only (allocator trials)
//!
//! The data comes from `printyx generate` (`portal::demo::generate`), written as the owner; the
//! server (`printyx serve`, a process of its own) and the baseline (in this process) then run
//! as the application's role (row-level security on PostgreSQL). Each of CLIENTS customers (one account
//! each, across the dealers) signs in once; then for SECONDS per page every client asks again
//! as soon as it is answered (closed loop). The baseline is the same route without the portal
//! around it: no session lookup, no permission gate, no template — it calls the same domain
//! function (`dashboard::summary`, `equipment::views::detail` + the open requests,
//! `equipment::views::list`, the invoices query) for the
//! same person and answers JSON. Figures: requests per second, p50 and p99; the ratio of the
//! portal to the baseline; and the server's peak resident memory.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_debug_implementations
)]

use axum::extract::{Path, State};
use portal::auth::Principal;
use portal::clock::ManualClock;
use portal::db::{Backend, ConnectOptions, DatabaseUrl, Db};
use portal::demo::generate::{PASSWORD, Size, customer_email, generate, slug};
use portal::ids::EquipmentId;
use portal::tenants::TenantSlug;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{Target, connect_app, drop_target, kept_target, mark_kept, target};

const CLIENTS: usize = 16;
const SECONDS: u64 = 20;
/// The lists' page size, as the portal's list pages ask.
const LIST_PAGE: u32 = 100;

const SMALL: Size = Size {
    tenants: 4,
    devices: 2_000,
    readings: 400_000,
    ..Size::FULL
};

/// One customer as both servers see it.
#[derive(Clone)]
struct Customer {
    dealer: String,
    email: String,
    principal: Principal,
    device: EquipmentId,
}

async fn fill(t: &Target, size: Size) {
    let now = ingest::clock::Clock::now_ms(&portal::clock::SystemClock);
    let clock = ManualClock::at(now);
    let owner = Db::connect(
        &DatabaseUrl::parse(&t.owner_url).unwrap(),
        &ConnectOptions::default(),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let uploads = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let made = generate(&owner, &clock, size, now, uploads.path(), |l| {
        eprintln!("{l}")
    })
    .await
    .unwrap();
    eprintln!(
        "generated {made:?} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&t.owner_url)
        .await
        .unwrap();
    // as a running PostgreSQL has statistics (autovacuum); SQLite has none unless asked,
    // and the server never asks (see `Db::analyze_readings`)
    if t.backend == Backend::Postgres {
        sqlx::Executor::execute(&mut c, "ANALYZE").await.unwrap();
    }
    owner.close().await;
}

/// The customers who load the pages: one account of each dealer in turn.
async fn customers(t: &Target, size: Size) -> Vec<Customer> {
    let app = connect_app(t).await;
    let mut customers = Vec::new();
    for k in 0..CLIENTS {
        let i = k % size.tenants;
        let account = k / size.tenants;
        let email = customer_email(i, account);
        let tenant = app
            .tenant_by_slug(&TenantSlug::parse(&slug(i)).unwrap())
            .await
            .unwrap();
        let db = app.tenant(tenant.id);
        let principal = portal::demo::seed::acting(&db, &email).await.unwrap();
        let device = db
            .read(async |tx| {
                Ok(tx
                    .equipment_of_account(principal.account().unwrap(), None, 1)
                    .await?[0]
                    .id)
            })
            .await
            .unwrap();
        customers.push(Customer {
            dealer: slug(i),
            email,
            principal,
            device,
        });
    }
    app.close().await;
    customers
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// `printyx serve` on the target as the application's role, in a process of its own (so its
/// memory is its own); killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(t: &Target, uploads: &std::path::Path) -> Server {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(e2e::workspace_binary("portal", "printyx"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PRINTYX_DATABASE_URL", &t.app_url)
            .env("PRINTYX_UPLOAD_DIR", uploads)
            .env("PRINTYX_LOG_FILTER", "info,tower_http=warn,sqlx=warn")
            .env_remove("PRINTYX_CONFIG")
            .envs(
                std::env::var("PAGES_SERVER_ENV")
                    .ok()
                    .and_then(|v| {
                        v.split_once('=')
                            .map(|(k, v)| vec![(k.to_owned(), v.to_owned())])
                    })
                    .unwrap_or_default(),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut lines = stderr.lines();
        let base = loop {
            let line = lines.next().expect("the server exited").unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                break format!("http://{addr}");
            }
        };
        // keep reading, so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    /// Its peak resident memory so far.
    fn peak_rss_mb(&self) -> f64 {
        e2e::bench::peak_rss_mb_of(self.child.id()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct Baseline {
    db: Db,
    customers: Arc<Vec<Customer>>,
    silence_ms: i64,
}

async fn baseline_dashboard(
    State(b): State<Baseline>,
    Path(k): Path<usize>,
) -> axum::Json<serde_json::Value> {
    let c = &b.customers[k];
    let db = b.db.tenant(c.principal.tenant);
    let s = portal::dashboard::summary(&db, &c.principal, b.silence_ms)
        .await
        .unwrap();
    axum::Json(serde_json::to_value(s).unwrap())
}

async fn baseline_device(
    State(b): State<Baseline>,
    Path(k): Path<usize>,
) -> axum::Json<serde_json::Value> {
    let c = &b.customers[k];
    let db = b.db.tenant(c.principal.tenant);
    let d = portal::equipment::views::detail(&db, &c.principal, c.device, None)
        .await
        .unwrap();
    let filter = portal::requests::Filter {
        account: c.principal.account(),
        equipment: Some(c.device),
        open_only: true,
        assigned_to: None,
    };
    let requests = db
        .read(async |tx| tx.requests(&filter, None, 20).await)
        .await
        .unwrap();
    std::hint::black_box(&d);
    axum::Json(serde_json::json!({ "requests": requests.len() }))
}

async fn baseline_equipment(
    State(b): State<Baseline>,
    Path(k): Path<usize>,
) -> axum::Json<serde_json::Value> {
    let c = &b.customers[k];
    let db = b.db.tenant(c.principal.tenant);
    let rows = portal::equipment::views::list(&db, &c.principal, None, LIST_PAGE)
        .await
        .unwrap();
    axum::Json(serde_json::json!({ "devices": rows.len() }))
}

async fn baseline_invoices(
    State(b): State<Baseline>,
    Path(k): Path<usize>,
) -> axum::Json<serde_json::Value> {
    let c = &b.customers[k];
    let db = b.db.tenant(c.principal.tenant);
    let rows = db
        .read(async |tx| tx.invoices(c.principal.account(), None, LIST_PAGE).await)
        .await
        .unwrap();
    axum::Json(serde_json::json!({ "invoices": rows.len() }))
}

fn baseline_app(db: &Db, customers: &[Customer]) -> axum::Router {
    let state = Baseline {
        db: db.clone(),
        customers: Arc::new(customers.to_vec()),
        silence_ms: 48 * 3_600_000,
    };
    axum::Router::new()
        .route("/dashboard/{k}", axum::routing::get(baseline_dashboard))
        .route("/device/{k}", axum::routing::get(baseline_device))
        .route("/equipment/{k}", axum::routing::get(baseline_equipment))
        .route("/invoices/{k}", axum::routing::get(baseline_invoices))
        .with_state(state)
}

/// Signs in through the form, as a browser does; answers the session cookie.
async fn sign_in(base: &str, c: &Customer) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http.get(format!("{base}/sign-in")).send().await.unwrap();
    let pre = cookie(&form, "__Host-printyx-csrf").unwrap();
    let page = form.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .to_owned();
    let r = http
        .post(format!("{base}/sign-in"))
        .header("cookie", format!("__Host-printyx-csrf={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            [
                ("csrf", csrf.as_str()),
                ("next", "/"),
                ("dealer", c.dealer.as_str()),
                ("email", c.email.as_str()),
                ("password", PASSWORD),
            ]
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('@', "%40")))
            .collect::<Vec<_>>()
            .join("&"),
        )
        .send()
        .await
        .unwrap();
    let session = cookie(&r, "__Host-printyx-session")
        .unwrap_or_else(|| panic!("{} could not sign in: {}", c.email, r.status()));
    format!("__Host-printyx-session={session}")
}

fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[derive(Debug, Clone, Copy)]
struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Every client asks for its own URL again as soon as it is answered, for SECONDS.
async fn load(urls: Vec<(String, Option<String>)>) -> Load {
    let until = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (url, cookie) in urls {
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut took = Vec::new();
            while Instant::now() < until {
                let t0 = Instant::now();
                let mut req = http.get(&url);
                if let Some(c) = &cookie {
                    req = req.header("cookie", c);
                }
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 200, "{url}");
                r.bytes().await.unwrap();
                took.push(t0.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Load {
        rps: all.len() as f64 / wall.as_secs_f64(),
        p50: p(0.50),
        p99: p(0.99),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (size, size_name) = if args.iter().any(|a| a == "full") {
        (Size::FULL, "full")
    } else {
        (SMALL, "small")
    };
    let only = args.iter().find(|a| *a == "sqlite" || *a == "postgres");
    // generating the full size takes a quarter of an hour or more: --keep keeps it in
    // target/bench-data (SQLite) or database printyx_bench_pages_full, for the next --keep run
    let keep = args.iter().any(|a| a == "--keep");
    let mut report = e2e::bench::Report::new(
        "Portal pages at scale: dashboard and device page against a minimal handler",
        &format!("cargo bench -p portal --bench pages -- {size_name} --keep"),
    );
    report.line(format!(
        "{} dealers, {} devices, {} readings; {CLIENTS} clients in a closed loop, {SECONDS} s per page. \
         Targets: ≥ 0.25× the baseline's requests/s, p99 ≤ 4× its p99; server RSS < 200 MB at full size.\n",
        size.tenants, size.devices, size.readings
    ));
    let mut rss = Vec::new();
    report.line(
        "| database | page | portal requests/s | baseline requests/s | ratio | portal p50 / p99 | baseline p50 / p99 | p99 ratio |",
    );
    report.line("|---|---|---|---|---|---|---|---|");
    for (backend, name) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let data = format!("pages_{size_name}");
        let t = if keep {
            let (t, reused) = kept_target(backend, &data).await;
            if reused {
                eprintln!("{data} ({name}): the data kept by an earlier run");
            } else {
                fill(&t, size).await;
                mark_kept(backend, &data);
            }
            t
        } else {
            let t = target(backend, &data).await;
            fill(&t, size).await;
            t
        };
        let customers = customers(&t, size).await;
        let db = connect_app(&t).await;
        let uploads = tempfile::tempdir().unwrap();
        let server = Server::start(&t, uploads.path());
        let portal_base = server.base.clone();
        let baseline_base = serve(baseline_app(&db, &customers)).await;
        let mut sessions = Vec::new();
        for c in &customers {
            sessions.push(sign_in(&portal_base, c).await);
        }
        for page in ["dashboard", "device", "equipment", "invoices"] {
            let portal_urls = customers
                .iter()
                .zip(&sessions)
                .map(|(c, s)| {
                    let path = match page {
                        "dashboard" => "/".to_owned(),
                        "device" => format!("/equipment/{}", c.device.0),
                        other => format!("/{other}"),
                    };
                    (format!("{portal_base}{path}"), Some(s.clone()))
                })
                .collect();
            let baseline_urls = (0..customers.len())
                .map(|k| (format!("{baseline_base}/{page}/{k}"), None))
                .collect();
            // the baseline first, then the portal
            let b = load(baseline_urls).await;
            let p = load(portal_urls).await;
            report.line(format!(
                "| {name} | {page} | {:.0} | {:.0} | **{:.2}×** | {:.1} / {:.1} ms | {:.1} / {:.1} ms | **{:.2}×** |",
                p.rps,
                b.rps,
                p.rps / b.rps,
                ms(p.p50),
                ms(p.p99),
                ms(b.p50),
                ms(b.p99),
                ms(p.p99) / ms(b.p99)
            ));
        }
        rss.push(format!("{name} {:.0} MB", server.peak_rss_mb()));
        drop(server);
        db.close().await;
        if !keep {
            drop_target(&t).await;
        }
    }
    report.line(format!(
        "\nPeak resident memory of the server (`printyx serve`): {}.",
        rss.join(", ")
    ));
    report.finish();
}
