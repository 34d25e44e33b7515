//! Meter e-mail: device counter reports and customer replies, from a mailbox or the inbound
//! webhook. [`receive`] is the one domain operation both call:
//! 1. extract (ingest's e-mail readers); broken or junk mail is filed as Rejected, unread;
//! 2. check the sender: a reading is taken only from a contact of the device's account or an
//!    address registered for the device, and never when the receiving server's
//!    `Authentication-Results` say the sender failed — otherwise the whole message is
//!    quarantined for a person (NeedsReview), nothing read;
//! 3. every device reading goes through the validation pipeline with source `device_email`
//!    or `reply_email`, the raw message kept as its evidence;
//! 4. the message is recorded once (by Message-ID): the same message again changes nothing.

pub mod http;
pub mod store;
pub mod token;

use crate::db::{Db, DbError, TenantDb};
use crate::photos::PhotoReaders;
use crate::tenants::TenantSlug;
use ingest::domain::SerialNumber;
use ingest::email::{Authentication, Extraction, Limits, MailKind};
use ingest::pipeline::PipelineConfig;
use ingest::sources::imap::{Filed, ImapSourceConfig};
use ingest::upload::{Origin, UploadError, process_observations};
use ingest::wire::{
    DeviceIdentity, Observation, ObservationResult, ObservationSource, ResultOutcome,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

/// Where the message goes in the mailbox once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Folder {
    /// Every reading accepted (or already known).
    Processed,
    /// A person looks: a reading under review, a quarantined sender, a reply without numbers.
    NeedsReview,
    /// Nothing to ingest: junk, or broken beyond reading.
    Rejected,
}

impl Folder {
    /// The IMAP mailbox name.
    pub fn mailbox(self) -> &'static str {
        match self {
            Self::Processed => "Processed",
            Self::NeedsReview => "NeedsReview",
            Self::Rejected => "Rejected",
        }
    }

    fn status(self, quarantined: bool) -> &'static str {
        match (self, quarantined) {
            (_, true) => "quarantined",
            (Self::Rejected, false) => "ignored",
            _ => "processed",
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub message_id: String,
    pub kind: MailKind,
    pub folder: Folder,
    /// The same message was received before; nothing changed.
    pub duplicate: bool,
    /// Why it is not simply processed (quarantine reasons, extraction warnings).
    pub reasons: Vec<String>,
    /// Per device reading, as the pipeline answered.
    pub results: Vec<ObservationResult>,
}

/// How meter mail is taken in.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    pub pipeline: PipelineConfig,
    pub limits: Limits,
    /// The key of the meter requests' reply tokens. With it, a customer reply is taken only
    /// with a valid token, and only for devices of the request's account; without it, the
    /// devices a reply names (by the quoted request) and the sender check decide.
    pub reply_key: Option<Vec<u8>>,
    /// Reads the photos attached to customer replies; without it they go to review unread.
    pub photos: Option<PhotoReaders>,
}

impl Intake {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            pipeline: config.pipeline.clone(),
            limits: Limits::default(),
            reply_key: config
                .reply_token_key
                .as_ref()
                .map(|k| k.as_bytes().to_vec()),
            photos: Some(PhotoReaders::start(
                config.photo_workers,
                ingest::photo::Limits::default(),
            )),
        }
    }
}

/// Receives one raw message for this tenant.
pub async fn receive(db: &TenantDb, raw: &[u8], intake: &Intake) -> Result<Receipt, DbError> {
    let mut extraction = ingest::email::extract(raw, &intake.limits);
    if extraction.kind == MailKind::CustomerReply && !extraction.photos.is_empty() {
        read_photos(&mut extraction, intake).await;
    }
    let message_id = match &extraction.envelope.message_id {
        Some(id) => id.chars().take(255).collect(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    };
    if let Some(seen) = db
        .read(async |tx| tx.inbound_message(&message_id).await)
        .await?
    {
        return Ok(Receipt {
            message_id,
            kind: extraction.kind,
            folder: seen,
            duplicate: true,
            reasons: vec!["this message was received before".into()],
            results: Vec::new(),
        });
    }
    let mut receipt = Receipt {
        message_id: message_id.clone(),
        kind: extraction.kind,
        folder: Folder::Rejected,
        duplicate: false,
        reasons: extraction.warnings.clone(),
        results: Vec::new(),
    };
    let quarantine = match extraction.kind {
        MailKind::Malformed | MailKind::Junk => None,
        MailKind::DeviceReport | MailKind::CustomerReply => {
            take_readings(db, &extraction, &message_id, raw, intake, &mut receipt)
                .await?
                .err()
        }
    };
    if let Some(why) = &quarantine {
        receipt.folder = Folder::NeedsReview;
        receipt.results.clear();
        receipt.reasons.insert(0, why.clone());
    }
    let reason = (!receipt.reasons.is_empty()).then(|| receipt.reasons.join("; "));
    let status = receipt.folder.status(quarantine.is_some());
    let envelope = &extraction.envelope;
    let recorded = db
        .run(async |tx| {
            tx.record_inbound_message(
                &message_id,
                envelope.from.as_deref(),
                &envelope.subject,
                extraction.kind,
                status,
                reason.as_deref(),
            )
            .await
        })
        .await;
    match recorded {
        // received twice at once: the other one recorded it
        Err(DbError::Conflict(_)) => {
            receipt.duplicate = true;
            Ok(receipt)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(receipt),
    }
}

/// At most this many photos of one reply are read (the rest are named in a warning).
const MAX_PHOTOS: usize = 4;
/// The confidence of a photo reading the photo proves (its counters add up, or two reads
/// agree): above the pipeline's bar, so that only the pipeline's own checks (history, rate,
/// monotonic) can still send it to review.
const PHOTO_PROVEN: f64 = 0.95;
/// The confidence of a photo reading the photo does not prove: below the bar, so a person
/// confirms it.
const PHOTO_UNPROVEN: f64 = 0.5;

/// A reply's photos through the photo reader: each one's reading joins the readings the text
/// gave, for the device the photo names or the one device the request asked about. A device
/// the text already answered keeps the text's numbers.
async fn read_photos(extraction: &mut Extraction, intake: &Intake) {
    let photos = std::mem::take(&mut extraction.photos);
    let Some(readers) = &intake.photos else {
        extraction
            .warnings
            .push("photos attached, but no photo reader runs here".into());
        return;
    };
    if photos.len() > MAX_PHOTOS {
        extraction.warnings.push(format!(
            "{} photos attached: only the first {MAX_PHOTOS} are read",
            photos.len()
        ));
    }
    let same = |a: &str, b: &str| {
        let key = |s: &str| -> String {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect()
        };
        key(a) == key(b)
    };
    for photo in photos.into_iter().take(MAX_PHOTOS) {
        let name = photo.name.clone().unwrap_or_else(|| "a photo".into());
        let read = match readers.read(photo.data).await {
            Ok(read) => read,
            Err(e) => {
                extraction.warnings.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut warnings: Vec<String> = read
            .warnings
            .iter()
            .map(|w| format!("{name}: {w}"))
            .collect();
        let mut proven = read.accept;
        if let Some(mut device) = read.devices.into_iter().next() {
            let asked = &extraction.asked;
            match asked.as_slice() {
                [only] if device.serial.is_empty() => device.serial = only.clone(),
                [only] if !same(only, &device.serial) => {
                    warnings.push(format!(
                        "{name}: the photo shows serial {}, the request asked about {only}",
                        device.serial
                    ));
                    device.serial = only.clone();
                    proven = false;
                }
                _ if device.serial.is_empty() => {
                    warnings.push(format!(
                        "{name}: no serial number in the photo, and the request asked about {} devices",
                        asked.len()
                    ));
                    extraction.warnings.append(&mut warnings);
                    continue;
                }
                _ => {}
            }
            if extraction
                .devices
                .iter()
                .any(|d| same(&d.serial, &device.serial))
            {
                warnings.push(format!(
                    "{name}: {} has numbers in the text too; the text's are taken",
                    device.serial
                ));
            } else {
                device.confidence = if proven {
                    device.confidence.max(PHOTO_PROVEN)
                } else {
                    device.confidence.min(PHOTO_UNPROVEN)
                };
                extraction.devices.push(device);
            }
        }
        extraction.warnings.append(&mut warnings);
    }
}

/// Checks the sender and stores the readings in one transaction. `Ok(Err(why))`: quarantined,
/// nothing stored.
async fn take_readings(
    db: &TenantDb,
    extraction: &Extraction,
    message_id: &str,
    raw: &[u8],
    intake: &Intake,
    receipt: &mut Receipt,
) -> Result<Result<(), String>, DbError> {
    let envelope = &extraction.envelope;
    if extraction.devices.is_empty() {
        return Ok(Err("no reading in what the sender wrote".into()));
    }
    if envelope.authentication == Authentication::Failed {
        return Ok(Err(
            "the receiving server's Authentication-Results say the sender failed SPF/DKIM/DMARC"
                .into(),
        ));
    }
    let Some(from) = envelope.from.as_deref() else {
        return Ok(Err("no sender address".into()));
    };
    let reply = extraction.kind == MailKind::CustomerReply;
    let mut tx = db.begin().await?;
    if reply && let Some(key) = &intake.reply_key {
        let mut texts: Vec<&str> = envelope.recipients.iter().map(String::as_str).collect();
        texts.push(&envelope.subject);
        let Some(request) = token::find(key, db.tenant_id(), &texts) else {
            return Ok(Err("a reply without a valid meter-request token".into()));
        };
        let Some(account) = tx.answer_meter_request(request).await? else {
            return Ok(Err(format!(
                "the token names meter request {request}, which does not exist"
            )));
        };
        for device in &extraction.devices {
            let serial = SerialNumber::parse(&device.serial).ok();
            let owner = match &serial {
                Some(s) => tx.account_of_serial(s).await?,
                None => None,
            };
            if owner != Some(account) {
                return Ok(Err(format!(
                    "the reply names {}, which is not a device of the request's account",
                    device.serial
                )));
            }
        }
    }
    for device in &extraction.devices {
        let Ok(serial) = SerialNumber::parse(&device.serial) else {
            return Ok(Err(format!(
                "serial {:?} is not a serial number",
                device.serial
            )));
        };
        match tx.sender_allowed(&serial, from).await? {
            Some(true) => {}
            Some(false) => {
                return Ok(Err(format!(
                    "{from} is neither a contact of the account of device {serial} nor an address registered for it"
                )));
            }
            // a device report from an unknown device: listed as a new device, nothing billed
            None if !reply => {}
            None => {
                return Ok(Err(format!(
                    "the reply names {serial}, which is not registered"
                )));
            }
        }
    }
    let kinds = tx.meter_kinds().await?;
    let received_at = tx.now_ms();
    let observations: Vec<Observation> = extraction
        .devices
        .iter()
        .map(|d| Observation {
            id: d
                .serial
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect(),
            read_at: d.read_at_ms().unwrap_or(received_at),
            // the e-mail origin decides the readings' source; this field is the agent's
            source: ObservationSource::Snmp,
            device: DeviceIdentity {
                serial: Some(d.serial.clone()),
                model: d.model.clone(),
                ..DeviceIdentity::default()
            },
            // counters this dealer does not bill are informational here, not refusals
            meters: d
                .counters
                .iter()
                .filter_map(|(k, v)| {
                    let kind = ingest::domain::MeterKind::parse(k).ok()?;
                    kinds.contains(&kind).then_some((kind, *v))
                })
                .collect(),
            supplies: None,
            alerts: None,
            evidence: None,
            confidence: Some(d.confidence),
        })
        .collect();
    let key = &hex::encode(Sha256::digest(message_id.as_bytes()))[..32];
    let summary = format!(
        "e-mail from {from}: {}",
        envelope.subject.chars().take(200).collect::<String>()
    );
    let raw_text = String::from_utf8_lossy(raw);
    let origin = Origin::Email {
        message: key,
        reply,
        summary: &summary,
        raw: &raw_text,
    };
    let refs: Vec<&Observation> = observations
        .iter()
        .filter(|o| !o.meters.is_empty())
        .collect();
    if refs.is_empty() {
        return Ok(Err(
            "none of the counters stated is one this dealer bills".into()
        ));
    }
    match process_observations(
        &mut tx,
        origin,
        &refs,
        received_at,
        &intake.pipeline,
        &kinds,
    )
    .await
    {
        Ok(results) => {
            tx.commit().await?;
            let all_taken = results.iter().all(|r| {
                matches!(
                    r.outcome,
                    ResultOutcome::Accepted | ResultOutcome::Duplicate
                )
            });
            receipt.folder = if all_taken {
                Folder::Processed
            } else {
                Folder::NeedsReview
            };
            receipt.results = results;
            Ok(Ok(()))
        }
        Err(UploadError::Port(e)) => Err(e),
        Err(refused) => Ok(Err(refused.to_string())),
    }
}

/// Reads a meter mailbox until `until` completes: each message through [`receive`], then
/// filed in the folder it earned. A message that cannot be stored now stays for later.
pub async fn watch(
    db: Db,
    mut source: ImapSourceConfig,
    intake: Arc<Intake>,
    keys: Arc<crate::secrets::Keyring>,
    until: impl Future<Output = ()>,
) -> Result<(), DbError> {
    let slug = TenantSlug::parse(&source.tenant).map_err(|_| {
        DbError::Refused(format!(
            "IMAP source {}: no tenant '{}'",
            source.name, source.tenant
        ))
    })?;
    let tenant = db.tenant(db.tenant_by_slug(&slug).await?.id);
    if let Some(name) = source.password_secret.clone() {
        let sealed = tenant
            .read(async |tx| tx.secret(&keys, &name).await)
            .await
            .map_err(|e| match e {
                DbError::NotFound => DbError::Refused(format!(
                    "IMAP source {}: tenant '{}' has no secret '{name}' (printyx secrets set)",
                    source.name, source.tenant
                )),
                other => other,
            })?;
        source.password = String::from_utf8(sealed).map_err(|_| {
            DbError::Refused(format!(
                "IMAP source {}: the secret '{name}' is not text",
                source.name
            ))
        })?;
    }
    let mut intake = (*intake).clone();
    intake.limits.max_bytes = source.max_message_bytes as usize;
    let intake = Arc::new(intake);
    let name = source.name.clone();
    let handler = move |raw: Vec<u8>| {
        let (tenant, intake, name) = (tenant.clone(), intake.clone(), name.clone());
        async move {
            match receive(&tenant, &raw, &intake).await {
                Ok(receipt) => {
                    tracing::info!(source = %name, message = %receipt.message_id, kind = ?receipt.kind,
                        folder = receipt.folder.mailbox(), "meter e-mail filed");
                    Filed::In(receipt.folder.mailbox())
                }
                Err(e) => Filed::Retry(e.to_string()),
            }
        }
    };
    ingest::sources::imap::run(source, handler, until).await;
    Ok(())
}
