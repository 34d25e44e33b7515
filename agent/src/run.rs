//! `printyx-agent run`: the service. Two cron schedules collect into the outbox (status and
//! supplies often, billing meters daily, each run started with a random delay), and one
//! uploader drains the outbox whenever there is something in it, backing off while the
//! server is unreachable.

use crate::collect::collect;
use crate::config::AgentConfig;
use crate::device::Profile;
use crate::outbox::{Outbox, Tier};
use crate::upload::{Enrollment, Uploader, backoff, drain};
use ingest::clock::Clock;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule '{expr}': {why}")]
    Invalid { expr: String, why: String },
}

/// A crontab-style 5-field expression (minute hour day month weekday), in local time.
#[derive(Debug, Clone)]
pub struct Schedule(cron::Schedule);

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        // the cron crate wants seconds first
        cron::Schedule::from_str(&format!("0 {}", expr.trim()))
            .map(Self)
            .map_err(|e| ScheduleError::Invalid {
                expr: expr.to_owned(),
                why: e.to_string(),
            })
    }

    /// Milliseconds from `now_ms` to the next run.
    pub fn until_next(&self, now_ms: i64) -> Option<i64> {
        let now = chrono::DateTime::from_timestamp_millis(now_ms)?.with_timezone(&chrono::Local);
        let next = self.0.after(&now).next()?;
        Some((next.timestamp_millis() - now_ms).max(0))
    }
}

/// What the service needs, built once by `main`.
pub struct Service {
    pub config: AgentConfig,
    pub enrollment: Enrollment,
    pub outbox: Arc<Mutex<Outbox>>,
    pub profiles: Arc<Vec<Profile>>,
    pub clock: Arc<dyn Clock>,
    /// Collect billing meters once at start, before the schedule (first run after install).
    pub poll_now: bool,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("enrollment", &self.enrollment)
            .field("poll_now", &self.poll_now)
            .finish_non_exhaustive()
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    service: Service,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let Service {
        config,
        enrollment,
        outbox,
        profiles,
        clock,
        poll_now,
    } = service;
    let config = Arc::new(config);
    let wake = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();

    for (tier, expr) in [
        (Tier::Status, config.schedule.status.clone()),
        (Tier::Meters, config.schedule.meters.clone()),
    ] {
        let schedule = Schedule::parse(&expr)?;
        let (config, outbox, profiles, clock, wake) = (
            config.clone(),
            outbox.clone(),
            profiles.clone(),
            clock.clone(),
            wake.clone(),
        );
        let first_now = poll_now && tier == Tier::Meters;
        tasks.spawn(async move {
            let mut immediate = first_now;
            loop {
                if !immediate {
                    let Some(wait) = schedule.until_next(clock.now_ms()) else {
                        tracing::error!(%expr, "schedule has no next run");
                        return;
                    };
                    let jitter = rand::random_range(0..=config.schedule.jitter_seconds * 1000);
                    tokio::time::sleep(Duration::from_millis(
                        u64::try_from(wait).unwrap_or(0) + jitter,
                    ))
                    .await;
                }
                immediate = false;
                match collect(&config, tier, &outbox, &profiles, clock.as_ref()).await {
                    Ok(c) => {
                        tracing::info!(?tier, polled = c.polled, failed = c.failed, "collected")
                    }
                    Err(e) => tracing::error!(?tier, error = %e, "collection failed"),
                }
                wake.notify_one();
            }
        });
    }

    {
        let (config, outbox, clock, wake) =
            (config.clone(), outbox.clone(), clock.clone(), wake.clone());
        let uploader = Uploader::new(
            &enrollment,
            Duration::from_secs(config.upload.timeout_seconds.max(1)),
            config.upload.ca_file.as_deref(),
        )?;
        tasks.spawn(async move {
            let initial = Duration::from_secs(config.upload.initial_backoff_seconds);
            let max = Duration::from_secs(config.upload.max_backoff_seconds);
            loop {
                match drain(&outbox, &uploader, config.upload.batch_size, clock.as_ref()).await {
                    Ok(d) if d.stopped.is_none() => {
                        // idle until a collection wakes us (or a minute, for anything missed)
                        let _ =
                            tokio::time::timeout(Duration::from_secs(60), wake.notified()).await;
                    }
                    Ok(d) => {
                        let wait = if d.unauthorized {
                            tracing::error!(
                                "the server refuses this agent's token: enroll it again"
                            );
                            max
                        } else {
                            backoff(d.attempts, initial, max)
                        };
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "outbox failed");
                        tokio::time::sleep(backoff(8, initial, max)).await;
                    }
                }
            }
        });
    }

    if config.mqtt.enabled {
        let (config, outbox, clock, wake) =
            (config.clone(), outbox.clone(), clock.clone(), wake.clone());
        tasks.spawn(async move {
            let forever = std::future::pending::<()>();
            if let Err(e) = crate::mqtt::subscribe(&config, outbox, clock, wake, forever).await {
                tracing::error!(error = %e, "MQTT subscription failed");
            }
        });
    }

    tokio::select! {
        () = shutdown => tracing::info!("stopping"),
        Some(done) = tasks.join_next() => {
            tasks.abort_all();
            match done {
                Err(e) => anyhow::bail!("a task of the agent failed: {e}"),
                Ok(()) => anyhow::bail!("a task of the agent stopped; see the log above"),
            }
        }
    }
    tasks.abort_all();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn crontab_expressions_have_five_fields_and_say_when_the_next_run_is() {
        let every_15 = Schedule::parse("*/15 * * * *").unwrap();
        // 2026-01-01 00:07:30 UTC: the next quarter hour is 7.5 minutes away in any zone
        // whose offset is whole quarter hours
        let t = 1_767_225_600_000 + 7 * MINUTE + 30_000;
        assert_eq!(every_15.until_next(t), Some(7 * MINUTE + 30_000));
        assert_eq!(
            every_15.until_next(t - 30_000 - 7 * MINUTE),
            Some(15 * MINUTE)
        );
        for bad in ["* * *", "61 * * * *", "every day"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
