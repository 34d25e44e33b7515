//! `printyx generate`: a platform at scale, for benchmarks and capacity checks — many dealers
//! shaped like the demo dealer, each with its accounts, people, contracts and devices, the
//! devices' readings of a year written in bulk from the fleet's physics (accepted, as the
//! pipeline decides numbers that only go up at a sane rate), and a year of service requests,
//! toner orders and invoices made by the domain operations.

use super::DemoError;
use super::fleet::{DAY_MS, SimDevice, Template};
use super::seed::{acting, catalogue, sku_of};
use crate::accounts::{Address, NewAccount};
use crate::clock::ManualClock;
use crate::contracts::NewContract;
use crate::db::{Db, DbError, TenantDb};
use crate::equipment::NewEquipment;
use crate::ids::{AccountId, EquipmentId, SiteId};
use crate::tenants::TenantSlug;
use crate::users::{NewUser, UserKind};
use chrono::Datelike as _;
use ingest::domain::{EmailAddress, MeterKind, MeterValue, ReadingSource, SerialNumber};
use ingest::pipeline::Verdict;
use ingest::upload::DecidedReading;
use std::sync::Arc;

/// How big: the totals over all tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub tenants: usize,
    pub devices: usize,
    pub readings: usize,
    /// Devices per account (each account has one site and one customer user).
    pub devices_per_account: usize,
    /// One service request and one toner order per this many devices.
    pub devices_per_request: usize,
}

impl Size {
    /// What the portal is benchmarked at: 100 dealers, 50,000 devices, 10 million readings.
    pub const FULL: Size = Size {
        tenants: 100,
        devices: 50_000,
        readings: 10_000_000,
        devices_per_account: 25,
        devices_per_request: 25,
    };
}

/// The password of every generated person (it is test data).
pub const PASSWORD: &str = "generated-password";

/// What was made.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Generated {
    pub tenants: usize,
    pub devices: usize,
    pub readings: usize,
    pub requests: usize,
    pub orders: usize,
    pub invoices: usize,
}

fn refused(e: impl std::fmt::Display) -> DemoError {
    DemoError::Seed(e.to_string())
}

fn parse<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, DbError> {
    r.map_err(|e| DbError::Refused(e.to_string()))
}

/// Tenant `i`'s slug, and its people's addresses.
pub fn slug(i: usize) -> String {
    format!("scale-{i:03}")
}

pub fn staff_email(i: usize) -> String {
    format!("admin@{}.example", slug(i))
}

pub fn customer_email(i: usize, account: usize) -> String {
    format!("user{account}@{}.example", slug(i))
}

/// Generates `size` into `db`, a year up to `now_ms`; `db`'s clock is `clock`, moved to each
/// moment things happen. `progress` hears one line per tenant.
pub async fn generate(
    db: &Db,
    clock: &ManualClock,
    size: Size,
    now_ms: i64,
    upload_dir: &std::path::Path,
    progress: impl Fn(&str),
) -> Result<Generated, DemoError> {
    let profiles = agent::device::profiles().map_err(DemoError::Agent)?;
    let templates: Vec<Arc<Template>> = super::fleet::templates(&profiles)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let hash = crate::auth::password::hash_password(PASSWORD).map_err(refused)?;
    let origin = now_ms - 365 * DAY_MS;
    let mut made = Generated::default();
    for i in 0..size.tenants {
        // devices and readings spread evenly; the first tenants take the remainders
        let devices = size.devices / size.tenants + usize::from(i < size.devices % size.tenants);
        let readings_per_device = (size.readings / size.devices.max(1)).max(2);
        clock.set_ms(origin - DAY_MS);
        let tenant = db
            .create_tenant(
                &TenantSlug::parse(&slug(i)).map_err(refused)?,
                &format!("Scale dealer {i}"),
            )
            .await?;
        let tdb = db.tenant(tenant.id);
        let mut phases = Phases::start();
        let sims: Vec<SimDevice> = (0..devices)
            .map(|d| SimDevice {
                template: templates[(i + d) % templates.len()].clone(),
                serial: format!("G{i:03}X{d:06}"),
                mac: [0x02, 0x47, (i >> 8) as u8, i as u8, (d >> 8) as u8, d as u8],
                address: super::fleet::address(d, 161),
                origin_ms: origin,
                start_pages: 5_000 + (d as u64 * 7_919) % 300_000,
                pages_per_day: 50.0 + ((d * 37 + i * 11) % 800) as f64,
                colour_share: 0.3,
                toner_yield: 15_000,
            })
            .collect();
        let equipment =
            people_and_devices(&tdb, i, &sims, size.devices_per_account, &hash, origin).await?;
        let admin = acting(&tdb, &staff_email(i)).await?;
        crate::supplies::catalogue::import(&tdb, &admin, &catalogue(&templates))
            .await
            .map_err(refused)?;
        let agent = tdb
            .run(async |tx| tx.create_agent("generated").await)
            .await?;
        phases.lap("people and devices");
        made.readings += readings(
            &tdb,
            clock,
            &sims,
            &equipment,
            agent.agent.id,
            readings_per_device,
            origin,
            now_ms,
        )
        .await?;
        db.analyze_readings().await?;
        phases.lap("readings");
        made.invoices += invoices(&tdb, clock, origin, now_ms).await?;
        phases.lap("invoices");
        clock.set_ms(now_ms);
        let (requests, orders) = work(&tdb, i, &sims, &equipment, size, upload_dir).await?;
        phases.lap("requests and orders");
        made.requests += requests;
        made.orders += orders;
        made.tenants += 1;
        made.devices += devices;
        progress(&format!(
            "{}: {} devices, {} readings so far ({phases})",
            slug(i),
            devices,
            made.readings
        ));
    }
    Ok(made)
}

/// How long each step of a tenant took, for the progress line: where generation spends its
/// time differs a lot between the databases.
struct Phases {
    last: std::time::Instant,
    took: Vec<(&'static str, f64)>,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            last: std::time::Instant::now(),
            took: Vec::new(),
        }
    }

    fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.took.push((name, (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, (name, s)) in self.took.iter().enumerate() {
            let sep = if k == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {s:.1} s")?;
        }
        Ok(())
    }
}

async fn people_and_devices(
    db: &TenantDb,
    i: usize,
    sims: &[SimDevice],
    per_account: usize,
    hash: &str,
    origin: i64,
) -> Result<Vec<EquipmentId>, DemoError> {
    let start = chrono::DateTime::from_timestamp_millis(origin)
        .map(|d| d.date_naive())
        .unwrap_or_default();
    let start = start.with_day(1).unwrap_or(start);
    Ok(db
        .run(async |tx| {
            let staff = NewUser::new(
                UserKind::Staff,
                parse(EmailAddress::parse(&staff_email(i)))?,
                "Scale admin",
            )
            .map_err(|e| DbError::Refused(e.to_string()))?
            .password_hash(hash.to_owned());
            let admin_role = tx.role_by_name("admin").await?;
            tx.create_user(&staff, &[admin_role.id]).await?;
            let customer_role = tx.role_by_name("account_admin").await?;
            let address = parse(Address::new(
                "1 Scale Street",
                None,
                "Springfield",
                None,
                "62701",
                "US",
            ))?;
            let mut ids = Vec::with_capacity(sims.len());
            let mut current: Option<(AccountId, SiteId, crate::ids::ContractId)> = None;
            for (d, sim) in sims.iter().enumerate() {
                if d % per_account.max(1) == 0 {
                    let a = d / per_account.max(1);
                    let account = tx
                        .create_account(&parse(NewAccount::new(
                            &format!("A{a:05}"),
                            &format!("Customer {a} of dealer {i}"),
                        ))?)
                        .await?;
                    let site = tx.create_site(account.id, "Main office", &address).await?;
                    let user = NewUser::new(
                        UserKind::Customer(account.id),
                        parse(EmailAddress::parse(&customer_email(i, a)))?,
                        &format!("Customer user {a}"),
                    )
                    .map_err(|e| DbError::Refused(e.to_string()))?
                    .password_hash(hash.to_owned());
                    tx.create_user(&user, &[customer_role.id]).await?;
                    let contract = tx
                        .create_contract(
                            &parse(NewContract::new(account.id, &format!("C{a:05}"), start))?
                                .covering_supplies(),
                        )
                        .await?;
                    tx.set_rate(
                        contract,
                        &crate::billing::arithmetic::Rate {
                            meter_kind: "total".into(),
                            included_pages: 1_000,
                            overage_millicents: 900,
                        },
                    )
                    .await?;
                    current = Some((account.id, site.id, contract));
                }
                let Some((account, site, contract)) = current else {
                    continue;
                };
                let new = parse(NewEquipment::new(
                    account,
                    parse(SerialNumber::parse(&sim.serial))?,
                    &sim.template.make,
                    &sim.template.model,
                ))?
                .site(site);
                let e = tx.create_equipment(&new).await?.id;
                tx.put_on_contract(e, Some(contract)).await?;
                ids.push(e);
            }
            Ok(ids)
        })
        .await?)
}

/// Every device read `per_device` times over the year, evenly, written in bulk.
#[allow(clippy::too_many_arguments)]
async fn readings(
    db: &TenantDb,
    clock: &ManualClock,
    sims: &[SimDevice],
    equipment: &[EquipmentId],
    agent: crate::ids::AgentId,
    per_device: usize,
    origin: i64,
    now_ms: i64,
) -> Result<usize, DemoError> {
    const CHUNK: usize = 5_000;
    let total = MeterKind::parse("total").map_err(refused)?;
    let step = (now_ms - origin) / per_device as i64;
    let mut batch = Vec::with_capacity(CHUNK);
    let mut written = 0;
    clock.set_ms(now_ms);
    let mut tx = db.begin().await?;
    for j in 0..per_device {
        let at = origin + step * j as i64 + step / 2;
        for (sim, e) in sims.iter().zip(equipment) {
            batch.push(DecidedReading {
                equipment_id: ingest::ids::EquipmentId(e.0),
                meter_kind: total.clone(),
                segment: 0,
                value: MeterValue::new(sim.pages_at(at).total as i64).map_err(refused)?,
                read_at: at,
                source: ReadingSource::AgentSnmp,
                verdict: Verdict::Accepted,
                reasons: Vec::new(),
                evidence_id: None,
                idempotency_key: format!("gen-{}-{j}", e.0),
                agent_id: Some(ingest::ids::AgentId(agent.0)),
                submitted_by: None,
            });
            if batch.len() == CHUNK {
                tx.store_decided(&batch).await?;
                written += batch.len();
                batch.clear();
            }
        }
    }
    tx.store_decided(&batch).await?;
    written += batch.len();
    tx.commit().await?;
    Ok(written)
}

/// The invoices of every billing day of the year, as the six-hourly run issued them.
async fn invoices(
    db: &TenantDb,
    clock: &ManualClock,
    origin: i64,
    now_ms: i64,
) -> Result<usize, DemoError> {
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.date_naive())
            .unwrap_or_default()
    };
    let mut on = day(origin).with_day(1).unwrap_or(day(origin));
    let mut issued = 0;
    loop {
        on = on.checked_add_months(chrono::Months::new(1)).unwrap_or(on);
        let at = on
            .and_hms_opt(6, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(i64::MAX);
        if at > now_ms {
            return Ok(issued);
        }
        clock.set_ms(at);
        issued += db
            .run(async |tx| crate::billing::invoices::issue_due(tx, on).await)
            .await?
            .len();
    }
}

/// Service requests and toner orders, one of each per `devices_per_request` devices, by the
/// customers themselves.
async fn work(
    db: &TenantDb,
    i: usize,
    sims: &[SimDevice],
    equipment: &[EquipmentId],
    size: Size,
    upload_dir: &std::path::Path,
) -> Result<(usize, usize), DemoError> {
    let (mut requests, mut orders) = (0, 0);
    for (d, (sim, e)) in sims.iter().zip(equipment).enumerate() {
        if d % size.devices_per_request.max(1) != 0 {
            continue;
        }
        let customer = acting(db, &customer_email(i, d / size.devices_per_account.max(1))).await?;
        let new = crate::requests::NewRequest::parse(
            *e,
            "normal",
            "paper_jam",
            "Paper jams in tray 2.",
            vec![],
        )
        .map_err(refused)?;
        crate::requests::work::create(db, upload_dir, &customer, &new, vec![])
            .await
            .map_err(refused)?;
        requests += 1;
        let site = db
            .read(async |tx| {
                let account = tx.equipment(*e).await?.account_id;
                Ok(tx.sites_of(account).await?[0].id)
            })
            .await?;
        crate::supplies::orders::checkout(
            db,
            &customer,
            &crate::supplies::orders::Checkout {
                lines: vec![crate::supplies::orders::LineRequest {
                    equipment: *e,
                    sku: sku_of(&sim.template, "K"),
                    quantity: 1,
                }],
                ship_to: crate::supplies::orders::Destination::Site(site),
                po_number: None,
                key: format!("gen-order-{}", e.0),
                from_cart: false,
            },
        )
        .await
        .map_err(refused)?;
        orders += 1;
    }
    Ok((requests, orders))
}
