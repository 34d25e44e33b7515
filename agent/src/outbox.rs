//! The durable outbox: every reading is committed here, with its id, before any upload.
//!
//! Exactly once, across crashes: a batch is cut from the oldest pending observations and its
//! exact bytes are stored *before* it is sent; after a crash the same bytes (same batch id,
//! same `sent_at`) are sent again, and the server answers a batch it has seen with its first
//! answer. Observations leave the outbox only in the transaction that records the server's
//! answer. SQLite in WAL mode with `synchronous = FULL`: a `kill -9` or a power cut at any
//! point leaves either the state before or after a step, never half of one.
//!
//! Disk policy: the outbox may use `max_bytes`. Past that, status observations (supplies,
//! alerts) are thinned — oldest first, always keeping each device's newest — and billing
//! meters are never dropped: they stay even beyond the limit, with a warning.

use ingest::wire::{Batch, BatchResponse, Observation, PROTOCOL_VERSION};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("outbox record: {0}")]
    Json(#[from] serde_json::Error),
}

/// Billing meters are kept whatever the disk policy; status is thinned first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Meters,
    Status,
}

impl Tier {
    fn as_str(self) -> &'static str {
        match self {
            Self::Meters => "meters",
            Self::Status => "status",
        }
    }
}

/// A batch cut from the outbox, ready to send as is.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingBatch {
    pub batch_id: String,
    /// The exact request body; sent again unchanged after a failure or a crash.
    pub body: String,
    pub observations: usize,
    pub attempts: u32,
}

/// What `printyx-agent status` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub pending_meters: i64,
    pub pending_status: i64,
    pub pending_bytes: i64,
    pub open_batch: Option<String>,
    pub sent: i64,
    pub dead_letters: i64,
    pub last_upload_at: Option<i64>,
    pub last_upload_result: Option<String>,
    pub thinned: i64,
}

/// The last poll of one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceState {
    pub target: String,
    pub community: Option<String>,
    pub last_poll_at: i64,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    tier        TEXT NOT NULL CHECK (tier IN ('meters', 'status')),
    device      TEXT NOT NULL,
    body        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    batch_id    TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS pending_batch_idx ON pending (batch_id, seq);
CREATE TABLE IF NOT EXISTS batches (
    batch_id    TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS sent (
    id          TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    sent_at     INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS dead_letters (
    batch_id    TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    why         TEXT NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS devices (
    target       TEXT PRIMARY KEY,
    community    TEXT,
    last_poll_at INTEGER NOT NULL,
    last_ok_at   INTEGER,
    last_error   TEXT,
    serial       TEXT,
    model        TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
";

/// How long acknowledged ids are kept (for `status` and for tracing a reading back).
const SENT_RETENTION_MS: i64 = 30 * 86_400_000;

#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
    max_bytes: u64,
    /// Bytes of pending observations, kept here so that a commit does not sum the table.
    pending_bytes: i64,
}

/// 128 random bits as hex: observation and batch ids.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Outbox {
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, OutboxError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let pending_bytes =
            conn.query_row("SELECT COALESCE(SUM(bytes), 0) FROM pending", [], |r| {
                r.get(0)
            })?;
        Ok(Self {
            conn,
            max_bytes,
            pending_bytes,
        })
    }

    /// Commits an observation (its `id` already set) for upload; thins status if over budget.
    pub fn push(
        &mut self,
        tier: Tier,
        device: &str,
        observation: &Observation,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        self.push_many(&[(tier, device, observation)], now_ms)
    }

    /// Commits several observations in one transaction (one disk sync for all).
    pub fn push_many(
        &mut self,
        items: &[(Tier, &str, &Observation)],
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut used = self.pending_bytes;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO pending (id, tier, device, body, bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
            )?;
            for (tier, device, observation) in items {
                let body = serde_json::to_string(observation)?;
                let bytes = i64::try_from(body.len()).unwrap_or(i64::MAX);
                let inserted = insert.execute(params![
                    observation.id,
                    tier.as_str(),
                    device,
                    body,
                    bytes,
                    now_ms
                ])?;
                if inserted == 1 {
                    used += bytes;
                }
            }
        }
        let used = thin(&tx, used, self.max_bytes)?;
        tx.commit()?;
        self.pending_bytes = used;
        Ok(())
    }

    /// Bytes of the observations in `batch_id`, before they leave.
    fn batch_bytes(conn: &Connection, batch_id: &str) -> Result<i64, OutboxError> {
        Ok(conn.query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM pending WHERE batch_id = ?1",
            [batch_id],
            |r| r.get(0),
        )?)
    }

    /// The batch to send now: the one already cut and not yet answered (sent again as is),
    /// else a new one of up to `max` oldest observations. `None` when nothing is pending.
    pub fn next_batch(
        &mut self,
        max: usize,
        agent_version: &str,
        now_ms: i64,
    ) -> Result<Option<PendingBatch>, OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open = tx
            .query_row(
                "SELECT batch_id, body, attempts FROM batches ORDER BY created_at, batch_id LIMIT 1",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?)),
            )
            .optional()?;
        let batch = match open {
            Some((batch_id, body, attempts)) => {
                let observations: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM pending WHERE batch_id = ?1",
                    [&batch_id],
                    |r| r.get(0),
                )?;
                PendingBatch {
                    batch_id,
                    body,
                    observations: usize::try_from(observations).unwrap_or(0),
                    attempts,
                }
            }
            None => {
                let rows: Vec<(i64, String)> = {
                    let mut stmt = tx.prepare(
                        "SELECT seq, body FROM pending WHERE batch_id IS NULL ORDER BY seq LIMIT ?1",
                    )?;
                    let limit = i64::try_from(max.min(ingest::wire::MAX_OBSERVATIONS)).unwrap_or(1);
                    stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?
                };
                if rows.is_empty() {
                    return Ok(None);
                }
                let observations = rows
                    .iter()
                    .map(|(_, body)| serde_json::from_str::<Observation>(body))
                    .collect::<Result<Vec<_>, _>>()?;
                let batch = Batch {
                    protocol: PROTOCOL_VERSION,
                    batch_id: new_id(),
                    agent_version: agent_version.to_owned(),
                    sent_at: now_ms,
                    observations,
                };
                let body = serde_json::to_string(&batch)?;
                tx.execute(
                    "INSERT INTO batches (batch_id, body, created_at) VALUES (?1, ?2, ?3)",
                    params![batch.batch_id, body, now_ms],
                )?;
                let (first, last) = (rows[0].0, rows[rows.len() - 1].0);
                tx.execute(
                    "UPDATE pending SET batch_id = ?1 WHERE batch_id IS NULL AND seq BETWEEN ?2 AND ?3",
                    params![batch.batch_id, first, last],
                )?;
                PendingBatch {
                    batch_id: batch.batch_id,
                    body,
                    observations: rows.len(),
                    attempts: 0,
                }
            }
        };
        tx.commit()?;
        Ok(Some(batch))
    }

    /// Counts a failed attempt to send the batch.
    pub fn attempt_failed(
        &mut self,
        batch_id: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE batches SET attempts = attempts + 1 WHERE batch_id = ?1",
            [batch_id],
        )?;
        set_state(&tx, "last_upload_at", &now_ms.to_string())?;
        set_state(&tx, "last_upload_result", &format!("failed: {why}"))?;
        tx.commit()?;
        Ok(())
    }

    /// The server answered: the batch's observations leave the outbox, their outcomes are
    /// kept in `sent`.
    pub fn acknowledge(
        &mut self,
        batch_id: &str,
        response: &BatchResponse,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for result in &response.results {
            tx.execute(
                "INSERT INTO sent (id, batch_id, outcome, sent_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    result.id,
                    batch_id,
                    serde_json::to_value(result.outcome)?
                        .as_str()
                        .unwrap_or("unknown"),
                    now_ms
                ],
            )?;
        }
        let freed = Self::batch_bytes(&tx, batch_id)?;
        tx.execute("DELETE FROM pending WHERE batch_id = ?1", [batch_id])?;
        tx.execute("DELETE FROM batches WHERE batch_id = ?1", [batch_id])?;
        tx.execute(
            "DELETE FROM sent WHERE sent_at < ?1",
            [now_ms - SENT_RETENTION_MS],
        )?;
        set_state(&tx, "last_upload_at", &now_ms.to_string())?;
        set_state(
            &tx,
            "last_upload_result",
            &format!("ok: {} observations", response.results.len()),
        )?;
        tx.commit()?;
        self.pending_bytes -= freed;
        Ok(())
    }

    /// The server refused the batch for good (it will never accept these bytes): it is set
    /// aside with the reason, so that the readings behind it still flow.
    pub fn dead_letter(
        &mut self,
        batch_id: &str,
        why: &str,
        now_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO dead_letters (batch_id, body, why, at)
             SELECT batch_id, body, ?2, ?3 FROM batches WHERE batch_id = ?1",
            params![batch_id, why, now_ms],
        )?;
        let freed = Self::batch_bytes(&tx, batch_id)?;
        tx.execute("DELETE FROM pending WHERE batch_id = ?1", [batch_id])?;
        tx.execute("DELETE FROM batches WHERE batch_id = ?1", [batch_id])?;
        set_state(&tx, "last_upload_at", &now_ms.to_string())?;
        set_state(&tx, "last_upload_result", &format!("refused: {why}"))?;
        tx.commit()?;
        self.pending_bytes -= freed;
        Ok(())
    }

    /// Ids the server has acknowledged (kept 30 days).
    pub fn sent_ids(&self) -> Result<Vec<String>, OutboxError> {
        let mut stmt = self.conn.prepare("SELECT id FROM sent ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    pub fn stats(&self) -> Result<Stats, OutboxError> {
        let count = |sql: &str| -> Result<i64, OutboxError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Stats {
            pending_meters: count("SELECT COUNT(*) FROM pending WHERE tier = 'meters'")?,
            pending_status: count("SELECT COUNT(*) FROM pending WHERE tier = 'status'")?,
            pending_bytes: self.pending_bytes,
            open_batch: self
                .conn
                .query_row("SELECT batch_id FROM batches LIMIT 1", [], |r| r.get(0))
                .optional()?,
            sent: count("SELECT COUNT(*) FROM sent")?,
            dead_letters: count("SELECT COUNT(*) FROM dead_letters")?,
            last_upload_at: get_state(&self.conn, "last_upload_at")?.and_then(|v| v.parse().ok()),
            last_upload_result: get_state(&self.conn, "last_upload_result")?,
            thinned: get_state(&self.conn, "thinned")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }

    pub fn record_poll(&mut self, state: &DeviceState) -> Result<(), OutboxError> {
        self.record_polls(std::slice::from_ref(state))
    }

    /// Remembers how polls went, in one transaction.
    pub fn record_polls(&mut self, states: &[DeviceState]) -> Result<(), OutboxError> {
        let tx = self.conn.transaction()?;
        for state in states {
            record_poll(&tx, state)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn devices(&self) -> Result<Vec<DeviceState>, OutboxError> {
        let mut stmt = self.conn.prepare(
            "SELECT target, community, last_poll_at, last_ok_at, last_error, serial, model
             FROM devices ORDER BY target",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeviceState {
                    target: r.get(0)?,
                    community: r.get(1)?,
                    last_poll_at: r.get(2)?,
                    last_ok_at: r.get(3)?,
                    last_error: r.get(4)?,
                    serial: r.get(5)?,
                    model: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

fn record_poll(conn: &Connection, state: &DeviceState) -> Result<(), OutboxError> {
    conn.execute(

        "INSERT INTO devices (target, community, last_poll_at, last_ok_at, last_error, serial, model)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (target) DO UPDATE SET
           community = COALESCE(excluded.community, devices.community),
           last_poll_at = excluded.last_poll_at,
           last_ok_at = COALESCE(excluded.last_ok_at, devices.last_ok_at),
           last_error = excluded.last_error,
           serial = COALESCE(excluded.serial, devices.serial),
           model = COALESCE(excluded.model, devices.model)",
        params![
            state.target,
            state.community,
            state.last_poll_at,
            state.last_ok_at,
            state.last_error,
            state.serial,
            state.model
        ],
    )?;
    Ok(())
}

fn get_state(conn: &Connection, key: &str) -> Result<Option<String>, OutboxError> {
    Ok(conn
        .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_state(conn: &Connection, key: &str, value: &str) -> Result<(), OutboxError> {
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// Over budget: drop the oldest status observations not yet in a batch, keeping each
/// device's newest. Billing meters are never dropped. Returns the bytes still pending.
fn thin(conn: &Connection, mut used: i64, max_bytes: u64) -> Result<i64, OutboxError> {
    let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    if used <= max {
        return Ok(used);
    }
    let victims: Vec<(i64, i64)> = {
        let mut stmt = conn.prepare(
            "SELECT seq, bytes FROM pending o
             WHERE tier = 'status' AND batch_id IS NULL
               AND seq < (SELECT MAX(seq) FROM pending p WHERE p.tier = 'status' AND p.device = o.device)
             ORDER BY seq",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut dropped = 0i64;
    for (seq, len) in victims {
        if used <= max {
            break;
        }
        conn.execute("DELETE FROM pending WHERE seq = ?1", [seq])?;
        used -= len;
        dropped += 1;
    }
    if dropped > 0 {
        let before: i64 = get_state(conn, "thinned")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        set_state(conn, "thinned", &(before + dropped).to_string())?;
    }
    if used > max {
        tracing::warn!(
            used,
            max,
            "outbox over its disk budget with billing meters only: they are kept"
        );
    }
    Ok(used)
}

#[cfg(test)]
mod tests;
