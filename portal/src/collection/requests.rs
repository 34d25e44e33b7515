//! The monthly meter request: when an account's collection window opens and some of its
//! devices owe a meter the customer must send, each of its meter contacts gets one e-mail
//! listing those devices, in the shape the reply reader understands (`Reference:` line,
//! `Device n: model, serial …, location: …`, `Total =` lines to type after), with the signed
//! reply token in the Reply-To address and the subject. One request per contact and cycle
//! (the table's unique key); a reminder `meters.reminder_days` before the billing day when
//! the request is unanswered and devices still owe.

use super::{Cycle, DeviceMeter, Owes, owes};
use crate::audit::Actor;
use crate::db::{Db, DbError, TenantTx};
use crate::ids::AccountId;
use crate::mailer::{Mail, MailKind};
use crate::web::formats::Formats;
use ingest::domain::EmailAddress;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// What the run needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct Asking {
    pub base_url: String,
    /// Signs reply tokens (`reply_token_key`); without it, requests carry no token.
    pub reply_key: Option<Vec<u8>>,
    /// An agent silent this long no longer counts on to report.
    pub silence_ms: i64,
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub requests: usize,
    pub reminders: usize,
}

/// Sends the requests and reminders that are due, in every tenant.
pub async fn send_due(db: &Db, asking: &Asking) -> Result<Sent, DbError> {
    let mut sent = Sent::default();
    for tenant in db.list_tenants().await? {
        let done = db
            .tenant(tenant.id)
            .run(async |tx| send_due_in(tx, asking).await)
            .await?;
        sent.requests += done.requests;
        sent.reminders += done.reminders;
    }
    Ok(sent)
}

/// Every hour for as long as the server runs, waking the mail sender when it queued mail.
pub async fn run(db: Db, asking: Asking, mail: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        match send_due(&db, &asking).await {
            Ok(Sent {
                requests: 0,
                reminders: 0,
            }) => {}
            Ok(_) => mail.notify_one(),
            Err(e) => tracing::warn!(error = %e, "meter requests not sent; trying again"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

async fn send_due_in(tx: &mut TenantTx, asking: &Asking) -> Result<Sent, DbError> {
    let now = tx.now_ms();
    let settings = tx.collection_settings().await?;
    let dealer = tx.tenant().await?.name;
    let mut by_account: BTreeMap<AccountId, Vec<DeviceMeter>> = BTreeMap::new();
    for d in tx.device_meters(None).await? {
        by_account.entry(d.account).or_default().push(d);
    }
    let mut sent = Sent::default();
    for (account, devices) in by_account {
        let Some(first) = devices.first() else {
            continue;
        };
        let cycle = Cycle::current(now, first.billing_day, settings.window_days);
        let owing: Vec<&DeviceMeter> = devices
            .iter()
            .filter(|d| owes(d, &cycle, now, asking.silence_ms) == Owes::Customer)
            .collect();
        if owing.is_empty() {
            continue;
        }
        let made = tx.meter_requests_of(account, &cycle.label()).await?;
        let remind_from = cycle.due_at - i64::from(settings.reminder_days + 1) * DAY_MS;
        for contact in tx.meter_contacts(account).await? {
            let Ok(to) = EmailAddress::parse(&contact.email) else {
                tracing::warn!(
                    contact = contact.id,
                    "meter contact without a usable address"
                );
                continue;
            };
            let (id, reminder) = match made.iter().find(|m| m.contact == contact.id) {
                None => match tx
                    .create_meter_request(account, contact.id, &cycle.label(), cycle.due_at)
                    .await?
                {
                    Some(id) => (id, false),
                    None => continue,
                },
                Some(m) if !m.answered && !m.reminded && now >= remind_from => {
                    tx.mark_meter_request_reminded(m.id).await?;
                    (m.id, true)
                }
                Some(_) => continue,
            };
            let token = asking
                .reply_key
                .as_ref()
                .map(|k| crate::mail::token::sign(k, tx.tenant_id(), id));
            let letter = Letter {
                dealer: &dealer,
                base_url: &asking.base_url,
                cycle: &cycle,
                reference: cycle.reference(id),
                token: token.as_deref(),
                contact: &contact.name,
                devices: &owing,
                reminder,
            };
            tx.queue_mail(&Mail {
                kind: MailKind::MeterRequest,
                to,
                subject: letter.subject(),
                text: letter.text(),
                reply_to: token
                    .as_deref()
                    .zip(settings.reply_address.as_ref())
                    .and_then(|(t, a)| plus_address(a, t)),
            })
            .await?;
            tx.audit(
                &Actor::system(),
                if reminder {
                    "meter_request.reminded"
                } else {
                    "meter_request.sent"
                },
                ("meter_request", Some(id.to_string())),
                Some(account),
                serde_json::json!({
                    "cycle": cycle.label(),
                    "contact": contact.id,
                    "devices": owing.iter().map(|d| d.serial.as_str()).collect::<Vec<_>>(),
                }),
            )
            .await?;
            if reminder {
                sent.reminders += 1;
            } else {
                sent.requests += 1;
            }
        }
    }
    Ok(sent)
}

/// `meters@dealer.example` with `mr.42.…` → `meters+mr.42.…@dealer.example`.
fn plus_address(mailbox: &EmailAddress, token: &str) -> Option<EmailAddress> {
    let (local, domain) = mailbox.as_str().split_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    EmailAddress::parse(&format!("{local}+{token}@{domain}")).ok()
}

/// One request e-mail.
struct Letter<'a> {
    dealer: &'a str,
    base_url: &'a str,
    cycle: &'a Cycle,
    reference: String,
    token: Option<&'a str>,
    contact: &'a str,
    devices: &'a [&'a DeviceMeter],
    reminder: bool,
}

impl Letter<'_> {
    fn subject(&self) -> String {
        let token = self.token.map(|t| format!(" {t}")).unwrap_or_default();
        format!(
            "{}Meter readings {} [{}]{token}",
            if self.reminder { "Reminder: " } else { "" },
            self.cycle.name(),
            self.reference
        )
    }

    fn text(&self) -> String {
        // one reader, many readers' formats: the unambiguous ones
        let f = Formats::default();
        let due = self.cycle.billing_date.format("%-d %B %Y");
        let mut text = format!("Dear {},\n\n", self.contact);
        if self.reminder {
            text.push_str(&format!(
                "We have not yet received the meter readings below; they are due by {due}.\n"
            ));
        } else {
            text.push_str(&format!(
                "Your meter readings for {} are due by {due}.\n",
                self.cycle.name()
            ));
        }
        text.push_str(
            "Please reply to this e-mail with the current counter values of each device listed \
             below: type them after the = signs, or attach a photo of each device's counter \
             screen.\n",
        );
        text.push_str(&format!(
            "You can also enter them on the portal: {}/meters\n\n",
            self.base_url.trim_end_matches('/')
        ));
        text.push_str(&format!("Reference: {}\n\n", self.reference));
        for (i, d) in self.devices.iter().enumerate() {
            let mut line = format!("Device {}: {}, serial {}", i + 1, d.model, d.serial);
            if let Some(site) = d.site.as_deref().filter(|s| !s.contains(',')) {
                line.push_str(&format!(", location: {site}"));
            }
            text.push_str(&line);
            text.push('\n');
            if let (Some(v), Some(at)) = (d.last_total, d.last_total_at) {
                text.push_str(&format!(
                    "  Last reading {}: Total {}\n",
                    f.day(at),
                    f.number(v)
                ));
            }
            text.push_str("  Total =\n");
            if d.has_mono {
                text.push_str("  Black & white =\n");
            }
            if d.has_color {
                text.push_str("  Colour =\n");
            }
            text.push('\n');
        }
        text.push_str(&format!("Thank you,\n{} - Meter desk\n", self.dealer));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EquipmentId;

    #[test]
    fn answers_go_to_the_tokened_mailbox() {
        let a = EmailAddress::parse("meters@dealer.example").unwrap();
        assert_eq!(
            plus_address(&a, "mr.42.0123456789abcdef0123")
                .unwrap()
                .as_str(),
            "meters+mr.42.0123456789abcdef0123@dealer.example"
        );
        let tagged = EmailAddress::parse("meters+old@dealer.example").unwrap();
        assert_eq!(
            plus_address(&tagged, "mr.1.x").unwrap().as_str(),
            "meters+mr.1.x@dealer.example"
        );
    }

    /// The request is written in the shape the reply reader takes it apart by: a reply that
    /// types values after the `=` signs of the quoted request is read as those devices'.
    #[test]
    fn a_reply_to_the_request_is_read_back() {
        let cycle = Cycle::current(1_774_958_700_000, 1, 7);
        let devices = [
            DeviceMeter {
                equipment: EquipmentId(1),
                account: AccountId(1),
                serial: "W9C4100322".into(),
                make: "Kyocera".into(),
                model: "TASKalfa 2554ci".into(),
                site: Some("Reception".into()),
                billing_day: 1,
                last_total: Some(60_019),
                last_total_at: Some(1_772_000_000_000),
                last_reported_at: None,
                has_mono: true,
                has_color: true,
            },
            DeviceMeter {
                equipment: EquipmentId(2),
                account: AccountId(1),
                serial: "VJR7Z03518".into(),
                make: "Kyocera".into(),
                model: "ECOSYS M3145dn".into(),
                site: None,
                billing_day: 1,
                last_total: None,
                last_total_at: None,
                last_reported_at: None,
                has_mono: false,
                has_color: false,
            },
        ];
        let owing: Vec<&DeviceMeter> = devices.iter().collect();
        let letter = Letter {
            dealer: "Northbridge Office Systems",
            base_url: "https://portal.example/",
            cycle: &cycle,
            reference: cycle.reference(42),
            token: Some("mr.42.0123456789abcdef0123"),
            contact: "Front Desk",
            devices: &owing,
            reminder: false,
        };
        let text = letter.text();
        assert!(text.contains("https://portal.example/meters"), "{text}");
        assert!(
            text.contains("Last reading 2026-02-25: Total 60,019"),
            "{text}"
        );
        let quoted: String = text
            .lines()
            .map(|l| {
                let l = l
                    .replace("  Black & white =", "  Black & white = 50331")
                    .replace("  Colour =", "  Colour = 12440");
                format!("> {l}\n")
            })
            .collect();
        let reply = format!(
            "From: Front Desk <frontdesk@customer.example>\r\n\
             To: meters+mr.42.0123456789abcdef0123@dealer.example\r\n\
             Subject: Re: {}\r\n\
             Date: Tue, 31 Mar 2026 09:12:00 +0200\r\n\
             Message-ID: <r1@customer.example>\r\n\
             In-Reply-To: <q1@dealer.example>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Here you are. VJR7Z03518: 123988\r\n\r\n\
             On Tue, 31 Mar 2026, Meter desk wrote:\r\n{}",
            letter.subject(),
            quoted.replace('\n', "\r\n")
        );
        let got = ingest::email::extract(reply.as_bytes(), &ingest::email::Limits::default());
        assert_eq!(got.kind, ingest::email::MailKind::CustomerReply, "{got:?}");
        assert_eq!(got.asked, ["W9C4100322", "VJR7Z03518"]);
        let first = got
            .devices
            .iter()
            .find(|d| d.serial == "W9C4100322")
            .expect("the first device is read");
        assert_eq!(first.counters.get("mono"), Some(&50_331), "{got:?}");
        assert_eq!(first.counters.get("color"), Some(&12_440), "{got:?}");
        let second = got
            .devices
            .iter()
            .find(|d| d.serial == "VJR7Z03518")
            .unwrap_or_else(|| {
                panic!("the number the customer wrote beside a serial goes to that device: {got:?}")
            });
        assert_eq!(second.counters.values().next(), Some(&123_988), "{got:?}");
        assert!(
            letter
                .subject()
                .starts_with("Meter readings April 2026 [MR-2604-000042]")
        );
    }
}
