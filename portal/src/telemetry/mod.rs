//! MQTT telemetry: the portal's handler for ingest's MQTT source. One message is one
//! observation, processed in its own transaction exactly like an agent's, with source `mqtt`.

use crate::db::{Db, DbError};
use crate::tenants::TenantSlug;
use ingest::ids::TenantId;
use ingest::pipeline::PipelineConfig;
use ingest::sources::mqtt::{Handled, Message, MqttSourceConfig};
use ingest::upload::{Origin, UploadError, process_observation};
use ingest::wire::{Observation, ResultOutcome};
use std::future::Future;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("MQTT source '{source_name}': no tenant '{tenant}'")]
    UnknownTenant { source_name: String, tenant: String },
    #[error("MQTT source '{source_name}': {problem}")]
    Invalid {
        source_name: String,
        problem: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What one message came to; also what tests count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    Stored(ResultOutcome),
    /// Malformed or refused: acknowledged and dropped, with the reason logged.
    Dropped(String),
    Retry(String),
}

/// Stores one message; never panics on bad input.
pub async fn handle_message(
    db: &Db,
    tenant: TenantId,
    source: &str,
    pipeline: &PipelineConfig,
    message: &Message,
) -> MessageOutcome {
    let obs: Observation = match serde_json::from_slice(&message.payload) {
        Ok(o) => o,
        Err(e) => return MessageOutcome::Dropped(format!("not an observation: {e}")),
    };
    if let Err(e) = obs.validate() {
        return MessageOutcome::Dropped(e.to_string());
    }
    let retry = |e: DbError| MessageOutcome::Retry(e.to_string());
    let mut tx = match db.tenant(tenant).begin().await {
        Ok(tx) => tx,
        Err(e) => return retry(e),
    };
    let kinds = match tx.meter_kinds().await {
        Ok(k) => k,
        Err(e) => return retry(e),
    };
    let received_at = tx.now_ms();
    match process_observation(
        &mut tx,
        Origin::Mqtt { source },
        &obs,
        received_at,
        pipeline,
        &kinds,
    )
    .await
    {
        Ok(result) => match tx.commit().await {
            Ok(()) => MessageOutcome::Stored(result.outcome),
            Err(e) => retry(e),
        },
        Err(UploadError::Port(e)) => retry(e),
        Err(refused) => MessageOutcome::Dropped(refused.to_string()),
    }
}

/// The handler ingest's MQTT loop calls, logging what became of each message.
pub fn handler(
    db: Db,
    tenant: TenantId,
    source: String,
    pipeline: Arc<PipelineConfig>,
) -> impl FnMut(Message) -> std::pin::Pin<Box<dyn Future<Output = Handled> + Send>> + Send + 'static
{
    move |message| {
        let (db, source, pipeline) = (db.clone(), source.clone(), pipeline.clone());
        Box::pin(async move {
            match handle_message(&db, tenant, &source, &pipeline, &message).await {
                MessageOutcome::Stored(outcome) => {
                    tracing::info!(%source, topic = %message.topic, ?outcome, "MQTT observation stored");
                    Handled::Done
                }
                MessageOutcome::Dropped(why) => {
                    tracing::warn!(%source, topic = %message.topic, %why, "MQTT message dropped");
                    Handled::Done
                }
                MessageOutcome::Retry(why) => Handled::Retry(why),
            }
        })
    }
}

/// Resolves and checks every configured source, so a typo stops the server at start.
pub async fn resolve_sources(
    db: &Db,
    sources: &[MqttSourceConfig],
) -> Result<Vec<(TenantId, MqttSourceConfig)>, TelemetryError> {
    let mut out = Vec::new();
    for s in sources {
        ingest::sources::mqtt::check(s).map_err(|e| TelemetryError::Invalid {
            source_name: s.name.clone(),
            problem: e.to_string(),
        })?;
        let unknown = || TelemetryError::UnknownTenant {
            source_name: s.name.clone(),
            tenant: s.tenant.clone(),
        };
        let slug = TenantSlug::parse(&s.tenant).map_err(|_| unknown())?;
        let tenant = match db.tenant_by_slug(&slug).await {
            Ok(t) => t.id,
            Err(DbError::NotFound) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        out.push((tenant, s.clone()));
    }
    Ok(out)
}
