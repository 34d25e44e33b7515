//! Devices that publish their own counters (IoT meters, newer MFPs): the agent subscribes to
//! the site's broker and puts each message into the same outbox as its SNMP readings.
//!
//! The payload is one [`Observation`] as JSON (see `ingest::wire`). A message is acknowledged
//! only after it is committed to the outbox, so a crash before that gets it delivered again.
//! Its id is made unique per agent from the topic and the publisher's id: a redelivered
//! message is the same observation, two devices that both count their ids from 1 are not.

use crate::config::AgentConfig;
use crate::outbox::{Outbox, Tier};
use ingest::clock::Clock;
use ingest::sources::mqtt::{Handled, Message, MqttSourceConfig};
use ingest::wire::{Observation, ObservationSource};
use sha2::{Digest as _, Sha256};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How long the broker keeps the agent's session while it is away (a restart, an update, a
/// week of a switched-off PC): counters published meanwhile are delivered when it is back.
pub const SESSION_EXPIRY_SECONDS: u32 = 7 * 86_400;

/// Largest payload taken; an observation is a few kilobytes.
pub const MAX_PAYLOAD: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("payload of {0} bytes is larger than {MAX_PAYLOAD}")]
    TooLarge(usize),
    #[error("not an observation: {0}")]
    Malformed(String),
}

/// The observation a message carries, as it goes into the outbox.
pub fn observation(message: &Message) -> Result<(Tier, Observation), MessageError> {
    if message.payload.len() > MAX_PAYLOAD {
        return Err(MessageError::TooLarge(message.payload.len()));
    }
    let mut o: Observation = serde_json::from_slice(&message.payload)
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    o.validate()
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    let digest = Sha256::digest(format!("{}\0{}", message.topic, o.id).as_bytes());
    o.id = format!(
        "mqtt-{}",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    o.source = ObservationSource::Mqtt;
    let tier = if o.meters.is_empty() {
        Tier::Status
    } else {
        Tier::Meters
    };
    Ok((tier, o))
}

pub fn source_config(config: &AgentConfig) -> MqttSourceConfig {
    MqttSourceConfig {
        name: "agent".into(),
        tenant: String::new(),
        broker: config.mqtt.broker.clone(),
        topic: config.mqtt.topic.clone(),
        group: "printyx-agent".into(),
        client_id: Some(config.mqtt.client_id.clone()),
        session_expiry_seconds: Some(SESSION_EXPIRY_SECONDS),
        username: config.mqtt.username.clone(),
        password: config.mqtt.password.clone(),
    }
}

/// Subscribes until `shutdown`; each message committed to the outbox wakes the uploader.
pub async fn subscribe(
    config: &AgentConfig,
    outbox: Arc<Mutex<Outbox>>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ingest::sources::mqtt::MqttError> {
    let handle = move |message: Message| {
        let outbox = outbox.clone();
        let clock = clock.clone();
        let wake = wake.clone();
        async move {
            let (tier, observation) = match observation(&message) {
                Ok(o) => o,
                Err(e) => {
                    // acknowledged: sending it again would not make it readable
                    tracing::warn!(topic = %message.topic, error = %e, "MQTT message dropped");
                    return Handled::Done;
                }
            };
            let pushed = outbox
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(tier, &message.topic, &observation, clock.now_ms());
            match pushed {
                Ok(()) => {
                    wake.notify_one();
                    Handled::Done
                }
                Err(e) => Handled::Retry(e.to_string()),
            }
        }
    };
    ingest::sources::mqtt::run(source_config(config), handle, shutdown).await
}
