use super::{Equipment, NewEquipment};
use crate::db::{Backend, DbError, TenantTx, one_row, page_limit};
use crate::ids::{AccountId, ContractId, EquipmentId, SiteId};
use ingest::domain::{MacAddress, SerialNumber};
use ingest::upload::DeviceReport;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! equipment_columns {
    () => {
        "id, account_id, site_id, contract_id, serial, make, model, asset_tag, mac, last_ip, \
         install_date, status, created_at, updated_at, last_reported_at"
    };
}

fn equipment(row: &AnyRow) -> Result<Equipment, DbError> {
    let refused = |e: ingest::domain::ParseError| DbError::Refused(e.to_string());
    Ok(Equipment {
        id: EquipmentId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        site_id: row.try_get::<Option<i64>, _>("site_id")?.map(SiteId),
        contract_id: row
            .try_get::<Option<i64>, _>("contract_id")?
            .map(ContractId),
        serial: SerialNumber::parse(&row.try_get::<String, _>("serial")?).map_err(refused)?,
        make: row.try_get("make")?,
        model: row.try_get("model")?,
        asset_tag: row.try_get("asset_tag")?,
        mac: row
            .try_get::<Option<String>, _>("mac")?
            .map(|m| MacAddress::parse(&m).map_err(refused))
            .transpose()?,
        last_ip: row.try_get("last_ip")?,
        install_date: row.try_get("install_date")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_reported_at: row.try_get("last_reported_at")?,
    })
}

impl TenantTx {
    /// Registers a device. Its site, if given, must be one of the same account's sites; a serial
    /// whose key another device already has is a conflict.
    pub async fn create_equipment(&mut self, new: &NewEquipment) -> Result<Equipment, DbError> {
        if let Some(site_id) = new.site_id {
            let site = self.site(site_id).await?;
            if site.account_id != new.account_id {
                return Err(DbError::Refused(
                    "the site belongs to another account".into(),
                ));
            }
        }
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(concat!(
            "INSERT INTO equipment (tenant_id, account_id, site_id, serial, serial_key, make, model, \
               asset_tag, mac, install_date, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ",
            equipment_columns!()
        ))
        .bind(t)
        .bind(new.account_id.0)
        .bind(new.site_id.map(|s| s.0))
        .bind(new.serial.as_str())
        .bind(new.serial.key())
        .bind(&new.make)
        .bind(&new.model)
        .bind(new.asset_tag.as_deref())
        .bind(new.mac.as_ref().map(MacAddress::as_str))
        .bind(new.install_date.as_deref())
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        equipment(&row)
    }

    pub async fn equipment(&mut self, id: EquipmentId) -> Result<Equipment, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            equipment_columns!(),
            " FROM equipment WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        equipment(&row)
    }

    /// An account's devices in id order, `limit` after `after`.
    pub async fn equipment_of_account(
        &mut self,
        account: AccountId,
        after: Option<EquipmentId>,
        limit: u32,
    ) -> Result<Vec<Equipment>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ", equipment_columns!(),
            " FROM equipment WHERE tenant_id = $1 AND account_id = $2 AND id > $3 ORDER BY id LIMIT $4"
        ))
        .bind(t)
        .bind(account.0)
        .bind(after.map_or(0, |e| e.0))
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(equipment).collect()
    }

    /// The device whose serial has the same matching key (see [`SerialNumber::key`]).
    pub async fn equipment_by_serial(
        &mut self,
        serial: &SerialNumber,
    ) -> Result<Option<Equipment>, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            equipment_columns!(),
            " FROM equipment WHERE tenant_id = $1 AND serial_key = $2"
        ))
        .bind(t)
        .bind(serial.key())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(equipment).transpose()
    }

    /// Devices with this MAC (normally one; a replaced network card can make two).
    pub async fn equipment_by_mac(&mut self, mac: &MacAddress) -> Result<Vec<Equipment>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            equipment_columns!(),
            " FROM equipment WHERE tenant_id = $1 AND mac = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(mac.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(equipment).collect()
    }

    pub async fn equipment_by_asset_tag(&mut self, tag: &str) -> Result<Vec<Equipment>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            equipment_columns!(),
            " FROM equipment WHERE tenant_id = $1 AND asset_tag = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(tag.trim())
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(equipment).collect()
    }

    /// Notes that the device reported (for the silence check) and where it was seen.
    pub async fn record_equipment_report(
        &mut self,
        id: EquipmentId,
        ip: Option<&str>,
        at: i64,
    ) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query(
                "UPDATE equipment SET last_ip = COALESCE($3, last_ip), \
                   last_reported_at = CASE WHEN last_reported_at IS NULL OR last_reported_at < $4 \
                                           THEN $4 ELSE last_reported_at END \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(id.0)
            .bind(ip)
            .bind(at)
            .execute(self.conn())
            .await?,
        )
    }

    /// Many devices' reports in one statement (one report per device).
    pub async fn record_equipment_reports(
        &mut self,
        reports: &[DeviceReport],
    ) -> Result<(), DbError> {
        match reports {
            [] => return Ok(()),
            // one device (a single upload, an MQTT message, an e-mail): by primary key — the
            // planner takes a JSON set for a hundred rows and would hash-join the equipment
            [one] => {
                return self
                    .record_equipment_report(one.equipment, one.ip.as_deref(), one.at)
                    .await;
            }
            _ => {}
        }
        let t = self.t();
        let list = serde_json::Value::Array(
            reports
                .iter()
                .map(|r| serde_json::json!({ "eq": r.equipment.0, "ip": r.ip, "at": r.at }))
                .collect(),
        )
        .to_string();
        sqlx::query(match self.backend() {
            Backend::Postgres => {
                "UPDATE equipment SET last_ip = COALESCE(j.ip, equipment.last_ip), \
                   last_reported_at = GREATEST(equipment.last_reported_at, j.at) \
                 FROM jsonb_to_recordset($2::jsonb) AS j(eq bigint, ip text, at bigint) \
                 WHERE equipment.tenant_id = $1 AND equipment.id = j.eq"
            }
            Backend::Sqlite => {
                "UPDATE equipment SET last_ip = COALESCE(j.ip, equipment.last_ip), \
                   last_reported_at = MAX(COALESCE(equipment.last_reported_at, j.at), j.at) \
                 FROM (SELECT json_extract(value, '$.eq') AS eq, json_extract(value, '$.ip') AS ip, \
                   json_extract(value, '$.at') AS at FROM json_each($2)) j \
                 WHERE equipment.tenant_id = $1 AND equipment.id = j.eq"
            }
        })
        .bind(t)
        .bind(list)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// `status` is active, inactive or removed (the database refuses anything else).
    pub async fn set_equipment_status(
        &mut self,
        id: EquipmentId,
        status: &str,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE equipment SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(id.0)
            .bind(status)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }
}

impl TenantTx {
    /// Devices agents reported that are not registered yet (status `new`), newest sighting
    /// first — the dealer's "new devices" list.
    pub async fn new_devices(
        &mut self,
        limit: u32,
    ) -> Result<Vec<super::DiscoveredDevice>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT id, serial, mac, asset_tag, ip, vendor, model, meters_json, first_seen_at, last_seen_at, status \
             FROM discovered_devices WHERE tenant_id = $1 AND status = 'new' ORDER BY last_seen_at DESC, id LIMIT $2",
        )
        .bind(t)
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let meters: String = r.try_get("meters_json")?;
                Ok(super::DiscoveredDevice {
                    id: r.try_get("id")?,
                    serial: r.try_get("serial")?,
                    mac: r.try_get("mac")?,
                    asset_tag: r.try_get("asset_tag")?,
                    ip: r.try_get("ip")?,
                    vendor: r.try_get("vendor")?,
                    model: r.try_get("model")?,
                    meters: serde_json::from_str(&meters).unwrap_or(serde_json::Value::Null),
                    first_seen_at: r.try_get("first_seen_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    status: r.try_get("status")?,
                })
            })
            .collect()
    }
}

/// What the equipment pages read.
impl TenantTx {
    /// Devices in id order after `after`, of one account or (None) all: with the last accepted
    /// total, a low-supply flag and the number of open alerts.
    pub async fn equipment_rows(
        &mut self,
        account: Option<crate::ids::AccountId>,
        after: Option<EquipmentId>,
        limit: u32,
    ) -> Result<Vec<super::EquipmentRow>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT e.id, e.serial, e.make, e.model, e.account_id, a.name AS account, s.name AS site, \
               e.status, e.last_reported_at, \
               (SELECT r.value FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'total' AND r.status = 'accepted' ORDER BY r.read_at DESC, r.id DESC LIMIT 1) AS last_total, \
               (SELECT r.read_at FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'total' AND r.status = 'accepted' ORDER BY r.read_at DESC, r.id DESC LIMIT 1) AS last_total_at, \
               (SELECT COUNT(*) FROM supply_levels l WHERE l.tenant_id = e.tenant_id AND l.equipment_id = e.id \
                  AND l.percent IS NOT NULL AND l.percent <= $5 AND l.observed_at = (SELECT MAX(m.observed_at) \
                  FROM supply_levels m WHERE m.tenant_id = e.tenant_id AND m.equipment_id = e.id)) AS low_supplies, \
               (SELECT COUNT(*) FROM device_alerts d WHERE d.tenant_id = e.tenant_id AND d.equipment_id = e.id \
                  AND d.cleared_at IS NULL) AS open_alerts \
             FROM equipment e JOIN accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id \
             LEFT JOIN sites s ON s.tenant_id = e.tenant_id AND s.id = e.site_id \
             WHERE e.tenant_id = $1 AND ($2 = 0 OR e.account_id = $2) AND e.id > $3 ORDER BY e.id LIMIT $4",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(after.map_or(0, |e| e.0))
        .bind(crate::db::page_limit(limit))
        .bind(super::LOW_SUPPLY_PERCENT)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(super::EquipmentRow {
                    id: r.try_get("id")?,
                    serial: r.try_get("serial")?,
                    make: r.try_get("make")?,
                    model: r.try_get("model")?,
                    account_id: r.try_get("account_id")?,
                    account: r.try_get("account")?,
                    site: r.try_get("site")?,
                    status: r.try_get("status")?,
                    last_reported_at: r.try_get("last_reported_at")?,
                    last_total: r.try_get("last_total")?,
                    last_total_at: r.try_get("last_total_at")?,
                    low_supply: r.try_get::<i64, _>("low_supplies")? > 0,
                    open_alerts: r.try_get("open_alerts")?,
                })
            })
            .collect()
    }

    /// The latest level of each supply (the last report's).
    pub async fn supply_levels(
        &mut self,
        id: EquipmentId,
    ) -> Result<Vec<super::SupplyLevel>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT description, kind, color, percent, observed_at FROM supply_levels \
             WHERE tenant_id = $1 AND equipment_id = $2 AND observed_at = (SELECT MAX(observed_at) \
               FROM supply_levels WHERE tenant_id = $1 AND equipment_id = $2) ORDER BY description",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(super::SupplyLevel {
                    description: r.try_get("description")?,
                    kind: r.try_get("kind")?,
                    color: r.try_get("color")?,
                    percent: r.try_get("percent")?,
                    observed_at: r.try_get("observed_at")?,
                })
            })
            .collect()
    }

    pub async fn open_alerts(&mut self, id: EquipmentId) -> Result<Vec<super::OpenAlert>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT code, severity, description, first_seen_at, last_seen_at FROM device_alerts \
             WHERE tenant_id = $1 AND equipment_id = $2 AND cleared_at IS NULL ORDER BY first_seen_at",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(super::OpenAlert {
                    code: r.try_get("code")?,
                    severity: r.try_get("severity")?,
                    description: r.try_get("description")?,
                    first_seen_at: r.try_get("first_seen_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                })
            })
            .collect()
    }

    /// The meter's last accepted reading at or before `at`, or (`later`) its first at or
    /// after `at`: one index probe each.
    pub async fn meter_near(
        &mut self,
        id: EquipmentId,
        kind: &str,
        at: i64,
        later: bool,
    ) -> Result<Option<super::MeterAt>, DbError> {
        let t = self.t();
        let row: Option<(i64, i64, i64)> = sqlx::query_as(match later {
            false => {
                "SELECT value, segment, read_at FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
                 AND meter_kind = $3 AND status = 'accepted' AND read_at <= $4 \
                 ORDER BY read_at DESC, id DESC LIMIT 1"
            }
            true => {
                "SELECT value, segment, read_at FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
                 AND meter_kind = $3 AND status = 'accepted' AND read_at >= $4 \
                 ORDER BY read_at, id LIMIT 1"
            }
        })
        .bind(t)
        .bind(id.0)
        .bind(kind)
        .bind(at)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|(value, segment, read_at)| super::MeterAt {
            value,
            segment,
            read_at,
        }))
    }
}
