//! The agent's configuration: defaults, then `agent.toml`, then `PRINTYX_AGENT_*` variables
//! (see `config/agent.toml`, which documents every key).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The Printyx server the agent uploads to (https in production).
    pub server_url: String,
    /// Holds the agent token (mode 0600) and the outbox database.
    pub state_dir: PathBuf,
    pub schedule: Schedule,
    pub snmp: Snmp,
    pub mqtt: Mqtt,
    pub upload: Upload,
    pub outbox: Outbox,
    pub log_format: String,
    pub log_filter: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Cron expression (5 fields, crontab style) for status, supplies and alerts.
    pub status: String,
    /// Cron expression for the billing meters.
    pub meters: String,
    /// Each run starts up to this many seconds late, so sites do not poll in lock-step.
    pub jitter_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Snmp {
    /// Communities tried in order for v1/v2c devices; the one that answers is remembered.
    pub communities: Vec<String>,
    pub timeout_ms: u64,
    pub retries: u32,
    /// Devices polled at once. High on purpose: a dead device holds its slot for a timeout ×
    /// (retries + 1), and a slot waiting costs a few kilobytes.
    pub max_concurrency: usize,
    /// Ranges swept for printers on each meter run (CIDR), besides the listed devices.
    pub discover: Vec<String>,
    /// The UDP port asked on the discovered addresses.
    pub discover_port: u16,
    pub devices: Vec<Device>,
}

/// A device polled by address, with its own credentials when it needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// host or host:port
    pub address: String,
    /// "1", "2c" or "3"
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub community: Option<String>,
    #[serde(default)]
    pub v3: Option<SnmpV3>,
}

fn default_version() -> String {
    "2c".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpV3 {
    pub user: String,
    /// "sha" or "md5"; absent for noAuthNoPriv
    pub auth_protocol: Option<String>,
    pub auth_password: Option<String>,
    /// "aes" or "des"; absent for authNoPriv
    pub priv_protocol: Option<String>,
    pub priv_password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mqtt {
    pub enabled: bool,
    /// mqtt://host:port or mqtts://host:port
    pub broker: String,
    pub topic: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upload {
    pub batch_size: usize,
    pub initial_backoff_seconds: u64,
    pub max_backoff_seconds: u64,
    pub timeout_seconds: u64,
    /// A CA certificate (PEM) trusted for the server besides the system's, for a dealer
    /// whose server has a certificate from a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// Disk the outbox may use. When full, status readings are thinned first; billing meters
    /// are never dropped.
    pub max_megabytes: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            server_url: "https://printyx.example.com".into(),
            state_dir: PathBuf::from("/var/lib/printyx-agent"),
            schedule: Schedule::default(),
            snmp: Snmp::default(),
            mqtt: Mqtt::default(),
            upload: Upload::default(),
            outbox: Outbox::default(),
            log_format: "human".into(),
            log_filter: "info".into(),
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            status: "*/15 * * * *".into(),
            meters: "0 2 * * *".into(),
            jitter_seconds: 300,
        }
    }
}

impl Default for Snmp {
    fn default() -> Self {
        Self {
            communities: vec!["public".into()],
            timeout_ms: 2000,
            retries: 1,
            max_concurrency: 1024,
            discover: vec![],
            discover_port: 161,
            devices: vec![],
        }
    }
}

impl Default for Mqtt {
    fn default() -> Self {
        Self {
            enabled: false,
            broker: "mqtt://127.0.0.1:1883".into(),
            topic: "printyx/+/meters".into(),
            client_id: "printyx-agent".into(),
            username: None,
            password: None,
        }
    }
}

impl Default for Upload {
    fn default() -> Self {
        Self {
            batch_size: 500,
            initial_backoff_seconds: 5,
            max_backoff_seconds: 3600,
            timeout_seconds: 30,
            ca_file: None,
        }
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Self { max_megabytes: 100 }
    }
}

/// What is wrong with a configuration, all of it at once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] ingest::config::ConfigError),
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl AgentConfig {
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let config: Self = ingest::config::load(file, "PRINTYX_AGENT_")?;
        config.validate()?;
        Ok(config)
    }

    /// The same configuration with every password replaced, for printing.
    pub fn redacted(&self) -> Self {
        let hide = |p: &Option<String>| p.as_ref().map(|_| "********".to_owned());
        let mut c = self.clone();
        c.mqtt.password = hide(&c.mqtt.password);
        for d in &mut c.snmp.devices {
            if let Some(v3) = &mut d.v3 {
                v3.auth_password = hide(&v3.auth_password);
                v3.priv_password = hide(&v3.priv_password);
            }
        }
        c
    }

    /// Checks the values the types cannot: URLs, schedules, ranges, credentials.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(self.server_url.starts_with("https://") || self.server_url.starts_with("http://")) {
            problems.push(format!(
                "server_url '{}' must start with https://",
                self.server_url
            ));
        }
        for (key, expr) in [
            ("schedule.status", &self.schedule.status),
            ("schedule.meters", &self.schedule.meters),
        ] {
            if expr.split_whitespace().count() != 5 {
                problems.push(format!(
                    "{key} '{expr}' must have 5 fields (minute hour day month weekday)"
                ));
            }
        }
        if self.snmp.communities.is_empty()
            && self
                .snmp
                .devices
                .iter()
                .any(|d| d.version != "3" && d.community.is_none())
        {
            problems.push("snmp.communities is empty and a v1/v2c device has no community".into());
        }
        if self.snmp.timeout_ms == 0 || self.snmp.max_concurrency == 0 {
            problems.push("snmp.timeout_ms and snmp.max_concurrency must be above 0".into());
        }
        for range in &self.snmp.discover {
            if let Err(e) = parse_cidr(range) {
                problems.push(format!("snmp.discover '{range}': {e}"));
            }
        }
        for d in &self.snmp.devices {
            match (d.version.as_str(), &d.v3) {
                ("1" | "2c", _) => {}
                ("3", Some(v3)) => {
                    let auth = v3.auth_protocol.as_deref();
                    let privacy = v3.priv_protocol.as_deref();
                    if !matches!(auth, None | Some("sha" | "md5"))
                        || !matches!(privacy, None | Some("aes" | "des"))
                    {
                        problems.push(format!(
                            "device {}: auth_protocol is sha|md5, priv_protocol aes|des",
                            d.address
                        ));
                    }
                    if auth.is_some() != v3.auth_password.is_some()
                        || privacy.is_some() != v3.priv_password.is_some()
                    {
                        problems.push(format!(
                            "device {}: each v3 protocol needs its password",
                            d.address
                        ));
                    }
                    if privacy.is_some() && auth.is_none() {
                        problems.push(format!(
                            "device {}: privacy (priv_protocol) needs authentication",
                            d.address
                        ));
                    }
                }
                ("3", None) => problems.push(format!(
                    "device {}: version 3 needs a [v3] section",
                    d.address
                )),
                (v, _) => problems.push(format!(
                    "device {}: version '{v}' is not 1, 2c or 3",
                    d.address
                )),
            }
        }
        if self.mqtt.enabled
            && !(self.mqtt.broker.starts_with("mqtt://")
                || self.mqtt.broker.starts_with("mqtts://"))
        {
            problems.push(format!(
                "mqtt.broker '{}' must start with mqtt:// or mqtts://",
                self.mqtt.broker
            ));
        }
        if self.upload.batch_size == 0
            || self.upload.initial_backoff_seconds > self.upload.max_backoff_seconds
        {
            problems.push("upload.batch_size must be above 0 and initial_backoff_seconds at most max_backoff_seconds".into());
        }
        if !matches!(self.log_format.as_str(), "human" | "json") {
            problems.push(format!(
                "log_format '{}' must be human or json",
                self.log_format
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// `a.b.c.d/len` with len 16–32: wider sweeps are almost always a typo on a customer network.
pub fn parse_cidr(s: &str) -> Result<(std::net::Ipv4Addr, u8), String> {
    let (addr, len) = s.split_once('/').ok_or("expected a.b.c.d/len")?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("'{len}' is not a prefix length"))?;
    if !(16..=32).contains(&len) {
        return Err("prefix length must be 16 to 32".into());
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str) -> Result<AgentConfig, ConfigError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        AgentConfig::load(Some(f.path()))
    }

    #[test]
    fn the_example_config_shows_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/agent.toml");
        let loaded = AgentConfig::load(Some(&example)).unwrap();
        assert_eq!(loaded, AgentConfig::default());
    }

    #[test]
    fn devices_and_v3_credentials_are_checked() {
        let ok = load_text(
            "server_url = \"https://p.example\"\n\
             [[snmp.devices]]\naddress = \"10.0.0.5\"\nversion = \"3\"\n\
             [snmp.devices.v3]\nuser = \"meter\"\nauth_protocol = \"sha\"\nauth_password = \"a\"\npriv_protocol = \"aes\"\npriv_password = \"b\"\n",
        )
        .unwrap();
        assert_eq!(ok.snmp.devices[0].v3.as_ref().unwrap().user, "meter");

        let err = load_text(
            "[[snmp.devices]]\naddress = \"10.0.0.5\"\nversion = \"3\"\n[snmp.devices.v3]\nuser = \"m\"\npriv_protocol = \"aes\"\npriv_password = \"b\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs authentication"), "{err}");
        let err = load_text("[[snmp.devices]]\naddress = \"x\"\nversion = \"4\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not 1, 2c or 3"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = load_text(
            "server_url = \"ftp://x\"\n[schedule]\nstatus = \"* * *\"\n[snmp]\ndiscover = [\"10.0.0.0/8\", \"nonsense\"]\n",
        )
        .unwrap_err()
        .to_string();
        for part in ["server_url", "schedule.status", "10.0.0.0/8", "nonsense"] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = load_text("[snmp]\ncomunities = [\"public\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("comunities"), "{err}");
    }
}
