//! The real `printyx-agent` process polling real (simulated) copiers over SNMP and uploading
//! to the real server, on both databases: through an outage, and through kill -9 at random
//! moments. Every reading the agent committed arrives exactly once.

use crate::backends;
use crate::harness::TestDb;
use e2e::{peers, succeeded};
use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::db::TenantDb;
use portal::equipment::NewEquipment;
use portal::ids::AgentId;
use sqlx::{Any, AnyConnection};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server on a fixed port that can go down and come back, as in an outage.
struct Server {
    state: portal::http::AppState,
    addr: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    async fn start(t: &TestDb) -> Self {
        let state =
            portal::http::AppState::new(t.db.clone(), Arc::new(portal::config::Config::default()))
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut server = Self {
            state,
            addr,
            task: None,
        };
        server.serve(listener);
        server
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = portal::http::router(self.state.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

struct Agent {
    bin: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// An agent configured for two recorded copiers, with short upload backoffs.
    fn new(server: &str, sim: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "server_url = \"{server}\"\nstate_dir = \"{}\"\nlog_filter = \"warn\"\n\
                 [upload]\ninitial_backoff_seconds = 1\nmax_backoff_seconds = 1\nbatch_size = 3\n\
                 [snmp]\ntimeout_ms = 1000\n\
                 [[snmp.devices]]\naddress = \"{sim}\"\ncommunity = \"ricoh_mpc3002\"\n\
                 [[snmp.devices]]\naddress = \"{sim}\"\ncommunity = \"sharp\"\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
        Self {
            bin: e2e::workspace_binary("agent", "printyx-agent"),
            config,
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config").arg(&self.config).args(args);
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    async fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn state_dir(&self) -> PathBuf {
        self.config.parent().unwrap().join("state")
    }

    /// Observation ids the server acknowledged, from the agent's own outbox.
    fn sent_ids(&self) -> BTreeSet<String> {
        let outbox =
            agent::outbox::Outbox::open(&self.state_dir().join("outbox.sqlite3"), u64::MAX)
                .unwrap();
        outbox.sent_ids().unwrap().into_iter().collect()
    }
}

/// A tenant whose two copiers are the recordings the agent polls, and its agent: the tenant,
/// the agent's id and its enrollment code.
async fn fleet(t: &TestDb) -> (TenantDb, AgentId, String) {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // the agent stamps readings with the real clock
    t.clock.set_ms(now);
    let db = t.tenant("acme").await;
    db.run(async |tx| {
        let acc = tx
            .create_account(&NewAccount::new("A-1", "Acme Dental")?)
            .await?;
        for (serial, vendor, model) in [
            ("W492KB03439", "Ricoh", "MP C3002"),
            ("6509415X00", "Sharp", "MX-3570N"),
        ] {
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse(serial)?,
                vendor,
                model,
            )?)
            .await?;
        }
        let created = tx.create_agent("Acme office").await?;
        Ok((created.agent.id, created.enrollment_code))
    })
    .await
    .map(|(id, code)| (db.clone(), id, code))
    .unwrap()
}

/// (observation id, meter kind) of every reading the agent's uploads stored.
async fn stored(t: &TestDb) -> Vec<(String, String)> {
    let mut c: AnyConnection = t.admin().await;
    let keys: Vec<String> = sqlx::query_scalar::<Any, String>(
        "SELECT idempotency_key FROM readings WHERE agent_id IS NOT NULL",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    keys.into_iter()
        .map(|k| {
            // agent:{agent}:{observation}:{kind}
            let parts: Vec<&str> = k.split(':').collect();
            (parts[2].to_owned(), parts[3].to_owned())
        })
        .collect()
}

/// Every acknowledged observation is on the server, once per meter kind, and nothing else is.
async fn assert_exactly_once(t: &TestDb, agent: &Agent) -> usize {
    let sent = agent.sent_ids();
    let stored = stored(t).await;
    let on_server: BTreeSet<String> = stored.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        on_server, sent,
        "the server's readings and the agent's acknowledged ids"
    );
    let distinct: BTreeSet<&(String, String)> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "a reading stored twice");
    sent.len()
}

async fn wait_until_drained(agent: &Agent) {
    let started = Instant::now();
    loop {
        let s = agent.status().await;
        let o = &s["outbox"];
        if o["pending_meters"] == 0 && o["pending_status"] == 0 && o["open_batch"].is_null() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "outbox not drained: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn fixtures() -> PathBuf {
    let base = std::env::var_os("PRINTYX_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
        PathBuf::from,
    );
    base.join("snmp")
}

/// Everything a test here needs: the tenant, its server, the simulated copiers and an
/// enrolled agent.
struct Site {
    db: TenantDb,
    agent_id: AgentId,
    server: Server,
    agent: Agent,
    _sim: peers::Peer,
}

async fn site(t: &TestDb) -> Site {
    let (db, agent_id, code) = fleet(t).await;
    let server = Server::start(t).await;
    let sim = tokio::task::spawn_blocking(|| peers::snmpsim(&fixtures(), "sharp"))
        .await
        .unwrap();
    let agent = Agent::new(&server.url(), &sim.target());
    let out = succeeded(&agent.run(&["enroll", "--code", &code]).await);
    assert!(out.contains("enrolled as agent"), "{out}");
    Site {
        db,
        agent_id,
        server,
        agent,
        _sim: sim,
    }
}

async fn through_an_outage_the_outbox_drains_in_order_without_duplicates(t: TestDb) {
    // bound whole: fields left out of a pattern would be dropped (servers stopped) at once
    let mut site = site(&t).await;
    let (server, agent) = (&mut site.server, &site.agent);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(agent.state_dir().join("enrollment.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }

    // the server goes down; the agent keeps collecting
    server.stop().await;
    for _ in 0..3 {
        let out = succeeded(&agent.run(&["collect", "--tier", "meters"]).await);
        assert!(out.contains("2 devices polled, 0 failed"), "{out}");
    }
    let out = agent.run(&["upload"]).await;
    assert!(
        !out.status.success(),
        "upload with the server down must fail"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("upload stopped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = agent.status().await;
    assert_eq!(status["outbox"]["pending_meters"], 6, "{status}");
    assert!(stored(&t).await.is_empty());

    // the service starts during the outage; the server comes back; the outbox drains
    let mut service = agent
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart().await;
    wait_until_drained(agent).await;
    let _ = service.kill();
    let _ = service.wait();

    assert_eq!(assert_exactly_once(&t, agent).await, 6);
    // 3 polls × (Ricoh total + Sharp total, mono, colour): the tenant's meter kinds
    assert_eq!(stored(&t).await.len(), 12);
    // uploaded oldest first: stored in the order they were read
    let mut c: AnyConnection = t.admin().await;
    let read_at: Vec<i64> = sqlx::query_scalar::<Any, i64>(
        "SELECT read_at FROM readings WHERE agent_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(read_at.is_sorted(), "{read_at:?}");
    let status = agent.status().await;
    let devices = status["devices"].as_array().unwrap();
    assert!(
        devices.iter().all(|d| d["last_error"].is_null()),
        "{status}"
    );
}

async fn kill_9_at_random_moments_loses_and_duplicates_nothing(t: TestDb) {
    let site = site(&t).await;
    let agent = &site.agent;

    let mut kills = 0;
    for round in 0..12u64 {
        let mut service = agent
            .command(&["run", "--poll-now"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // somewhere in start-up, polling, committing or uploading
        let at = 30 + (rand_ms(round) % 600);
        tokio::time::sleep(Duration::from_millis(at)).await;
        // SIGKILL: no chance to clean up
        let _ = service.kill();
        let _ = service.wait();
        kills += 1;
    }
    assert_eq!(kills, 12);
    // whatever was committed and not yet acknowledged goes now
    succeeded(&agent.run(&["upload"]).await);
    wait_until_drained(agent).await;
    let sent = assert_exactly_once(&t, agent).await;
    eprintln!("{sent} observations arrived exactly once across {kills} kills");
    assert!(sent > 0, "no round got as far as committing a reading");
}

async fn a_revoked_agent_keeps_its_readings_and_says_to_enroll_again(t: TestDb) {
    let site = site(&t).await;
    let agent = &site.agent;
    let agent_id = site.agent_id;
    site.db
        .run(async |tx| tx.revoke_agent(agent_id).await)
        .await
        .unwrap();
    succeeded(&agent.run(&["collect"]).await);
    let out = agent.run(&["upload"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("401") && err.contains("enroll it again"),
        "{err}"
    );
    let status = agent.status().await;
    assert_eq!(status["outbox"]["pending_meters"], 2, "{status}");
    assert!(stored(&t).await.is_empty());
}

async fn over_https_the_server_certificate_is_verified_against_the_configured_ca(t: TestDb) {
    let (_, _, code) = fleet(&t).await;
    let server = Server::start(&t).await;
    let sim = tokio::task::spawn_blocking(|| peers::snmpsim(&fixtures(), "sharp"))
        .await
        .unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = peers::private_ca_certificate(certs.path());
    let (_front, https) = peers::tls_front(&cert, &key, server.addr);

    // not trusted: refused, nothing stored
    let untrusting = Agent::new(&https, &sim.target());
    let out = untrusting.run(&["enroll", "--code", &code]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "enrolled over an untrusted certificate"
    );
    assert!(err.contains("cannot reach"), "{err}");

    let agent = Agent::new(&https, &sim.target());
    let text = std::fs::read_to_string(&agent.config).unwrap();
    std::fs::write(
        &agent.config,
        text.replace(
            "[upload]\n",
            &format!("[upload]\nca_file = \"{}\"\n", ca.display()),
        ),
    )
    .unwrap();
    succeeded(&agent.run(&["enroll", "--code", &code]).await);
    succeeded(&agent.run(&["collect"]).await);
    let out = succeeded(&agent.run(&["upload"]).await);
    assert!(out.contains("2 observations uploaded"), "{out}");
    assert_eq!(assert_exactly_once(&t, &agent).await, 2);
}

/// A spread of kill times that differs per round and per run.
fn rand_ms(round: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (u64::from(nanos) / 1000 + round * 97) % 1000
}

backends!(
    a_revoked_agent_keeps_its_readings_and_says_to_enroll_again,
    over_https_the_server_certificate_is_verified_against_the_configured_ca,
    through_an_outage_the_outbox_drains_in_order_without_duplicates,
    kill_9_at_random_moments_loses_and_duplicates_nothing
);
