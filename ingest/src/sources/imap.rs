//! The meter mailbox over IMAP: every message in the watched mailbox is handed to a handler
//! (the portal's e-mail intake) and then moved to the folder the handler names — Processed,
//! NeedsReview or Rejected — never deleted. IDLE where the server has it (new mail is read
//! at once), otherwise polling. A handler that cannot store now (database down) leaves the
//! message where it is for the next round.

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// One mailbox, in `printyx.toml` as an `[[imap]]` table.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSourceConfig {
    /// Names the source in logs.
    pub name: String,
    /// The tenant (slug) whose meter mail arrives here.
    pub tenant: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// IMAPS (TLS from the first byte). Off only for a server on the same host.
    #[serde(default = "yes")]
    pub tls: bool,
    /// A PEM file of certificate authorities to trust besides the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub username: String,
    /// The password, when it is kept in the configuration.
    #[serde(default)]
    pub password: String,
    /// Instead of `password`: the name of a secret the server keeps sealed in its database
    /// (`printyx secrets set`); the server puts it in `password` before connecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// Seconds between looks when the server has no IDLE (and the longest IDLE wait).
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Use IDLE when the server offers it.
    #[serde(default = "yes")]
    pub idle: bool,
    /// Larger messages are not downloaded; they are filed in Rejected.
    #[serde(default = "default_max_bytes")]
    pub max_message_bytes: u32,
}

impl std::fmt::Debug for ImapSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSourceConfig")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

fn default_port() -> u16 {
    993
}
fn yes() -> bool {
    true
}
fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_poll() -> u64 {
    60
}
fn default_max_bytes() -> u32 {
    30 * 1024 * 1024
}

/// The folders messages are filed in.
pub const FOLDERS: [&str; 3] = ["Processed", "NeedsReview", "Rejected"];

/// What the handler made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filed {
    /// Move it to this folder (one of [`FOLDERS`]).
    In(&'static str),
    /// Not now (storage unavailable): leave it for the next round.
    Retry(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP {name}: cannot connect to {host}:{port}: {source}")]
    Connect {
        name: String,
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("IMAP {name}: TLS: {0}", name = .1)]
    Tls(String, String),
    #[error("IMAP {name}: the server refused the login: {0}", name = .1)]
    Login(String, String),
    #[error("IMAP {name}: {0}", name = .1)]
    Protocol(String, String),
}

/// The connection: plain TCP or TLS, behind one type.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}
type Session = async_imap::Session<Box<dyn Io>>;

/// Runs the source until `until` completes: connects, files every message, waits for more;
/// reconnects (with backoff up to a minute) when the connection or the server fails.
pub async fn run<H, F>(config: ImapSourceConfig, mut handler: H, until: impl Future<Output = ()>)
where
    H: FnMut(Vec<u8>) -> F,
    F: Future<Output = Filed>,
{
    let work = async {
        let mut backoff = Duration::from_secs(1);
        loop {
            match serve(&config, &mut handler).await {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(source = %config.name, error = %e, "IMAP source failed; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = until => {}
    }
}

/// One connection's life: log in, then file and wait until something fails.
async fn serve<H, F>(config: &ImapSourceConfig, handler: &mut H) -> Result<(), ImapError>
where
    H: FnMut(Vec<u8>) -> F,
    F: Future<Output = Filed>,
{
    let protocol =
        |e: async_imap::error::Error| ImapError::Protocol(e.to_string(), config.name.clone());
    let mut session = connect(config).await?;
    for folder in FOLDERS {
        // "already exists" is the usual answer
        let _ = session.create(folder).await;
    }
    let capabilities = session.capabilities().await.map_err(protocol)?;
    let can_move = capabilities.has_str("MOVE");
    let can_idle = config.idle && capabilities.has_str("IDLE");
    let wait = Duration::from_secs(config.poll_seconds.max(1));
    loop {
        session.select(&config.mailbox).await.map_err(protocol)?;
        let retry = file_all(config, &mut session, handler, can_move).await?;
        if retry {
            tokio::time::sleep(wait).await;
            continue;
        }
        if can_idle {
            let mut idle = session.idle();
            idle.init().await.map_err(protocol)?;
            let (response, _stop) = idle.wait_with_timeout(wait);
            response.await.map_err(protocol)?;
            session = idle.done().await.map_err(protocol)?;
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Files every message of the selected mailbox, oldest first. Returns whether the handler
/// asked to retry later.
async fn file_all<H, F>(
    config: &ImapSourceConfig,
    session: &mut Session,
    handler: &mut H,
    can_move: bool,
) -> Result<bool, ImapError>
where
    H: FnMut(Vec<u8>) -> F,
    F: Future<Output = Filed>,
{
    let protocol =
        |e: async_imap::error::Error| ImapError::Protocol(e.to_string(), config.name.clone());
    let mut uids: Vec<u32> = session
        .uid_search("ALL")
        .await
        .map_err(protocol)?
        .into_iter()
        .collect();
    uids.sort_unstable();
    for uid in uids {
        let sizes: Vec<_> = session
            .uid_fetch(uid.to_string(), "RFC822.SIZE")
            .await
            .map_err(protocol)?
            .try_collect()
            .await
            .map_err(protocol)?;
        let Some(size) = sizes.first().and_then(|f| f.size) else {
            continue; // gone meanwhile
        };
        let folder = if size > config.max_message_bytes {
            tracing::warn!(source = %config.name, uid, size, "message over the size limit: filed in Rejected unread");
            "Rejected"
        } else {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .map_err(protocol)?
                .try_collect()
                .await
                .map_err(protocol)?;
            let Some(raw) = fetched.first().and_then(|f| f.body()).map(<[u8]>::to_vec) else {
                continue;
            };
            match handler(raw).await {
                Filed::In(folder) => folder,
                Filed::Retry(why) => {
                    tracing::warn!(source = %config.name, uid, %why, "message left for the next round");
                    return Ok(true);
                }
            }
        };
        move_to(session, uid, folder, can_move)
            .await
            .map_err(protocol)?;
    }
    Ok(false)
}

/// MOVE where the server has it; otherwise copy, flag deleted and expunge — the message
/// lives on in `folder` either way.
async fn move_to(
    session: &mut Session,
    uid: u32,
    folder: &str,
    can_move: bool,
) -> Result<(), async_imap::error::Error> {
    let set = uid.to_string();
    if can_move {
        return session.uid_mv(&set, folder).await;
    }
    session.uid_copy(&set, folder).await?;
    let _: Vec<_> = session
        .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
        .await?
        .try_collect()
        .await?;
    let _: Vec<_> = session.expunge().await?.try_collect().await?;
    Ok(())
}

async fn connect(config: &ImapSourceConfig) -> Result<Session, ImapError> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|source| ImapError::Connect {
            name: config.name.clone(),
            host: config.host.clone(),
            port: config.port,
            source,
        })?;
    let stream: Box<dyn Io> = if config.tls {
        let tls = |m: String| ImapError::Tls(m, config.name.clone());
        let connector =
            tokio_rustls::TlsConnector::from(Arc::new(client_config(config).map_err(tls)?));
        let server = tokio_rustls::rustls::pki_types::ServerName::try_from(config.host.clone())
            .map_err(|e| tls(e.to_string()))?;
        Box::new(
            connector
                .connect(server, tcp)
                .await
                .map_err(|e| tls(e.to_string()))?,
        )
    } else {
        Box::new(tcp)
    };
    let mut client = async_imap::Client::new(stream);
    // the greeting comes first (see STACK.md)
    client
        .read_response()
        .await
        .map_err(|e| ImapError::Protocol(e.to_string(), config.name.clone()))?
        .ok_or_else(|| {
            ImapError::Protocol("closed before its greeting".into(), config.name.clone())
        })?;
    client
        .login(&config.username, &config.password)
        .await
        .map_err(|(e, _)| ImapError::Login(e.to_string(), config.name.clone()))
}

/// The system's trust roots (Debian's bundle) plus the configured CA file.
fn client_config(config: &ImapSourceConfig) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let mut add = |path: &std::path::Path, required: bool| -> Result<(), String> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(_) if !required => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    };
    add(
        std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"),
        false,
    )?;
    if let Some(ca) = &config.ca_file {
        add(ca, true)?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    Ok(
        tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
