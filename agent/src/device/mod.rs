//! From what a copier answered to what it is and what it counted: identity (brand — also for
//! OEM boxes —, model, serial, MAC), meters and supplies. Transport-free: SNMP fills a
//! [`Snapshot`], this module reads it with the vendor profiles in `profiles.toml`.

mod snapshot;

pub use snapshot::{RecError, Snapshot, Value};

use ingest::domain::MacAddress;
use ingest::wire::{Alert, AlertSeverity, Level, Supply};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
const SYS_OBJECT_ID: &str = "1.3.6.1.2.1.1.2.0";
const HR_DEVICE_DESCR: &str = "1.3.6.1.2.1.25.3.2.1.3.1";
const PRT_SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";
const PRT_LIFE_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.4.1.1";
const PRT_COUNTER_UNIT: &str = "1.3.6.1.2.1.43.10.2.1.3.1.1";
const IF_PHYS_ADDRESS: &str = "1.3.6.1.2.1.2.2.1.6";
const SUPPLY: &str = "1.3.6.1.2.1.43.11.1.1";
const HR_DEVICE_STATUS: &str = "1.3.6.1.2.1.25.3.2.1.5.1";
const HR_PRINTER_STATUS: &str = "1.3.6.1.2.1.25.3.5.1.1.1";
const HR_ERROR_STATE: &str = "1.3.6.1.2.1.25.3.5.1.2.1";
const ALERT: &str = "1.3.6.1.2.1.43.18.1.1";
const COLORANT_VALUE: &str = "1.3.6.1.2.1.43.12.1.1.4";

/// One brand's recognition rules and OIDs (see `profiles.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub words: Vec<String>,
    pub enterprises: Vec<u32>,
    #[serde(default)]
    pub serial: Vec<String>,
    #[serde(default)]
    pub meters: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ProfileFile {
    vendor: Vec<Profile>,
}

/// The embedded vendor profiles, in recognition order.
pub fn profiles() -> Result<Vec<Profile>, String> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    Figment::from(Toml::string(include_str!("profiles.toml")))
        .extract::<ProfileFile>()
        .map(|f| f.vendor)
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Identity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sys_object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// HOST-RESOURCES status as the device reports it; a field it does not give is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    /// hrDeviceStatus: unknown, running, warning, testing, down
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'static str>,
    /// hrPrinterStatus: other, unknown, idle, printing, warmup
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer: Option<&'static str>,
    /// hrPrinterDetectedErrorState bits that are set, e.g. `lowToner`, `jammed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<&'static str>,
}

/// What `printyx-agent poll --json` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceReport {
    pub identity: Identity,
    /// Only counters the device gives; none is invented.
    pub meters: BTreeMap<String, u64>,
    pub supplies: Vec<Supply>,
    pub status: Status,
    /// prtAlertTable rows.
    pub alerts: Vec<Alert>,
}

impl DeviceReport {
    /// A few lines for a person at a terminal.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let id = &self.identity;
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        let mut s = format!(
            "{} {} serial {}\n",
            or(&id.vendor),
            or(&id.model),
            or(&id.serial)
        );
        for (kind, value) in &self.meters {
            let _ = writeln!(s, "  {kind:<24} {value}");
        }
        for supply in &self.supplies {
            let level = match supply.percent {
                Some(p) => format!("{p} %"),
                None => format!("{:?}", supply.level),
            };
            let _ = writeln!(s, "  {:<24} {level}", supply.description);
        }
        for alert in &self.alerts {
            let _ = writeln!(s, "  alert {} {}", alert.code, alert.description);
        }
        s
    }
}

/// hrPrinterDetectedErrorState bit names; bit 0 is the most significant bit of the first byte.
const ERROR_BITS: [&str; 16] = [
    "lowPaper",
    "noPaper",
    "lowToner",
    "noToner",
    "doorOpen",
    "jammed",
    "offline",
    "serviceRequested",
    "inputTrayMissing",
    "outputTrayMissing",
    "markerSupplyMissing",
    "outputNearFull",
    "outputFull",
    "inputTrayEmpty",
    "overduePreventMaint",
    "bit15",
];

fn status(snapshot: &Snapshot) -> Status {
    let int = |oid: &str| snapshot.get(oid).and_then(Value::as_i64);
    let device = int(HR_DEVICE_STATUS).and_then(|v| match v {
        1 => Some("unknown"),
        2 => Some("running"),
        3 => Some("warning"),
        4 => Some("testing"),
        5 => Some("down"),
        _ => None,
    });
    let printer = int(HR_PRINTER_STATUS).and_then(|v| match v {
        1 => Some("other"),
        2 => Some("unknown"),
        3 => Some("idle"),
        4 => Some("printing"),
        5 => Some("warmup"),
        _ => None,
    });
    let bytes: Vec<u8> = match snapshot.get(HR_ERROR_STATE) {
        Some(Value::Bytes(b)) => b.clone(),
        Some(Value::Text(t)) => t.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    let errors = (0..16)
        .filter(|bit| {
            bytes
                .get(bit / 8)
                .is_some_and(|b| b & (0x80 >> (bit % 8)) != 0)
        })
        .map(|bit| ERROR_BITS[bit])
        .collect();
    Status {
        device,
        printer,
        errors,
    }
}

fn alerts(snapshot: &Snapshot) -> Vec<Alert> {
    snapshot
        .column(&format!("{ALERT}.7"))
        .filter_map(|(index, code)| {
            let code = code.as_i64()?;
            let severity = match snapshot
                .get(&format!("{ALERT}.2.{index}"))
                .and_then(Value::as_i64)
            {
                Some(3) => AlertSeverity::Critical,
                Some(4 | 5) => AlertSeverity::Warning,
                _ => AlertSeverity::Info,
            };
            let description = snapshot
                .get(&format!("{ALERT}.8.{index}"))
                .and_then(Value::as_text)
                .unwrap_or_else(|| format!("printer alert {code}"));
            Some(Alert {
                code: code.to_string(),
                severity,
                description,
            })
        })
        .collect()
}

/// Lower-case alphanumeric words of a text.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `phrase` (one or more words) appears as consecutive whole words of `text`.
fn has_phrase(text: &[String], phrase: &str) -> bool {
    let p = words(phrase);
    !p.is_empty() && text.windows(p.len()).any(|w| w == p.as_slice())
}

fn enterprise(oid: &str) -> Option<u32> {
    oid.strip_prefix("1.3.6.1.4.1.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The brand: words in the device's own descriptions first, then the sysObjectID.
pub fn recognise<'a>(snapshot: &Snapshot, profiles: &'a [Profile]) -> Option<&'a Profile> {
    for oid in [SYS_DESCR, HR_DEVICE_DESCR] {
        let Some(text) = snapshot.get(oid).and_then(Value::as_text) else {
            continue;
        };
        let text = words(&text);
        if let Some(p) = profiles
            .iter()
            .find(|p| p.words.iter().any(|w| has_phrase(&text, w)))
        {
            return Some(p);
        }
    }
    let ent = snapshot
        .get(SYS_OBJECT_ID)
        .and_then(Value::as_text)
        .and_then(|o| enterprise(&o))?;
    profiles.iter().find(|p| p.enterprises.contains(&ent))
}

/// The model as the device names it: hrDeviceDescr, else sysDescr's first part, without the
/// brand's own words in front.
fn model(snapshot: &Snapshot, vendor: Option<&Profile>) -> Option<String> {
    let from = |oid: &str| {
        snapshot
            .get(oid)
            .and_then(Value::as_text)
            .filter(|t| !t.starts_with("Generic"))
    };
    let text = from(HR_DEVICE_DESCR).or_else(|| {
        from(SYS_DESCR).map(|d| {
            d.split([';', ','])
                .next()
                .unwrap_or_default()
                .split(" / ")
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    })?;
    let mut rest = text.trim();
    if let Some(p) = vendor {
        for w in p.words.iter().chain(std::iter::once(&p.name)) {
            // `get`, not indexing: a device's text may have a multi-byte character there
            if let (Some(head), Some(tail)) = (rest.get(..w.len()), rest.get(w.len()..))
                && head.eq_ignore_ascii_case(w)
                && tail.starts_with(' ')
            {
                rest = tail.trim_start();
            }
        }
    }
    let rest = rest
        .trim_end_matches(" series")
        .trim_end_matches(" Series")
        .trim();
    (!rest.is_empty()).then(|| rest.to_owned())
}

fn supply_kind(code: Option<i64>) -> &'static str {
    match code {
        Some(3) => "toner",
        Some(4) => "waste_toner",
        Some(5) => "ink",
        Some(6) => "ink_cartridge",
        Some(8) => "waste_ink",
        Some(9) => "drum",
        Some(10) => "developer",
        Some(15) => "fuser",
        Some(18) => "cleaner",
        Some(20) => "transfer_unit",
        Some(21) => "toner_cartridge",
        Some(32) => "staples",
        _ => "other",
    }
}

/// The supply's colour: the Printer-MIB colorant if linked, else a colour word in its name.
fn supply_color(snapshot: &Snapshot, index: &str, description: &str) -> Option<String> {
    let colorant = snapshot
        .get(&format!("{SUPPLY}.3.{index}"))
        .and_then(Value::as_i64)
        .filter(|c| *c > 0);
    let device = index.split('.').next().unwrap_or("1");
    if let Some(name) = colorant
        .and_then(|c| snapshot.get(&format!("{COLORANT_VALUE}.{device}.{c}")))
        .and_then(Value::as_text)
    {
        return Some(name.to_lowercase());
    }
    let w = words(description);
    ["black", "cyan", "magenta", "yellow"]
        .iter()
        .find(|c| w.iter().any(|x| x == *c))
        .map(|c| (*c).to_owned())
}

fn supplies(snapshot: &Snapshot) -> Vec<Supply> {
    let mut rows: Vec<(Vec<u32>, Supply)> = snapshot
        .column(&format!("{SUPPLY}.6"))
        .filter_map(|(index, desc)| {
            let get = |col: u32| {
                snapshot
                    .get(&format!("{SUPPLY}.{col}.{index}"))
                    .and_then(Value::as_i64)
            };
            let level = Level::from_mib(get(9)?)?;
            let max_capacity = Level::from_mib(get(8).unwrap_or(-2))?;
            let description = desc.as_text().unwrap_or_default();
            let percent = match (level, max_capacity) {
                (Level::Value(l), Level::Value(m)) if m > 0 => {
                    u8::try_from(((l * 100 + m / 2) / m).clamp(0, 100)).ok()
                }
                _ => None,
            };
            let supply = Supply {
                kind: supply_kind(get(5)).to_owned(),
                color: supply_color(snapshot, index, &description),
                description,
                level,
                max_capacity,
                percent,
            };
            let order = index.split('.').filter_map(|p| p.parse().ok()).collect();
            Some((order, supply))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, s)| s).collect()
}

/// The meter a prtMarkerLifeCount is: pages (`total`) only when the unit is impressions or
/// sheets (or not given); a wide-format plotter counting length is not billed as pages.
fn life_count_kind(unit: Option<i64>) -> String {
    match unit {
        None | Some(7 | 8) => "total".into(),
        Some(3) => "life_ten_thousandths_inch".into(),
        Some(4) => "life_micrometers".into(),
        Some(11) => "life_hours".into(),
        Some(16) => "life_feet".into(),
        Some(17) => "life_meters".into(),
        Some(other) => format!("life_unit_{}", other.clamp(0, 9999)),
    }
}

/// Reads identity, meters and supplies from a snapshot.
pub fn read(snapshot: &Snapshot, profiles: &[Profile]) -> DeviceReport {
    let vendor = recognise(snapshot, profiles);
    let text = |oid: &str| snapshot.get(oid).and_then(Value::as_text);
    let serial = vendor
        .into_iter()
        .flat_map(|p| p.serial.iter().map(String::as_str))
        .chain(std::iter::once(PRT_SERIAL))
        .find_map(text);
    let mac = snapshot.column(IF_PHYS_ADDRESS).find_map(|(_, v)| match v {
        Value::Bytes(b) if b.len() == 6 => MacAddress::from_bytes(b).ok(),
        _ => None,
    });
    let mut meters = BTreeMap::new();
    if let Some(life) = snapshot.get(PRT_LIFE_COUNT).and_then(Value::as_i64) {
        let unit = snapshot.get(PRT_COUNTER_UNIT).and_then(Value::as_i64);
        meters.insert(life_count_kind(unit), life);
    }
    for (kind, oid) in vendor.map(|p| &p.meters).into_iter().flatten() {
        if let Some(v) = snapshot.get(oid).and_then(Value::as_i64) {
            meters.insert(kind.clone(), v);
        }
    }
    DeviceReport {
        identity: Identity {
            vendor: vendor.map(|p| p.name.clone()),
            model: model(snapshot, vendor),
            serial,
            sys_object_id: text(SYS_OBJECT_ID),
            mac: mac.map(|m| m.to_string()),
        },
        // a negative counter is a device bug, not a page count
        meters: meters
            .into_iter()
            .filter_map(|(k, v)| u64::try_from(v).ok().map(|v| (k, v)))
            .collect(),
        supplies: supplies(snapshot),
        status: status(snapshot),
        alerts: alerts(snapshot),
    }
}

#[cfg(test)]
mod tests;
