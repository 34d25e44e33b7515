//! The `printyx-agent` command.

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use agent::config::AgentConfig;
use agent::snmp::{self, AuthProtocol, Credentials, Limits, PrivProtocol, Target, V3};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "printyx-agent", version, about = "Printyx meter collector")]
struct Cli {
    /// Configuration file; PRINTYX_AGENT_* variables override it.
    #[arg(long, global = true, env = "PRINTYX_AGENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration and print it as the agent will use it.
    CheckConfig,
    /// Poll one device once and print what it reports.
    Poll(Box<PollArgs>),
}

#[derive(Debug, Args)]
struct PollArgs {
    /// host, host:port or [v6]:port
    #[arg(long)]
    target: String,
    /// SNMP version: 1, 2c or 3
    #[arg(long = "snmp-version", default_value = "2c")]
    snmp_version: String,
    /// Community (v1/v2c); repeat to try several in order.
    #[arg(long, short = 'c', default_value = "public")]
    community: Vec<String>,
    /// SNMPv3 user
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// SNMPv3 authentication protocol: sha or md5
    #[arg(long)]
    auth_protocol: Option<String>,
    #[arg(long, env = "PRINTYX_SNMP_AUTH_PASSWORD", hide_env_values = true)]
    auth_password: Option<String>,
    /// SNMPv3 privacy protocol: aes or des
    #[arg(long)]
    priv_protocol: Option<String>,
    #[arg(long, env = "PRINTYX_SNMP_PRIV_PASSWORD", hide_env_values = true)]
    priv_password: Option<String>,
    /// Per request.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

impl PollArgs {
    /// v3 flags make a v3 poll even without `--snmp-version 3`; never the other way round.
    fn credentials(&self) -> anyhow::Result<Credentials> {
        let v3_asked = self.user.is_some() || self.auth_protocol.is_some();
        match (self.snmp_version.as_str(), v3_asked) {
            ("3", _) | (_, true) => {
                let user = self.user.clone().context("SNMPv3 needs --user")?;
                let auth = match (&self.auth_protocol, &self.auth_password) {
                    (Some(p), Some(pw)) => Some((AuthProtocol::parse(p)?, pw.clone())),
                    (None, None) => None,
                    _ => bail!("--auth-protocol and --auth-password go together"),
                };
                let privacy = match (&self.priv_protocol, &self.priv_password) {
                    (Some(p), Some(pw)) => Some((PrivProtocol::parse(p)?, pw.clone())),
                    (None, None) => None,
                    _ => bail!("--priv-protocol and --priv-password go together"),
                };
                if privacy.is_some() && auth.is_none() {
                    bail!("SNMPv3 privacy needs authentication (--auth-protocol)");
                }
                Ok(Credentials::V3(V3 {
                    user,
                    auth,
                    privacy,
                }))
            }
            ("1", false) => Ok(Credentials::V1 {
                community: self.community.first().cloned().unwrap_or_default(),
            }),
            ("2c" | "2", false) => Ok(Credentials::V2c {
                communities: self.community.clone(),
            }),
            (other, _) => bail!("--snmp-version {other}: use 1, 2c or 3"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig => check_config(cli.config),
        Command::Poll(args) => poll(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    println!("{}", serde_json::to_string_pretty(&config.redacted())?);
    Ok(())
}

fn poll(args: &PollArgs) -> anyhow::Result<()> {
    let target = Target::parse(&args.target)?;
    let credentials = args.credentials()?;
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        retries: args.retries,
        ..Limits::default()
    };
    let profiles = agent::device::profiles().map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let polled = runtime.block_on(snmp::poll(&target, &credentials, limits, &profiles))?;
    if args.json {
        println!("{}", serde_json::to_string(&polled.report)?);
    } else {
        print!("{}", polled.report.summary());
    }
    Ok(())
}
