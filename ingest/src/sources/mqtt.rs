//! Device telemetry from the dealer's MQTT broker.
//!
//! Several ingest processes subscribe with one MQTT v5 shared subscription
//! (`$share/{group}/{topic}`), so the broker hands each message to one of them. Messages are
//! QoS 1 and acknowledged only after the handler has stored them: a process that dies first
//! leaves the message unacknowledged and the broker delivers it again; the readings'
//! idempotency keys make that second delivery a duplicate. A handler error that is transient
//! (database unreachable) is retried with backoff before anything is acknowledged.
//!
//! The payload is one [`Observation`](crate::wire::Observation) as JSON.

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

/// One subscription, in `printyx.toml` as a `[[mqtt]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Names the source in readings' idempotency keys and evidence; keep it stable.
    pub name: String,
    /// The tenant (slug) whose devices publish here.
    pub tenant: String,
    /// `mqtt://host:port` (or `mqtts://` for TLS).
    pub broker: String,
    /// Topic filter, e.g. `printyx/+/meters`.
    pub topic: String,
    /// Shared-subscription group: processes in one group split the messages.
    #[serde(default = "default_group")]
    pub group: String,
    /// Unique per process; default `printyx-{pid}-{random}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Keep the session (subscription and unacknowledged messages) this long while the
    /// process is away; with a stable `client_id`, messages published meanwhile are delivered
    /// when it is back. Absent: a clean session on every connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expiry_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

fn default_group() -> String {
    "printyx-ingest".into()
}

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("MQTT broker URL '{0}': use mqtt://host:port or mqtts://host:port")]
    BadBroker(String),
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// What the handler made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Stored, or refused for good (malformed, not ours): acknowledge it.
    Done,
    /// Could not be stored now (database down): try again, do not acknowledge.
    Retry(String),
}

struct Broker {
    host: String,
    port: u16,
    tls: bool,
}

fn parse_broker(url: &str) -> Result<Broker, MqttError> {
    let bad = || MqttError::BadBroker(url.to_owned());
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Broker {
        host: host.to_owned(),
        port,
        tls,
    })
}

/// Checks a source's settings without connecting.
pub fn check(config: &MqttSourceConfig) -> Result<(), MqttError> {
    parse_broker(&config.broker).map(|_| ())
}

/// Subscribes and hands every message to `handle` until `shutdown` completes. Connection
/// failures are retried with capped backoff; the subscription is renewed on every reconnect.
pub async fn run<H, F>(
    config: MqttSourceConfig,
    mut handle: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MqttError>
where
    H: FnMut(Message) -> F + Send + 'static,
    F: Future<Output = Handled> + Send,
{
    let broker = parse_broker(&config.broker)?;
    let client_id = config
        .client_id
        .clone()
        .unwrap_or_else(|| format!("printyx-{}-{:08x}", std::process::id(), rand_suffix()));
    let mut options = MqttOptions::new(client_id.clone(), broker.host.clone(), broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_manual_acks(true);
    match config.session_expiry_seconds {
        Some(seconds) => {
            options.set_clean_start(false);
            options.set_session_expiry_interval(Some(seconds));
        }
        None => {
            options.set_clean_start(true);
        }
    }
    if let Some(user) = &config.username {
        options.set_credentials(user.clone(), config.password.clone().unwrap_or_default());
    }
    if broker.tls {
        options.set_transport(rumqttc::Transport::tls_with_default_config());
    }
    let filter = format!("$share/{}/{}", config.group, config.topic);
    let (client, mut events) = AsyncClient::new(options, 64);

    // Messages are handled one at a time, away from the event loop, which must keep polling
    // to answer the broker's keep-alives.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Publish>(64);
    let acker = client.clone();
    let name = config.name.clone();
    let worker = tokio::spawn(async move {
        while let Some(publish) = rx.recv().await {
            let message = Message {
                topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                payload: publish.payload.to_vec(),
            };
            let mut backoff = Duration::from_millis(200);
            loop {
                match handle(message.clone()).await {
                    Handled::Done => break,
                    Handled::Retry(why) => {
                        tracing::warn!(source = %name, %why, ?backoff, "message not stored yet; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            if let Err(e) = acker.ack(&publish).await {
                tracing::warn!(source = %name, error = %e, "could not acknowledge; the broker will resend");
            }
        }
    });

    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(200);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(200);
                    tracing::info!(source = %config.name, %client_id, %filter, "MQTT connected");
                    if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                        tracing::warn!(source = %config.name, error = %e, "subscribe failed");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    tracing::info!(source = %config.name, %client_id, %filter, "MQTT subscribed");
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(source = %config.name, error = %e, ?backoff, "MQTT connection lost; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
    drop(tx);
    let _ = client.try_disconnect();
    worker.abort();
    Ok(())
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let b = parse_broker("mqtt://broker.local:1884").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.tls),
            ("broker.local", 1884, false)
        );
        let b = parse_broker("mqtts://broker.local").unwrap();
        assert_eq!((b.port, b.tls), (8883, true));
        for bad in ["tcp://x:1", "mqtt://", "mqtt://x:notaport", "broker:1883"] {
            assert!(parse_broker(bad).is_err(), "{bad}");
        }
    }
}
