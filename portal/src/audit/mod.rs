//! The audit trail: append-only and hash-chained per tenant, so that editing or deleting a row
//! breaks the chain (`printyx audit verify`, with the sign-in issue, walks it).
//!
//! Entry n stores `hash = SHA-256(prev_hash ‖ canonical entry)`, where `prev_hash` is entry
//! n−1's hash ("" for the first). Sequence numbers come from the tenant's `audit` counter row,
//! whose update also serialises concurrent appends of one tenant.

pub mod http;
pub mod pages;

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

/// Where a request came from, as the audit trail keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who did something: a user (through a session or an API token), an agent, or the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// user, agent or system (`api_token` is written for a user acting through one)
    pub kind: &'static str,
    pub id: Option<i64>,
    /// The customer account the actor belongs to (customers see their account's trail).
    pub account: Option<crate::ids::AccountId>,
    /// How a user acted when not through a browser session, e.g. `api_token:12`.
    pub via: Option<String>,
    pub client: Client,
}

impl Actor {
    /// The server itself (scheduled work, the command line).
    pub fn system() -> Self {
        Actor {
            kind: "system",
            id: None,
            account: None,
            via: None,
            client: Client::default(),
        }
    }

    /// An operator at the server's command line (`printyx user create`, …).
    pub fn command_line() -> Self {
        Actor {
            via: Some("command line".into()),
            ..Actor::system()
        }
    }

    /// Someone not signed in (a sign-in attempt, a reset request), known by where they are.
    pub fn anonymous(client: &Client) -> Self {
        Actor {
            kind: "system",
            id: None,
            account: None,
            via: Some("anonymous".into()),
            client: client.clone(),
        }
    }
}

/// One entry as the trail pages show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub seq: i64,
    pub occurred_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    /// The actor's display name, when the actor is a user.
    pub actor_name: Option<String>,
    pub account_id: Option<i64>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub summary: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl TenantTx {
    /// Records what `actor` did to an entity; `summary` says what changed (before/after) or
    /// what happened. `account` is the customer account the entity belongs to, when it
    /// belongs to one, so that account's users see the entry.
    pub async fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        entity: (&str, Option<String>),
        account: Option<crate::ids::AccountId>,
        summary: serde_json::Value,
    ) -> Result<i64, DbError> {
        let mut summary = summary;
        if let (Some(via), serde_json::Value::Object(map)) = (&actor.via, &mut summary) {
            map.insert("via".into(), serde_json::Value::String(via.clone()));
        }
        self.append_audit(&AuditEntry {
            actor_kind: if actor
                .via
                .as_deref()
                .is_some_and(|v| v.starts_with("api_token"))
            {
                "api_token".into()
            } else {
                actor.kind.into()
            },
            actor_id: actor.id,
            account_id: account.or(actor.account).map(|a| a.0),
            action: action.into(),
            entity_type: entity.0.into(),
            entity_id: entity.1,
            summary,
            ip: actor.client.ip.clone(),
            user_agent: actor.client.user_agent.clone(),
        })
        .await
    }

    /// The trail, newest first: the whole tenant's, one account's (the entries about that
    /// account or by its users) or one user's. `before` pages backwards by sequence number.
    pub async fn audit_trail(
        &mut self,
        of: Trail,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Entry>, DbError> {
        use sqlx::Row;
        let t = self.t();
        let rows = sqlx::query(
            "SELECT a.seq, a.occurred_at, a.actor_kind, a.actor_id, a.account_id, a.action, \
               a.entity_type, a.entity_id, a.summary, a.ip, a.user_agent, u.display_name AS actor_name \
             FROM audit_log a \
             LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.actor_id \
               AND a.actor_kind IN ('user', 'api_token') \
             WHERE a.tenant_id = $1 AND a.seq < $2 AND ($3 = 0 OR a.account_id = $3) \
               AND ($4 = 0 OR (a.actor_id = $4 AND a.actor_kind IN ('user', 'api_token'))) \
             ORDER BY a.seq DESC LIMIT $5",
        )
        .bind(t)
        .bind(before.unwrap_or(i64::MAX))
        .bind(match of {
            Trail::Account(a) => a.0,
            _ => 0,
        })
        .bind(match of {
            Trail::User(u) => u.0,
            _ => 0,
        })
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                let summary: String = row.try_get("summary")?;
                Ok(Entry {
                    seq: row.try_get("seq")?,
                    occurred_at: row.try_get("occurred_at")?,
                    actor_kind: row.try_get("actor_kind")?,
                    actor_id: row.try_get("actor_id")?,
                    actor_name: row.try_get("actor_name")?,
                    account_id: row.try_get("account_id")?,
                    action: row.try_get("action")?,
                    entity_type: row.try_get("entity_type")?,
                    entity_id: row.try_get("entity_id")?,
                    summary: serde_json::from_str(&summary)
                        .unwrap_or(serde_json::Value::String(summary)),
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Everything a user did, oldest first (the user's own data export).
    pub async fn audit_by_user(&mut self, user: crate::ids::UserId) -> Result<Vec<Entry>, DbError> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self.audit_trail(Trail::User(user), before, 500).await?;
            let done = page.len() < 500;
            before = page.last().map(|e| e.seq);
            all.extend(page);
            if done {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }
}

/// Whose trail to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trail {
    Tenant,
    Account(crate::ids::AccountId),
    User(crate::ids::UserId),
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
