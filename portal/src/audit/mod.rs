//! The audit trail: append-only and hash-chained per tenant, so that editing or deleting a row
//! breaks the chain (`printyx audit verify`, with the sign-in issue, walks it).
//!
//! Entry n stores `hash = SHA-256(prev_hash ‖ canonical entry)`, where `prev_hash` is entry
//! n−1's hash ("" for the first). Sequence numbers come from the tenant's `audit` counter row,
//! whose update also serialises concurrent appends of one tenant.

use crate::db::{DbError, TenantTx};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// user, api_token, agent or system
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub account_id: Option<i64>,
    /// e.g. `agent.upload_refused`
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// A before/after or what-happened summary.
    pub summary: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The chained hash of one entry: every stored field, in a fixed order, length-prefixed so
/// that no two different entries serialise alike.
pub fn entry_hash(
    prev_hash: &str,
    tenant: i64,
    seq: i64,
    occurred_at: i64,
    e: &AuditEntry,
) -> String {
    let fields = [
        prev_hash.to_owned(),
        tenant.to_string(),
        seq.to_string(),
        occurred_at.to_string(),
        e.actor_kind.to_owned(),
        e.actor_id.map(|v| v.to_string()).unwrap_or_default(),
        e.account_id.map(|v| v.to_string()).unwrap_or_default(),
        e.action.clone(),
        e.entity_type.clone(),
        e.entity_id.clone().unwrap_or_default(),
        e.summary.to_string(),
        e.ip.clone().unwrap_or_default(),
        e.user_agent.clone().unwrap_or_default(),
    ];
    let mut h = Sha256::new();
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

impl TenantTx {
    /// Appends an entry; returns its sequence number.
    pub async fn append_audit(&mut self, e: &AuditEntry) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO number_sequences (tenant_id, name, next_value) VALUES ($1, 'audit', 2) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET next_value = number_sequences.next_value + 1 \
             RETURNING next_value",
        )
        .bind(t)
        .fetch_one(self.conn())
        .await?;
        let seq = next - 1;
        let prev: String =
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2")
                .bind(t)
                .bind(seq - 1)
                .fetch_optional(self.conn())
                .await?
                .unwrap_or_default();
        let hash = entry_hash(&prev, t, seq, now, e);
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, occurred_at, actor_kind, actor_id, account_id, action, \
               entity_type, entity_id, summary, ip, user_agent, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(t)
        .bind(seq)
        .bind(now)
        .bind(&e.actor_kind)
        .bind(e.actor_id)
        .bind(e.account_id)
        .bind(&e.action)
        .bind(&e.entity_type)
        .bind(e.entity_id.as_deref())
        .bind(e.summary.to_string())
        .bind(e.ip.as_deref())
        .bind(e.user_agent.as_deref())
        .bind(&prev)
        .bind(&hash)
        .execute(self.conn())
        .await?;
        Ok(seq)
    }

    /// The tenant's trail, newest first.
    pub async fn audit_entries(
        &mut self,
        limit: u32,
    ) -> Result<Vec<(i64, String, String)>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, action, summary FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(t)
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        Ok(rows)
    }
}

/// A place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The row's contents no longer match its hash: it was edited.
    Edited { seq: i64 },
    /// The row does not follow the previous one (its `prev_hash`), or rows are missing before it.
    Missing { before_seq: i64 },
    /// Rows at the end are gone: the tenant's counter says more were written.
    Truncated { last_seq: i64, written: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "entry {seq} was changed after it was written"),
            Self::Missing { before_seq } => {
                write!(f, "entries are missing before entry {before_seq}")
            }
            Self::Truncated { last_seq, written } => {
                write!(
                    f,
                    "entries after {last_seq} are missing ({written} were written)"
                )
            }
        }
    }
}

impl TenantTx {
    /// Walks this tenant's chain from the first entry; returns every break found and the
    /// number of entries read.
    pub async fn verify_audit(&mut self) -> Result<(usize, Vec<Break>), DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT seq, occurred_at, actor_kind, actor_id, account_id, action, entity_type, entity_id, \
               summary, ip, user_agent, prev_hash, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
        )
        .bind(t)
        .fetch_all(self.conn())
        .await?;
        let mut breaks = Vec::new();
        let (mut expected_seq, mut prev_hash) = (1_i64, String::new());
        for row in &rows {
            use sqlx::Row;
            let seq: i64 = row.try_get("seq")?;
            let stored_prev: String = row.try_get("prev_hash")?;
            if seq != expected_seq || stored_prev != prev_hash {
                breaks.push(Break::Missing { before_seq: seq });
            }
            let summary: String = row.try_get("summary")?;
            let entry = AuditEntry {
                actor_kind: row.try_get("actor_kind")?,
                actor_id: row.try_get("actor_id")?,
                account_id: row.try_get("account_id")?,
                action: row.try_get("action")?,
                entity_type: row.try_get("entity_type")?,
                entity_id: row.try_get("entity_id")?,
                // a summary that is no longer JSON was certainly edited
                summary: serde_json::from_str(&summary)
                    .unwrap_or(serde_json::Value::String(summary)),
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
            };
            let hash: String = row.try_get("hash")?;
            if entry_hash(&stored_prev, t, seq, row.try_get("occurred_at")?, &entry) != hash {
                breaks.push(Break::Edited { seq });
            }
            expected_seq = seq + 1;
            prev_hash = hash;
        }
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT next_value FROM number_sequences WHERE tenant_id = $1 AND name = 'audit'",
        )
        .bind(t)
        .fetch_optional(self.conn())
        .await?;
        let written = next.map_or(0, |n| n - 1);
        if written > expected_seq - 1 {
            breaks.push(Break::Truncated {
                last_seq: expected_seq - 1,
                written,
            });
        }
        Ok((rows.len(), breaks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_chain() {
        let e = AuditEntry {
            actor_kind: "agent".into(),
            actor_id: Some(3),
            account_id: None,
            action: "agent.upload_refused".into(),
            entity_type: "agent".into(),
            entity_id: Some("3".into()),
            summary: serde_json::json!({ "serial": "X" }),
            ip: None,
            user_agent: None,
        };
        let h = entry_hash("", 1, 1, 10, &e);
        assert_eq!(h.len(), 64);
        assert_ne!(
            h,
            entry_hash("x", 1, 1, 10, &e),
            "the previous hash is chained"
        );
        assert_ne!(h, entry_hash("", 1, 2, 10, &e));
        let edited = AuditEntry {
            summary: serde_json::json!({ "serial": "Y" }),
            ..e.clone()
        };
        assert_ne!(h, entry_hash("", 1, 1, 10, &edited));
        // field boundaries matter: ("ab","c") must differ from ("a","bc")
        let a = AuditEntry {
            action: "ab".into(),
            entity_type: "c".into(),
            ..e.clone()
        };
        let b = AuditEntry {
            action: "a".into(),
            entity_type: "bc".into(),
            ..e
        };
        assert_ne!(entry_hash("", 1, 1, 10, &a), entry_hash("", 1, 1, 10, &b));
    }
}
