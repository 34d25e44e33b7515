//! Two `printyx serve` processes on one shared MQTT subscription against a real Mosquitto:
//! every message is stored exactly once, the two split the work, and a malformed message is
//! dropped without disturbing the rest. On both databases.

use crate::backends;
use crate::harness::{APP_ROLE, TestDb, postgres_url_for};
use e2e::peers::{Proc, mosquitto};
use ingest::domain::SerialNumber;
use portal::accounts::NewAccount;
use portal::db::Backend;
use portal::equipment::NewEquipment;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, MqttOptions};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

async fn two_processes_on_a_shared_subscription_store_each_message_once(t: TestDb) {
    const N: usize = 40;
    let db = t.tenant("acme").await;
    db.run(async |tx| {
        let acc = tx.create_account(&NewAccount::new("A-1", "Acme")?).await?;
        for i in 0..N {
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse(&format!("IOT-{i}"))?,
                "Meter",
                "M1",
            )?)
            .await?;
        }
        Ok(())
    })
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = mosquitto(dir.path());
    let database_url = match t.backend {
        Backend::Sqlite => t.admin_url.clone(),
        Backend::Postgres => postgres_url_for(APP_ROLE, t.admin_url.rsplit('/').next().unwrap()),
    };
    let config = dir.path().join("printyx.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\n\n[[mqtt]]\nname = \"iot\"\ntenant = \"acme\"\n\
             broker = \"mqtt://127.0.0.1:{port}\"\ntopic = \"printyx/+/meters\"\ngroup = \"ingest\"\n"
        ),
    )
    .unwrap();
    let workers: Vec<Proc> = (0..2)
        .map(|_| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_printyx"));
            cmd.arg("--config")
                .arg(&config)
                .args(["serve", "--listen", "127.0.0.1:0"])
                .env("NO_COLOR", "1");
            Proc::spawn(cmd)
        })
        .collect();
    let mut logs = vec![Vec::new(), Vec::new()];
    for (w, log) in workers.iter().zip(&mut logs) {
        w.wait_for("MQTT subscribed", log);
    }

    let mut options = MqttOptions::new("test-publisher", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut events) = AsyncClient::new(options, 100);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    client
        .publish(
            "printyx/garbage/meters",
            QoS::AtLeastOnce,
            false,
            b"{not json".to_vec(),
        )
        .await
        .unwrap();
    // the servers run on the real clock, so the readings are from a minute ago
    let now = ingest::clock::Clock::now_ms(&ingest::clock::SystemClock);
    for i in 0..N {
        let payload = serde_json::json!({
            "id": format!("m{i}"), "read_at": now - 60_000, "source": "mqtt",
            "device": { "serial": format!("IOT-{i}") }, "meters": { "total": 1000 + i }
        });
        client
            .publish(
                format!("printyx/m{i}/meters"),
                QoS::AtLeastOnce,
                false,
                payload.to_string(),
            )
            .await
            .unwrap();
    }

    // every message stored, then count who stored what
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut by_worker: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(), BTreeMap::new()];
    let mut dropped = 0;
    while by_worker.iter().map(|m| m.len()).sum::<usize>() < N {
        assert!(Instant::now() < deadline, "only {:?} stored", by_worker);
        for (i, w) in workers.iter().enumerate() {
            while let Ok(line) = w.lines.try_recv() {
                if let Some(topic) = line
                    .split("topic=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                {
                    if line.contains("MQTT observation stored") {
                        *by_worker[i].entry(topic.to_owned()).or_default() += 1;
                    } else if line.contains("MQTT message dropped") {
                        dropped += 1;
                    }
                }
                logs[i].push(line);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored: usize = by_worker.iter().map(|m| m.len()).sum();
    assert_eq!(stored, N);
    assert!(
        by_worker.iter().all(|m| !m.is_empty()),
        "both processes take a share: {by_worker:?}"
    );
    assert!(
        by_worker[0].keys().all(|k| !by_worker[1].contains_key(k)),
        "no message handled twice"
    );
    assert!(by_worker.iter().all(|m| m.values().all(|n| *n == 1)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for w in &workers {
        while let Ok(line) = w.lines.try_recv() {
            dropped += usize::from(line.contains("MQTT message dropped"));
        }
    }
    assert_eq!(dropped, 1, "the malformed message is dropped, once");

    let mut admin = t.admin().await;
    let readings: i64 = sqlx::query_scalar::<sqlx::Any, i64>(
        "SELECT COUNT(*) FROM readings WHERE source = 'mqtt' AND status = 'accepted'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(readings, N as i64);
}

backends!(two_processes_on_a_shared_subscription_store_each_message_once);
