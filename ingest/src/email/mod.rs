//! Meter readings from e-mail: device counter reports (keyed on content, per vendor format)
//! and customer replies to the dealer's monthly meter request.
//!
//! [`extract`] is the whole decision for one raw message, and what
//! `printyx ingest extract FILE --json` prints:
//! 1. unpack the MIME under [`Limits`]; a structurally broken message is `malformed` and
//!    yields no reading, even where parts of it decode;
//! 2. every text (bodies, text attachments, forwarded messages with their own Date) goes past
//!    each [`vendors::EXTRACTORS`] entry: readings found make it a `device_report`;
//! 3. otherwise automatic mail (auto-replies, bounces, bulk) is `junk`;
//! 4. otherwise an answer to the meter request is a `customer_reply`, read by [`reply`] —
//!    only what the customer wrote, never the quoted request or history;
//! 5. anything else is `junk`.

pub mod message;
pub mod numbers;
pub mod reply;
pub mod report;
pub mod time;
pub mod vendors;

pub use message::{Authentication, Limits};
pub use report::DeviceReading;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MailKind {
    DeviceReport,
    CustomerReply,
    Junk,
    Malformed,
}

/// The extract contract: `{"kind", "devices": [...], "warnings": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extraction {
    pub kind: MailKind,
    pub devices: Vec<DeviceReading>,
    pub warnings: Vec<String>,
    /// Who sent it and how it is known: for the sender check, not part of the contract.
    #[serde(skip)]
    pub envelope: Envelope,
    /// A customer reply's attached photos (JPEG, PNG), for the photo reader.
    #[serde(skip)]
    pub photos: Vec<message::Attachment>,
    /// The serials the answered meter request asked about, as quoted in the reply.
    #[serde(skip)]
    pub asked: Vec<String>,
}

/// The message's identity and sender.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    pub from: Option<String>,
    pub recipients: Vec<String>,
    pub message_id: Option<String>,
    pub subject: String,
    pub authentication: Authentication,
}

/// Reads one raw RFC 5322 message. Never panics; every input gets a kind.
pub fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    let mail = message::parse(raw, limits);
    let envelope = Envelope {
        from: mail.from.clone(),
        recipients: mail.recipients.clone(),
        message_id: mail.message_id.clone(),
        subject: mail.subject.clone(),
        authentication: mail.authentication,
    };
    let done = |kind, devices, warnings| Extraction {
        kind,
        devices,
        warnings,
        envelope: envelope.clone(),
        photos: Vec::new(),
        asked: Vec::new(),
    };
    if !mail.problems.is_empty() {
        return done(MailKind::Malformed, Vec::new(), mail.problems.clone());
    }
    let mut devices = Vec::new();
    device_readings(&mail, &mut devices);
    let mut warnings = mail.warnings.clone();
    if !devices.is_empty() {
        let devices = dedupe(devices, &mut warnings);
        return done(MailKind::DeviceReport, devices, warnings);
    }
    if mail.automatic {
        return done(MailKind::Junk, Vec::new(), warnings);
    }
    if let Some(answer) = reply::read(&mail) {
        warnings.extend(answer.warnings);
        let mut extraction = done(MailKind::CustomerReply, answer.devices, warnings);
        extraction.asked = answer.asked;
        extraction.photos = mail
            .attachments
            .into_iter()
            .filter(|a| {
                matches!(
                    a.content_type.as_str(),
                    "image/jpeg" | "image/jpg" | "image/png"
                )
            })
            .collect();
        return extraction;
    }
    done(MailKind::Junk, Vec::new(), warnings)
}

/// Device readings of every text of the mail and of the mails forwarded in it.
fn device_readings(mail: &message::Mail, out: &mut Vec<DeviceReading>) {
    let attachments: Vec<String> = mail
        .attachments
        .iter()
        .filter_map(message::Attachment::text)
        .collect();
    for text in mail.texts.iter().chain(&attachments) {
        let before = out.len();
        for (_, extractor) in vendors::EXTRACTORS {
            out.extend(extractor(text, mail.date));
        }
        // an answer to a person is read by the reply reader, not guessed at as a report
        if out.len() == before && !mail.is_reply {
            out.extend(vendors::generic::extract(text, mail.date));
        }
    }
    for inner in &mail.forwarded {
        device_readings(inner, out);
    }
    // A forward typed inline ("---------- Forwarded message ----------") keeps the device's
    // text in the body: the extractors above found it there already.
}

/// The same reading stated twice (a text body and its HTML twin, two copies forwarded
/// together) counts once.
fn dedupe(devices: Vec<DeviceReading>, warnings: &mut Vec<String>) -> Vec<DeviceReading> {
    let mut out: Vec<DeviceReading> = Vec::new();
    for d in devices {
        match out
            .iter_mut()
            .find(|o| o.serial == d.serial && o.read_at == d.read_at)
        {
            Some(o) if o.counters == d.counters => {}
            Some(o) => {
                warnings.push(format!(
                    "device {} is stated twice for the same time with different counters: neither is taken",
                    d.serial
                ));
                o.counters.clear();
            }
            None => out.push(d),
        }
    }
    out.retain(|d| !d.counters.is_empty());
    out
}
