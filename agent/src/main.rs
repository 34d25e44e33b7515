//! The `printyx-agent` command.

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use agent::config::AgentConfig;
use agent::outbox::{Outbox, Tier};
use agent::snmp::{self, AuthProtocol, Credentials, Limits, PrivProtocol, Target, V3};
use agent::upload;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use ingest::clock::SystemClock;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
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
    /// Sweep IPv4 ranges (CIDR) for printers and list them.
    Discover(DiscoverArgs),
    /// Trade a one-time enrollment code for this agent's token (kept with mode 0600).
    Enroll {
        /// The Printyx server; defaults to server_url from the configuration.
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        code: String,
    },
    /// Run the agent: scheduled collection and uploads, until stopped.
    Run {
        /// Collect billing meters once right away, then follow the schedule.
        #[arg(long)]
        poll_now: bool,
    },
    /// Poll every configured device once into the outbox (`status` or `meters`).
    Collect {
        #[arg(long, default_value = "meters")]
        tier: String,
    },
    /// Send everything in the outbox now.
    Upload,
    /// Show the outbox, the last upload and the last poll of each device.
    Status {
        #[arg(long)]
        json: bool,
    },
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

#[derive(Debug, Args)]
struct DiscoverArgs {
    /// Ranges, e.g. 192.168.10.0/24 (prefix 16 to 32)
    #[arg(required = true)]
    ranges: Vec<String>,
    /// Communities tried in order.
    #[arg(long, short = 'c', default_value = "public")]
    community: Vec<String>,
    #[arg(long, default_value_t = snmp::DEFAULT_PORT)]
    port: u16,
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// Addresses asked at the same time.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// One JSON array of the printers found.
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

/// Every SNMP session owns two 64 KiB buffers (`snmp2`) of which a request touches a page or
/// two. glibc serves 64 KiB from its heap and zeroes recycled chunks, making all of it
/// resident: a thousand sessions waiting on dead devices would hold 130 MB. Served by mmap
/// instead, untouched pages stay unallocated (see BENCHMARKS.md, agent fleet).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn small_resident_buffers() {
    // SAFETY: mallopt only changes allocator parameters; called first thing in main, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn small_resident_buffers() {}

fn main() -> ExitCode {
    small_resident_buffers();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig => check_config(cli.config),
        Command::Poll(args) => poll(&args),
        Command::Discover(args) => discover(&args),
        Command::Enroll { server, code } => enroll(cli.config, server, &code),
        Command::Run { poll_now } => run(cli.config, poll_now),
        Command::Collect { tier } => collect(cli.config, &tier),
        Command::Upload => upload(cli.config),
        Command::Status { json } => status(cli.config, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn init_logging(config: &AgentConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

fn open_outbox(config: &AgentConfig) -> anyhow::Result<Outbox> {
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("state_dir {}", config.state_dir.display()))?;
    Ok(Outbox::open(
        &config.state_dir.join("outbox.sqlite3"),
        config.outbox.max_megabytes.saturating_mul(1 << 20),
    )?)
}

fn hostname() -> String {
    std::process::Command::new("hostname")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn discover(args: &DiscoverArgs) -> anyhow::Result<()> {
    use agent::discover::{self, Probe};
    use std::io::IsTerminal as _;
    let addresses = discover::hosts(&args.ranges).map_err(anyhow::Error::msg)?;
    let profiles = agent::device::profiles().map_err(anyhow::Error::msg)?;
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        retries: args.retries,
        ..Limits::default()
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(addresses.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} addresses, {msg} ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let step = (addresses.len() / 10).max(1);
    let probes = runtime()?.block_on(discover::sweep(
        &addresses,
        args.port,
        &args.community,
        limits,
        args.concurrency,
        &profiles,
        |done, total| match &bar {
            Some(bar) => bar.set_position(done as u64),
            None if done % step == 0 || done == total => {
                eprintln!("swept {done}/{total} addresses");
            }
            None => {}
        },
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let printers: Vec<&discover::Found> = probes
        .iter()
        .filter_map(|p| match p {
            Probe::Printer(f) => Some(f),
            _ => None,
        })
        .collect();
    let others = probes
        .iter()
        .filter(|p| matches!(p, Probe::NotPrinter { .. }))
        .count();
    if args.json {
        println!("{}", serde_json::to_string(&printers)?);
        return Ok(());
    }
    for f in &printers {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        println!(
            "{:<22} {:<16} {:<28} serial {}",
            f.address,
            or(&f.identity.vendor),
            or(&f.identity.model),
            or(&f.identity.serial)
        );
    }
    println!(
        "{} printers; {} other SNMP hosts (computers, print servers) left out",
        printers.len(),
        others
    );
    Ok(())
}

fn enroll(file: Option<PathBuf>, server: Option<String>, code: &str) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    let server = server.unwrap_or_else(|| config.server_url.clone());
    let enrollment = runtime()?.block_on(upload::enroll(
        &server,
        code,
        &hostname(),
        config.upload.ca_file.as_deref(),
    ))?;
    let path = upload::save_enrollment(&config.state_dir, &enrollment)?;
    println!(
        "enrolled as agent {} with {}; token saved to {}",
        enrollment.agent_id,
        enrollment.server_url,
        path.display()
    );
    Ok(())
}

fn run(file: Option<PathBuf>, poll_now: bool) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    init_logging(&config)?;
    let enrollment = upload::load_enrollment(&config.state_dir)?;
    let service = agent::run::Service {
        outbox: Arc::new(Mutex::new(open_outbox(&config)?)),
        profiles: Arc::new(agent::device::profiles().map_err(anyhow::Error::msg)?),
        clock: Arc::new(SystemClock),
        config,
        enrollment,
        poll_now,
    };
    runtime()?.block_on(async {
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        agent::run::run(service, shutdown).await
    })
}

fn collect(file: Option<PathBuf>, tier: &str) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    let tier = match tier {
        "meters" => Tier::Meters,
        "status" => Tier::Status,
        other => bail!("--tier {other}: use meters or status"),
    };
    let outbox = Mutex::new(open_outbox(&config)?);
    let profiles = agent::device::profiles().map_err(anyhow::Error::msg)?;
    let collected = runtime()?.block_on(agent::collect::collect(
        &config,
        tier,
        &outbox,
        &profiles,
        &SystemClock,
    ))?;
    println!(
        "{} devices polled, {} failed",
        collected.polled, collected.failed
    );
    Ok(())
}

fn upload(file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    let enrollment = upload::load_enrollment(&config.state_dir)?;
    let outbox = Mutex::new(open_outbox(&config)?);
    let uploader = upload::Uploader::new(
        &enrollment,
        Duration::from_secs(config.upload.timeout_seconds.max(1)),
        config.upload.ca_file.as_deref(),
    )?;
    let drained = runtime()?.block_on(upload::drain(
        &outbox,
        &uploader,
        config.upload.batch_size,
        &SystemClock,
    ))?;
    println!(
        "{} observations uploaded in {} batches",
        drained.observations, drained.batches
    );
    match drained.stopped {
        Some(why) if drained.unauthorized => {
            bail!("the server refuses this agent's token ({why}): enroll it again")
        }
        Some(why) => bail!("upload stopped: {why}"),
        None => Ok(()),
    }
}

fn status(file: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let config = AgentConfig::load(file.as_deref())?;
    let outbox = open_outbox(&config)?;
    let stats = outbox.stats()?;
    let devices = outbox.devices()?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "outbox": stats, "devices": devices })
        );
        return Ok(());
    }
    let enrolled = upload::load_enrollment(&config.state_dir)
        .map(|e| format!("agent {} at {}", e.agent_id, e.server_url))
        .unwrap_or_else(|e| e.to_string());
    println!("enrollment: {enrolled}");
    println!(
        "outbox: {} meter and {} status observations waiting ({} bytes){}",
        stats.pending_meters,
        stats.pending_status,
        stats.pending_bytes,
        stats
            .open_batch
            .map(|b| format!(", batch {b} in flight"))
            .unwrap_or_default()
    );
    println!(
        "last upload: {}",
        match (stats.last_upload_at, stats.last_upload_result) {
            (Some(at), Some(result)) => format!("{} ({result})", time(at)),
            _ => "never".into(),
        }
    );
    if stats.dead_letters > 0 || stats.thinned > 0 {
        println!(
            "set aside: {} refused batches, {} status observations thinned",
            stats.dead_letters, stats.thinned
        );
    }
    for d in devices {
        println!(
            "{:<24} {:<16} last poll {}{}",
            d.target,
            d.serial.unwrap_or_else(|| "-".into()),
            time(d.last_poll_at),
            d.last_error.map(|e| format!(" — {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| ms.to_string())
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
