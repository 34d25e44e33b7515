//! A real meter mailbox: Dovecot started by the test, messages APPENDed to its INBOX, the
//! server's IMAP source (`portal::mail::watch`, as `printyx serve` runs it) reading them
//! into the database and moving each to the folder it earned — nothing deleted. Both
//! databases.
#![allow(clippy::disallowed_methods)] // the fixtures are small and ours

use crate::backends;
use crate::harness::{TestDb, count};
use ingest::sources::imap::ImapSourceConfig;
use sqlx::{Any, AnyConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::email::fixture;

/// The meter mailbox as a dealer would configure it: plain IMAP on `port`, IDLE, and a poll
/// longer than any of these tests waits (so what is filed in time was seen through IDLE).
fn mailbox(port: u16) -> ImapSourceConfig {
    ImapSourceConfig {
        name: "test".into(),
        tenant: "acme".into(),
        host: "127.0.0.1".into(),
        port,
        tls: false,
        ca_file: None,
        username: "meters".into(),
        password: "secret".into(),
        password_secret: None,
        mailbox: "INBOX".into(),
        poll_seconds: 120,
        idle: true,
        max_message_bytes: 30 * 1024 * 1024,
    }
}

/// The server's IMAP source (`portal::mail::watch`, as `printyx serve` starts it) until
/// stopped.
struct Watching {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), portal::db::DbError>>,
}

impl Watching {
    fn start(t: &TestDb, source: ImapSourceConfig) -> Self {
        Self::start_with_keys(t, source, portal::secrets::Keyring::empty())
    }

    fn start_with_keys(
        t: &TestDb,
        source: ImapSourceConfig,
        keys: portal::secrets::Keyring,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(portal::mail::watch(
            t.db.clone(),
            source,
            Arc::new(Default::default()),
            Arc::new(keys),
            async move {
                let _ = stopped.await;
            },
        ));
        Self { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

type Imap = async_imap::Session<tokio::net::TcpStream>;

async fn login(port: u16) -> Imap {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client
        .login("meters", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

async fn count_in(imap: &mut Imap, mailbox: &str) -> u32 {
    imap.status(mailbox, "(MESSAGES)")
        .await
        .map_or(0, |m| m.exists)
}

/// Waits until the folders hold `expected` (INBOX, Processed, NeedsReview, Rejected).
async fn until_filed(imap: &mut Imap, expected: [u32; 4]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut now = [0; 4];
        for (i, m) in ["INBOX", "Processed", "NeedsReview", "Rejected"]
            .iter()
            .enumerate()
        {
            now[i] = count_in(imap, m).await;
        }
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "folders hold {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_mailbox_is_read_into_the_database_and_every_message_filed(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_dovecot, port) = e2e::peers::dovecot(dir.path());
    crate::mail_ingest::dealer(
        &t,
        &["W2K4Y01337", "W9J2400145"],
        &["taskalfa-rec@acme-logistics.example"],
    )
    .await;

    let mut imap = login(port).await;
    for file in [
        "kyocera_taskalfa3554ci_counter.eml", // from the account's contact: processed
        "kyocera_taskalfa2554ci_toner.eml",   // a sender nobody registered: quarantined
        "junk_newsletter.eml",
        "malformed_missing_boundary.eml",
    ] {
        imap.append("INBOX", None, None, fixture(file))
            .await
            .unwrap();
    }

    let watching = Watching::start(&t, mailbox(port));
    until_filed(&mut imap, [0, 1, 1, 2]).await;
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM readings").await,
        5,
        "the processed report's total, mono, colour, fax, scan"
    );

    // new mail while the source waits (IDLE; its poll is 120 s, longer than this test waits)
    imap.append("INBOX", None, None, fixture("junk_out_of_office.eml"))
        .await
        .unwrap();
    until_filed(&mut imap, [0, 1, 1, 3]).await;

    // the same message again: filed, nothing read twice
    imap.append(
        "INBOX",
        None,
        None,
        fixture("kyocera_taskalfa3554ci_counter.eml"),
    )
    .await
    .unwrap();
    until_filed(&mut imap, [0, 2, 1, 3]).await;
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 5);

    watching.stop().await;
}

/// IMAPS: the server's certificate is checked against the configured CA.
async fn over_tls_with_a_private_ca(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_dovecot, port) = e2e::peers::dovecot(dir.path());
    let (ca, cert, key) = e2e::peers::private_ca_certificate(dir.path());
    let (_front, url) = e2e::peers::tls_front(&cert, &key, ([127, 0, 0, 1], port).into());
    let tls_port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    crate::mail_ingest::dealer(
        &t,
        &["W2K4Y01337"],
        &["taskalfa-rec@acme-logistics.example"],
    )
    .await;
    let mut imap = login(port).await;
    imap.append(
        "INBOX",
        None,
        None,
        fixture("kyocera_taskalfa3554ci_counter.eml"),
    )
    .await
    .unwrap();
    let watching = Watching::start(
        &t,
        ImapSourceConfig {
            port: tls_port,
            tls: true,
            ca_file: Some(ca),
            ..mailbox(port)
        },
    );
    until_filed(&mut imap, [0, 1, 0, 0]).await;
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 5);
    watching.stop().await;
}

/// Every shared fixture APPENDed to the mailbox, read and filed: junk and broken mail in
/// Rejected, and in the database every number expected.json states (of the kinds this dealer
/// bills) and no wrong one.
async fn every_fixture_through_the_mailbox(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_dovecot, port) = e2e::peers::dovecot(dir.path());
    let expected = e2e::email::expected();
    let files: Vec<(String, Vec<u8>)> = expected.keys().map(|f| (f.clone(), fixture(f))).collect();
    let mut serials = std::collections::BTreeSet::new();
    let mut senders = std::collections::BTreeSet::new();
    for (file, raw) in &files {
        for d in expected[file]["devices"].as_array().unwrap() {
            serials.insert(d["serial"].as_str().unwrap().to_owned());
        }
        if let Some(from) = ingest::email::extract(raw, &Default::default())
            .envelope
            .from
        {
            senders.insert(from);
        }
    }
    let serials: Vec<String> = serials.into_iter().collect();
    let senders: Vec<String> = senders.into_iter().collect();
    crate::mail_ingest::dealer(&t, &serials, &senders).await;
    let mut imap = login(port).await;
    for (_, raw) in &files {
        imap.append("INBOX", None, None, raw).await.unwrap();
    }
    let watching = Watching::start(&t, mailbox(port));
    let rejected = expected
        .values()
        .filter(|e| e["kind"] == "junk" || e["kind"] == "malformed")
        .count() as u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let inbox = count_in(&mut imap, "INBOX").await;
        let filed = count_in(&mut imap, "Processed").await
            + count_in(&mut imap, "NeedsReview").await
            + count_in(&mut imap, "Rejected").await;
        if inbox == 0 && filed == files.len() as u32 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{inbox} left in INBOX, {filed} filed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count_in(&mut imap, "Rejected").await, rejected);

    let billed = [
        "total", "mono", "color", "copy", "print", "scan", "fax", "large",
    ];
    let mut want = std::collections::BTreeSet::new();
    for e in expected.values() {
        for d in e["devices"].as_array().unwrap() {
            for (kind, v) in d["counters"].as_object().unwrap() {
                if billed.contains(&kind.as_str()) {
                    want.insert((
                        d["serial"].as_str().unwrap().to_owned(),
                        kind.clone(),
                        v.as_i64().unwrap(),
                    ));
                }
            }
        }
    }
    let mut c: AnyConnection = t.admin().await;
    let stored: std::collections::BTreeSet<(String, String, i64)> = sqlx::query_as::<Any, (String, String, i64)>(
        "SELECT e.serial, r.meter_kind, r.value FROM readings r JOIN equipment e ON e.tenant_id = r.tenant_id AND e.id = r.equipment_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let missing: Vec<_> = want.difference(&stored).collect();
    // wrong (README's rules): a device no fixture states, or a value other than every one the
    // fixtures state for that device and kind; a counter they do not score is not wrong
    let wrong: Vec<_> = stored
        .iter()
        .filter(|(serial, kind, value)| {
            let stated: Vec<i64> = want
                .iter()
                .filter(|(s, k, _)| s == serial && k == kind)
                .map(|(_, _, v)| *v)
                .collect();
            !want.iter().any(|(s, _, _)| s == serial)
                || (!stated.is_empty() && !stated.contains(value))
        })
        .collect();
    assert!(missing.is_empty(), "expected but not stored: {missing:?}");
    assert!(
        wrong.is_empty(),
        "stored but stated by no fixture: {wrong:?}"
    );
    watching.stop().await;
}

/// Without IDLE (a server that lacks it, or `idle = false`) the source looks every
/// `poll_seconds`.
async fn without_idle_the_mailbox_is_polled(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_dovecot, port) = e2e::peers::dovecot(dir.path());
    t.tenant("acme").await;
    let mut imap = login(port).await;
    let watching = Watching::start(
        &t,
        ImapSourceConfig {
            poll_seconds: 1,
            idle: false,
            ..mailbox(port)
        },
    );
    // arrives after the source's first look
    tokio::time::sleep(Duration::from_millis(500)).await;
    imap.append("INBOX", None, None, fixture("junk_newsletter.eml"))
        .await
        .unwrap();
    until_filed(&mut imap, [0, 0, 0, 1]).await;
    watching.stop().await;
}

backends!(
    without_idle_the_mailbox_is_polled,
    every_fixture_through_the_mailbox,
    a_mailbox_is_read_into_the_database_and_every_message_filed,
    over_tls_with_a_private_ca,
);

/// The mailbox password kept sealed in the database (`password_secret`), not in the config.
async fn the_password_can_be_a_sealed_secret(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_dovecot, port) = e2e::peers::dovecot(dir.path());
    crate::mail_ingest::dealer(&t, &["W2K4Y01337"], &[] as &[&str]).await;
    let keys = portal::secrets::Keyring::new(Some(crate::harness::TEST_SECRET_KEY), &[]).unwrap();
    let tenant =
        t.db.tenant_by_slug(&portal::tenants::TenantSlug::parse("acme").unwrap())
            .await
            .unwrap();
    t.db.tenant(tenant.id)
        .run(async |tx| tx.put_secret(&keys, "imap.meters", b"secret").await)
        .await
        .unwrap();
    let mut imap = login(port).await;
    imap.append("INBOX", None, None, fixture("junk_newsletter.eml"))
        .await
        .unwrap();
    let source = ImapSourceConfig {
        password: String::new(),
        password_secret: Some("imap.meters".into()),
        ..mailbox(port)
    };
    let watching = Watching::start_with_keys(&t, source, keys);
    until_filed(&mut imap, [0, 0, 0, 1]).await;
    watching.stop().await;

    // a secret that is not there stops the source with a clear reason
    let source = ImapSourceConfig {
        password: String::new(),
        password_secret: Some("imap.missing".into()),
        ..mailbox(port)
    };
    let keys = portal::secrets::Keyring::new(Some(crate::harness::TEST_SECRET_KEY), &[]).unwrap();
    let err = portal::mail::watch(
        t.db.clone(),
        source,
        Arc::new(Default::default()),
        Arc::new(keys),
        std::future::ready(()),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("no secret 'imap.missing'"),
        "{err}"
    );
}

backends!(the_password_can_be_a_sealed_secret);
