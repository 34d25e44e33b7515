//! The demo's copiers: real SNMP recordings (LibreNMS's test captures, see `recordings/`)
//! given a serial, a MAC and counters of their own that advance with time. The same
//! [`SimDevice::snapshot_at`] serves the live fleet on loopback and writes the year of
//! history, so what the agent reads next always continues what the portal already holds.

use agent::device::{Profile, Snapshot, Value};
use agent::simulator::Mib;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

pub const DAY_MS: i64 = 86_400_000;

const PRT_SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";
const PRT_LIFE_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.4.1.1";
const PRT_COUNTER_UNIT: &str = "1.3.6.1.2.1.43.10.2.1.3.1.1";
const IF_PHYS_ADDRESS: &str = "1.3.6.1.2.1.2.2.1.6.";
const SUPPLY_MAX: &str = "1.3.6.1.2.1.43.11.1.1.8.1.";
const SUPPLY_LEVEL: &str = "1.3.6.1.2.1.43.11.1.1.9.1.";

/// One recording and what the dealer's records call the device (the agent's own reading of
/// make and model from sysDescr is sometimes a firmware string).
struct Recording {
    name: &'static str,
    make: &'static str,
    model: &'static str,
    /// Prints colour (its catalogue has four toners).
    colour: bool,
    snmprec: &'static str,
}

/// Office copiers and printers; the label printers of the fixtures are left out (dealers do
/// not bill them per page).
const RECORDINGS: &[Recording] = &[
    Recording {
        name: "brother_hl5370dw",
        make: "Brother",
        model: "HL-5370DW",
        colour: false,
        snmprec: include_str!("recordings/brother_hl5370dw.snmprec"),
    },
    Recording {
        name: "canonprinter_d1180",
        make: "Canon",
        model: "imageCLASS D1180",
        colour: false,
        snmprec: include_str!("recordings/canonprinter_d1180.snmprec"),
    },
    Recording {
        name: "canonprinter_lbp",
        make: "Canon",
        model: "i-SENSYS LBP6670",
        colour: false,
        snmprec: include_str!("recordings/canonprinter_lbp.snmprec"),
    },
    Recording {
        name: "dell-laser_mfp",
        make: "Dell",
        model: "3115cn",
        colour: true,
        snmprec: include_str!("recordings/dell-laser_mfp.snmprec"),
    },
    Recording {
        name: "fujifilmprinter_c810",
        make: "Fujifilm",
        model: "ApeosPro C810",
        colour: true,
        snmprec: include_str!("recordings/fujifilmprinter_c810.snmprec"),
    },
    Recording {
        name: "gestetner",
        make: "Gestetner",
        model: "MP C2500",
        colour: true,
        snmprec: include_str!("recordings/gestetner.snmprec"),
    },
    Recording {
        name: "jetdirect_m252dw",
        make: "HP",
        model: "Color LaserJet Pro M252dw",
        colour: true,
        snmprec: include_str!("recordings/jetdirect_m252dw.snmprec"),
    },
    Recording {
        name: "konica_2",
        make: "Konica Minolta",
        model: "bizhub 25e",
        colour: false,
        snmprec: include_str!("recordings/konica_2.snmprec"),
    },
    Recording {
        name: "kyocera",
        make: "Kyocera",
        model: "FS-1028MFP",
        colour: false,
        snmprec: include_str!("recordings/kyocera.snmprec"),
    },
    Recording {
        name: "okilan",
        make: "OKI",
        model: "MC342",
        colour: true,
        snmprec: include_str!("recordings/okilan.snmprec"),
    },
    Recording {
        name: "ricoh_aficio",
        make: "Ricoh",
        model: "Aficio MP 201",
        colour: false,
        snmprec: include_str!("recordings/ricoh_aficio.snmprec"),
    },
    Recording {
        name: "ricoh_mpc3002",
        make: "Ricoh",
        model: "Aficio MP C3002",
        colour: true,
        snmprec: include_str!("recordings/ricoh_mpc3002.snmprec"),
    },
    Recording {
        name: "samsungprinter_ml",
        make: "Samsung",
        model: "ML-2850",
        colour: false,
        snmprec: include_str!("recordings/samsungprinter_ml.snmprec"),
    },
    Recording {
        name: "sharp",
        make: "Sharp",
        model: "MX-3570N",
        colour: true,
        snmprec: include_str!("recordings/sharp.snmprec"),
    },
    Recording {
        name: "sharp_mx2614n",
        make: "Sharp",
        model: "MX-2614N",
        colour: true,
        snmprec: include_str!("recordings/sharp_mx2614n.snmprec"),
    },
    Recording {
        name: "toshiba-tec_estudio305",
        make: "Toshiba",
        model: "e-STUDIO305CS",
        colour: true,
        snmprec: include_str!("recordings/toshiba-tec_estudio305.snmprec"),
    },
    Recording {
        name: "xerox_apeosport",
        make: "Xerox",
        model: "ApeosPort-VI C4471",
        colour: true,
        snmprec: include_str!("recordings/xerox_apeosport.snmprec"),
    },
    Recording {
        name: "xerox_phaser",
        make: "Xerox",
        model: "Phaser 4600",
        colour: false,
        snmprec: include_str!("recordings/xerox_phaser.snmprec"),
    },
];

/// A recording ready to be many devices: what it is, and which of its OIDs hold the serial
/// and the counters the vendor profile reads.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: &'static str,
    pub make: String,
    pub model: String,
    snapshot: Snapshot,
    recorded_serial: Option<String>,
    /// (meter kind, OID) of the vendor profile, for the kinds the demo keeps consistent.
    meters: Vec<(String, String)>,
    /// Vendor counters it cannot keep consistent with the total (copy/print splits): dropped.
    dropped: Vec<String>,
    pub colour: bool,
    /// The vendor profile reads a colour counter: colour pages are counted apart.
    colour_meters: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("demo recording {name}: {why}")]
pub struct TemplateError {
    name: &'static str,
    why: String,
}

/// Every recording as a template, with the agent's own profiles deciding make and model.
pub fn templates(profiles: &[Profile]) -> Result<Vec<Template>, TemplateError> {
    RECORDINGS
        .iter()
        .map(|r| {
            let name = r.name;
            let snapshot = Snapshot::from_snmprec(r.snmprec).map_err(|e| TemplateError {
                name,
                why: e.to_string(),
            })?;
            let report = agent::device::read(&snapshot, profiles);
            let profile = agent::device::recognise(&snapshot, profiles);
            let (mut meters, mut dropped) = (Vec::new(), Vec::new());
            for (kind, oid) in profile.map(|p| &p.meters).into_iter().flatten() {
                if ["total", "mono", "color", "scan"].contains(&kind.as_str()) {
                    meters.push((kind.clone(), oid.clone()));
                } else {
                    dropped.push(oid.clone());
                }
            }
            let colour_meters = meters.iter().any(|(k, _)| k == "color");
            Ok(Template {
                name,
                make: r.make.into(),
                model: r.model.into(),
                colour: r.colour,
                colour_meters,
                recorded_serial: report.identity.serial.filter(|s| s.len() >= 4),
                snapshot,
                meters,
                dropped,
            })
        })
        .collect()
}

/// One simulated copier. Its page count is a function of time: `pages_per_day` on average,
/// busier mid-week, never going back.
#[derive(Debug, Clone)]
pub struct SimDevice {
    pub template: Arc<Template>,
    pub serial: String,
    pub mac: [u8; 6],
    pub address: SocketAddrV4,
    /// When its counters were `start_pages` (the start of the demo's history).
    pub origin_ms: i64,
    pub start_pages: u64,
    pub pages_per_day: f64,
    /// Share of colour pages (colour devices only).
    pub colour_share: f64,
    /// Pages one toner cartridge lasts.
    pub toner_yield: u64,
}

/// Counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pages {
    pub total: u64,
    pub color: u64,
    pub mono: u64,
}

impl SimDevice {
    pub fn pages_at(&self, at_ms: i64) -> Pages {
        let days = (at_ms - self.origin_ms).max(0) as f64 / DAY_MS as f64;
        // the derivative 1 + 0.6·cos(2πd/7) is never negative: counters only go up
        let week = 7.0 / std::f64::consts::TAU;
        let worked = days + 0.6 * week * (days / week).sin();
        let total = self.start_pages + (self.pages_per_day * worked).max(0.0) as u64;
        let color = if self.template.colour_meters {
            (total as f64 * self.colour_share) as u64
        } else {
            0
        };
        Pages {
            total,
            color,
            mono: total - color,
        }
    }

    /// What the device answers at `at_ms`: the recording, with this device's identity,
    /// counters and toner levels.
    pub fn snapshot_at(&self, at_ms: i64) -> Snapshot {
        let t = &self.template;
        let mut s = t.snapshot.clone();
        if let Some(recorded) = &t.recorded_serial {
            let renamed: Vec<(String, Value)> = s
                .iter()
                .filter_map(|(oid, v)| match v.as_text() {
                    Some(text) if text.contains(recorded.as_str()) => Some((
                        oid.to_owned(),
                        Value::Text(text.replace(recorded.as_str(), &self.serial)),
                    )),
                    _ => None,
                })
                .collect();
            for (oid, v) in renamed {
                s.insert(&oid, v);
            }
        }
        s.insert(PRT_SERIAL, Value::Text(self.serial.clone()));
        let macs: Vec<String> = s
            .iter()
            .filter(|(oid, v)| {
                oid.starts_with(IF_PHYS_ADDRESS) && matches!(v, Value::Bytes(b) if b.len() == 6)
            })
            .map(|(oid, _)| oid.to_owned())
            .collect();
        for oid in macs {
            s.insert(&oid, Value::Bytes(self.mac.to_vec()));
        }
        let p = self.pages_at(at_ms);
        let as_int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
        s.insert(PRT_LIFE_COUNT, as_int(p.total));
        if s.get(PRT_COUNTER_UNIT).is_none() {
            s.insert(PRT_COUNTER_UNIT, Value::Int(7));
        }
        for (kind, oid) in &t.meters {
            let v = match kind.as_str() {
                "mono" => p.mono,
                "color" => p.color,
                "scan" => p.total / 5,
                _ => p.total,
            };
            s.insert(oid, as_int(v));
        }
        let mut s = drop_oids(s, &t.dropped);
        // toner runs down with the pages and is replaced when empty
        let used = p.total % self.toner_yield.max(1);
        let left = 1.0 - used as f64 / self.toner_yield.max(1) as f64;
        let levels: Vec<(String, Value)> = s
            .iter()
            .filter_map(|(oid, v)| {
                let index = oid.strip_prefix(SUPPLY_MAX)?;
                let max = v.as_i64().filter(|m| *m > 0)?;
                let level = format!("{SUPPLY_LEVEL}{index}");
                s.get(&level)?.as_i64().filter(|l| *l >= 0)?;
                Some((level, Value::Int((max as f64 * left).round() as i64)))
            })
            .collect();
        for (oid, v) in levels {
            s.insert(&oid, v);
        }
        s
    }
}

fn drop_oids(s: Snapshot, dropped: &[String]) -> Snapshot {
    if dropped.is_empty() {
        return s;
    }
    let mut kept = Snapshot::default();
    for (oid, v) in s.iter() {
        if !dropped.iter().any(|d| d == oid) {
            kept.insert(oid, v.clone());
        }
    }
    kept
}

/// Device `i`'s loopback address: 127.77.x.y, never .0 or .255.
pub fn address(i: usize, port: u16) -> SocketAddrV4 {
    let n = u32::try_from(i).unwrap_or(0);
    SocketAddrV4::new(
        Ipv4Addr::new(127, 77, ((n / 250) % 250) as u8 + 1, (n % 250) as u8 + 1),
        port,
    )
}

/// Serves every device on its own UDP socket until the task is dropped; each request is
/// answered with the device's state at that moment.
pub async fn serve(
    devices: Vec<SimDevice>,
    clock: Arc<dyn crate::clock::Clock>,
) -> std::io::Result<tokio::task::JoinSet<()>> {
    let mut set = tokio::task::JoinSet::new();
    for d in devices {
        let socket = tokio::net::UdpSocket::bind(d.address).await?;
        let clock = clock.clone();
        set.spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                let mib = Mib::from_snapshot(&d.snapshot_at(clock.now_ms()));
                if let Some(reply) = mib.answer(&buf[..len]) {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(t: Template, i: usize) -> SimDevice {
        SimDevice {
            template: Arc::new(t),
            serial: format!("DEMO{i:04}"),
            mac: [0x02, 0, 0, 0, 0, i as u8],
            address: address(i, 16_161),
            origin_ms: 0,
            start_pages: 10_000,
            pages_per_day: 500.0,
            colour_share: 0.3,
            toner_yield: 9_000,
        }
    }

    #[test]
    fn every_recording_becomes_a_device_of_its_own_whose_counters_only_go_up() {
        let profiles = agent::device::profiles().unwrap();
        let templates = templates(&profiles).unwrap();
        assert_eq!(templates.len(), RECORDINGS.len());
        for (i, t) in templates.into_iter().enumerate() {
            let d = device(t, i);
            let name = d.template.name;
            let mut last = 0;
            for hour in (0..24 * 400).step_by(7) {
                let r = agent::device::read(&d.snapshot_at(hour * DAY_MS / 24), &profiles);
                assert_eq!(
                    r.identity.serial.as_deref(),
                    Some(d.serial.as_str()),
                    "{name}"
                );
                // recordings without an interface table have no MAC to give
                if let Some(mac) = &r.identity.mac {
                    assert_eq!(mac, &format!("02:00:00:00:00:{i:02x}"), "{name}");
                }
                let total = r.meters["total"];
                assert!(total >= last, "{name}: {total} after {last}");
                last = total;
                if let (Some(m), Some(c)) = (r.meters.get("mono"), r.meters.get("color")) {
                    assert_eq!(m + c, total, "{name}: mono + colour is the total");
                }
                assert!(
                    r.meters
                        .keys()
                        .all(|k| ["total", "mono", "color", "scan"].contains(&k.as_str())),
                    "{name}: {:?}",
                    r.meters
                );
            }
            // 400 days at 500 pages a day on average
            assert!(
                (200_000..=215_000).contains(&(last - 10_000)),
                "{name}: {last}"
            );
        }
    }

    #[test]
    fn toner_runs_down_with_the_pages_and_comes_back_full() {
        let profiles = agent::device::profiles().unwrap();
        let sharp = templates(&profiles)
            .unwrap()
            .into_iter()
            .find(|t| t.name == "sharp")
            .unwrap();
        let d = device(sharp, 1);
        let level = |day: i64| {
            let r = agent::device::read(&d.snapshot_at(day * DAY_MS), &profiles);
            r.supplies
                .iter()
                .filter_map(|s| s.percent)
                .next()
                .unwrap_or_else(|| panic!("no supply with a percentage: {:?}", r.supplies))
        };
        // 9,000 pages a cartridge at 500 a day: 18 days; the history starts at 10,000 pages
        assert!(level(1) > level(5), "{} then {}", level(1), level(5));
        assert!(
            level(17) > level(14),
            "a new cartridge after the old one ran out"
        );
    }
}
