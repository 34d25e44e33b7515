//! The outgoing mail queue against a real SMTP server: a relay that is down means retries on a
//! schedule (not a lost message), and once it is back the message goes out once. Both
//! databases.

use crate::backends;
use crate::harness::{TestDb, count, mail_to, smtp_on};
use portal::mailer::{Mail, MailKind};
use std::sync::Arc;

async fn a_relay_that_is_down_is_tried_again_later(t: TestDb) {
    let db = t.tenant("acme").await;
    let port = e2e::peers::free_tcp_port();
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(portal::mailer::run(
        t.db.clone(),
        Some(smtp_on(port)),
        wake.clone(),
        std::future::pending(),
    ));
    db.run(async |tx| {
        tx.queue_mail(&Mail {
            kind: MailKind::Invitation,
            to: ingest::domain::EmailAddress::parse("neo@acme.test")?,
            subject: "Welcome".into(),
            text: "Your link: https://portal.example/invitations/accept?token=pxi_1_ab".into(),
            reply_to: None,
        })
        .await
    })
    .await
    .unwrap();
    wake.notify_one();

    // nobody listens: the attempt is recorded and the message waits, queued
    let failed = "SELECT COUNT(*) FROM outbound_emails WHERE status = 'queued' AND attempts = 1 AND last_error IS NOT NULL";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(&t, failed).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failed attempt was not recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // the relay comes back on its port; a nudge before the retry time sends nothing
    let smtp = e2e::smtp::smtp_server_on(port);
    wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(smtp.messages().is_empty(), "not before the retry is due");
    // a minute later (the first retry) it goes out, once, and the link is not kept
    t.clock.advance_ms(60_000);
    wake.notify_one();
    let got = mail_to(&smtp, "neo@acme.test", 1).await;
    assert!(got[0].text.contains("token=pxi_1_ab"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(
        &t,
        "SELECT COUNT(*) FROM outbound_emails WHERE status = 'sent'",
    )
    .await
        == 0
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM outbound_emails WHERE body_text LIKE '%token=%'"
        )
        .await,
        0
    );
    t.clock.advance_ms(3_600_000);
    wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
}

backends!(a_relay_that_is_down_is_tried_again_later);
