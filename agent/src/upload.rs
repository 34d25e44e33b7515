//! Enrollment and uploads: the agent's two conversations with the Printyx server.
//!
//! The token from enrollment lives in `STATE_DIR/enrollment.json`, mode 0600, written to a
//! temporary file and renamed so that a crash never leaves half a token. Uploads send the
//! outbox's batches as they were cut; what the server's status code means for the batch is
//! decided here, in [`Uploader::send`].

use crate::outbox::{Outbox, OutboxError, PendingBatch};
use ingest::clock::Clock;
use ingest::wire::{BatchResponse, EnrollRequest, EnrollResponse};
use serde::{Deserialize, Serialize};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Longest answer read from the server; a batch answer is a few hundred bytes per reading.
const MAX_ANSWER_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot reach {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("the server refused: {0}")]
    Refused(String),
    #[error(
        "not enrolled: {path} is missing (run `printyx-agent enroll --server URL --code CODE`)"
    )]
    NotEnrolled { path: PathBuf },
    #[error("{path}: {why}")]
    State { path: PathBuf, why: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// What the agent keeps from enrollment.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub server_url: String,
    pub agent_id: i64,
    pub token: String,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment")
            .field("server_url", &self.server_url)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

pub fn enrollment_path(state_dir: &Path) -> PathBuf {
    state_dir.join("enrollment.json")
}

/// The HTTPS client: the system's CAs, plus `ca_file` when the dealer's server uses a private
/// CA. Certificates are always verified.
fn http_client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, UploadError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("printyx-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let fail = |why: String| UploadError::State {
            path: path.to_path_buf(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut pem = Vec::new();
        #[allow(clippy::disallowed_methods)] // bounded by take()
        file.take(1 << 20)
            .read_to_end(&mut pem)
            .map_err(|e| fail(e.to_string()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| fail(format!("not a PEM certificate: {e}")))?;
        builder = builder.tls_certs_merge([cert]);
    }
    builder.build().map_err(|e| UploadError::Unreachable {
        url: String::new(),
        why: format!("cannot set up HTTPS: {e}"),
    })
}

/// Trades a one-time code for a token.
pub async fn enroll(
    server_url: &str,
    code: &str,
    hostname: &str,
    ca_file: Option<&Path>,
) -> Result<Enrollment, UploadError> {
    let server_url = server_url.trim_end_matches('/').to_owned();
    let url = format!("{server_url}/api/v1/agent/enroll");
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        hostname: hostname.to_owned(),
        agent_version: AGENT_VERSION.to_owned(),
    };
    let response = http_client(Duration::from_secs(30), ca_file)?
        .post(&url)
        .json(&request)
        .send()
        .await
        .map_err(|e| UploadError::Unreachable {
            url: url.clone(),
            why: chain(&e),
        })?;
    let status = response.status();
    let body = read_answer(response, &url).await?;
    if !status.is_success() {
        return Err(UploadError::Refused(format!(
            "{status}: {}",
            problem_detail(&body)
        )));
    }
    let answer: EnrollResponse = serde_json::from_slice(&body)
        .map_err(|e| UploadError::Refused(format!("unreadable answer: {e}")))?;
    Ok(Enrollment {
        server_url,
        agent_id: answer.agent_id,
        token: answer.token,
    })
}

/// Writes the enrollment readable by the agent's user only.
pub fn save_enrollment(state_dir: &Path, enrollment: &Enrollment) -> Result<PathBuf, UploadError> {
    let path = enrollment_path(state_dir);
    let fail = |why: String| UploadError::State {
        path: path.clone(),
        why,
    };
    std::fs::create_dir_all(state_dir).map_err(|e| fail(e.to_string()))?;
    let tmp = state_dir.join(".enrollment.json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| fail(e.to_string()))?;
    let json = serde_json::to_vec_pretty(enrollment).map_err(|e| fail(e.to_string()))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
    Ok(path)
}

pub fn load_enrollment(state_dir: &Path) -> Result<Enrollment, UploadError> {
    let path = enrollment_path(state_dir);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UploadError::NotEnrolled { path });
        }
        Err(e) => {
            return Err(UploadError::State {
                path,
                why: e.to_string(),
            });
        }
    };
    let mut text = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    file.take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| UploadError::State {
            path: path.clone(),
            why: e.to_string(),
        })?;
    serde_json::from_str(&text).map_err(|e| UploadError::State {
        path,
        why: format!("unreadable ({e}); enroll again"),
    })
}

async fn read_answer(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, UploadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| UploadError::Unreachable {
            url: url.to_owned(),
            why: e.to_string(),
        })?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(UploadError::Refused(format!(
                "answer larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error with its causes: reqwest's own message hides the TLS or connection reason.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The `detail` of a problem+json answer, else the text.
fn problem_detail(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("title"))
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect())
}

/// What became of one attempt to send a batch.
#[derive(Debug)]
pub enum Sent {
    Answered(BatchResponse),
    /// Try again later: the server is down, busy or failing.
    Retry(String),
    /// The server will never take these bytes (malformed, conflicting): set them aside.
    Refused(String),
    /// The token is wrong or revoked: nothing can be uploaded until the agent is enrolled again.
    Unauthorized(String),
}

#[derive(Debug, Clone)]
pub struct Uploader {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Uploader {
    pub fn new(
        enrollment: &Enrollment,
        timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Self, UploadError> {
        Ok(Self {
            http: http_client(timeout, ca_file)?,
            url: format!("{}/api/v1/agent/readings", enrollment.server_url),
            token: enrollment.token.clone(),
        })
    }

    pub async fn send(&self, batch: &PendingBatch) -> Sent {
        let response = match self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(batch.body.clone())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Sent::Retry(format!("cannot reach {}: {}", self.url, chain(&e))),
        };
        let status = response.status();
        let body = match read_answer(response, &self.url).await {
            Ok(b) => b,
            Err(e) => return Sent::Retry(e.to_string()),
        };
        let why = || format!("{status}: {}", problem_detail(&body));
        match status.as_u16() {
            200..=299 => match serde_json::from_slice::<BatchResponse>(&body) {
                Ok(answer) if answer.batch_id == batch.batch_id => Sent::Answered(answer),
                Ok(answer) => Sent::Retry(format!(
                    "answer for batch {} instead of {}",
                    answer.batch_id, batch.batch_id
                )),
                Err(e) => Sent::Retry(format!("unreadable answer: {e}")),
            },
            401 | 403 => Sent::Unauthorized(why()),
            // timeouts, rate limits, and every server-side failure pass
            408 | 425 | 429 | 500..=599 => Sent::Retry(why()),
            _ => Sent::Refused(why()),
        }
    }
}

/// Capped exponential backoff with jitter: a random wait between half and all of
/// `initial · 2^attempts` (at most `max`), so that agents cut off together do not come back
/// together, and none retries much sooner than its schedule.
pub fn backoff(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let ceiling = initial
        .saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX))
        .min(max);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(ms / 2..=ms.max(1)))
}

/// How far one [`drain`] got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drained {
    pub batches: usize,
    pub observations: usize,
    /// Why it stopped before the outbox was empty.
    pub stopped: Option<String>,
    pub unauthorized: bool,
    /// Attempts the blocking batch has had (for the backoff).
    pub attempts: u32,
}

/// Sends batches until the outbox is empty or an attempt fails.
pub async fn drain(
    outbox: &std::sync::Mutex<Outbox>,
    uploader: &Uploader,
    batch_size: usize,
    clock: &dyn Clock,
) -> Result<Drained, UploadError> {
    let lock = || {
        outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut drained = Drained::default();
    loop {
        let Some(batch) = lock().next_batch(batch_size, AGENT_VERSION, clock.now_ms())? else {
            return Ok(drained);
        };
        let (why, unauthorized) = match uploader.send(&batch).await {
            Sent::Answered(answer) => {
                lock().acknowledge(&batch.batch_id, &answer, clock.now_ms())?;
                drained.batches += 1;
                drained.observations += batch.observations;
                tracing::info!(batch = %batch.batch_id, observations = batch.observations, "uploaded");
                continue;
            }
            Sent::Refused(why) => {
                tracing::error!(batch = %batch.batch_id, %why, "batch refused for good; set aside");
                lock().dead_letter(&batch.batch_id, &why, clock.now_ms())?;
                continue;
            }
            Sent::Retry(why) => (why, false),
            Sent::Unauthorized(why) => (why, true),
        };
        lock().attempt_failed(&batch.batch_id, &why, clock.now_ms())?;
        tracing::warn!(batch = %batch.batch_id, %why, "upload failed; will retry");
        drained.attempts = batch.attempts + 1;
        drained.unauthorized = unauthorized;
        drained.stopped = Some(why);
        return Ok(drained);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let (initial, max) = (Duration::from_secs(5), Duration::from_secs(60));
        for _ in 0..200 {
            let first = backoff(0, initial, max);
            assert!(
                first >= Duration::from_millis(2500) && first <= initial,
                "{first:?}"
            );
            let third = backoff(2, initial, max);
            assert!(third >= Duration::from_secs(10) && third <= Duration::from_secs(20));
            let late = backoff(30, initial, max);
            assert!(late >= Duration::from_secs(30) && late <= max, "{late:?}");
        }
        let spread: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| backoff(3, initial, max)).collect();
        assert!(spread.len() > 10, "no jitter: {spread:?}");
    }
}
