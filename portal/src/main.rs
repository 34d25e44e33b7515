//! `printyx`: the server and its administration commands.
//!
//! Every failure ends with one line `error: …` on stderr and a non-zero exit code.

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ingest::domain::EmailAddress;
use portal::auth::password::hash_password;
use portal::clock::{Clock, SystemClock};
use portal::config::{Config, LogFormat};
use portal::ids::AccountId;
use portal::tenants::{TenantSlug, parse_name};
use portal::users::{NewUser, UserKind};
use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "printyx",
    version,
    about = "Printyx: meters, billing and the customer portal for copier dealers"
)]
struct Cli {
    /// Configuration file (default: ./printyx.toml if it exists). PRINTYX_* variables override it.
    #[arg(long, global = true, env = "PRINTYX_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (creates and migrates a SQLite database on first start).
    Serve {
        /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Log one JSON object per line.
        #[arg(long)]
        log_json: bool,
    },
    /// The whole flow on this machine: a demo dealer with a year of history in a data folder
    /// (SQLite, created on first start), simulated copiers answering SNMP on loopback and an
    /// agent polling them, so new readings arrive while you watch.
    Demo {
        /// Where the database, uploads and the agent's state are kept.
        #[arg(long, default_value = "printyx-demo")]
        data: PathBuf,
        /// Listen address (default 127.0.0.1:8080; port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// UDP port the simulated copiers answer on, each at its own 127.77.x.y address.
        #[arg(long, default_value_t = 16161)]
        fleet_port: u16,
    },
    /// Fill the configured database with a platform at scale for benchmarks: dealers like the
    /// demo dealer (slugs scale-000, scale-001, …), their devices, a year of readings, requests,
    /// orders and invoices. Everyone's password is "generated-password".
    Generate {
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        #[arg(long, default_value_t = 50_000)]
        devices: usize,
        #[arg(long, default_value_t = 10_000_000)]
        readings: usize,
    },
    /// Apply pending database migrations (on PostgreSQL with database_admin_url if set).
    Migrate,
    /// Manage tenants (dealers).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage collection agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Meter ingestion tools.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Secrets the server keeps sealed (AES-256-GCM under secret_key) in its database.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Store a tenant's secret (e.g. an IMAP password for `password_secret`), read from the
    /// first line of standard input.
    Set {
        #[arg(long)]
        tenant: String,
        /// e.g. imap.acme-meters
        #[arg(long)]
        name: String,
    },
    /// Seal every stored secret (and two-factor seed) again under `secret_key`. Rotating:
    /// set the new key, move the old one to `previous_secret_keys`, run this, drop the old key.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum IngestCommand {
    /// Read meter e-mails (.eml) and meter photos (JPEG, PNG) and print what they state,
    /// without storing anything.
    Extract {
        /// RFC 5322 message files and photos (told apart by their content and extension).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON: one object for one file, one object per line (with "file") for several.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk every tenant's hash chain; exit 1 if an entry was changed or removed.
    Verify,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue an API token for a user, limited to the given permissions (printed once).
    Create {
        #[arg(long)]
        tenant: String,
        /// The user the token acts as.
        #[arg(long)]
        email: String,
        /// What it is for, e.g. "ERP sync".
        #[arg(long)]
        name: String,
        /// Comma-separated permission names, e.g. readings.read,readings.review.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Register an agent and print its one-time enrollment code (valid 7 days).
    Create {
        #[arg(long)]
        tenant: String,
        /// Where it runs, e.g. "Acme Dental, main office".
        #[arg(long)]
        name: String,
    },
    /// Revoke an agent's token at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant with the standard meter kinds and built-in roles.
    Create {
        /// Short name: lower-case letters, digits and -.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a dealer staff user, or with --account a customer user of that account.
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Role name (staff: admin, service, billing; customer: account_admin, account_user).
        #[arg(long)]
        role: String,
        /// Makes a customer user bound to this account id.
        #[arg(long)]
        account: Option<i64>,
        /// Read the password from the first line of standard input; otherwise a random one is
        /// generated and printed once.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `printyx ingest extract`: the e-mail extractors' and the photo reader's contract for other
/// tools. A file that cannot be read is reported on stderr and makes the exit status 1; the
/// other files are still read.
fn extract_files(files: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let mail_limits = ingest::email::Limits::default();
    let photo_limits = ingest::photo::Limits::default();
    let mut reader: Option<ingest::photo::Reader> = None;
    let mut failed = 0;
    for file in files {
        let raw = match read_limited(
            file,
            mail_limits.max_bytes.max(photo_limits.max_bytes) as u64,
        ) {
            Ok(raw) => raw,
            Err(e) if files.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
                continue;
            }
        };
        let mut value = if is_photo(file, &raw) {
            let reader = match &mut reader {
                Some(r) => r,
                None => reader.insert(ingest::photo::Reader::new(photo_limits)?),
            };
            match reader.read(&raw) {
                Ok(photo) => serde_json::to_value(&photo)?,
                Err(e) if files.len() == 1 => bail!("{}: {e}", file.display()),
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    failed += 1;
                    continue;
                }
            }
        } else {
            serde_json::to_value(ingest::email::extract(&raw, &mail_limits))?
        };
        if json {
            if files.len() > 1 {
                value["file"] = serde_json::Value::String(file.display().to_string());
            }
            println!("{value}");
        } else {
            print_extraction(file, &value);
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be read", files.len());
    }
    Ok(())
}

/// A photo by its content (JPEG or PNG signature) or, for damaged files, by its name: a file
/// named .jpg that is not an image gets the photo reader's "not an image", not a mail parse.
fn is_photo(path: &std::path::Path, raw: &[u8]) -> bool {
    let signature = raw.starts_with(&[0xff, 0xd8, 0xff]) || raw.starts_with(b"\x89PNG\r\n\x1a\n");
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()));
    signature || named
}

/// The human-readable form of one extraction (mail or photo).
fn print_extraction(file: &std::path::Path, value: &serde_json::Value) {
    let kind = value["kind"].as_str().unwrap_or_default();
    let verdict = match value.get("accept").and_then(|a| a.as_bool()) {
        Some(true) => " (accept)",
        Some(false) => " (needs review)",
        None => "",
    };
    println!("{}: {kind}{verdict}", file.display());
    for d in value["devices"].as_array().into_iter().flatten() {
        let counters: Vec<String> = d["counters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let text = |key: &str| {
            d[key]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("-")
                .to_owned()
        };
        println!(
            "  {} {} {}: {}",
            text("serial"),
            text("model"),
            text("read_at"),
            counters.join(" ")
        );
    }
    for w in value["warnings"].as_array().into_iter().flatten() {
        println!("  warning: {}", w.as_str().unwrap_or_default());
    }
}

/// A file's bytes, refused beyond `limit` (a message is never read whole into memory unchecked).
fn read_limited(path: &std::path::Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut raw = Vec::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    file.take(limit + 1)
        .read_to_end(&mut raw)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if raw.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(raw)
}

/// glibc moves its mmap threshold up to the largest block freed so far (up to 32 MiB): after a
/// few large result sets and pages, every later block of that size comes from the per-thread
/// heaps, where freed memory stays resident. Under 16 concurrent customers the server peaked
/// at 172 MB; with the threshold fixed at 128 KiB (large blocks mapped and unmapped on free)
/// at 91 MB, at the same throughput (BENCHMARKS.md, portal pages).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only changes allocator parameters; called first thing in main, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let default_file = PathBuf::from("printyx.toml");
    let file = cli
        .config
        .clone()
        .or_else(|| default_file.is_file().then_some(default_file));
    let mut config = Config::load(file.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Serve { listen, log_json } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if log_json {
                config.log_format = LogFormat::Json;
            }
            init_logging(&config)?;
            serve(config, clock).await
        }
        Command::Demo {
            data,
            listen,
            fleet_port,
        } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if config.listen.port() == 0 {
                // the agent and the links need the real port before the server starts
                config.listen = std::net::TcpListener::bind(config.listen)?.local_addr()?;
            }
            portal::demo::configure(&mut config, &data);
            init_logging(&config)?;
            println!("preparing the demo in {} …", data.display());
            let prepared = portal::demo::prepare(&config, &data, clock.clone(), fleet_port).await?;
            if let Some(s) = &prepared.seeded {
                println!(
                    "seeded a year of history: {} devices, {} readings, {} invoices",
                    prepared.plan.devices.len(),
                    s.readings,
                    s.invoices
                );
            }
            let url = config.base_url.clone();
            println!("\nPrintyx demo: {url}\n");
            println!("  dealer: {}", portal::demo::DEALER);
            for s in portal::demo::SIGN_INS {
                println!("  {:<28} {:<28} password {}", s.who, s.email, s.password);
            }
            println!(
                "\n{} simulated copiers answer SNMP on 127.77.x.y:{fleet_port}; the agent reads \
                 their meters every 5 minutes. Ctrl-C stops everything.",
                prepared.plan.devices.len()
            );
            let live_clock = clock.clone();
            let server_url = url.clone();
            tokio::spawn(async move {
                let forever = std::future::pending::<()>();
                if let Err(e) = portal::demo::live(prepared, server_url, live_clock, forever).await
                {
                    tracing::error!(error = %e, "the demo fleet stopped");
                }
            });
            serve(config, clock).await
        }
        Command::Generate {
            tenants,
            devices,
            readings,
        } => {
            use portal::demo::generate::{Size, generate};
            if tenants == 0 || devices < tenants {
                bail!("give at least one tenant and one device per tenant");
            }
            let size = Size {
                tenants,
                devices,
                readings,
                ..Size::FULL
            };
            let now = clock.now_ms();
            let history = portal::clock::ManualClock::at(now);
            let db = portal::server::open_database(&config, Arc::new(history.clone())).await?;
            std::fs::create_dir_all(&config.upload_dir)
                .with_context(|| format!("upload_dir {}", config.upload_dir.display()))?;
            let started = std::time::Instant::now();
            let made = generate(&db, &history, size, now, &config.upload_dir, |line| {
                println!("{line}")
            })
            .await?;
            println!(
                "generated {} tenants, {} devices, {} readings, {} requests, {} orders, {} invoices in {:.0} s",
                made.tenants,
                made.devices,
                made.readings,
                made.requests,
                made.orders,
                made.invoices,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Migrate => {
            let url = config
                .database_admin_url
                .as_deref()
                .unwrap_or(&config.database_url);
            portal::server::migrate_with(url, clock).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let slug = TenantSlug::parse(&slug)?;
            let name = parse_name("tenant name", &name)?;
            let db = portal::server::open_database(&config, clock).await?;
            let tenant = db.create_tenant(&slug, &name).await.map_err(|e| match e {
                portal::db::DbError::Conflict(_) => {
                    anyhow::anyhow!("a tenant with slug '{}' already exists", slug.as_str())
                }
                other => other.into(),
            })?;
            println!("created tenant {} (id {})", tenant.slug.as_str(), tenant.id);
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let db = portal::server::open_database(&config, clock).await?;
            for t in db.list_tenants().await? {
                println!("{}\t{}\t{}\t{}", t.id, t.slug.as_str(), t.status, t.name);
            }
            Ok(())
        }
        Command::Agent(command) => {
            let slug = match &command {
                AgentCommand::Create { tenant, .. } | AgentCommand::Revoke { tenant, .. } => {
                    TenantSlug::parse(tenant)?
                }
            };
            let db = open_tenant(&config, clock, &slug).await?;
            match command {
                AgentCommand::Create { name, .. } => {
                    let created = db
                        .run(async |tx| {
                            let created = tx.create_agent(&name).await?;
                            tx.audit(
                                &portal::audit::Actor::command_line(),
                                "agent.created",
                                ("agent", Some(created.agent.id.to_string())),
                                None,
                                serde_json::json!({ "name": created.agent.name }),
                            )
                            .await?;
                            Ok(created)
                        })
                        .await?;
                    println!(
                        "created agent {} (id {})",
                        created.agent.name, created.agent.id
                    );
                    println!("enrollment code: {}", created.enrollment_code);
                }
                AgentCommand::Revoke { id, .. } => {
                    db.run(async |tx| {
                        tx.revoke_agent(portal::ids::AgentId(id)).await?;
                        tx.audit(
                            &portal::audit::Actor::command_line(),
                            "agent.revoked",
                            ("agent", Some(id.to_string())),
                            None,
                            serde_json::json!({}),
                        )
                        .await
                        .map(|_| ())
                    })
                    .await
                    .map_err(|e| match e {
                        portal::db::DbError::NotFound => {
                            anyhow::anyhow!("no active agent {id}")
                        }
                        other => other.into(),
                    })?;
                    println!("revoked agent {id}");
                }
            }
            Ok(())
        }
        Command::Ingest(IngestCommand::Extract { files, json }) => extract_files(&files, json),
        Command::Secrets(command) => {
            let keys = portal::secrets::Keyring::new(
                config.secret_key.as_deref(),
                &config.previous_secret_keys,
            )?;
            match command {
                SecretsCommand::Set { tenant, name } => {
                    let slug = TenantSlug::parse(&tenant)?;
                    let name = portal::secrets::parse_secret_name(&name)?;
                    let value = read_password_line()?;
                    open_tenant(&config, clock, &slug)
                        .await?
                        .run(async |tx| {
                            tx.put_secret(&keys, &name, value.as_bytes()).await?;
                            tx.audit(
                                &portal::audit::Actor::system(),
                                "secret.stored",
                                ("secret", Some(name.clone())),
                                None,
                                serde_json::json!({ "via": "command line" }),
                            )
                            .await
                        })
                        .await?;
                    println!("stored secret {name} for tenant {}", slug.as_str());
                }
                SecretsCommand::Rotate => {
                    if !keys.can_seal() {
                        bail!("set secret_key (the new key) before rotating");
                    }
                    let db = portal::server::open_database(&config, clock).await?;
                    let mut total = 0;
                    for t in db.list_tenants().await? {
                        let done = db
                            .tenant(t.id)
                            .run(async |tx| {
                                let n = tx.rotate_secrets(&keys).await?;
                                if n > 0 {
                                    tx.audit(
                                        &portal::audit::Actor::system(),
                                        "secret.rotated",
                                        ("secret", None),
                                        None,
                                        serde_json::json!({ "resealed": n }),
                                    )
                                    .await?;
                                }
                                Ok(n)
                            })
                            .await
                            .with_context(|| format!("tenant {}", t.slug.as_str()))?;
                        total += done;
                    }
                    println!(
                        "{total} secrets sealed again under key {}",
                        keys.current_key_id().unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let db = portal::server::open_database(&config, clock).await?;
            let (mut entries, mut broken) = (0, Vec::new());
            let tenants = db.list_tenants().await?;
            for t in &tenants {
                let (n, breaks) = db
                    .tenant(t.id)
                    .read(async |tx| tx.verify_audit().await)
                    .await?;
                entries += n;
                broken.extend(
                    breaks
                        .into_iter()
                        .map(|b| format!("tenant {}: {b}", t.slug.as_str())),
                );
            }
            if broken.is_empty() {
                println!(
                    "audit trail intact: {entries} entries in {} tenants",
                    tenants.len()
                );
                return Ok(());
            }
            for b in &broken {
                println!("{b}");
            }
            bail!(
                "the audit trail was tampered with ({} problems)",
                broken.len()
            );
        }
        Command::Token(TokenCommand::Create {
            tenant,
            email,
            name,
            permissions,
        }) => {
            let slug = TenantSlug::parse(&tenant)?;
            let email = EmailAddress::parse(&email)?;
            let wanted = permissions
                .iter()
                .map(|p| {
                    portal::auth::Permission::parse(p.trim())
                        .with_context(|| format!("unknown permission '{p}'"))
                })
                .collect::<anyhow::Result<std::collections::BTreeSet<_>>>()?;
            let token = open_tenant(&config, clock, &slug)
                .await?
                .run(async |tx| {
                    let user = tx.user_by_email(&email).await?;
                    let token = tx.create_api_token(user.id, &name, &wanted).await?;
                    tx.audit(
                        &portal::audit::Actor::command_line(),
                        "api_token.created",
                        ("user", Some(user.id.to_string())),
                        None,
                        serde_json::json!({ "name": name,
                            "permissions": wanted.iter().map(|p| p.as_str()).collect::<Vec<_>>() }),
                    )
                    .await?;
                    Ok(token)
                })
                .await
                .map_err(|e| match e {
                    portal::db::DbError::NotFound => {
                        anyhow::anyhow!("no user {email} in tenant '{}'", slug.as_str())
                    }
                    other => other.into(),
                })?;
            println!("{token}");
            Ok(())
        }
        Command::User(UserCommand::Create {
            tenant,
            email,
            name,
            role,
            account,
            password_stdin,
        }) => {
            let slug = TenantSlug::parse(&tenant)?;
            let email = EmailAddress::parse(&email)?;
            let kind = account.map_or(UserKind::Staff, |a| UserKind::Customer(AccountId(a)));
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (generate_password(), true)
            };
            let new_user =
                NewUser::new(kind, email, &name)?.password_hash(hash_password(&password)?);
            let user = open_tenant(&config, clock, &slug)
                .await?
                .run(async |tx| {
                    if let UserKind::Customer(account) = kind {
                        tx.account(account).await?;
                    }
                    let role = tx.role_by_name(&role).await?;
                    let user = tx.create_user(&new_user, &[role.id]).await?;
                    tx.audit(
                        &portal::audit::Actor::command_line(),
                        "user.created",
                        ("user", Some(user.id.to_string())),
                        match kind {
                            UserKind::Customer(a) => Some(a),
                            UserKind::Staff => None,
                        },
                        serde_json::json!({ "email": user.email.as_str(), "role": role.name }),
                    )
                    .await?;
                    Ok(user)
                })
                .await
                .map_err(|e| match e {
                    portal::db::DbError::NotFound => anyhow::anyhow!(
                        "tenant '{}' has no role '{role}'{}",
                        slug.as_str(),
                        account.map_or(String::new(), |a| format!(" or no account {a}"))
                    ),
                    portal::db::DbError::Conflict(_) => {
                        anyhow::anyhow!("a user with that e-mail address already exists")
                    }
                    other => other.into(),
                })?;
            println!("created user {} (id {})", user.email, user.id);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
    }
}

/// The database, opened as the server would, scoped to the tenant with this slug.
async fn open_tenant(
    config: &Config,
    clock: Arc<dyn Clock>,
    slug: &TenantSlug,
) -> anyhow::Result<portal::db::TenantDb> {
    let db = portal::server::open_database(config, clock).await?;
    let tenant = db
        .tenant_by_slug(slug)
        .await
        .with_context(|| format!("no tenant with slug '{}'", slug.as_str()))?;
    Ok(db.tenant(tenant.id))
}

async fn serve(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    if config
        .reply_token_key
        .as_ref()
        .is_some_and(|k| k.len() < 32)
    {
        bail!("reply_token_key must be 32 characters or more");
    }
    let db = portal::server::open_database(&config, clock).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = portal::db::DatabaseUrl::parse(&config.database_url)?;
    tracing::info!(%addr, database = %url.display(), "listening on http://{addr}");
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let sources = portal::telemetry::resolve_sources(&db, &config.mqtt).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pipeline = Arc::new(config.pipeline.clone());
    for (tenant, source) in sources {
        let handler =
            portal::telemetry::handler(db.clone(), tenant, source.name.clone(), pipeline.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = ingest::sources::mqtt::run(source, handler, until).await {
                tracing::error!(error = %e, "MQTT source stopped");
            }
        });
    }
    let state = portal::http::AppState::new(db.clone(), Arc::new(config))?;
    for source in state.config.imap.clone() {
        let (db, intake, keys, mut stopped) = (
            db.clone(),
            state.intake.clone(),
            state.keys.clone(),
            stopped.clone(),
        );
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = portal::mail::watch(db, source, intake, keys, until).await {
                tracing::error!(error = %e, "IMAP source stopped");
            }
        });
    }
    let silence = Duration::from_secs(state.config.silence_window_hours * 3600);
    tokio::spawn(portal::silence::run(
        db.clone(),
        silence,
        Duration::from_secs(15 * 60),
    ));
    let mail = {
        let (db, smtp, wake, mut stopped) = (
            db.clone(),
            state.config.smtp.clone(),
            state.mail_queued.clone(),
            stopped.clone(),
        );
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            portal::mailer::run(db, smtp, wake, until).await;
        })
    };
    tokio::spawn(portal::maintenance::run(
        db.clone(),
        Duration::from_secs(3600),
    ));
    tokio::spawn(portal::notifications::run_digests(
        db.clone(),
        state.config.base_url.clone(),
        state.mail_queued.clone(),
    ));
    tokio::spawn(portal::collection::requests::run(
        db.clone(),
        portal::collection::requests::Asking {
            base_url: state.config.base_url.clone(),
            reply_key: state.intake.reply_key.clone(),
            silence_ms: i64::try_from(silence.as_millis()).unwrap_or(i64::MAX),
        },
        state.mail_queued.clone(),
    ));
    tokio::spawn(portal::billing::payments::run(
        db.clone(),
        state.gateway.clone(),
    ));
    tokio::spawn(portal::billing::invoices::run(
        db.clone(),
        state.mail_queued.clone(),
    ));
    tokio::spawn(portal::supplies::replenish::run(
        db.clone(),
        state.mail_queued.clone(),
    ));
    let app = portal::http::router(state);
    let shutdown = async move {
        portal::server::shutdown_signal().await;
        let _ = stop.send(true);
    };
    portal::server::serve(listener, app, shutdown, grace).await?;
    let _ = mail.await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .with_context(|| format!("invalid log_filter '{}'", config.log_filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    // One line, bounded: a password is never longer than this.
    std::io::stdin().lock().take(4096).read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
