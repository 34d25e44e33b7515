//! `printyx demo`: the whole flow on one machine. A data folder with a SQLite database holding
//! a demo dealer and a year of its history; a fleet of simulated copiers answering SNMP on
//! loopback (real recordings, counters advancing with the clock); an agent polling them and
//! uploading to the server, so new readings arrive while someone watches.
//!
//! Deterministic: the same plan (accounts, devices, serials, page rates) is rebuilt from a
//! fixed seed and the stored start of the history on every start, so a restarted demo serves
//! the devices its database knows, with counters that continue where they were.

pub mod fleet;
pub mod generate;
pub mod seed;

use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::db::DbError;
use crate::tenants::TenantSlug;
use agent::device::Profile;
use fleet::{DAY_MS, SimDevice, Template};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The demo dealer's short name (the "Dealer" field of the sign-in page).
pub const DEALER: &str = "demo";

/// The people of the demo and their passwords (printed at start; it is a demo).
#[derive(Debug, Clone, Copy)]
pub struct SignIn {
    pub who: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    /// Index into the plan's accounts for a customer user.
    pub account: Option<usize>,
}

pub const SIGN_INS: &[SignIn] = &[
    SignIn {
        who: "dealer admin",
        email: "ada@demo-dealer.example",
        password: "demo-dealer",
        name: "Ada Lindqvist",
        role: "admin",
        account: None,
    },
    SignIn {
        who: "customer user (Acme Dental)",
        email: "pat@acme-dental.example",
        password: "demo-customer",
        name: "Pat Okafor",
        role: "account_admin",
        account: Some(0),
    },
    SignIn {
        who: "service technician",
        email: "sam@demo-dealer.example",
        password: "demo-service",
        name: "Sam Ortiz",
        role: "service",
        account: None,
    },
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Template(#[from] fleet::TemplateError),
    #[error("cannot seed the demo: {0}")]
    Seed(String),
    #[error("data folder {path}: {why}")]
    Folder { path: PathBuf, why: String },
    #[error("simulated fleet: {0}")]
    Fleet(std::io::Error),
    #[error("demo agent: {0}")]
    Agent(String),
}

/// One customer of the demo dealer.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    pub number: &'static str,
    pub name: &'static str,
    pub domain: &'static str,
    /// (site name, street, city, postal code)
    pub sites: Vec<(&'static str, &'static str, &'static str, &'static str)>,
    pub devices: usize,
}

#[derive(Debug, Clone)]
pub struct PlannedDevice {
    pub account: usize,
    pub site: usize,
    pub sim: SimDevice,
}

/// Everything the demo is made of, rebuilt identically on every start.
#[derive(Debug, Clone)]
pub struct Plan {
    pub origin_ms: i64,
    pub accounts: Vec<AccountPlan>,
    pub templates: Vec<Arc<Template>>,
    pub devices: Vec<PlannedDevice>,
}

fn accounts() -> Vec<AccountPlan> {
    let a = |number,
             name,
             domain,
             sites: &[(&'static str, &'static str, &'static str, &'static str)],
             devices| {
        AccountPlan {
            number,
            name,
            domain,
            sites: sites.to_vec(),
            devices,
        }
    };
    vec![
        a(
            "ACME",
            "Acme Dental",
            "acme-dental.example",
            &[
                ("Main practice", "12 Elm Street", "Springfield", "62701"),
                ("East clinic", "400 Lake Road", "Springfield", "62702"),
            ],
            8,
        ),
        a(
            "BRAVO",
            "Bravo Logistics",
            "bravo-logistics.example",
            &[
                ("Warehouse", "1 Dock Lane", "Peoria", "61602"),
                ("Office", "88 Main Street", "Peoria", "61602"),
            ],
            19,
        ),
        a(
            "CEDAR",
            "Cedar Law Partners",
            "cedar-law.example",
            &[("Chambers", "5 Court Square", "Chicago", "60602")],
            17,
        ),
        a(
            "DELTA",
            "Delta Architects",
            "delta-arch.example",
            &[("Studio", "230 Wacker Drive", "Chicago", "60606")],
            16,
        ),
        a(
            "EMBER",
            "Ember School District",
            "ember-schools.example",
            &[
                ("District office", "9 School Road", "Naperville", "60540"),
                ("High school", "100 Campus Drive", "Naperville", "60563"),
                ("Middle school", "45 Oak Avenue", "Naperville", "60565"),
            ],
            24,
        ),
        a(
            "FJORD",
            "Fjord Shipping",
            "fjord-shipping.example",
            &[("Harbour office", "3 Pier Road", "Milwaukee", "53202")],
            14,
        ),
        a(
            "GROVE",
            "Grove Medical Center",
            "grove-medical.example",
            &[
                ("Hospital", "700 Health Parkway", "Rockford", "61107"),
                ("Outpatients", "12 Clinic Way", "Rockford", "61108"),
            ],
            22,
        ),
        a(
            "HARBOR",
            "Harbor City Council",
            "harbor-city.example",
            &[("City hall", "1 Civic Plaza", "Joliet", "60432")],
            18,
        ),
        a(
            "IRIS",
            "Iris Insurance",
            "iris-insurance.example",
            &[("Head office", "55 Market Street", "Evanston", "60201")],
            15,
        ),
        a(
            "JUNO",
            "Juno Print & Copy",
            "juno-print.example",
            &[("Shop", "17 High Street", "Aurora", "60505")],
            12,
        ),
        a(
            "KESTREL",
            "Kestrel Engineering",
            "kestrel-eng.example",
            &[
                ("Plant", "2 Industrial Way", "Elgin", "60120"),
                ("Design office", "66 River Road", "Elgin", "60123"),
            ],
            20,
        ),
        a(
            "LUMEN",
            "Lumen Hotels",
            "lumen-hotels.example",
            &[("Front office", "900 Lakeshore Drive", "Chicago", "60611")],
            15,
        ),
    ]
}

/// The plan for a history that started at `origin_ms`, devices answering on `port`.
pub fn plan(origin_ms: i64, profiles: &[Profile], port: u16) -> Result<Plan, DemoError> {
    let templates: Vec<Arc<Template>> = fleet::templates(profiles)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let accounts = accounts();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_206);
    let mut devices = Vec::new();
    for (account, a) in accounts.iter().enumerate() {
        for n in 0..a.devices {
            let i = devices.len();
            let template = templates[rng.random_range(0..templates.len())].clone();
            let letters = ["A", "C", "E", "K", "M", "R", "W", "X"][rng.random_range(0..8)];
            let serial = format!("D{letters}{:07}", 1_000_000 + i * 7_919 % 9_000_000);
            let mac = [0x02, 0x50, 0x52, 0x58, (i >> 8) as u8, (i & 0xff) as u8];
            devices.push(PlannedDevice {
                account,
                site: n % a.sites.len(),
                sim: SimDevice {
                    template,
                    serial,
                    mac,
                    address: fleet::address(i, port),
                    origin_ms,
                    start_pages: rng.random_range(2_000..400_000),
                    pages_per_day: rng.random_range(40.0..900.0),
                    colour_share: rng.random_range(0.15..0.45),
                    toner_yield: rng.random_range(6_000..25_000),
                },
            });
        }
    }
    Ok(Plan {
        origin_ms,
        accounts,
        templates,
        devices,
    })
}

/// The demo's configuration: SQLite and uploads inside `data_dir`.
pub fn configure(config: &mut Config, data_dir: &Path) {
    config.database_url = format!("sqlite://{}", data_dir.join("printyx.db").display());
    config.upload_dir = data_dir.join("uploads");
    config.base_url = format!("http://{}", config.listen);
}

/// What the live part of the demo needs once the database is ready.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    pub agent_dir: PathBuf,
    /// Set on the first start: the agent enrolls with it once the server listens.
    pub enrollment_code: Option<String>,
    /// What was seeded this start (none when the folder already held the demo).
    pub seeded: Option<seed::Seeded>,
}

/// Opens (and on first start creates and seeds) the demo in `data_dir`.
pub async fn prepare(
    config: &Config,
    data_dir: &Path,
    clock: Arc<dyn Clock>,
    fleet_port: u16,
) -> Result<Prepared, DemoError> {
    let folder = |e: std::io::Error| DemoError::Folder {
        path: data_dir.to_owned(),
        why: e.to_string(),
    };
    std::fs::create_dir_all(data_dir).map_err(folder)?;
    std::fs::create_dir_all(&config.upload_dir).map_err(folder)?;
    let agent_dir = data_dir.join("agent");
    std::fs::create_dir_all(&agent_dir).map_err(folder)?;
    let profiles = agent::device::profiles().map_err(DemoError::Agent)?;
    let now = clock.now_ms();
    // the history is written with a clock of its own, set to each moment in turn
    let history = ManualClock::at(now);
    let db = crate::server::open_database(config, Arc::new(history.clone())).await?;
    let slug = TenantSlug::parse(DEALER).map_err(|e| DemoError::Seed(e.to_string()))?;
    let prepared = match db.tenant_by_slug(&slug).await {
        Ok(tenant) => {
            let origin = db
                .tenant(tenant.id)
                .read(async |tx| tx.setting("demo_origin_ms").await)
                .await?
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    DemoError::Seed(format!("tenant '{DEALER}' exists but is not a demo"))
                })?;
            // a demo stopped before its agent enrolled gets a new agent
            let enrollment_code = if agent::upload::enrollment_path(&agent_dir).exists() {
                None
            } else {
                let created = db
                    .tenant(tenant.id)
                    .run(async |tx| {
                        tx.create_agent("Demo fleet (simulated copiers on loopback)")
                            .await
                    })
                    .await?;
                Some(created.enrollment_code)
            };
            Prepared {
                plan: plan(origin, &profiles, fleet_port)?,
                agent_dir,
                enrollment_code,
                seeded: None,
            }
        }
        Err(DbError::NotFound) => {
            let origin = ((now - 365 * DAY_MS) / DAY_MS) * DAY_MS;
            let plan = plan(origin, &profiles, fleet_port)?;
            let seeded = seed::seed(
                &db,
                &history,
                &plan,
                &profiles,
                &config.pipeline,
                now,
                &config.upload_dir,
            )
            .await?;
            Prepared {
                plan,
                agent_dir,
                enrollment_code: Some(seeded.enrollment_code.clone()),
                seeded: Some(seeded),
            }
        }
        Err(e) => return Err(e.into()),
    };
    db.close().await;
    Ok(prepared)
}

/// How often the demo agent reads the fleet: meters every five minutes, status every minute.
fn agent_config(prepared: &Prepared, server_url: &str) -> agent::config::AgentConfig {
    let mut config = agent::config::AgentConfig {
        server_url: server_url.to_owned(),
        state_dir: prepared.agent_dir.clone(),
        ..Default::default()
    };
    config.schedule.meters = "*/5 * * * *".into();
    config.schedule.status = "* * * * *".into();
    config.schedule.jitter_seconds = 5;
    config.snmp.timeout_ms = 1_000;
    config.snmp.devices = prepared
        .plan
        .devices
        .iter()
        .map(|d| agent::config::Device {
            address: d.sim.address.to_string(),
            version: "2c".into(),
            community: None,
            v3: None,
        })
        .collect();
    config
}

/// Serves the fleet and runs the agent against the server at `server_url` until `shutdown`.
pub async fn live(
    prepared: Prepared,
    server_url: String,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DemoError> {
    let devices: Vec<SimDevice> = prepared
        .plan
        .devices
        .iter()
        .map(|d| d.sim.clone())
        .collect();
    let _fleet = fleet::serve(devices, clock.clone())
        .await
        .map_err(DemoError::Fleet)?;
    let config = agent_config(&prepared, &server_url);
    let enrollment = match &prepared.enrollment_code {
        Some(code) => {
            let enrollment = enroll(&server_url, code).await?;
            agent::upload::save_enrollment(&config.state_dir, &enrollment)
                .map_err(|e| DemoError::Agent(e.to_string()))?;
            enrollment
        }
        None => agent::upload::Enrollment {
            // the server may listen on another port than when the agent enrolled
            server_url: server_url.clone(),
            ..agent::upload::load_enrollment(&config.state_dir)
                .map_err(|e| DemoError::Agent(e.to_string()))?
        },
    };
    let outbox = agent::outbox::Outbox::open(&config.state_dir.join("outbox.sqlite3"), 100 << 20)
        .map_err(|e| DemoError::Agent(e.to_string()))?;
    let service = agent::run::Service {
        enrollment,
        outbox: Arc::new(Mutex::new(outbox)),
        profiles: Arc::new(agent::device::profiles().map_err(DemoError::Agent)?),
        clock,
        config,
        poll_now: true,
    };
    agent::run::run(service, shutdown)
        .await
        .map_err(|e| DemoError::Agent(format!("{e:#}")))
}

/// The server may still be starting: ask again for a few seconds.
async fn enroll(server_url: &str, code: &str) -> Result<agent::upload::Enrollment, DemoError> {
    let mut last = String::new();
    for _ in 0..50 {
        match agent::upload::enroll(server_url, code, "printyx-demo", None).await {
            Ok(e) => return Ok(e),
            Err(e @ agent::upload::UploadError::Unreachable { .. }) => last = e.to_string(),
            Err(e) => return Err(DemoError::Agent(format!("cannot enroll: {e}"))),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(DemoError::Agent(format!("cannot enroll: {last}")))
}
