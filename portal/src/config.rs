//! The server's configuration: one typed struct, loaded from defaults, `printyx.toml` and
//! `PRINTYX_*` variables (see `config/printyx.toml`, which documents every key).

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The public URL of the portal; links in e-mails use it, never the request's Host.
    pub base_url: String,
    /// `sqlite://PATH` (embedded default) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// PostgreSQL only: the schema owner's URL, used to migrate. The server itself then runs as
    /// the unprivileged `database_url` role.
    pub database_admin_url: Option<String>,
    pub database_max_connections: u32,
    /// Development only: let the server run (and migrate) as a superuser / owner role.
    pub allow_privileged_database_role: bool,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `portal=debug,sqlx=warn`.
    pub log_filter: String,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Requests taking longer are answered 408.
    pub request_timeout_seconds: u64,
    /// Largest request body accepted (uploads have their own limits).
    pub max_body_bytes: usize,
    /// Largest agent upload (a batch of up to 1,000 observations with evidence).
    pub max_upload_bytes: usize,
    /// Thresholds of the reading validation pipeline.
    pub pipeline: ingest::pipeline::PipelineConfig,
    /// A device whose agent has not reported for this many hours is announced as silent.
    pub silence_window_hours: u64,
    /// MQTT brokers to take device telemetry from (`[[mqtt]]` tables).
    pub mqtt: Vec<ingest::sources::mqtt::MqttSourceConfig>,
    /// Meter mailboxes read over IMAP (`[[imap]]` tables).
    pub imap: Vec<ingest::sources::imap::ImapSourceConfig>,
    /// Signs the reply tokens of meter requests (32 characters or more). Set, a customer
    /// reply is read only with a valid token and only for the request's account.
    pub reply_token_key: Option<String>,
    /// Threads reading meter photos, each with its own OCR engine (a photo takes ~0.5 s of
    /// one core).
    pub photo_workers: usize,
    /// Where uploaded files (meter photos) are kept, one folder per tenant.
    pub upload_dir: std::path::PathBuf,
    /// A browser session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// A browser session ends this many hours after sign-in, however active.
    pub session_absolute_hours: u64,
    /// Seals the secrets the service keeps (TOTP seeds, stored passwords): 32 random bytes in
    /// base64. Without it, nothing secret can be stored (two-factor sign-in is unavailable).
    pub secret_key: Option<String>,
    /// Keys secrets may still be sealed with, during a rotation (`printyx secrets rotate`).
    pub previous_secret_keys: Vec<String>,
    /// The outgoing mail relay (`[smtp]`); without one, e-mails stay queued.
    pub smtp: Option<crate::mailer::SmtpConfig>,
    /// Stripe as the payment processor (`[stripe]`); without it, the built-in sandbox.
    pub stripe: Option<StripeConfig>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (their own addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Stripe's API: the secret key (`sk_live_…`/`sk_test_…`) and where the API is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeConfig {
    pub secret_key: String,
    #[serde(default = "stripe_api")]
    pub api_base: String,
}

fn stripe_api() -> String {
    "https://api.stripe.com".into()
}

// The key never reaches a log line.
impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://printyx.db".into(),
            database_admin_url: None,
            database_max_connections: 10,
            allow_privileged_database_role: false,
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            shutdown_grace_seconds: 30,
            request_timeout_seconds: 30,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            pipeline: ingest::pipeline::PipelineConfig::default(),
            silence_window_hours: 72,
            mqtt: Vec::new(),
            imap: Vec::new(),
            reply_token_key: None,
            photo_workers: 1,
            upload_dir: "uploads".into(),
            session_idle_minutes: 60,
            session_absolute_hours: 12,
            secret_key: None,
            previous_secret_keys: Vec::new(),
            smtp: None,
            stripe: None,
            trusted_proxies: Vec::new(),
        }
    }
}

// Secrets never reach a log line: the database URL is shown without its password and MQTT
// credentials not at all.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let db = crate::db::DatabaseUrl::parse(&self.database_url)
            .map(|u| u.display())
            .unwrap_or_default();
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &db)
            .field(
                "mqtt_sources",
                &self
                    .mqtt
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("smtp", &self.smtp)
            .field("stripe", &self.stripe.as_ref().map(|s| s.api_base.as_str()))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "(set)"))
            .field(
                "imap_sources",
                &self
                    .imap
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults, then `file`, then `PRINTYX_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ingest::config::ConfigError> {
        ingest::config::load(file, "PRINTYX_")
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reading the repository's own small example file
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_example_config_documents_every_key_with_its_default() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/printyx.toml");
        let loaded = Config::load(Some(&example)).unwrap();
        assert_eq!(
            loaded,
            Config::default(),
            "config/printyx.toml must show the defaults"
        );

        // every key of the struct appears in the example, set or commented out
        let text = std::fs::read_to_string(&example).unwrap();
        let keys = serde_json::to_value(Config::default()).unwrap();
        for key in keys.as_object().unwrap().keys() {
            let documented = text.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.starts_with(&format!("{key} ="))
                    || l.starts_with(&format!("[{key}]"))
                    || l.starts_with(&format!("[[{key}]]"))
            });
            assert!(documented, "config/printyx.toml does not document `{key}`");
        }
    }

    #[test]
    fn a_file_overrides_defaults() {
        let f = file_with("listen = \"0.0.0.0:9000\"\nlog_format = \"json\"\n");
        let c = Config::load(Some(f.path())).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url, Config::default().database_url);
    }

    #[test]
    fn a_misspelt_key_or_bad_value_is_an_error_naming_it() {
        let err = Config::load(Some(file_with("databse_url = \"x\"\n").path())).unwrap_err();
        assert!(err.to_string().contains("databse_url"), "{err}");
        let err = Config::load(Some(file_with("listen = \"nowhere\"\n").path())).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/printyx.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
