//! The monthly meter request, through a real SMTP relay and back through the mail intake: asked
//! once per contact and cycle when the window opens, only for the devices the customer must
//! send; reminded once before the billing day; the answer (typed after the `=` of the quoted
//! request, sent to the tokened Reply-To) becomes the device's reading. Both databases.

use crate::backends;
use crate::harness::{T0, TestDb, count, mail_to, smtp_on};
use crate::sign_in::{Dealer, dealer};
use ingest::domain::{EmailAddress, SerialNumber};
use portal::accounts::NewContact;
use portal::collection::requests::{Asking, Sent, send_due};
use portal::equipment::NewEquipment;
use portal::ids::AccountId;
use portal::mail::{Folder, Intake, receive};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const KEY: &str = "the reply key: thirty-two characters or more";

async fn setup(d: &Dealer) {
    let add = async |account: AccountId, serial: &str, contacts: &[(&str, &str)]| {
        d.db.run(async |tx| {
            let e = tx
                .create_equipment(&NewEquipment::new(
                    account,
                    SerialNumber::parse(serial)?,
                    "Ricoh",
                    "MP C3004",
                )?)
                .await?;
            for (email, role) in contacts {
                tx.create_contact(
                    account,
                    &NewContact::new(email, Some(EmailAddress::parse(email)?), role)?,
                )
                .await?;
            }
            Ok(e.id)
        })
        .await
        .unwrap()
    };
    add(
        d.account,
        "E-1",
        &[("m@acme.test", "meters"), ("g@acme.test", "general")],
    )
    .await;
    let agent = add(d.account, "E-2", &[]).await;
    add(d.other_account, "E-3", &[("b@bravo.test", "meters")]).await;
    d.db.run(async |tx| {
        tx.set_setting("meters.reply_address", "meters@dealer.test")
            .await?;
        // E-2 has an agent that reports every few minutes
        tx.record_equipment_report(agent, None, T0 + 25 * DAY).await
    })
    .await
    .unwrap();
}

async fn run(d: &Dealer, at: i64) -> Sent {
    d.app.t.clock.set_ms(at);
    let asking = Asking {
        base_url: d.app.base.clone(),
        reply_key: Some(KEY.as_bytes().to_vec()),
        silence_ms: 72 * HOUR,
    };
    let sent = send_due(&d.app.t.db, &asking).await.unwrap();
    d.app.mail.notify_one();
    sent
}

async fn contacts_are_asked_once_reminded_once_and_answered(t: TestDb) {
    let smtp = e2e::smtp::smtp_server();
    let d = dealer(t, |c| {
        c.smtp = Some(smtp_on(smtp.port));
        c.reply_token_key = Some(KEY.into());
    })
    .await;
    setup(&d).await;

    // billing day is the 1st, the window opens 7 days before: nothing on 20 January
    assert_eq!(run(&d, T0 + 19 * DAY).await, Sent::default());
    // 26 January: each account's meter contact is asked, once
    let sent = run(&d, T0 + 25 * DAY + 10 * HOUR).await;
    assert_eq!(
        sent,
        Sent {
            requests: 2,
            reminders: 0
        }
    );
    assert_eq!(
        run(&d, T0 + 25 * DAY + 11 * HOUR).await,
        Sent::default(),
        "asked already"
    );
    let request = mail_to(&smtp, "m@acme.test", 1).await.remove(0);
    let id = count(
        &d.app.t,
        "SELECT MIN(id) FROM meter_requests WHERE cycle = '2026-02'",
    )
    .await;
    let token = portal::mail::token::sign(KEY.as_bytes(), d.db.tenant_id(), id);
    assert_eq!(
        request.subject,
        format!("Meter readings February 2026 [MR-2602-{id:06}] {token}")
    );
    assert!(
        request
            .raw
            .contains(&format!("Reply-To: meters+{token}@dealer.test")),
        "{}",
        request.raw
    );
    assert!(
        request
            .text
            .contains("Device 1: MP C3004, serial E-1\n  Total =")
            && request.text.contains("due by 1 February 2026")
            && request.text.contains(&format!("{}/meters", d.app.base)),
        "{}",
        request.text
    );
    assert!(
        !request.text.contains("E-2"),
        "its agent reports it: {}",
        request.text
    );
    assert!(
        !request.text.contains("E-3"),
        "another account's device: {}",
        request.text
    );
    assert_eq!(mail_to(&smtp, "b@bravo.test", 1).await.len(), 1);
    assert!(
        smtp.messages().iter().all(|m| m.to != "g@acme.test"),
        "a contact who does not take meter requests"
    );

    // two days before the billing day, once
    assert_eq!(run(&d, T0 + 28 * DAY).await, Sent::default());
    let sent = run(&d, T0 + 29 * DAY + 9 * HOUR).await;
    assert_eq!(
        sent,
        Sent {
            requests: 0,
            reminders: 2
        }
    );
    assert_eq!(run(&d, T0 + 29 * DAY + 10 * HOUR).await, Sent::default());
    let reminder = mail_to(&smtp, "m@acme.test", 2).await.remove(1);
    assert!(
        reminder
            .subject
            .starts_with("Reminder: Meter readings February 2026"),
        "{}",
        reminder.subject
    );

    // the customer answers by typing after the = of the quoted request
    let quoted: String = request
        .text
        .lines()
        .map(|l| format!("> {}\r\n", l.replace("  Total =", "  Total = 23456")))
        .collect();
    let reply = format!(
        "From: Meters <m@acme.test>\r\nTo: meters+{token}@dealer.test\r\n\
         Subject: Re: {}\r\nDate: Fri, 30 Jan 2026 11:00:00 +0000\r\n\
         Message-ID: <answer-1@acme.test>\r\nIn-Reply-To: <request@dealer.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Here they are.\r\n\r\nOn Mon, 26 Jan 2026, Meter desk wrote:\r\n{quoted}",
        request.subject
    );
    let intake = Intake {
        reply_key: Some(KEY.as_bytes().to_vec()),
        ..Intake::default()
    };
    let receipt = receive(&d.db, reply.as_bytes(), &intake).await.unwrap();
    assert_eq!(receipt.folder, Folder::Processed, "{receipt:?}");
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM readings r JOIN equipment e ON e.id = r.equipment_id \
             WHERE e.serial = 'E-1' AND r.source = 'reply_email' AND r.value = 23456"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &d.app.t,
            &format!(
                "SELECT COUNT(*) FROM meter_requests WHERE id = {id} AND answered_at IS NOT NULL"
            )
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &d.app.t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'meter_request.sent'"
        )
        .await,
        2
    );
    // the next cycle asks again, on its own schedule
    assert_eq!(run(&d, T0 + 30 * DAY).await, Sent::default());
    let sent = run(&d, T0 + 53 * DAY).await;
    assert_eq!(sent.requests, 2, "March's window opened on 22 February");
}

backends!(contacts_are_asked_once_reminded_once_and_answered);
