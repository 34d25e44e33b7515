//! Meter e-mail into the system of record, on both databases: the sender check, the pipeline
//! with the message as evidence, once per message, and the webhook's authorisation.
#![allow(clippy::disallowed_methods)] // the fixtures are small and ours

use crate::backends;
use crate::harness::{TestDb, count, spawn_app, user_token};
use ingest::domain::{EmailAddress, SerialNumber};
use ingest::email::MailKind;
use portal::accounts::{NewAccount, NewContact};
use portal::auth::Permission;
use portal::db::TenantDb;
use portal::equipment::NewEquipment;
use portal::mail::{Folder, Intake, receive};
use portal::users::UserKind;

use e2e::email::fixture;

/// A copy of a fixture under another Message-ID, with `extra` headers on top.
fn variant(name: &str, message_id: &str, extra: &str) -> Vec<u8> {
    let raw = String::from_utf8(fixture(name)).unwrap();
    let raw = raw
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("message-id:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    format!("{extra}Message-ID: <{message_id}>\r\n{raw}").into_bytes()
}

/// An account with these copiers and a contact for each of these addresses.
pub(crate) async fn dealer<S: AsRef<str>, C: AsRef<str>>(
    t: &TestDb,
    serials: &[S],
    contacts: &[C],
) -> TenantDb {
    let db = t.tenant("acme").await;
    db.run(async |tx| {
        let acc = tx.create_account(&NewAccount::new("A-1", "Acme")?).await?;
        for s in serials {
            tx.create_equipment(&NewEquipment::new(
                acc.id,
                SerialNumber::parse(s.as_ref())?,
                "Kyocera",
                "TASKalfa",
            )?)
            .await?;
        }
        for (i, c) in contacts.iter().enumerate() {
            tx.create_contact(
                acc.id,
                &NewContact::new(
                    &format!("Contact {i}"),
                    Some(EmailAddress::parse(c.as_ref())?),
                    "meters",
                )?,
            )
            .await?;
        }
        Ok(())
    })
    .await
    .unwrap();
    db
}

async fn take(db: &TenantDb, raw: &[u8]) -> portal::mail::Receipt {
    receive(db, raw, &Intake::default()).await.unwrap()
}

const KYOCERA: &str = "kyocera_taskalfa3554ci_counter.eml";
const KYOCERA_FROM: &str = "taskalfa-rec@acme-logistics.example";

async fn a_device_report_from_a_contact_is_read_once_with_the_message_as_evidence(t: TestDb) {
    let db = dealer(&t, &["W2K4Y01337"], &[KYOCERA_FROM]).await;
    let receipt = take(&db, &fixture(KYOCERA)).await;
    assert_eq!(receipt.kind, MailKind::DeviceReport);
    assert_eq!(receipt.folder, Folder::Processed, "{receipt:?}");
    // the dealer bills total, mono, color, fax and scan of what the mail states
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE source = 'device_email' AND status = 'accepted'"
        )
        .await,
        5
    );
    assert_eq!(
        count(&t, "SELECT value FROM readings WHERE meter_kind = 'mono'").await,
        80_393
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM evidence WHERE kind = 'email' AND payload LIKE '%W2K4Y01337%'"
        )
        .await,
        1,
        "one record of the whole message behind all its readings"
    );
    let again = take(&db, &fixture(KYOCERA)).await;
    assert!(again.duplicate);
    assert_eq!(again.folder, Folder::Processed);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 5);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM inbound_messages WHERE status = 'processed' AND kind = 'device_report'").await,
        1
    );
}

async fn a_stranger_or_a_forged_sender_is_quarantined_and_nothing_read(t: TestDb) {
    let db = dealer(
        &t,
        &["W2K4Y01337"],
        &["someone-else@acme-logistics.example"],
    )
    .await;
    let receipt = take(&db, &fixture(KYOCERA)).await;
    assert_eq!(receipt.folder, Folder::NeedsReview);
    assert!(
        receipt.reasons[0].contains("neither a contact"),
        "{:?}",
        receipt.reasons
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 0);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM inbound_messages WHERE status = 'quarantined'"
        )
        .await,
        1
    );

    // registered as the device's own sender: taken
    db.run(async |tx| {
        let eq = tx
            .equipment_by_serial(&SerialNumber::parse("W2K4Y01337")?)
            .await?
            .ok_or(portal::db::DbError::NotFound)?;
        tx.add_equipment_email_sender(eq.id, &EmailAddress::parse(KYOCERA_FROM)?)
            .await
    })
    .await
    .unwrap();
    let receipt = take(&db, &variant(KYOCERA, "second@x.example", "")).await;
    assert_eq!(receipt.folder, Folder::Processed, "{receipt:?}");

    // the same sender, but the receiving server says the address was forged
    let forged = variant(
        KYOCERA,
        "third@x.example",
        "Authentication-Results: mx.example; spf=fail smtp.mailfrom=acme-logistics.example; dmarc=fail (p=reject)\r\n",
    );
    let receipt = take(&db, &forged).await;
    assert_eq!(receipt.folder, Folder::NeedsReview);
    assert!(
        receipt.reasons[0].contains("Authentication-Results"),
        "{:?}",
        receipt.reasons
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM readings").await,
        5,
        "only the second message's"
    );
}

async fn a_customer_reply_gives_reply_email_readings(t: TestDb) {
    let db = dealer(
        &t,
        &["W9C4100322", "VJR7Z03518"],
        &["frontdesk@harbourview-dental.example"],
    )
    .await;
    let receipt = take(&db, &fixture("reply_values_after_equals.eml")).await;
    assert_eq!(receipt.kind, MailKind::CustomerReply);
    assert_eq!(receipt.results.len(), 2, "{receipt:?}");
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE source = 'reply_email'"
        )
        .await,
        3,
        "mono and colour of one, mono of the other"
    );
    // a reply without numbers: a person looks, nothing stored
    let receipt = take(&db, &fixture("reply_no_numbers.eml")).await;
    assert_eq!(receipt.folder, Folder::NeedsReview);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 3);
}

async fn junk_and_broken_mail_is_filed_as_rejected_unread(t: TestDb) {
    let db = dealer(&t, &["W8A3100790"], &["kyocera@greenleaf-school.example"]).await;
    for (file, kind) in [
        ("junk_newsletter.eml", MailKind::Junk),
        ("malformed_truncated_base64.eml", MailKind::Malformed),
        ("malformed_missing_boundary.eml", MailKind::Malformed),
    ] {
        let receipt = take(&db, &fixture(file)).await;
        assert_eq!(
            (receipt.kind, receipt.folder),
            (kind, Folder::Rejected),
            "{file}"
        );
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 0);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM inbound_messages WHERE status = 'ignored'"
        )
        .await,
        3
    );
}

async fn the_webhook_takes_a_raw_message_from_an_integration_holding_mail_ingest(t: TestDb) {
    let db = dealer(&t, &["W2K4Y01337"], &[KYOCERA_FROM]).await;
    let (allowed, denied) = db
        .run(async |tx| {
            let a = user_token(
                tx,
                UserKind::Staff,
                "mail@d.example",
                "admin",
                &[Permission::MailIngest],
            )
            .await?;
            let d = user_token(
                tx,
                UserKind::Staff,
                "read@d.example",
                "admin",
                &[Permission::ReadingsRead],
            )
            .await?;
            Ok((a, d))
        })
        .await
        .unwrap();
    let app = spawn_app(t, |_| {}).await;
    let post = |token: Option<String>, body: Vec<u8>| {
        let mut req = app
            .http
            .post(app.url("/api/v1/inbound-email"))
            .header("content-type", "message/rfc822")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(post(None, fixture(KYOCERA)).await.unwrap().status(), 401);
    assert_eq!(
        post(Some(denied), fixture(KYOCERA)).await.unwrap().status(),
        403
    );
    assert_eq!(
        post(Some(allowed.clone()), Vec::new())
            .await
            .unwrap()
            .status(),
        422
    );
    let res = post(Some(allowed), fixture(KYOCERA)).await.unwrap();
    assert_eq!(res.status(), 200);
    let receipt: serde_json::Value = res.json().await.unwrap();
    assert_eq!(receipt["folder"], "processed", "{receipt}");
    assert_eq!(count(&app.t, "SELECT COUNT(*) FROM readings").await, 5);
}

/// With a reply key configured, a reply counts only with its request's valid token, and only
/// for devices of the account the request went to.
async fn a_reply_needs_the_token_of_its_request(t: TestDb) {
    const REPLY: &str = "reply_values_after_equals.eml";
    let db = dealer(
        &t,
        &["W9C4100322", "VJR7Z03518"],
        &["frontdesk@harbourview-dental.example"],
    )
    .await;
    let (mine, other) = db
        .run(async |tx| {
            let acc = tx.list_accounts(None, 10).await?[0].id;
            let contact = tx.contacts_of(acc).await?[0].id.0;
            let mine = tx
                .create_meter_request(acc, contact, "2025-10", 0)
                .await?
                .expect("the first request of the cycle");
            let b = tx
                .create_account(&NewAccount::new("B-1", "Other customer")?)
                .await?;
            let c = tx
                .create_contact(
                    b.id,
                    &NewContact::new("B", Some(EmailAddress::parse("b@b.example")?), "meters")?,
                )
                .await?;
            let other = tx
                .create_meter_request(b.id, c.id.0, "2025-10", 0)
                .await?
                .expect("the first request of the cycle");
            Ok((mine, other))
        })
        .await
        .unwrap();
    let key = b"a key of thirty-two bytes or more";
    let intake = Intake {
        reply_key: Some(key.to_vec()),
        ..Intake::default()
    };
    let tenant = db.tenant_id();
    let to = |request: i64, id: &str| {
        let token = portal::mail::token::sign(key, tenant, request);
        variant(
            REPLY,
            id,
            &format!("Delivered-To: meters+{token}@northbridge-office.example\r\n"),
        )
    };

    let receipt = receive(&db, &variant(REPLY, "plain@x", ""), &intake)
        .await
        .unwrap();
    assert_eq!(receipt.folder, Folder::NeedsReview);
    assert!(
        receipt.reasons[0].contains("token"),
        "{:?}",
        receipt.reasons
    );

    let receipt = receive(&db, &to(other, "other@x"), &intake).await.unwrap();
    assert_eq!(receipt.folder, Folder::NeedsReview);
    assert!(
        receipt.reasons[0].contains("request's account"),
        "{:?}",
        receipt.reasons
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 0);

    let receipt = receive(&db, &to(mine, "mine@x"), &intake).await.unwrap();
    assert_eq!(receipt.results.len(), 2, "{receipt:?}");
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE source = 'reply_email'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM meter_requests WHERE answered_at IS NOT NULL"
        )
        .await,
        1
    );
}

/// A reply whose numbers are only in its photo: the photo reader reads them, and they go
/// through the pipeline as the reply's reading; a photo next to typed numbers does not
/// override them; with no photo reader running the reply waits for a person.
async fn a_photo_attached_to_a_reply_is_read_by_the_photo_reader(t: TestDb) {
    let db = dealer(
        &t,
        &["W7K3600815", "05112233"],
        &[
            "dispatch@cobalt-freight.example",
            "anil@patel-accountants.example",
        ],
    )
    .await;
    let without = receive(&db, &fixture("reply_photo_only.eml"), &Intake::default())
        .await
        .unwrap();
    assert_eq!(without.folder, Folder::NeedsReview, "{without:?}");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 0);

    let intake = Intake {
        photos: Some(portal::photos::PhotoReaders::start(
            1,
            ingest::photo::Limits::default(),
        )),
        ..Intake::default()
    };
    // the same photo under another Message-ID (the first was recorded as received)
    let again = variant("reply_photo_only.eml", "photo-2@cobalt-freight.example", "");
    let receipt = receive(&db, &again, &intake).await.unwrap();
    assert_eq!(receipt.kind, MailKind::CustomerReply);
    assert_eq!(receipt.results.len(), 1, "{receipt:?}");
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM readings WHERE source = 'reply_email' AND value = 412077"
        )
        .await,
        1,
        "the display's TOTAL COUNTER 0412077"
    );

    // typed numbers and a photo: the typed total is the reading, the photo is noted
    let receipt = receive(&db, &fixture("reply_photo_and_text.eml"), &intake)
        .await
        .unwrap();
    assert_eq!(receipt.results.len(), 1, "{receipt:?}");
    assert!(
        receipt
            .reasons
            .iter()
            .any(|r| r.contains("the text's are taken")),
        "{:?}",
        receipt.reasons
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM readings WHERE value = 123456").await,
        1
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM readings").await, 2);
}

backends!(
    a_photo_attached_to_a_reply_is_read_by_the_photo_reader,
    a_reply_needs_the_token_of_its_request,
    a_device_report_from_a_contact_is_read_once_with_the_message_as_evidence,
    a_stranger_or_a_forged_sender_is_quarantined_and_nothing_read,
    a_customer_reply_gives_reply_email_readings,
    junk_and_broken_mail_is_filed_as_rejected_unread,
    the_webhook_takes_a_raw_message_from_an_integration_holding_mail_ingest,
);
