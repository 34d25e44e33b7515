//! The demo dealer and its year: accounts, sites, people, a catalogue, contracts, about 200
//! devices, and a year of weekly meter readings put through the real pipeline at the moment
//! they were taken — invoices issued on each billing day as the year goes by, the older ones
//! paid. Everything goes through the domain operations staff and customers use.

use super::fleet::{DAY_MS, SimDevice, Template};
use super::{DEALER, DemoError, Plan, SIGN_INS};
use crate::accounts::{Address, NewAccount, NewContact};
use crate::auth::{Principal, Via};
use crate::clock::ManualClock;
use crate::contracts::{ContractBody, RateBody};
use crate::db::{Db, DbError, TenantDb};
use crate::equipment::NewEquipment;
use crate::ids::{AccountId, EquipmentId};
use crate::tenants::TenantSlug;
use crate::users::{NewUser, UserKind};
use agent::device::Profile;
use agent::outbox::Tier;
use agent::snmp::{Polled, Target};
use chrono::{Datelike, NaiveDate};
use ingest::domain::{EmailAddress, SerialNumber};
use ingest::wire::{Batch, Observation};
use std::sync::Arc;

/// Where the seeded history stands, for the live part of the demo.
#[derive(Debug)]
pub struct Seeded {
    pub enrollment_code: String,
    pub readings: usize,
    pub invoices: usize,
}

fn date(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(6, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or_default()
}

/// A person of the demo acting through the domain operations, as the API would let them.
pub async fn acting(db: &TenantDb, email: &str) -> Result<Principal, DbError> {
    let email = EmailAddress::parse(email).map_err(|e| DbError::Refused(e.to_string()))?;
    db.read(async |tx| {
        let user = tx.user_by_email(&email).await?;
        let permissions = tx.permissions_of(user.id).await?;
        Ok(Principal {
            tenant: db.tenant_id(),
            user: user.id,
            kind: user.kind,
            permissions,
            via: Via::ApiToken(0),
            client: crate::audit::Client::default(),
            formats: crate::web::formats::Formats::default(),
            lang: crate::web::i18n::Lang::En,
        })
    })
    .await
}

fn refused(e: impl std::fmt::Display) -> DemoError {
    DemoError::Seed(e.to_string())
}

/// Creates the demo dealer on `db` (whose clock the caller controls) and its year of history
/// up to `now_ms`.
pub async fn seed(
    db: &Db,
    clock: &ManualClock,
    plan: &Plan,
    profiles: &[Profile],
    pipeline: &ingest::pipeline::PipelineConfig,
    now_ms: i64,
    upload_dir: &std::path::Path,
) -> Result<Seeded, DemoError> {
    clock.set_ms(plan.origin_ms - DAY_MS);
    let slug = TenantSlug::parse(DEALER).map_err(refused)?;
    let tenant = db.create_tenant(&slug, "Demo Copier Co.").await?;
    let tdb = db.tenant(tenant.id);
    let hash = |p: &str| crate::auth::password::hash_password(p).map_err(refused);
    let mut people = Vec::new();
    for s in SIGN_INS {
        people.push((s, hash(s.password)?));
    }
    let origin = date(plan.origin_ms);
    let equipment: Vec<EquipmentId> = tdb
        .run(async |tx| {
            tx.set_setting("demo_origin_ms", &plan.origin_ms.to_string())
                .await?;
            let mut accounts = Vec::new();
            for (i, a) in plan.accounts.iter().enumerate() {
                let email = EmailAddress::parse(&format!("accounts@{}", a.domain))
                    .map_err(|e| DbError::Refused(e.to_string()))?;
                let new = NewAccount::new(a.number, a.name)
                    .map_err(|e| DbError::Refused(e.to_string()))?
                    .billing_email(email.clone());
                let account = tx.create_account(&new).await?;
                let mut sites = Vec::new();
                for (j, (site, line1, city, zip)) in a.sites.iter().enumerate() {
                    let address = Address::new(line1, None, city, None, zip, "US")
                        .map_err(|e| DbError::Refused(e.to_string()))?;
                    sites.push(tx.create_site(account.id, site, &address).await?.id);
                    if j == 0 {
                        let contact = NewContact::new("Front desk", Some(email.clone()), "meters")
                            .map_err(|e| DbError::Refused(e.to_string()))?
                            .receives_meter_requests(true);
                        tx.create_contact(account.id, &contact).await?;
                    }
                }
                accounts.push((account.id, sites, i));
            }
            for (s, phc) in &people {
                let email =
                    EmailAddress::parse(s.email).map_err(|e| DbError::Refused(e.to_string()))?;
                let kind = match s.account {
                    Some(i) => UserKind::Customer(accounts[i].0),
                    None => UserKind::Staff,
                };
                let new = NewUser::new(kind, email, s.name)
                    .map_err(|e| DbError::Refused(e.to_string()))?
                    .password_hash(phc.clone());
                let role = tx.role_by_name(s.role).await?;
                tx.create_user(&new, &[role.id]).await?;
            }
            let mut ids = Vec::new();
            for d in &plan.devices {
                let (account, sites, _) = &accounts[d.account];
                let serial = SerialNumber::parse(&d.sim.serial)
                    .map_err(|e| DbError::Refused(e.to_string()))?;
                let new = NewEquipment::new(
                    *account,
                    serial,
                    &d.sim.template.make,
                    &d.sim.template.model,
                )
                .map_err(|e| DbError::Refused(e.to_string()))?
                .site(sites[d.site % sites.len()])
                .install_date(&origin.to_string())
                .map_err(|e| DbError::Refused(e.to_string()))?;
                ids.push(tx.create_equipment(&new).await?.id);
            }
            Ok(ids)
        })
        .await?;

    let admin = acting(&tdb, SIGN_INS[0].email).await?;
    crate::supplies::catalogue::import(&tdb, &admin, &catalogue(&plan.templates))
        .await
        .map_err(refused)?;
    let accounts: Vec<AccountId> = tdb
        .read(async |tx| {
            let mut ids = Vec::new();
            for a in &plan.accounts {
                ids.push(tx.account_by_number(a.number).await?.id);
            }
            Ok(ids)
        })
        .await?;
    let contract_start = origin.with_day(1).unwrap_or(origin);
    for (i, a) in plan.accounts.iter().enumerate() {
        let devices: Vec<i64> = plan
            .devices
            .iter()
            .zip(&equipment)
            .filter(|(d, _)| d.account == i)
            .map(|(_, e)| e.0)
            .collect();
        let body = ContractBody {
            account: accounts[i].0,
            number: format!("CPC-{}", a.number),
            kind: Some(if i % 4 == 3 { "pooled" } else { "per_device" }.into()),
            billing_cycle: None,
            billing_day: Some(1),
            base_charge_cents: 2_500 * devices.len() as i64,
            covers_supplies: i % 2 == 0,
            currency: None,
            starts_on: contract_start.to_string(),
            ends_on: None,
            rates: vec![
                RateBody {
                    meter_kind: "total".into(),
                    included_pages: 1_000,
                    overage_millicents: 900,
                },
                RateBody {
                    meter_kind: "color".into(),
                    included_pages: 0,
                    overage_millicents: 5_500,
                },
            ],
            covered_skus: vec![],
            equipment: devices,
        };
        crate::contracts::create(&tdb, &admin, &body)
            .await
            .map_err(refused)?;
    }
    // the enrollment code must still be valid when the live agent uses it
    clock.set_ms(now_ms - 120_000);
    let agent = tdb
        .run(async |tx| {
            tx.create_agent("Demo fleet (simulated copiers on loopback)")
                .await
        })
        .await?;

    // The year, week by week: every device read as the agent would have read it, through the
    // pipeline at that moment; each billing day issues what is due.
    let mut readings = 0;
    let mut invoices = 0;
    let mut at = plan.origin_ms + DAY_MS / 2;
    let mut next_bill = contract_start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(contract_start);
    let mut week = 0;
    while at < now_ms - DAY_MS / 4 {
        while ms(next_bill) <= at {
            clock.set_ms(ms(next_bill));
            let day = next_bill;
            invoices += tdb
                .run(async |tx| crate::billing::invoices::issue_due(tx, day).await)
                .await?
                .len();
            next_bill = next_bill
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(next_bill);
        }
        clock.set_ms(at);
        let observations: Vec<Observation> = plan
            .devices
            .iter()
            .map(|d| observe(&d.sim, Tier::Meters, profiles, at))
            .collect();
        readings += send(
            &tdb,
            agent.agent.id,
            &format!("demo-history-{week}"),
            observations,
            at,
            pipeline,
        )
        .await?;
        week += 1;
        at += 7 * DAY_MS;
    }
    // today's status: toner levels and alerts
    clock.set_ms(now_ms - 60_000);
    let status: Vec<Observation> = plan
        .devices
        .iter()
        .map(|d| observe(&d.sim, Tier::Status, profiles, now_ms - 60_000))
        .collect();
    readings += send(
        &tdb,
        agent.agent.id,
        "demo-today",
        status,
        now_ms - 60_000,
        pipeline,
    )
    .await?;
    readings += emailed_reply(&tdb, plan, profiles, pipeline, now_ms - 2 * 3_600_000).await?;

    pay_old_invoices(&tdb, &admin, now_ms).await?;
    open_work(&tdb, plan, &equipment, upload_dir).await?;
    Ok(Seeded {
        enrollment_code: agent.enrollment_code,
        readings,
        invoices,
    })
}

/// What the agent would upload for this device read at `at_ms`.
pub fn observe(d: &SimDevice, tier: Tier, profiles: &[Profile], at_ms: i64) -> Observation {
    let snapshot = d.snapshot_at(at_ms);
    let polled = Polled {
        report: agent::device::read(&snapshot, profiles),
        snapshot,
        community: Some("public".into()),
    };
    let target = Target {
        host: d.address.ip().to_string(),
        port: d.address.port(),
    };
    let mut obs = agent::collect::observation(tier, &target, &polled, profiles, at_ms);
    obs.id = format!("demo-{}-{at_ms}-{}", d.serial, tier_name(tier));
    obs
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Meters => "meters",
        Tier::Status => "status",
    }
}

async fn send(
    db: &TenantDb,
    agent: crate::ids::AgentId,
    batch_id: &str,
    observations: Vec<Observation>,
    at: i64,
    pipeline: &ingest::pipeline::PipelineConfig,
) -> Result<usize, DemoError> {
    let batch = Batch {
        protocol: ingest::wire::PROTOCOL_VERSION,
        batch_id: batch_id.into(),
        agent_version: "demo".into(),
        sent_at: at,
        observations,
    };
    let mut tx = db.begin().await?;
    let response = ingest::upload::process_batch(&mut tx, agent, &batch, at, pipeline)
        .await
        .map_err(|e| DemoError::Seed(format!("history batch {batch_id}: {e}")))?;
    tx.commit().await?;
    Ok(response.results.iter().map(|r| r.counters.len()).sum())
}

/// A customer answered the meter request by e-mail and the reader was unsure of a digit: the
/// number is right, and it waits in the review queue for someone to confirm it.
async fn emailed_reply(
    db: &TenantDb,
    plan: &Plan,
    profiles: &[Profile],
    pipeline: &ingest::pipeline::PipelineConfig,
    at: i64,
) -> Result<usize, DemoError> {
    let d = &plan.devices[1].sim;
    let mut obs = observe(d, Tier::Meters, profiles, at);
    obs.id = "demo-reply".into();
    obs.evidence = None;
    obs.confidence = Some(0.62);
    let total = obs.meters.values().max().copied().unwrap_or_default();
    let raw = format!(
        "From: Front desk <accounts@acme-dental.example>\r\nSubject: Re: Meter reading for {}\r\n\r\n\
         Total {total}\r\n",
        d.serial
    );
    let summary = format!(
        "e-mail reply from accounts@acme-dental.example about {}",
        d.serial
    );
    let mut tx = db.begin().await?;
    let kinds = tx.meter_kinds().await?;
    let origin = ingest::upload::Origin::Email {
        message: "<demo-reply@acme-dental.example>",
        reply: true,
        summary: &summary,
        raw: &raw,
    };
    let result = ingest::upload::process_observation(&mut tx, origin, &obs, at, pipeline, &kinds)
        .await
        .map_err(|e| DemoError::Seed(format!("e-mailed reply: {e}")))?;
    tx.commit().await?;
    Ok(result.counters.len())
}

/// Billing staff recorded the transfers of every invoice but the latest of each account.
async fn pay_old_invoices(db: &TenantDb, admin: &Principal, now_ms: i64) -> Result<(), DemoError> {
    let open: Vec<(i64, i64, i64, i64)> = db
        .read(async |tx| {
            let t = tx.t();
            let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT id, account_id, total_cents - amount_paid_cents, due_at FROM invoices \
                 WHERE tenant_id = $1 AND status = 'issued' AND total_cents > 0 \
                 ORDER BY account_id, due_at",
            )
            .bind(t)
            .fetch_all(tx.conn())
            .await?;
            Ok(rows)
        })
        .await?;
    for (n, (id, _, amount, due)) in open.iter().enumerate() {
        let latest = open.get(n + 1).is_none_or(|next| next.1 != open[n].1);
        if latest || *due > now_ms {
            continue;
        }
        crate::billing::payments::record_wire(
            db,
            admin,
            &[*id],
            *amount,
            &format!("Bank transfer {id}"),
        )
        .await
        .map_err(refused)?;
    }
    Ok(())
}

/// A few things in progress, so every list has something in it: service requests (one
/// scheduled), a toner order waiting for approval.
async fn open_work(
    db: &TenantDb,
    plan: &Plan,
    equipment: &[EquipmentId],
    upload_dir: &std::path::Path,
) -> Result<(), DemoError> {
    let customer = acting(db, SIGN_INS[1].email).await?;
    let ours: Vec<(usize, EquipmentId)> = plan
        .devices
        .iter()
        .zip(equipment)
        .enumerate()
        .filter(|(_, (d, _))| d.account == 0)
        .map(|(i, (_, e))| (i, *e))
        .collect();
    let new = crate::requests::NewRequest::parse(
        ours[0].1,
        "normal",
        "paper_jam",
        "Tray 2 jams every few sheets since Monday.",
        vec![],
    )
    .map_err(refused)?;
    crate::requests::work::create(db, upload_dir, &customer, &new, vec![])
        .await
        .map_err(refused)?;
    // a toner that fits one of the account's devices, waiting for the dealer's approval
    let (i, device) = ours[ours.len() - 1];
    let sku = sku_of(&plan.devices[i].sim.template, "K");
    let site = db
        .read(async |tx| Ok(tx.sites_of(customer_account(&customer)?).await?[0].id))
        .await?;
    crate::supplies::orders::checkout(
        db,
        &customer,
        &crate::supplies::orders::Checkout {
            lines: vec![crate::supplies::orders::LineRequest {
                equipment: device,
                sku,
                quantity: 1,
            }],
            ship_to: crate::supplies::orders::Destination::Site(site),
            po_number: Some("PO-1042".into()),
            key: "demo-first-order".into(),
            from_cart: false,
        },
    )
    .await
    .map_err(refused)?;
    Ok(())
}

fn customer_account(p: &Principal) -> Result<AccountId, DbError> {
    match p.kind {
        UserKind::Customer(a) => Ok(a),
        UserKind::Staff => Err(DbError::Refused("not a customer".into())),
    }
}

pub fn sku_of(t: &Template, colour: &str) -> String {
    format!("{}-{colour}", t.name.to_ascii_uppercase().replace('_', "-"))
}

/// Toner for every model of the fleet (four colours for colour devices), and paper.
pub(super) fn catalogue(templates: &[Arc<Template>]) -> String {
    let mut csv = String::from(
        "sku,description,kind,colour,yield_pages,price,max_order_qty,compatible_models\r\n",
    );
    let mut models = Vec::new();
    for t in templates {
        let model = format!("{} {}", t.make, t.model).replace([',', '"', ';'], " ");
        models.push(model.clone());
        let colours: &[(&str, &str, &str)] = if t.colour {
            &[
                ("K", "black", "Black"),
                ("C", "cyan", "Cyan"),
                ("M", "magenta", "Magenta"),
                ("Y", "yellow", "Yellow"),
            ]
        } else {
            &[("K", "black", "Black")]
        };
        for (code, colour, name) in colours {
            let price = if *code == "K" { "89.00" } else { "119.00" };
            csv.push_str(&format!(
                "{},{name} toner for {model},toner,{colour},12000,{price},4,{model}\r\n",
                sku_of(t, code)
            ));
        }
    }
    csv.push_str(&format!(
        "PAPER-A4,Copy paper A4 (5 reams),paper,,,24.50,20,{}\r\n",
        models.join("; ")
    ));
    csv
}
