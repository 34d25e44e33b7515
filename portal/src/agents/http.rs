//! `POST /api/v1/agent/enroll` and `POST /api/v1/agent/readings`: thin adapters over
//! [`Db::enroll_agent`](crate::db::Db), [`Db::authenticate_agent`] and ingest's
//! [`process_batch`](ingest::upload::process_batch).

use crate::audit::AuditEntry;
use crate::http::{ApiError, AppState, json_body as json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use ingest::upload::{UploadError, process_batch};
use ingest::wire::{Batch, BatchResponse, EnrollRequest, EnrollResponse};

/// Public: the enrollment code is the credential. Unknown, used and expired codes all get the
/// same 401.
pub async fn enroll(
    State(state): State<AppState>,
    client: crate::audit::Client,
    body: Bytes,
) -> Result<Json<EnrollResponse>, ApiError> {
    let req: EnrollRequest = json(&body)?;
    let (_tenant, agent, token) = state
        .db
        .enroll_agent(&req.code, &req.hostname, &req.agent_version, &client)
        .await
        .map_err(|e| match e {
            super::store::EnrollError::Throttled(t) => t.into(),
            super::store::EnrollError::Db(crate::db::DbError::NotFound) => ApiError::Unauthorized,
            super::store::EnrollError::Db(other) => other.into(),
        })?;
    Ok(Json(EnrollResponse {
        agent_id: agent.0,
        token,
    }))
}

/// Bearer agent token. The whole batch is one transaction: stored entirely, or not at all.
pub async fn upload(
    State(state): State<AppState>,
    client: crate::audit::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BatchResponse>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let upload = state
        .db
        .open_agent_upload(token)
        .await
        .map_err(|e| match e {
            crate::db::DbError::NotFound => ApiError::Unauthorized,
            other => other.into(),
        })?;
    let (seen, db) = (upload.seen, upload.db.clone());
    let (tenant, agent) = (seen.tenant, seen.agent);
    let batch: Batch = match json(&body) {
        Ok(batch) => batch,
        Err(e) => {
            drop(upload);
            db.run(async |tx| tx.note_agent_seen(&seen).await).await?;
            return Err(e);
        }
    };
    let mut tx = upload.begin().await?;
    let received_at = tx.now_ms();
    let refused =
        match process_batch(&mut tx, agent, &batch, received_at, &state.config.pipeline).await {
            Ok(response) => {
                tx.commit().await?;
                return Ok(Json(response));
            }
            Err(refused) => refused,
        };
    drop(tx); // nothing of the batch is kept; the contact is
    db.run(async |tx| tx.note_agent_seen(&seen).await).await?;
    match refused {
        UploadError::Invalid(e) => Err(ApiError::Invalid(e.to_string())),
        UploadError::Conflict(m) => Err(ApiError::Invalid(m)),
        UploadError::ForeignDevice(m) => {
            let entry = AuditEntry {
                actor_kind: "agent".into(),
                actor_id: Some(agent.0),
                account_id: None,
                action: "agent.upload_refused".into(),
                entity_type: "agent".into(),
                entity_id: Some(agent.to_string()),
                summary: serde_json::json!({ "batch_id": batch.batch_id, "reason": m }),
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
            };
            db.run(async |tx| tx.append_audit(&entry).await).await?;
            tracing::warn!(tenant = %tenant, agent = %agent, "{m}");
            Err(ApiError::Refused(m))
        }
        UploadError::Port(e) => Err(e.into()),
    }
}
