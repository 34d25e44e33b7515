//! One collection run: poll every configured device (bounded concurrency), turn each answer
//! into an observation of its tier, and commit it to the outbox before anything else.

use crate::config::{AgentConfig, Device};
use crate::device::{DeviceReport, Profile, Value, recognise};
use crate::outbox::{DeviceState, Outbox, OutboxError, Tier, new_id};
use crate::snmp::{self, AuthProtocol, Credentials, Limits, PrivProtocol, SnmpError, Target, V3};
use futures::StreamExt as _;
use ingest::clock::Clock;
use ingest::domain::MeterKind;
use ingest::wire::{Alert, AlertSeverity, DeviceIdentity, Observation, ObservationSource};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Polls committed together; a crash loses at most these polls, which were never reported.
const COMMIT_EVERY: usize = 64;

/// The life counter's column: its varbinds are kept as evidence with the meters.
const LIFE_COUNT_COLUMN: &str = "1.3.6.1.2.1.43.10.2.1.4";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    pub polled: usize,
    pub failed: usize,
}

/// The credentials a configured device is polled with; for v1/v2c the community that answered
/// last time goes first.
pub fn credentials(
    device: &Device,
    communities: &[String],
    remembered: Option<&str>,
) -> Result<Credentials, SnmpError> {
    match device.version.as_str() {
        "3" => {
            let v3 = device
                .v3
                .as_ref()
                .ok_or_else(|| SnmpError::Credentials("version 3 needs a [v3] section".into()))?;
            let auth = match (&v3.auth_protocol, &v3.auth_password) {
                (Some(p), Some(pw)) => Some((AuthProtocol::parse(p)?, pw.clone())),
                _ => None,
            };
            let privacy = match (&v3.priv_protocol, &v3.priv_password) {
                (Some(p), Some(pw)) => Some((PrivProtocol::parse(p)?, pw.clone())),
                _ => None,
            };
            Ok(Credentials::V3(V3 {
                user: v3.user.clone(),
                auth,
                privacy,
            }))
        }
        version => {
            let mut list: Vec<String> = match &device.community {
                Some(c) => vec![c.clone()],
                None => communities.to_vec(),
            };
            if let Some(r) = remembered
                && let Some(pos) = list.iter().position(|c| c == r)
            {
                let first = list.remove(pos);
                list.insert(0, first);
            }
            if version == "1" {
                Ok(Credentials::V1 {
                    community: list.into_iter().next().unwrap_or_default(),
                })
            } else {
                Ok(Credentials::V2c { communities: list })
            }
        }
    }
}

/// hrPrinterDetectedErrorState bits travel as alerts beside prtAlertTable's rows.
fn alerts(report: &DeviceReport) -> Vec<Alert> {
    let mut alerts = report.alerts.clone();
    for bit in &report.status.errors {
        let severity = match *bit {
            "noPaper" | "noToner" | "doorOpen" | "jammed" | "offline" | "serviceRequested"
            | "outputFull" => AlertSeverity::Critical,
            _ => AlertSeverity::Warning,
        };
        alerts.push(Alert {
            code: snake_case(bit),
            severity,
            description: format!("printer reports {bit}"),
        });
    }
    alerts
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The observation a poll gives: meters for the billing tier, supplies and alerts for status.
pub fn observation(
    tier: Tier,
    target: &Target,
    polled: &snmp::Polled,
    profiles: &[Profile],
    now_ms: i64,
) -> Observation {
    let report = &polled.report;
    let id = &report.identity;
    let device = DeviceIdentity {
        serial: id.serial.clone(),
        mac: id.mac.clone(),
        asset_tag: None,
        ip: Some(target.host.clone()),
        vendor: id.vendor.clone(),
        model: id.model.clone(),
        sys_object_id: id.sys_object_id.clone(),
    };
    let (meters, evidence, supplies, alerts) = match tier {
        Tier::Meters => {
            let meters: BTreeMap<MeterKind, u64> = report
                .meters
                .iter()
                .filter_map(|(k, v)| Some((MeterKind::parse(k).ok()?, *v)))
                .collect();
            // the varbinds the counters came from
            let mut oids: Vec<&str> = recognise(&polled.snapshot, profiles)
                .map(|p| p.meters.values().map(String::as_str).collect())
                .unwrap_or_default();
            let life: Vec<(&str, &Value)> = polled
                .snapshot
                .iter()
                .filter(|(oid, _)| oid.starts_with(LIFE_COUNT_COLUMN))
                .collect();
            oids.extend(life.iter().map(|(o, _)| *o));
            let varbinds: serde_json::Map<String, serde_json::Value> = oids
                .into_iter()
                .filter_map(|oid| {
                    let v = polled.snapshot.get(oid)?;
                    Some((oid.to_owned(), serde_json::json!(v.as_i64())))
                })
                .collect();
            (
                meters,
                Some(serde_json::json!({ "snmp": varbinds })),
                None,
                None,
            )
        }
        Tier::Status => (
            BTreeMap::new(),
            None,
            Some(report.supplies.clone()),
            Some(alerts(report)),
        ),
    };
    Observation {
        id: new_id(),
        read_at: now_ms,
        source: ObservationSource::Snmp,
        device,
        meters,
        supplies,
        alerts,
        evidence,
        confidence: None,
    }
}

/// Polls one device; the answer comes with the device's address, also when it failed.
async fn poll_device(
    device: &Device,
    communities: &[String],
    remembered: &BTreeMap<String, String>,
    limits: Limits,
    profiles: &[Profile],
) -> (String, Result<(Target, snmp::Polled), SnmpError>) {
    let target = match Target::parse(&device.address) {
        Ok(t) => t,
        Err(e) => return (device.address.clone(), Err(e)),
    };
    let polled = match credentials(
        device,
        communities,
        remembered.get(&target.to_string()).map(String::as_str),
    ) {
        Ok(credentials) => snmp::poll(&target, &credentials, limits, profiles).await,
        Err(e) => Err(e),
    };
    (target.to_string(), polled.map(|p| (target, p)))
}

/// The devices of this run: the configured ones, plus printers in the `snmp.discover` ranges —
/// swept on meter runs, remembered from earlier sweeps on status runs.
async fn devices(
    config: &AgentConfig,
    tier: Tier,
    outbox: &Mutex<Outbox>,
    limits: Limits,
    profiles: &[Profile],
) -> Result<Vec<Device>, OutboxError> {
    let mut devices = config.snmp.devices.clone();
    if config.snmp.discover.is_empty() {
        return Ok(devices);
    }
    let configured: std::collections::BTreeSet<String> = devices
        .iter()
        .filter_map(|d| Target::parse(&d.address).ok().map(|t| t.to_string()))
        .collect();
    let found: Vec<(String, String)> = match tier {
        Tier::Meters => {
            // validated with the configuration
            let addresses = crate::discover::hosts(&config.snmp.discover).unwrap_or_default();
            let sweep_limits = Limits {
                retries: 0,
                ..limits
            };
            crate::discover::sweep(
                &addresses,
                config.snmp.discover_port,
                &config.snmp.communities,
                sweep_limits,
                config.snmp.max_concurrency,
                profiles,
                |_, _| {},
            )
            .await
            .into_iter()
            .filter_map(|p| match p {
                crate::discover::Probe::Printer(f) => Some((f.address, f.community)),
                _ => None,
            })
            .collect()
        }
        Tier::Status => outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .devices()?
            .into_iter()
            .filter(|d| d.last_ok_at.is_some())
            .filter_map(|d| Some((d.target, d.community?)))
            .collect(),
    };
    for (address, community) in found {
        if !configured.contains(&address) {
            devices.push(Device {
                address,
                version: "2c".into(),
                community: Some(community),
                v3: None,
            });
        }
    }
    Ok(devices)
}

/// Polls every configured device once and commits what they answered.
pub async fn collect(
    config: &AgentConfig,
    tier: Tier,
    outbox: &Mutex<Outbox>,
    profiles: &[Profile],
    clock: &dyn Clock,
) -> Result<Collected, OutboxError> {
    let lock = || {
        outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let remembered: BTreeMap<String, String> = lock()
        .devices()?
        .into_iter()
        .filter_map(|d| Some((d.target, d.community?)))
        .collect();
    let limits = Limits {
        timeout: Duration::from_millis(config.snmp.timeout_ms),
        retries: config.snmp.retries,
        ..Limits::default()
    };
    let devices = devices(config, tier, outbox, limits, profiles).await?;
    // Futures are made as the stream asks for them: made all at once, thousands of them
    // would hold memory for the whole cycle. Indexes, not `&Device`, keep the closure free of
    // a higher-ranked lifetime that the compiler cannot prove Send (rust#110338).
    let devices = &devices;
    let remembered = &remembered;
    let mut results = futures::stream::iter(0..devices.len())
        .map(move |i| {
            poll_device(
                &devices[i],
                &config.snmp.communities,
                remembered,
                limits,
                profiles,
            )
        })
        .buffer_unordered(config.snmp.max_concurrency.max(1));
    let mut collected = Collected::default();
    // committed in groups: one disk sync per group, not per device
    let mut observations: Vec<(String, Observation)> = Vec::new();
    let mut states: Vec<DeviceState> = Vec::new();
    let flush = |observations: &mut Vec<(String, Observation)>,
                 states: &mut Vec<DeviceState>|
     -> Result<(), OutboxError> {
        let now = clock.now_ms();
        let mut outbox = lock();
        let items: Vec<(Tier, &str, &Observation)> = observations
            .iter()
            .map(|(target, o)| (tier, target.as_str(), o))
            .collect();
        outbox.push_many(&items, now)?;
        outbox.record_polls(states)?;
        observations.clear();
        states.clear();
        Ok(())
    };
    while let Some((address, result)) = results.next().await {
        let now = clock.now_ms();
        match result {
            Ok((target, polled)) => {
                let observation = observation(tier, &target, &polled, profiles, now);
                states.push(DeviceState {
                    target: address.clone(),
                    community: polled.community.clone(),
                    last_poll_at: now,
                    last_ok_at: Some(now),
                    last_error: None,
                    serial: polled.report.identity.serial.clone(),
                    model: polled.report.identity.model.clone(),
                });
                observations.push((address, observation));
                collected.polled += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "poll failed");
                states.push(DeviceState {
                    target: address,
                    community: None,
                    last_poll_at: now,
                    last_ok_at: None,
                    last_error: Some(e.to_string()),
                    serial: None,
                    model: None,
                });
                collected.failed += 1;
            }
        }
        if states.len() >= COMMIT_EVERY {
            flush(&mut observations, &mut states)?;
        }
    }
    flush(&mut observations, &mut states)?;
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(version: &str, community: Option<&str>) -> Device {
        Device {
            address: "10.0.0.5".into(),
            version: version.into(),
            community: community.map(str::to_owned),
            v3: None,
        }
    }

    #[test]
    fn the_community_that_answered_last_time_is_tried_first() {
        let list = [
            "public".to_owned(),
            "private".to_owned(),
            "meters".to_owned(),
        ];
        let got = credentials(&device("2c", None), &list, Some("meters")).unwrap();
        assert_eq!(
            got,
            Credentials::V2c {
                communities: vec!["meters".into(), "public".into(), "private".into()]
            }
        );
        // one no longer configured is not tried
        let got = credentials(&device("2c", None), &list, Some("gone")).unwrap();
        assert_eq!(
            got,
            Credentials::V2c {
                communities: list.to_vec()
            }
        );
        // a device's own community is the only one
        let got = credentials(&device("1", Some("own")), &list, Some("meters")).unwrap();
        assert_eq!(
            got,
            Credentials::V1 {
                community: "own".into()
            }
        );
    }

    #[test]
    fn printer_error_bits_travel_as_alerts_with_snake_case_codes() {
        let mut report = DeviceReport::default();
        report.status.errors = vec!["lowToner", "jammed"];
        let got: Vec<(String, AlertSeverity)> = alerts(&report)
            .into_iter()
            .map(|a| (a.code, a.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("low_toner".to_owned(), AlertSeverity::Warning),
                ("jammed".to_owned(), AlertSeverity::Critical)
            ]
        );
    }
}
