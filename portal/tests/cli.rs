//! The `printyx` binary as an operator uses it: real processes, real ports, real files.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `printyx` with no PRINTYX_* variables from the environment running the tests.
fn printyx(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_printyx"));
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("PRINTYX_") {
            c.env_remove(k);
        }
    }
    c
}

fn postgres_admin_url(database: &str) -> String {
    let base = std::env::var("PRINTYX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{database}")
}

fn with_user(url: &str, user: &str) -> String {
    let (_, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("postgres://{user}@{host}")
}

fn one_line_error(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure, got {:?}",
        out.status
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    err
}

/// A running `printyx serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("server did not start: {:?}", child.try_wait()));
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                return Server {
                    child,
                    base: format!("http://{addr}"),
                    log,
                };
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let lines: Vec<String> = self.log.try_iter().collect();
                return (status, lines);
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_with_no_configuration_creates_the_database_and_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(printyx(dir.path()));
    assert_eq!(server.get("/healthz"), (200, "ok".into()));
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(
        dir.path().join("printyx.db").is_file(),
        "the embedded default is ./printyx.db"
    );
    let (status, body) = server.get("/no-such-page");
    assert_eq!(status, 404, "{body}");

    let (exit, log) = server.terminate();
    assert!(
        exit.success(),
        "SIGTERM is a clean stop: {exit:?}\n{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:#?}");
}

#[test]
fn a_config_file_and_environment_variables_override_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let config = dir.path().join("custom.toml");
    std::fs::write(
        &config,
        "database_url = \"sqlite://data/from-file.db\"\nlog_format = \"json\"\n",
    )
    .unwrap();

    let mut cmd = printyx(dir.path());
    cmd.arg("--config").arg(&config);
    let server = Server::start(cmd);
    assert_eq!(server.get("/healthz").0, 200);
    assert!(dir.path().join("data/from-file.db").is_file());
    let (exit, log) = server.terminate();
    assert!(exit.success());
    for line in log.iter().filter(|l| !l.is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("not JSON: {line}"));
    }

    let mut cmd = printyx(dir.path());
    cmd.arg("--config")
        .arg(&config)
        .env("PRINTYX_DATABASE_URL", "sqlite://data/from-env.db");
    let server = Server::start(cmd);
    assert_eq!(server.get("/readyz").0, 200);
    assert!(
        dir.path().join("data/from-env.db").is_file(),
        "the environment wins over the file"
    );
    drop(server);

    // ./printyx.toml is read when present
    std::fs::write(
        dir.path().join("printyx.toml"),
        "database_url = \"sqlite://data/default-file.db\"\n",
    )
    .unwrap();
    let server = Server::start(printyx(dir.path()));
    assert_eq!(server.get("/healthz").0, 200);
    assert!(dir.path().join("data/default-file.db").is_file());
}

#[test]
fn bad_database_locations_fail_with_one_line_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expect) in [
        (
            "mysql://root@localhost/printyx",
            "unsupported database URL 'mysql'",
        ),
        (
            "postgres://printyx@127.0.0.1:1/printyx",
            "cannot connect to PostgreSQL at printyx@127.0.0.1:1/printyx",
        ),
        (
            "sqlite:///sys/printyx-cli-test.db",
            "cannot open SQLite database /sys/printyx-cli-test.db",
        ),
        (
            "sqlite://missing/dir/printyx.db",
            "directory missing/dir does not exist",
        ),
    ] {
        for args in [&["serve"][..], &["migrate"], &["tenant", "list"]] {
            let out = printyx(dir.path())
                .args(args)
                .env("PRINTYX_DATABASE_URL", url)
                .output()
                .unwrap();
            let err = one_line_error(&out);
            assert!(err.contains(expect), "{args:?} {url}: {err}");
        }
    }
    let out = printyx(dir.path())
        .arg("serve")
        .env("PRINTYX_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(one_line_error(&out).to_lowercase().contains("listen"));
    let out = printyx(dir.path())
        .args(["--config", "nope.toml", "serve"])
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("nope.toml does not exist"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[test]
fn tenant_and_user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| -> Output {
        let mut child = printyx(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "ACME Copiers",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created tenant acme"));
    let err = one_line_error(&run(
        &["tenant", "create", "--slug", "acme", "--name", "Again"],
        None,
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = one_line_error(&run(
        &["tenant", "create", "--slug", "Bad Slug", "--name", "x"],
        None,
    ));
    assert!(err.contains("tenant slug"), "{err}");

    let out = run(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "Ada@Dealer.test",
            "--name",
            "Ada",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("created user ada@dealer.test") && !stdout.contains("password:"),
        "{stdout}"
    );

    let out = run(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bo@dealer.test",
            "--name",
            "Bo",
            "--role",
            "service",
        ],
        None,
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password");
    assert!(generated.len() >= 20);

    for (args, expect) in [
        (
            vec!["--email", "ada@dealer.test", "--role", "admin"],
            "already exists",
        ),
        (
            vec!["--email", "not-an-address", "--role", "admin"],
            "e-mail address",
        ),
        (
            vec!["--email", "c@dealer.test", "--role", "janitor"],
            "no role 'janitor'",
        ),
        (
            vec![
                "--email",
                "c@dealer.test",
                "--role",
                "account_user",
                "--account",
                "999",
            ],
            "no account 999",
        ),
    ] {
        let mut full = vec!["user", "create", "--tenant", "acme", "--name", "C"];
        full.extend(args);
        let err = one_line_error(&run(&full, None));
        assert!(err.contains(expect), "{full:?}: {err}");
    }
    let err = one_line_error(&run(
        &[
            "user", "create", "--tenant", "nobody", "--email", "x@y.test", "--name", "X", "--role",
            "admin",
        ],
        None,
    ));
    assert!(err.contains("no tenant with slug 'nobody'"), "{err}");
    let err = one_line_error(&run(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "x@y.test",
            "--name",
            "X",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("short\n"),
    ));
    assert!(err.contains("at least"), "{err}");

    let out = run(&["tenant", "list"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme\tactive\tACME Copiers"));
}

#[test]
fn postgres_migrate_as_owner_then_serve_as_the_app_role() {
    let db = format!(
        "printyx_cli_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let dir = tempfile::tempdir().unwrap();
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .arg(postgres_admin_url("postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!("CREATE DATABASE {db}"));
    struct DropDb<'a>(&'a dyn Fn(&str), String);
    impl Drop for DropDb<'_> {
        fn drop(&mut self) {
            (self.0)(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.1));
        }
    }
    let _cleanup = DropDb(&psql, db.clone());

    let owner = postgres_admin_url(&db);
    let app = with_user(&owner, "printyx_cli_app");
    // the app role may not exist yet: the owner cannot serve, but can migrate
    let out = printyx(dir.path())
        .arg("migrate")
        .env("PRINTYX_DATABASE_URL", &owner)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'printyx_cli_app') THEN \
         CREATE ROLE printyx_cli_app LOGIN; END IF; END $$; GRANT printyx_app TO printyx_cli_app;",
    );

    let err = one_line_error(
        &printyx(dir.path())
            .arg("serve")
            .env("PRINTYX_DATABASE_URL", &owner)
            .output()
            .unwrap(),
    );
    assert!(err.contains("is a superuser"), "{err}");

    let mut cmd = printyx(dir.path());
    cmd.env("PRINTYX_DATABASE_URL", &app);
    let server = Server::start(cmd);
    assert_eq!(server.get("/readyz").0, 200);
    let (exit, _) = server.terminate();
    assert!(exit.success());

    // tenant commands run as the app role too, inside row-level security
    let out = printyx(dir.path())
        .args([
            "tenant",
            "create",
            "--slug",
            "pg-dealer",
            "--name",
            "PG Dealer",
        ])
        .env("PRINTYX_DATABASE_URL", &app)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `printyx secrets set` seals a value under `secret_key`; `printyx secrets rotate` seals every
/// stored secret again under a new key, after which the old key is no longer needed.
#[test]
fn secrets_are_stored_sealed_and_rotated_to_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let key1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="; // 32 × 0x01
    let key2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="; // 32 × 0x02
    let run = |args: &[&str], env: &[(&str, &str)], stdin: &str| -> Output {
        let mut cmd = printyx(dir.path());
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(run(
        &["tenant", "create", "--slug", "acme", "--name", "ACME"],
        &[],
        "",
    ));

    // without a key nothing secret can be stored
    let err = one_line_error(&run(
        &["secrets", "set", "--tenant", "acme", "--name", "imap.main"],
        &[],
        "hunter2 hunter2\n",
    ));
    assert!(err.contains("secret_key"), "{err}");
    let err = one_line_error(&run(
        &["secrets", "set", "--tenant", "acme", "--name", "imap.main"],
        &[("PRINTYX_SECRET_KEY", "too short")],
        "x\n",
    ));
    assert!(err.contains("32 random bytes"), "{err}");

    let out = ok(run(
        &["secrets", "set", "--tenant", "acme", "--name", "imap.main"],
        &[("PRINTYX_SECRET_KEY", key1)],
        "hunter2 hunter2\n",
    ));
    assert!(out.contains("stored secret imap.main"), "{out}");
    let db = std::fs::read(dir.path().join("printyx.db")).unwrap();
    assert!(
        !db.windows(15).any(|w| w == b"hunter2 hunter2"),
        "the value is not in the database file in clear"
    );

    // rotate: new key current, old key previous
    let rotate_env = [
        ("PRINTYX_SECRET_KEY", key2),
        (
            "PRINTYX_PREVIOUS_SECRET_KEYS",
            &format!("[\"{key1}\"]") as &str,
        ),
    ];
    let out = ok(run(&["secrets", "rotate"], &rotate_env, ""));
    assert!(out.starts_with("1 secrets sealed again"), "{out}");
    let out = ok(run(&["secrets", "rotate"], &rotate_env, ""));
    assert!(
        out.starts_with("0 secrets"),
        "already under the new key: {out}"
    );
    // with only the old key the secret no longer opens; with the new key alone it does
    let err = one_line_error(&run(
        &["secrets", "rotate"],
        &[("PRINTYX_SECRET_KEY", key1)],
        "",
    ));
    assert!(err.contains("not configured"), "{err}");
    ok(run(
        &["secrets", "rotate"],
        &[("PRINTYX_SECRET_KEY", key2)],
        "",
    ));
    assert!(ok(run(&["audit", "verify"], &[], "")).contains("audit trail intact"));
}

/// One number from the demo's database, read while the demo runs.
fn demo_count(db: &Path, sql: &str) -> i64 {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", db.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&mut c)
                .await
                .unwrap()
        })
}

/// Waits until the demo's agent has uploaded every device's meters since `since_ms`.
fn wait_for_live_readings(db: &Path, since_ms: i64) {
    let sql = format!(
        "SELECT COUNT(DISTINCT equipment_id) FROM readings \
         WHERE source = 'agent_snmp' AND received_at >= {since_ms}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let devices = demo_count(db, &sql);
        if devices == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {devices} devices reported since the start; the demo logged:\n{}",
            std::fs::read_to_string(db.parent().unwrap().with_file_name("demo.log"))
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn the_demo_seeds_a_year_once_and_its_agent_keeps_the_readings_coming() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo data");
    let db = data.join("printyx.db");
    let demo = || {
        let log = std::fs::File::create(dir.path().join("demo.log")).unwrap();
        e2e::demo::Demo::start(printyx(dir.path()), &data, log.into())
    };

    let started = now_ms();
    let first = demo();
    let seeded = first
        .printed
        .iter()
        .find(|l| l.starts_with("seeded a year of history"))
        .unwrap_or_else(|| panic!("nothing seeded:\n{}", first.printed.join("\n")));
    assert!(seeded.contains("200 devices"), "{seeded}");
    for sign_in in ["ada@demo-dealer.example", "pat@acme-dental.example"] {
        assert!(
            first.printed.iter().any(|l| l.contains(sign_in)),
            "the sign-in of {sign_in} is not printed"
        );
    }
    // a year of weekly readings of 200 devices, invoiced month by month, older ones paid
    assert!(demo_count(&db, "SELECT COUNT(*) FROM readings") > 200 * 52);
    assert!(demo_count(&db, "SELECT COUNT(*) FROM invoices WHERE status = 'paid'") >= 11 * 12);
    assert!(
        demo_count(&db, "SELECT COUNT(DISTINCT make) FROM equipment") >= 10,
        "devices of many brands"
    );
    assert_eq!(
        demo_count(
            &db,
            "SELECT COUNT(*) FROM review_items WHERE status = 'open'"
        ),
        1
    );

    // the agent polls the simulated fleet at once, and every new number passes the pipeline
    wait_for_live_readings(&db, started);
    let not_accepted = format!(
        "SELECT COUNT(*) FROM readings WHERE source = 'agent_snmp' AND received_at >= {started} \
           AND status <> 'accepted'"
    );
    assert_eq!(demo_count(&db, &not_accepted), 0);
    drop(first);

    // started again: the same devices, counters that went on, nothing seeded twice
    let restarted = now_ms();
    let second = demo();
    assert!(
        !second.printed.iter().any(|l| l.starts_with("seeded")),
        "{}",
        second.printed.join("\n")
    );
    wait_for_live_readings(&db, restarted);
    assert_eq!(demo_count(&db, &not_accepted), 0);
    assert_eq!(demo_count(&db, "SELECT COUNT(*) FROM tenants"), 1);
}
