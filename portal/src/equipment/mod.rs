//! Copiers and printers at customer sites. A device is found by its serial (through the
//! confusable-letter key), its MAC or its asset tag — never by IP address, which changes.

pub mod http;
pub mod pages;
mod store;
pub mod views;

use crate::ids::{AccountId, ContractId, EquipmentId, SiteId};
use crate::tenants::parse_name;
use ingest::domain::{MacAddress, ParseError, SerialNumber};

/// A supply at or below this percentage is low: the device is flagged and counted as low on
/// toner (time to order before it runs out).
pub const LOW_SUPPLY_PERCENT: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equipment {
    pub id: EquipmentId,
    pub account_id: AccountId,
    pub site_id: Option<SiteId>,
    pub contract_id: Option<ContractId>,
    pub serial: SerialNumber,
    pub make: String,
    pub model: String,
    pub asset_tag: Option<String>,
    pub mac: Option<MacAddress>,
    pub last_ip: Option<String>,
    pub install_date: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_reported_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewEquipment {
    pub(crate) account_id: AccountId,
    pub(crate) site_id: Option<SiteId>,
    pub(crate) serial: SerialNumber,
    pub(crate) make: String,
    pub(crate) model: String,
    pub(crate) asset_tag: Option<String>,
    pub(crate) mac: Option<MacAddress>,
    pub(crate) install_date: Option<String>,
}

impl NewEquipment {
    pub fn new(
        account_id: AccountId,
        serial: SerialNumber,
        make: &str,
        model: &str,
    ) -> Result<Self, ParseError> {
        Ok(Self {
            account_id,
            site_id: None,
            serial,
            make: parse_name("make", make)?,
            model: parse_name("model", model)?,
            asset_tag: None,
            mac: None,
            install_date: None,
        })
    }

    pub fn site(mut self, site: SiteId) -> Self {
        self.site_id = Some(site);
        self
    }

    pub fn mac(mut self, mac: MacAddress) -> Self {
        self.mac = Some(mac);
        self
    }

    pub fn asset_tag(mut self, tag: &str) -> Result<Self, ParseError> {
        self.asset_tag = Some(parse_name("asset tag", tag)?);
        Ok(self)
    }

    /// `YYYY-MM-DD`.
    pub fn install_date(mut self, date: &str) -> Result<Self, ParseError> {
        self.install_date = Some(parse_iso_date(date)?);
        Ok(self)
    }
}

/// Checks a calendar date written `YYYY-MM-DD` (stored as text; see the schema conventions).
pub fn parse_iso_date(raw: &str) -> Result<String, ParseError> {
    let s = raw.trim();
    let invalid = || ParseError::Invalid {
        what: "date",
        value: s.to_owned(),
        why: "use YYYY-MM-DD",
    };
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let (y, m, d): (u32, u32, u32) = (
        y.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
        d.parse().map_err(|_| invalid())?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if !(1900..=2999).contains(&y) || d == 0 || d > days {
        return Err(invalid());
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real_calendar_days() {
        assert!(parse_iso_date("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-04-31",
            "24-01-01",
            "2024/01/01",
            "2024-1-1",
            "",
        ] {
            assert!(parse_iso_date(bad).is_err(), "{bad:?}");
        }
    }
}

/// A device an agent reported that no registered equipment matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DiscoveredDevice {
    pub id: i64,
    pub serial: Option<String>,
    pub mac: Option<String>,
    pub asset_tag: Option<String>,
    pub ip: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// The counters it last reported, as JSON (`{"total": 12345, …}`).
    pub meters: serde_json::Value,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub status: String,
}

/// A device as the equipment list shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EquipmentRow {
    pub id: i64,
    pub serial: String,
    pub make: String,
    pub model: String,
    pub account_id: i64,
    pub account: String,
    pub site: Option<String>,
    pub status: String,
    pub last_reported_at: Option<i64>,
    /// The last accepted total and when it was read.
    pub last_total: Option<i64>,
    pub last_total_at: Option<i64>,
    /// A toner or other supply at or under 20 %.
    pub low_supply: bool,
    pub open_alerts: i64,
}

/// A supply's latest level.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SupplyLevel {
    pub description: String,
    pub kind: String,
    pub color: Option<String>,
    /// Percent of capacity when the device says so.
    pub percent: Option<i64>,
    pub observed_at: i64,
}

/// An alert the device reports and has not cleared.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OpenAlert {
    pub code: String,
    pub severity: String,
    pub description: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

/// An accepted reading of a meter: its value, segment and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterAt {
    pub value: i64,
    pub segment: i64,
    pub read_at: i64,
}
