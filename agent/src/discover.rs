//! Finding the printers on a network: every address of some IPv4 ranges is asked, a bounded
//! number at a time, for its identity and whether it has a Printer-MIB.
//!
//! A PC or print server that shares printers lists them as HOST-RESOURCES devices but has no
//! Printer-MIB and is not a printer brand: it is reported as "not a printer", never polled for
//! meters.

use crate::config::parse_cidr;
use crate::device::{Identity, Profile, Snapshot, Value, recognise};
use crate::snmp::{Client, Credentials, Limits, SnmpError, Target};
use futures::StreamExt as _;
use serde::Serialize;
use std::net::Ipv4Addr;

const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
const PRINTER_MIB: &str = "1.3.6.1.2.1.43";
const IDENTITY: &[&str] = &[
    SYS_DESCR,
    "1.3.6.1.2.1.1.2.0",         // sysObjectID
    "1.3.6.1.2.1.25.3.2.1.3.1",  // hrDeviceDescr
    "1.3.6.1.2.1.43.5.1.1.17.1", // prtGeneralSerialNumber
];
/// Operating systems of general-purpose computers, as their SNMP agents name them.
const COMPUTER_WORDS: &[&str] = &[
    "windows",
    "linux",
    "darwin",
    "freebsd",
    "sunos",
    "hardware:",
];

/// A printer that answered, as `read` identifies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub address: String,
    pub community: String,
    #[serde(flatten)]
    pub identity: Identity,
}

/// What one address turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Printer(Found),
    /// Answers SNMP but is not a printer (a PC, a print server, a switch…).
    NotPrinter {
        address: String,
        what: String,
    },
    /// No answer, or not a usable one.
    Nothing,
}

/// Every host address of the ranges, in order, without duplicates; network and broadcast
/// addresses are left out of ranges that have them.
pub fn hosts(ranges: &[String]) -> Result<Vec<Ipv4Addr>, String> {
    let mut out = std::collections::BTreeSet::new();
    for range in ranges {
        let (addr, len) = parse_cidr(range).map_err(|e| format!("{range}: {e}"))?;
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        };
        let network = u32::from(addr) & mask;
        let broadcast = network | !mask;
        let (first, last) = if len >= 31 {
            (network, broadcast)
        } else {
            (network + 1, broadcast - 1)
        };
        out.extend((first..=last).map(Ipv4Addr::from));
    }
    Ok(out.into_iter().collect())
}

/// Asks one address who it is.
pub async fn probe(
    target: &Target,
    communities: &[String],
    limits: Limits,
    profiles: &[Profile],
) -> Probe {
    let credentials = Credentials::V2c {
        communities: communities.to_vec(),
    };
    let Ok(mut client) = Client::open(target, &credentials, limits).await else {
        return Probe::Nothing;
    };
    let mut snapshot = Snapshot::default();
    let asked: Result<Option<String>, SnmpError> = async {
        client.get_into(&mut snapshot, IDENTITY).await?;
        client.first_under(PRINTER_MIB).await
    }
    .await;
    let Ok(printer_mib) = asked else {
        return Probe::Nothing;
    };
    let descr = snapshot
        .get(SYS_DESCR)
        .and_then(Value::as_text)
        .unwrap_or_default();
    let vendor = recognise(&snapshot, profiles);
    let computer = {
        let lower = descr.to_lowercase();
        COMPUTER_WORDS.iter().any(|w| lower.contains(w))
    };
    if printer_mib.is_none() && (vendor.is_none() || computer) {
        return Probe::NotPrinter {
            address: target.to_string(),
            what: if descr.is_empty() {
                "no Printer-MIB".into()
            } else {
                descr
            },
        };
    }
    if let Some(p) = vendor {
        let serials: Vec<&str> = p.serial.iter().map(String::as_str).collect();
        if client.get_into(&mut snapshot, &serials).await.is_err() {
            return Probe::Nothing;
        }
    }
    let report = crate::device::read(&snapshot, profiles);
    Probe::Printer(Found {
        address: target.to_string(),
        community: client.community().unwrap_or_default().to_owned(),
        identity: report.identity,
    })
}

/// Probes every address, `concurrency` at a time; `progress(done, total)` after each.
pub async fn sweep(
    addresses: &[Ipv4Addr],
    port: u16,
    communities: &[String],
    limits: Limits,
    concurrency: usize,
    profiles: &[Profile],
    mut progress: impl FnMut(usize, usize),
) -> Vec<Probe> {
    let total = addresses.len();
    let probes: Vec<_> = addresses
        .iter()
        .map(|a| {
            let target = Target {
                host: a.to_string(),
                port,
            };
            Box::pin(async move { probe(&target, communities, limits, profiles).await })
        })
        .collect();
    let mut stream = futures::stream::iter(probes).buffered(concurrency.max(1));
    let mut out = Vec::with_capacity(total);
    while let Some(p) = stream.next().await {
        out.push(p);
        progress(out.len(), total);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_list_their_hosts_without_network_and_broadcast() {
        let h = hosts(&["192.168.1.0/30".into(), "192.168.1.2/32".into()]).unwrap();
        assert_eq!(
            h,
            [
                "192.168.1.1".parse::<Ipv4Addr>().unwrap(),
                "192.168.1.2".parse().unwrap()
            ]
        );
        assert_eq!(hosts(&["10.0.0.0/24".into()]).unwrap().len(), 254);
        assert_eq!(hosts(&["10.0.0.4/31".into()]).unwrap().len(), 2);
        assert!(
            hosts(&["10.0.0.0/8".into()])
                .unwrap_err()
                .contains("16 to 32")
        );
    }
}
