//! Inbound messages and the sender check, inside a tenant transaction.

use super::Folder;
use crate::db::{DbError, TenantTx};
use ingest::domain::SerialNumber;
use ingest::email::MailKind;

impl TenantTx {
    /// The folder a message received before was filed in.
    pub async fn inbound_message(&mut self, message_id: &str) -> Result<Option<Folder>, DbError> {
        let t = self.t();
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT kind, status FROM inbound_messages WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message_id)
        .fetch_optional(self.conn())
        .await?;
        Ok(
            row.map(|(kind, status)| match (kind.as_str(), status.as_str()) {
                (_, "quarantined") => Folder::NeedsReview,
                (_, "ignored") => Folder::Rejected,
                _ => Folder::Processed,
            }),
        )
    }

    pub async fn record_inbound_message(
        &mut self,
        message_id: &str,
        from: Option<&str>,
        subject: &str,
        kind: MailKind,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let kind = match kind {
            MailKind::DeviceReport => "device_report",
            MailKind::CustomerReply => "customer_reply",
            MailKind::Junk => "junk",
            MailKind::Malformed => "malformed",
        };
        sqlx::query(
            "INSERT INTO inbound_messages (tenant_id, message_id, from_address, subject, received_at, kind, status, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t)
        .bind(message_id)
        .bind(from)
        .bind(subject.chars().take(500).collect::<String>())
        .bind(now)
        .bind(kind)
        .bind(status)
        .bind(reason.map(|r| r.chars().take(2000).collect::<String>()))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Whether `from` may report meters for the device with this serial: a contact of its
    /// account, or an address registered for the device. `None`: no such device here.
    pub async fn sender_allowed(
        &mut self,
        serial: &SerialNumber,
        from: &str,
    ) -> Result<Option<bool>, DbError> {
        let t = self.t();
        let allowed: Option<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM contacts c WHERE c.tenant_id = $1 \
                   AND c.account_id = e.account_id AND lower(c.email) = $3) \
               OR EXISTS (SELECT 1 FROM equipment_email_senders s WHERE s.tenant_id = $1 \
                   AND s.equipment_id = e.id AND lower(s.email) = $3) THEN 1 ELSE 0 END \
             FROM equipment e WHERE e.tenant_id = $1 AND e.serial_key = $2",
        )
        .bind(t)
        .bind(serial.key())
        .bind(from.trim().to_lowercase())
        .fetch_optional(self.conn())
        .await?;
        Ok(allowed.map(|a| a == 1))
    }

    /// The account a meter request went to, marking it answered.
    pub async fn answer_meter_request(&mut self, request: i64) -> Result<Option<i64>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "UPDATE meter_requests SET answered_at = COALESCE(answered_at, $3) \
             WHERE tenant_id = $1 AND id = $2 RETURNING account_id",
        )
        .bind(t)
        .bind(request)
        .bind(now)
        .fetch_optional(self.conn())
        .await?)
    }

    /// The account of the device with this serial.
    pub async fn account_of_serial(
        &mut self,
        serial: &SerialNumber,
    ) -> Result<Option<i64>, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT account_id FROM equipment WHERE tenant_id = $1 AND serial_key = $2",
        )
        .bind(t)
        .bind(serial.key())
        .fetch_optional(self.conn())
        .await?)
    }

    /// Registers an address a device sends its own reports from.
    pub async fn add_equipment_email_sender(
        &mut self,
        equipment: crate::ids::EquipmentId,
        email: &ingest::domain::EmailAddress,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO equipment_email_senders (tenant_id, equipment_id, email, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(t)
        .bind(equipment.0)
        .bind(email.as_str().to_lowercase())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
