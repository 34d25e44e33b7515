//! The audit trail's hash chain, on both databases: intact after honest appends; an edited,
//! a removed and a truncated entry are each found — also by `printyx audit verify`.

use crate::backends;
use crate::harness::{TestDb, postgres_url_for};
use portal::audit::{AuditEntry, Break};
use portal::db::{Backend, TenantDb};
use sqlx::{AssertSqlSafe, Executor};

fn entry(n: i64) -> AuditEntry {
    AuditEntry {
        actor_kind: "user".into(),
        actor_id: Some(n),
        account_id: None,
        action: "account.update".into(),
        entity_type: "account".into(),
        entity_id: Some(n.to_string()),
        summary: serde_json::json!({ "before": { "name": "Old" }, "after": { "name": format!("New {n}") } }),
        ip: Some("203.0.113.9".into()),
        user_agent: Some("test".into()),
    }
}

async fn verify(db: &TenantDb) -> Vec<Break> {
    db.read(async |tx| tx.verify_audit().await).await.unwrap().1
}

/// What someone with direct database access would do; SQLite's triggers are in the way first.
async fn tamper(t: &TestDb, sql: &str) {
    let mut admin = t.admin().await;
    if t.backend == Backend::Sqlite {
        admin
            .execute("DROP TRIGGER IF EXISTS audit_log_no_update")
            .await
            .unwrap();
        admin
            .execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
            .await
            .unwrap();
    }
    admin.execute(AssertSqlSafe(sql.to_owned())).await.unwrap();
}

fn cli(t: &TestDb) -> std::process::Output {
    let url = match t.backend {
        Backend::Sqlite => t.admin_url.clone(),
        Backend::Postgres => postgres_url_for(
            crate::harness::APP_ROLE,
            t.admin_url.rsplit('/').next().unwrap(),
        ),
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_printyx"))
        .args(["audit", "verify"])
        .env("PRINTYX_DATABASE_URL", url)
        .env_remove("PRINTYX_CONFIG")
        .output()
        .unwrap()
}

async fn the_chain_reveals_edits_removals_and_truncation(t: TestDb) {
    let db = t.tenant("acme").await;
    for n in 1..=5 {
        db.run(async |tx| tx.append_audit(&entry(n)).await)
            .await
            .unwrap();
    }
    assert_eq!(
        db.read(async |tx| tx.verify_audit().await).await.unwrap(),
        (5, vec![])
    );
    let out = cli(&t);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact: 5 entries"));

    // the application's own connection cannot change it: no UPDATE/DELETE grant on
    // PostgreSQL, triggers on SQLite
    for sql in ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"] {
        let mut app = t.db.pool().begin().await.unwrap();
        let tenant = format!(
            "SELECT set_config('printyx.tenant_id', '{}', true)",
            db.tenant_id()
        );
        if t.backend == Backend::Postgres {
            app.execute(AssertSqlSafe(tenant)).await.unwrap();
        }
        let err = app.execute(sql).await.expect_err(sql).to_string();
        assert!(
            err.contains("append-only") || err.contains("permission denied"),
            "{sql}: {err}"
        );
        app.rollback().await.unwrap();
    }

    tamper(
        &t,
        "UPDATE audit_log SET summary = '{\"after\":{\"name\":\"Forged\"}}' WHERE seq = 2",
    )
    .await;
    assert_eq!(verify(&db).await, [Break::Edited { seq: 2 }]);
    tamper(&t, "DELETE FROM audit_log WHERE seq = 4").await;
    assert_eq!(
        verify(&db).await,
        [Break::Edited { seq: 2 }, Break::Missing { before_seq: 5 }]
    );
    tamper(&t, "DELETE FROM audit_log WHERE seq = 5").await;
    let breaks = verify(&db).await;
    assert_eq!(
        breaks,
        [
            Break::Edited { seq: 2 },
            Break::Truncated {
                last_seq: 3,
                written: 5
            }
        ]
    );

    let out = cli(&t);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("tenant acme: entry 2 was changed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("entries after 3 are missing (5 were written)"),
        "{stdout}"
    );
}

backends!(the_chain_reveals_edits_removals_and_truncation);
