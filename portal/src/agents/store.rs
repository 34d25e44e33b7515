use super::{
    Agent, ENROLLMENT_VALIDITY_MS, NewAgent, new_code, new_secret, parse_enrollment_code,
    parse_token, secret_hash,
};
use crate::db::{Backend, Db, DbError, TenantDb, TenantTx, one_row};
use crate::ids::AgentId;
use crate::tenants::{TenantSlug, parse_name};
use ingest::domain::MeterKind;
use ingest::ids::TenantId;
use ingest::upload::BatchClaim;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeSet;

/// How precisely `agents.last_seen_at` is kept.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

macro_rules! agent_columns {
    () => {
        "id, name, hostname, version, enrolled_at, last_seen_at, revoked_at"
    };
}

fn agent(row: &AnyRow) -> Result<Agent, DbError> {
    Ok(Agent {
        id: AgentId(row.try_get("id")?),
        name: row.try_get("name")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        enrolled_at: row.try_get("enrolled_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// An agent-supplied label (host name, version): trimmed, bounded, printable.
fn label(what: &'static str, raw: &str) -> Result<String, DbError> {
    let s = parse_name(what, raw)?;
    if s.len() > 256 {
        return Err(DbError::Refused(format!("{what} is too long")));
    }
    Ok(s)
}

impl Db {
    /// Trades a one-time enrollment code for a bearer token. Every failure (unknown tenant,
    /// wrong, used or expired code) is the same `NotFound`, so the answer reveals nothing.
    /// Enrolls an agent with its one-time code. Attempts are counted per network address
    /// (a code has 60 bits, but nobody gets to try many); `NotFound` for any code that is not
    /// good, whatever the reason.
    pub async fn enroll_agent(
        &self,
        code: &str,
        hostname: &str,
        version: &str,
        client: &crate::audit::Client,
    ) -> Result<(TenantId, AgentId, String), EnrollError> {
        let (slug, code) = parse_enrollment_code(code).ok_or(DbError::NotFound)?;
        let slug = TenantSlug::parse(slug).map_err(|_| DbError::NotFound)?;
        let tenant = self.tenant_by_slug(&slug).await?.id;
        let (hostname, version) = (
            label("host name", hostname)?,
            label("agent version", version)?,
        );
        let db = self.tenant(tenant);
        let address =
            crate::auth::throttle::bucket("enroll:address", client.ip.as_deref().unwrap_or("-"));
        let mut tx = db.begin().await?;
        tx.throttle(&address, crate::auth::throttle::Limit::ENROLL_ADDRESS)
            .await
            .map_err(|e| match e {
                crate::auth::throttle::ThrottleError::Throttled(t) => EnrollError::Throttled(t),
                crate::auth::throttle::ThrottleError::Db(d) => EnrollError::Db(d),
            })?;
        tx.commit().await?;
        let secret = new_secret();
        let token = format!("pxa_{}_{secret}", tenant.0);
        let agent_id = db
            .run(async |tx| {
                let (t, now) = (tx.t(), tx.now_ms());
                let id: i64 = sqlx::query_scalar(
                    "UPDATE agents SET token_hash = $3, enrolled_at = $4, last_seen_at = $4, hostname = $5, \
                       version = $6, enrollment_code_hash = NULL, enrollment_expires_at = NULL \
                     WHERE tenant_id = $1 AND enrollment_code_hash = $2 AND enrollment_expires_at > $4 \
                       AND revoked_at IS NULL RETURNING id",
                )
                .bind(t)
                .bind(secret_hash(code))
                .bind(secret_hash(&token))
                .bind(now)
                .bind(&hostname)
                .bind(&version)
                .fetch_optional(tx.conn())
                .await?
                .ok_or(DbError::NotFound)?;
                tx.clear_throttle(&address).await?;
                tx.audit(
                    &crate::audit::Actor {
                        kind: "agent",
                        id: Some(id),
                        account: None,
                        via: None,
                        client: client.clone(),
                    },
                    "agent.enrolled",
                    ("agent", Some(id.to_string())),
                    None,
                    serde_json::json!({ "hostname": hostname, "version": version }),
                )
                .await?;
                Ok(AgentId(id))
            })
            .await?;
        Ok((tenant, agent_id, token))
    }

    /// The agent a bearer token belongs to; `NotFound` for anything else (malformed, unknown,
    /// revoked). A read: authentication must not queue behind writers on every request. The
    /// caller notes the contact ([`TenantTx::note_agent_seen`]) in the transaction it writes
    /// anyway, so an upload costs one commit, not two.
    pub async fn authenticate_agent(&self, token: &str) -> Result<AuthenticatedAgent, DbError> {
        let tenant = parse_token(token).ok_or(DbError::NotFound)?;
        self.tenant(tenant)
            .read(async |tx| tx.agent_by_token(token).await)
            .await
            .map_err(unknown_tenant_is_unknown_token)
    }

    /// An agent's upload: authenticated, and on PostgreSQL already inside the transaction that
    /// will store it (one transaction and its round trips less per upload). On SQLite the
    /// write turn is taken only once the body is read ([`AgentUpload::begin`]), so a
    /// malformed or slow body never holds the one writer.
    pub async fn open_agent_upload(&self, token: &str) -> Result<AgentUpload, DbError> {
        let tenant = parse_token(token).ok_or(DbError::NotFound)?;
        let db = self.tenant(tenant);
        match self.backend() {
            Backend::Sqlite => Ok(AgentUpload {
                seen: self.authenticate_agent(token).await?,
                db,
                tx: None,
            }),
            Backend::Postgres => {
                let mut tx = db.begin().await.map_err(unknown_tenant_is_unknown_token)?;
                let seen = tx.agent_by_token(token).await?;
                Ok(AgentUpload {
                    seen,
                    db,
                    tx: Some(tx),
                })
            }
        }
    }
}

/// A well-formed token naming a tenant that does not exist is an unknown token.
fn unknown_tenant_is_unknown_token(e: DbError) -> DbError {
    match e {
        DbError::Refused(_) => DbError::NotFound,
        other => other,
    }
}

/// An authenticated agent's upload, before its transaction is necessarily open.
#[derive(Debug)]
pub struct AgentUpload {
    pub seen: AuthenticatedAgent,
    pub db: TenantDb,
    tx: Option<TenantTx>,
}

impl AgentUpload {
    /// The transaction that stores the upload, with the agent's contact noted in it.
    pub async fn begin(self) -> Result<TenantTx, DbError> {
        let mut tx = match self.tx {
            Some(tx) => tx,
            None => self.db.begin().await?,
        };
        tx.note_agent_seen(&self.seen).await?;
        Ok(tx)
    }
}

/// Who an agent token belongs to, and when that agent was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedAgent {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub last_seen: Option<i64>,
}

impl TenantTx {
    async fn agent_by_token(&mut self, token: &str) -> Result<AuthenticatedAgent, DbError> {
        let t = self.t();
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, last_seen_at FROM agents \
             WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(secret_hash(token))
        .fetch_optional(self.conn())
        .await?;
        let (id, last_seen) = row.ok_or(DbError::NotFound)?;
        Ok(AuthenticatedAgent {
            tenant: self.tenant_id(),
            agent: AgentId(id),
            last_seen,
        })
    }

    /// Records that the agent made contact now. "Last seen" to the minute is enough for the
    /// dealer's agent list and silence checks, so most contacts write nothing.
    pub async fn note_agent_seen(&mut self, seen: &AuthenticatedAgent) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        if seen
            .last_seen
            .is_some_and(|at| now - at < LAST_SEEN_RESOLUTION_MS)
        {
            return Ok(());
        }
        sqlx::query("UPDATE agents SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(seen.agent.0)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl TenantTx {
    /// A new agent waiting for enrollment; the code (shown once) is valid for 7 days.
    pub async fn create_agent(&mut self, name: &str) -> Result<NewAgent, DbError> {
        let name = parse_name("agent name", name)?;
        let slug = self.tenant().await?.slug;
        let code = new_code();
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(concat!(
            "INSERT INTO agents (tenant_id, name, enrollment_code_hash, enrollment_expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            agent_columns!()
        ))
        .bind(t)
        .bind(&name)
        .bind(secret_hash(&code))
        .bind(now + ENROLLMENT_VALIDITY_MS)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(NewAgent {
            agent: agent(&row)?,
            enrollment_code: format!("{}-{code}", slug.as_str()),
        })
    }

    pub async fn agent(&mut self, id: AgentId) -> Result<Agent, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        agent(&row)
    }

    /// Its token stops working at once; its readings stay.
    pub async fn revoke_agent(&mut self, id: AgentId) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query("UPDATE agents SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
                .bind(t)
                .bind(id.0)
                .bind(now)
                .execute(self.conn())
                .await?,
        )
    }

    pub(crate) async fn claim_batch(
        &mut self,
        agent: AgentId,
        batch_id: &str,
        hash: &str,
    ) -> Result<BatchClaim, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let claimed = match self.backend() {
            // one round trip: the claim and the meter kinds in one statement
            Backend::Postgres => {
                let row = sqlx::query(
                    "WITH claim AS (INSERT INTO agent_batches (tenant_id, agent_id, batch_id, payload_hash, \
                       response_json, received_at) VALUES ($1, $2, $3, $4, '', $5) \
                       ON CONFLICT (tenant_id, agent_id, batch_id) DO NOTHING RETURNING 1) \
                     SELECT (SELECT COUNT(*) FROM claim) AS claimed, \
                       (SELECT string_agg(code, ' ') FROM meter_kinds WHERE tenant_id = $1) AS kinds",
                )
                .bind(t)
                .bind(agent.0)
                .bind(batch_id)
                .bind(hash)
                .bind(now)
                .fetch_one(self.conn())
                .await?;
                let kinds: Option<String> = row.try_get("kinds")?;
                (row.try_get::<i64, _>("claimed")? == 1).then(|| {
                    kinds
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(MeterKind::parse)
                        .collect::<Result<BTreeSet<_>, _>>()
                })
            }
            Backend::Sqlite => {
                let inserted = sqlx::query(
                    "INSERT INTO agent_batches (tenant_id, agent_id, batch_id, payload_hash, response_json, received_at) \
                     VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT (tenant_id, agent_id, batch_id) DO NOTHING",
                )
                .bind(t)
                .bind(agent.0)
                .bind(batch_id)
                .bind(hash)
                .bind(now)
                .execute(self.conn())
                .await?;
                if inserted.rows_affected() == 1 {
                    Some(Ok(self.meter_kinds().await?))
                } else {
                    None
                }
            }
        };
        if let Some(kinds) = claimed {
            return Ok(BatchClaim::New { kinds: kinds? });
        }
        let row = sqlx::query(
            "SELECT payload_hash, response_json FROM agent_batches WHERE tenant_id = $1 AND agent_id = $2 AND batch_id = $3",
        )
        .bind(t)
        .bind(agent.0)
        .bind(batch_id)
        .fetch_one(self.conn())
        .await?;
        Ok(BatchClaim::Seen {
            payload_hash: row.try_get("payload_hash")?,
            response_json: row.try_get("response_json")?,
        })
    }

    pub(crate) async fn finish_batch(
        &mut self,
        agent: AgentId,
        batch_id: &str,
        response: &str,
    ) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query("UPDATE agent_batches SET response_json = $4 WHERE tenant_id = $1 AND agent_id = $2 AND batch_id = $3")
                .bind(t)
                .bind(agent.0)
                .bind(batch_id)
                .bind(response)
                .execute(self.conn())
                .await?,
        )
    }
}

/// Why an enrolment did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Throttled(crate::auth::throttle::Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ingest::domain::ParseError> for EnrollError {
    fn from(e: ingest::domain::ParseError) -> Self {
        EnrollError::Db(e.into())
    }
}
