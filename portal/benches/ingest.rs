//! Ingest throughput and latency, side by side with a bare insert of the same rows.
//!
//!     cargo bench -p portal --bench ingest            # both databases
//!     cargo bench -p portal --bench ingest -- sqlite  # one
//!
//! 1. Batch uploads: after one warm-up day and ANALYZE, 20 batches × 500 observations ×
//!    3 counters (30,000 readings) over HTTP
//!    into the real server (validated by the pipeline, committed), against the same rows
//!    inserted bare (SQLite: one prepared INSERT per row in one transaction per batch;
//!    PostgreSQL: COPY) into an identically migrated database.
//! 2. Single-reading uploads from 200 concurrent agents, 10 each after one to warm up: p50 /
//!    p99 latency when each
//!    agent uploads once a second (open loop, from a random start), and the saturation rate
//!    when each uploads again as soon as it is answered (closed loop).
//!
//! PostgreSQL comes from PRINTYX_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_debug_implementations
)]

use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::clock::SystemClock;
use portal::db::{Backend, Db};
use portal::equipment::NewEquipment;
use portal::tenants::TenantSlug;
use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{Target, connect_app, drop_target, target};

const DEVICES: usize = 500;
const BATCHES: usize = 20;
const AGENTS: usize = 200;
const PER_AGENT: usize = 10;
const DAY: i64 = 86_400_000;

/// A tenant with DEVICES copiers; returns the app handle and equipment ids.
async fn fleet(t: &Target) -> (Db, Vec<i64>) {
    let db = connect_app(t).await;
    let tenant = db
        .create_tenant(&TenantSlug::parse("bench").unwrap(), "Bench")
        .await
        .unwrap();
    let ids = db
        .tenant(tenant.id)
        .run(async |tx| {
            let acc = tx
                .create_account(&NewAccount::new("B-1", "Bench customer")?)
                .await?;
            let mut ids = Vec::new();
            for i in 0..DEVICES {
                let e = NewEquipment::new(
                    acc.id,
                    SerialNumber::parse(&format!("BENCH-{i}"))?,
                    "Ricoh",
                    "MP C3004",
                )?;
                ids.push(tx.create_equipment(&e).await?.id.0);
            }
            Ok(ids)
        })
        .await
        .unwrap();
    (db, ids)
}

async fn enroll(db: &Db, name: &str) -> String {
    let tenant = db
        .tenant_by_slug(&TenantSlug::parse("bench").unwrap())
        .await
        .unwrap()
        .id;
    let code = db
        .tenant(tenant)
        .run(async |tx| tx.create_agent(name).await)
        .await
        .unwrap()
        .enrollment_code;
    db.enroll_agent(&code, "bench", "0", &portal::audit::Client::default())
        .await
        .unwrap()
        .2
}

async fn serve(db: &Db) -> String {
    let state =
        portal::http::AppState::new(db.clone(), Arc::new(portal::config::Config::default()))
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app =
        portal::http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Day `k`'s readings of every device: (device, read_at, total, mono, color).
fn day_rows(k: usize, start: i64) -> Vec<(usize, i64, i64, i64, i64)> {
    (0..DEVICES)
        .map(|d| {
            let total = 100_000 + (k as i64) * 300 + d as i64;
            (
                d,
                start + k as i64 * DAY + d as i64,
                total,
                total * 7 / 10,
                total - total * 7 / 10,
            )
        })
        .collect()
}

fn batch_json(k: usize, rows: &[(usize, i64, i64, i64, i64)]) -> String {
    let observations: Vec<_> = rows
        .iter()
        .map(|(d, at, total, mono, color)| {
            json!({ "id": format!("d{k}-{d}"), "read_at": at, "source": "snmp",
                    "device": { "serial": format!("BENCH-{d}") },
                    "meters": { "total": total, "mono": mono, "color": color } })
        })
        .collect();
    json!({ "protocol": 1, "batch_id": format!("day-{k}"), "agent_version": "bench", "sent_at": 0, "observations": observations })
        .to_string()
}

/// Readings per second through the server.
async fn upload_rate(t: &Target) -> (f64, usize) {
    let (db, _) = fleet(t).await;
    let token = enroll(&db, "bulk").await;
    let base = serve(&db).await;
    let http = reqwest::Client::new();
    let start = SystemClock_now() - (BATCHES as i64 + 1) * DAY;
    let mut bodies: Vec<String> = (0..=BATCHES)
        .map(|k| batch_json(k, &day_rows(k, start)))
        .collect();
    // Warm-up: one day of history, then statistics, as a running system has them. (From an
    // empty, never-analysed table PostgreSQL caches generic plans on the wrong index; see
    // BENCHMARKS.md.) Then fresh connections, so no plan from the empty table survives.
    let warm = bodies.remove(0);
    let r = http
        .post(format!("{base}/api/v1/agent/readings"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(warm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    analyze(t).await;
    db.close().await;
    let db = connect_app(t).await;
    let base = serve(&db).await;
    let t0 = Instant::now();
    for body in bodies {
        let r = http
            .post(format!("{base}/api/v1/agent/readings"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let elapsed = t0.elapsed();
    let mut owner = AnyConnection::connect(&t.owner_url).await.unwrap();
    let accepted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM readings WHERE status = 'accepted'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    let n = BATCHES * DEVICES * 3;
    assert_eq!(
        accepted as usize,
        n + DEVICES * 3,
        "every reading validated and accepted"
    );
    db.close().await;
    (n as f64 / elapsed.as_secs_f64(), n)
}

/// Statistics, as a running system has them; on PostgreSQL also a checkpoint, so that what
/// was written before (the warm-up, other databases of the server) is flushed before the clock
/// starts rather than while it runs. Measurement and baseline both start this way.
async fn analyze(t: &Target) {
    let mut owner = AnyConnection::connect(&t.owner_url).await.unwrap();
    owner.execute("ANALYZE").await.unwrap();
    if t.backend == Backend::Postgres {
        owner.execute("CHECKPOINT").await.unwrap();
    }
}

#[allow(non_snake_case)]
fn SystemClock_now() -> i64 {
    ingest::clock::Clock::now_ms(&SystemClock)
}

/// The same rows, inserted bare: after the same warm-up day and ANALYZE, the timed 20 days.
/// "The same rows" includes what they refer to, as the pipeline's do: the agent that sent
/// them and an evidence record per observation (created beforehand, untimed), so the
/// baseline pays the same foreign-key checks.
async fn bare_rate(t: &Target) -> f64 {
    let (db, ids) = fleet(t).await;
    let tenant_id = db
        .tenant_by_slug(&TenantSlug::parse("bench").unwrap())
        .await
        .unwrap()
        .id;
    let agent = db
        .tenant(tenant_id)
        .run(async |tx| tx.create_agent("bare").await)
        .await
        .unwrap()
        .agent
        .id
        .0;
    db.close().await;
    let start = SystemClock_now() - (BATCHES as i64 + 1) * DAY;
    let tenant: i64 = {
        let mut c = AnyConnection::connect(&t.owner_url).await.unwrap();
        sqlx::query_scalar("SELECT tenant_id FROM tenants")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let evidence: Vec<i64> = {
        let mut c = AnyConnection::connect(&t.owner_url).await.unwrap();
        let mut tx = c.begin().await.unwrap();
        let mut out = Vec::new();
        for i in 0..(BATCHES + 1) * DEVICES {
            out.push(
                sqlx::query_scalar(
                    "INSERT INTO evidence (tenant_id, kind, summary, created_at) VALUES ($1, 'snmp', $2, 0) RETURNING id",
                )
                .bind(tenant)
                .bind(format!("bare observation {i}"))
                .fetch_one(&mut *tx)
                .await
                .unwrap(),
            );
        }
        tx.commit().await.unwrap();
        out
    };
    let rows_of = |k: usize| -> Vec<(i64, &'static str, i64, i64, String, i64)> {
        day_rows(k, start)
            .into_iter()
            .flat_map(|(d, at, total, mono, color)| {
                let ev = evidence[k * DEVICES + d];
                [("total", total), ("mono", mono), ("color", color)]
                    .map(|(kind, v)| (ids[d], kind, v, at, format!("d{k}-{d}-{kind}"), ev))
            })
            .collect()
    };
    let mut elapsed = Duration::ZERO;
    match t.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&t.owner_url).await.unwrap();
            for k in 0..=BATCHES {
                let rows = rows_of(k);
                let t0 = Instant::now();
                let mut tx = c.begin().await.unwrap();
                for (eq, kind, v, at, key, ev) in rows {
                    sqlx::query(
                        "INSERT INTO readings (tenant_id, equipment_id, meter_kind, value, read_at, received_at, source, status, idempotency_key, evidence_id, agent_id) \
                         VALUES (?, ?, ?, ?, ?, ?, 'agent_snmp', 'accepted', ?, ?, ?)",
                    )
                    .bind(tenant)
                    .bind(eq)
                    .bind(kind)
                    .bind(v)
                    .bind(at)
                    .bind(at)
                    .bind(key)
                    .bind(ev)
                    .bind(agent)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
                if k == 0 {
                    analyze(t).await;
                } else {
                    elapsed += t0.elapsed();
                }
            }
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&t.owner_url).await.unwrap();
            for k in 0..=BATCHES {
                let data: String = rows_of(k)
                    .into_iter()
                    .map(|(eq, kind, v, at, key, ev)| {
                        format!(
                            "{tenant}\t{eq}\t{kind}\t{v}\t{at}\t{at}\tagent_snmp\taccepted\t{key}\t{ev}\t{agent}\n"
                        )
                    })
                    .collect();
                let t0 = Instant::now();
                let mut copy = c
                    .copy_in_raw(
                        "COPY readings (tenant_id, equipment_id, meter_kind, value, read_at, received_at, source, status, idempotency_key, evidence_id, agent_id) FROM STDIN",
                    )
                    .await
                    .unwrap();
                copy.send(data.as_bytes()).await.unwrap();
                copy.finish().await.unwrap();
                if k == 0 {
                    analyze(t).await;
                } else {
                    elapsed += t0.elapsed();
                }
            }
        }
    }
    (BATCHES * DEVICES * 3) as f64 / elapsed.as_secs_f64()
}

/// How single-observation uploads from AGENTS concurrent agents fare. `interval: Some(i)`:
/// each agent uploads every `i`, starting at its own random moment (open loop; latency counted
/// from when the upload was due, so a server falling behind shows). `None`: each agent uploads
/// again the moment it has its answer (closed loop: the server's saturation rate; latency is
/// then AGENTS / rate by Little's law, whatever the server does).
/// Returns p50, p99 and requests per second.
async fn latency(t: &Target, interval: Option<Duration>) -> (Duration, Duration, f64) {
    let (db, _) = fleet(t).await;
    let mut tokens = Vec::new();
    for i in 0..AGENTS {
        tokens.push(enroll(&db, &format!("agent-{i}")).await);
    }
    analyze(t).await;
    let base = serve(&db).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(AGENTS)
        .build()
        .unwrap();
    let now = SystemClock_now();
    let t0 = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(a, token)| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                // a fixed pseudo-random start per agent (splitmix64 of its number)
                let mut z = (a as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                let phase = (z ^ (z >> 31)) as f64 / u64::MAX as f64;
                // round 0 warms up (the server's database connections open, statements get
                // prepared, as in a server that has been running) and is not counted
                for r in 0..=PER_AGENT {
                    let due = interval.map(|i| {
                        tokio::time::Instant::from_std(t0) + i.mul_f64(phase + r as f64)
                    });
                    if let Some(due) = due {
                        tokio::time::sleep_until(due).await;
                    }
                    let d = (a * (PER_AGENT + 1) + r) % DEVICES;
                    let body = json!({ "protocol": 1, "batch_id": format!("a{a}-r{r}"), "agent_version": "bench", "sent_at": now,
                        "observations": [{ "id": format!("a{a}-r{r}"), "read_at": now - 60_000 + (a * (PER_AGENT + 1) + r) as i64, "source": "snmp",
                            "device": { "serial": format!("BENCH-{d}") }, "meters": { "total": 1_000 + (a * (PER_AGENT + 1) + r) as i64 } }] });
                    let start = due.map_or_else(Instant::now, |d| d.into_std());
                    let res = http
                        .post(format!("{base}/api/v1/agent/readings"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                    if r > 0 {
                        lat.push(start.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = t0.elapsed();
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    db.close().await;
    (p(0.50), p(0.99), all.len() as f64 / wall.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let only: Option<String> = std::env::args()
        .skip(1)
        .find(|a| a == "sqlite" || a == "postgres");
    let backends = [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")];
    let mut report = e2e::bench::Report::new(
        "Ingest: agent uploads through the validation pipeline against bare inserts",
        "cargo bench -p portal --bench ingest",
    );
    report.line(
        "Targets: pipeline ≥ 0.5× the bare insert's readings/s on SQLite, ≥ 0.33× on PostgreSQL \
         (COPY); p99 < 10 ms with 200 agents uploading once a second each.\n",
    );
    report.line(format!(
        "| database | pipeline readings/s | bare insert readings/s | ratio | {AGENTS} agents × 1 upload/s: p50 | p99 | saturation (closed loop): requests/s | p50 | p99 |"
    ));
    report.line("|---|---|---|---|---|---|---|---|---|");
    for (backend, name) in backends
        .into_iter()
        .filter(|(_, n)| only.as_deref().is_none_or(|o| o == *n))
    {
        let a = target(backend, "upload").await;
        let (rate, _) = upload_rate(&a).await;
        drop_target(&a).await;
        let b = target(backend, "bare").await;
        let bare = bare_rate(&b).await;
        drop_target(&b).await;
        let c = target(backend, "latency").await;
        let (p50, p99, _) = latency(&c, Some(Duration::from_secs(1))).await;
        drop_target(&c).await;
        let d = target(backend, "saturation").await;
        let (s50, s99, rps) = latency(&d, None).await;
        drop_target(&d).await;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        report.line(format!(
            "| {name} | {rate:.0} | {bare:.0} | **{:.2}×** | {:.1} ms | **{:.1} ms** | {rps:.0} | {:.0} ms | {:.0} ms |",
            rate / bare,
            ms(p50),
            ms(p99),
            ms(s50),
            ms(s99)
        ));
    }
    report.line(format!(
        "\nPeak resident memory of the benchmark's process (server, agents and baseline): {:.0} MB.",
        e2e::bench::peak_rss_mb()
    ));
    report.finish();
}
