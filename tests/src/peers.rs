//! Real SNMP peers for tests: snmpsim serving the recordings, net-snmp's snmpd with v3 users.
//! Each starts on a free port and is killed by pid when dropped.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running peer process.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    pub host: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Waits until `snmpget` gets an answer with these arguments.
    fn wait_ready(&mut self, args: &[&str], what: &str) {
        let started = Instant::now();
        loop {
            let ok = Command::new("snmpget")
                .args(args)
                .args(["-t", "0.5", "-r", "0", &self.target(), "1.3.6.1.2.1.1.2.0"])
                .env("MIBS", "")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{what} exited at start ({status}); see {}",
                    self.dir.path().display()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what} did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// snmpsim's command responder: `PRINTYX_SNMPSIM`, else the venv .ci/lib.sh makes, else PATH.
fn snmpsim_command() -> PathBuf {
    if let Some(p) = std::env::var_os("PRINTYX_SNMPSIM") {
        return PathBuf::from(p);
    }
    for venv in ["/var/tmp/printyx-peers", "/var/tmp/printyx-snmpsim"] {
        let p = Path::new(venv).join("bin/snmpsim-command-responder");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("snmpsim-command-responder")
}

/// snmpsim serving every `.snmprec` in `data_dir`; the community is the file name.
pub fn snmpsim(data_dir: &Path, probe_community: &str) -> Peer {
    snmpsim_on(data_dir, "127.0.0.1", free_udp_port(), probe_community)
}

/// [`snmpsim`] on a given loopback address and port (all of 127.0.0.0/8 is loopback).
pub fn snmpsim_on(data_dir: &Path, host: &str, port: u16, probe_community: &str) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    // snmpsim drops privileges to nobody and writes its index there
    let _ = Command::new("chmod")
        .arg("777")
        .arg(dir.path())
        .arg(&cache)
        .status();
    let log = std::fs::File::create(dir.path().join("snmpsim.log")).unwrap();
    let mut command = Command::new(snmpsim_command());
    command
        .arg(format!("--data-dir={}", data_dir.display()))
        .arg(format!("--agent-udpv4-endpoint={host}:{port}"))
        .arg(format!("--cache-dir={}", cache.display()));
    // as root it must be told whom to become; otherwise it stays who it is
    if nix_is_root() {
        command.args(["--process-user=nobody", "--process-group=nogroup"]);
    }
    let child = command
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start snmpsim ({e}); .ci/test installs it (see ../shared/fixtures/snmp/README.md), or set PRINTYX_SNMPSIM"
            )
        });
    let mut peer = Peer {
        child,
        host: host.to_owned(),
        port,
        dir,
    };
    peer.wait_ready(&["-v2c", "-c", probe_community], "snmpsim");
    peer
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A v3 user of [`snmpd`].
#[derive(Debug, Clone, Copy)]
pub struct V3User {
    pub name: &'static str,
    pub auth: &'static str,
    pub privacy: Option<&'static str>,
}

pub const AUTH_PASSWORD: &str = "auth-pass-123";
pub const PRIV_PASSWORD: &str = "priv-pass-456";

/// net-snmp's snmpd with these v3 users (passwords [`AUTH_PASSWORD`] / [`PRIV_PASSWORD`]),
/// answering the community `public` too, so that a fallback to v2c would be noticed.
pub fn snmpd(users: &[V3User], sys_descr: &str) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir(&persist).unwrap();
    let mut conf = format!("[snmp] persistentDir {}\n", persist.display());
    for u in users {
        match u.privacy {
            Some(p) => {
                conf += &format!(
                    "createUser {} {} \"{AUTH_PASSWORD}\" {p} \"{PRIV_PASSWORD}\"\nrouser {} priv\n",
                    u.name, u.auth, u.name
                )
            }
            None => {
                conf += &format!(
                    "createUser {} {} \"{AUTH_PASSWORD}\"\nrouser {} auth\n",
                    u.name, u.auth, u.name
                )
            }
        }
    }
    conf += &format!("rocommunity public 127.0.0.1\nsysDescr {sys_descr}\n");
    let conf_path = dir.path().join("snmpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let port = free_udp_port();
    let log = std::fs::File::create(dir.path().join("snmpd.log")).unwrap();
    let child = Command::new("snmpd")
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(&conf_path)
        .arg(format!("udp:127.0.0.1:{port}"))
        .env("MIBS", "")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start snmpd ({e}); .ci/test installs it"));
    let mut peer = Peer {
        child,
        host: "127.0.0.1".into(),
        port,
        dir,
    };
    peer.wait_ready(&["-v2c", "-c", "public"], "snmpd");
    peer
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop, its stderr lines on a channel.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    pub lines: Receiver<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines }
    }

    /// Waits for a line containing `needle`, keeping every line read in `seen`.
    pub fn wait_for(&self, needle: &str, seen: &mut Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no line with {needle:?}; saw:\n{}", seen.join("\n")));
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return;
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mosquitto on a free port of 127.0.0.1, anonymous, without persistence.
pub fn mosquitto(dir: &std::path::Path) -> (Proc, u16) {
    let port = free_tcp_port();
    (mosquitto_on(dir, port), port)
}

/// Mosquitto on a given port: to bring a broker back where it was.
pub fn mosquitto_on(dir: &std::path::Path, port: u16) -> Proc {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("mosquitto");
    cmd.arg("-c").arg(&conf);
    let p = Proc::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

/// A private CA and a server certificate for 127.0.0.1 signed by it (openssl CLI):
/// (CA certificate, server certificate, server key), all PEM.
pub fn private_ca_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run openssl ({e}); .ci/test installs it"));
        assert!(status.success(), "openssl {args:?} failed");
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Printyx test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// HTTPS in front of a plain HTTP server (socat terminating TLS): returns the process and
/// the https:// base URL.
pub fn tls_front(cert: &Path, key: &Path, backend: std::net::SocketAddr) -> (Proc, String) {
    let port = free_tcp_port();
    let mut cmd = Command::new("socat");
    cmd.arg(format!(
        "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
        cert.display(),
        key.display()
    ))
    .arg(format!("TCP:{backend}"));
    let p = Proc::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "socat did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, format!("https://127.0.0.1:{port}"))
}

/// Dovecot as a throwaway IMAP server on a free port of 127.0.0.1 (plain text; put
/// [`tls_front`] before it for TLS): any user name, password `secret`, Maildir homes under
/// `dir`. Returns the process and its port.
pub fn dovecot(dir: &Path) -> (Proc, u16) {
    use std::os::unix::fs::PermissionsExt;
    let port = free_tcp_port();
    let home = dir.join("home");
    for sub in ["run", "state", "home"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // the mail user must reach its home inside the test's directory
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (user, extra) = if nix_is_root() {
        let status = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(&home)
            .status()
            .unwrap();
        assert!(status.success(), "chown of the mail homes failed");
        ("dovecot".to_owned(), String::new())
    } else {
        let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
        (
            me.clone(),
            format!("default_internal_user = {me}\ndefault_login_user = {me}\n"),
        )
    };
    let conf = dir.join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             first_valid_uid = 1\nmail_location = maildir:~/Maildir\n{extra}\
             passdb {{\n  driver = static\n  args = password=secret\n}}\n\
             userdb {{\n  driver = static\n  args = uid={user} gid={user} home={home}/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
               inet_listener imaps {{\n    port = 0\n  }}\n}}\n",
            d = dir.display(),
            home = home.display(),
        ),
    )
    .unwrap();
    let mut cmd = Command::new("dovecot");
    cmd.arg("-F").arg("-c").arg(&conf);
    let p = Proc::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "dovecot did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, port)
}
