//! A real SMTP server for the tests that send mail: Python's aiosmtpd with its Maildir
//! handler, on a free port, killed by pid when dropped. Messages are read back from the
//! Maildir and parsed with mail-parser.

use crate::peers::{Proc, free_tcp_port};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd: `PRINTYX_PEERS_PYTHON`, else the venv `.ci/lib.sh` makes.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PRINTYX_PEERS_PYTHON") {
        return PathBuf::from(p);
    }
    for venv in ["/var/tmp/printyx-peers", "/var/tmp/printyx-snmpsim"] {
        let p = Path::new(venv).join("bin/python");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("python3")
}

/// A running SMTP server and the Maildir it delivers to.
#[derive(Debug)]
pub struct SmtpServer {
    pub proc: Proc,
    pub port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    /// The raw message, headers included.
    pub raw: String,
}

impl Received {
    /// The first link in the text that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let at = self.text.find(prefix)?;
        let link: String = self.text[at..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        Some(link)
    }
}

/// aiosmtpd on a free port of 127.0.0.1 (no TLS, no authentication).
pub fn smtp_server() -> SmtpServer {
    smtp_server_on(free_tcp_port())
}

/// aiosmtpd on a given port (a relay that comes back where it was).
pub fn smtp_server_on(port: u16) -> SmtpServer {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let mut cmd = Command::new(python());
    cmd.args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir);
    let proc = Proc::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "aiosmtpd did not start (.ci/test installs it into /var/tmp/printyx-peers)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    SmtpServer {
        proc,
        port,
        maildir,
        _dir: dir,
    }
}

impl SmtpServer {
    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir.join(sub)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| {
                let raw = std::fs::read(p).unwrap();
                let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
                let addr = |a: Option<&mail_parser::Address>| {
                    a.and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or_default()
                        .to_owned()
                };
                Received {
                    to: addr(msg.to()),
                    from: addr(msg.from()),
                    subject: msg.subject().unwrap_or_default().to_owned(),
                    text: msg.body_text(0).unwrap_or_default().into_owned(),
                    raw: String::from_utf8_lossy(&raw).into_owned(),
                }
            })
            .collect()
    }
}
