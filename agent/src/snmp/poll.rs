//! What is asked of a printer: a handful of scalars, the Printer-MIB and HOST-RESOURCES
//! subtrees that hold supplies, alerts and the MAC, then the vendor's own serial and counter
//! OIDs once the brand is known. Never a walk of the whole MIB.

use super::{Client, Credentials, Limits, SnmpError, Target};
use crate::device::{self, DeviceReport, Profile, Snapshot};

/// Single values: identity, the life counter and its unit, status.
pub const SCALARS: &[&str] = &[
    "1.3.6.1.2.1.1.1.0",           // sysDescr
    "1.3.6.1.2.1.1.2.0",           // sysObjectID
    "1.3.6.1.2.1.25.3.2.1.3.1",    // hrDeviceDescr
    "1.3.6.1.2.1.25.3.2.1.5.1",    // hrDeviceStatus
    "1.3.6.1.2.1.25.3.5.1.1.1",    // hrPrinterStatus
    "1.3.6.1.2.1.25.3.5.1.2.1",    // hrPrinterDetectedErrorState
    "1.3.6.1.2.1.43.5.1.1.17.1",   // prtGeneralSerialNumber
    "1.3.6.1.2.1.43.10.2.1.3.1.1", // prtMarkerCounterUnit
    "1.3.6.1.2.1.43.10.2.1.4.1.1", // prtMarkerLifeCount
];

/// Tables, walked column by column range; each walk is bounded by [`Limits`].
pub const SUBTREES: &[&str] = &[
    "1.3.6.1.2.1.43.11.1.1",   // prtMarkerSuppliesEntry
    "1.3.6.1.2.1.43.12.1.1.4", // prtMarkerColorantValue
    "1.3.6.1.2.1.43.18.1.1",   // prtAlertEntry
    "1.3.6.1.2.1.2.2.1.6",     // ifPhysAddress
];

/// One device read once.
#[derive(Debug, Clone)]
pub struct Polled {
    pub report: DeviceReport,
    /// Everything the device answered, kept as evidence with the reading.
    pub snapshot: Snapshot,
    /// The community that answered (v1/v2c), to try first next time.
    pub community: Option<String>,
}

/// Reads one device: identity, meters, supplies, status and alerts.
pub async fn poll(
    target: &Target,
    credentials: &Credentials,
    limits: Limits,
    profiles: &[Profile],
) -> Result<Polled, SnmpError> {
    let mut client = Client::open(target, credentials, limits).await?;
    let mut snapshot = Snapshot::default();
    client.get_into(&mut snapshot, SCALARS).await?;
    for subtree in SUBTREES {
        client.walk_into(&mut snapshot, subtree).await?;
    }
    if let Some(profile) = device::recognise(&snapshot, profiles) {
        let vendor_oids: Vec<&str> = profile
            .serial
            .iter()
            .chain(profile.meters.values())
            .map(String::as_str)
            .collect();
        client.get_into(&mut snapshot, &vendor_oids).await?;
    }
    Ok(Polled {
        report: device::read(&snapshot, profiles),
        community: client.community().map(str::to_owned),
        snapshot,
    })
}
