//! Meters a person types in (the portal's meter form, or the API): each goes through the same
//! validation pipeline as an agent's, with the person as its source and the submission as its
//! evidence, and the answer says at once what was decided and why ("lower than the last
//! reading…"). A number that needs a person's look is put in front of the dealer's reviewers.

use crate::auth::{Permission, Principal};
use crate::equipment::views::visible_equipment;
use crate::http::ApiError;
use crate::ids::{EquipmentId, UserId};
use ingest::domain::MeterKind;
use ingest::pipeline::PipelineConfig;
use ingest::upload::{Origin, process_observations};
use ingest::wire::{
    DeviceIdentity, Observation, ObservationResult, ObservationSource, ResultOutcome,
};
use std::collections::BTreeMap;

/// What a person typed for one device.
#[derive(Debug, Clone)]
pub struct Typed {
    pub equipment: EquipmentId,
    pub counters: BTreeMap<MeterKind, u64>,
    /// A random token of the form it came from: the same form sent twice is one reading.
    pub submission: String,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub result: ObservationResult,
    /// Who was notified (to wake their open pages).
    pub notified: Vec<UserId>,
}

/// The highest counter a person can type (a copier's counter has at most 10 digits).
const MAX_TYPED: u64 = 9_999_999_999;

/// Checks a form's token: 16–64 letters and digits.
pub fn parse_submission(token: &str) -> Result<String, ApiError> {
    let t = token.trim();
    if (16..=64).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(t.to_owned())
    } else {
        Err(ApiError::Invalid(
            "the form's submission token is missing or malformed; reload the page".into(),
        ))
    }
}

/// A new random submission token for a form.
pub fn new_submission() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub async fn submit(
    db: &crate::db::TenantDb,
    pipeline: &PipelineConfig,
    p: &Principal,
    typed: &Typed,
) -> Result<Submitted, ApiError> {
    p.require(Permission::ReadingsSubmit)?;
    if typed.counters.is_empty() {
        return Err(ApiError::Invalid("type at least the total counter".into()));
    }
    if let Some((kind, v)) = typed.counters.iter().find(|(_, v)| **v > MAX_TYPED) {
        return Err(ApiError::Invalid(format!(
            "{kind}: {v} has more digits than a copier's counter"
        )));
    }
    let submission = parse_submission(&typed.submission)?;
    let mut tx = db.begin().await?;
    let device = visible_equipment(&mut tx, p, typed.equipment).await?;
    let kinds = tx.meter_kinds().await?;
    if let Some(unknown) = typed.counters.keys().find(|k| !kinds.contains(*k)) {
        return Err(ApiError::Invalid(format!(
            "{unknown}: not a counter this dealer bills"
        )));
    }
    let now = tx.now_ms();
    let person = tx.user(p.user).await?;
    let observation = Observation {
        id: format!("form-{submission}"),
        read_at: now,
        source: ObservationSource::Snmp,
        device: DeviceIdentity {
            serial: Some(device.serial.as_str().to_owned()),
            ..DeviceIdentity::default()
        },
        meters: typed.counters.clone(),
        supplies: None,
        alerts: None,
        evidence: None,
        confidence: None,
    };
    let summary = format!(
        "typed in by {} ({}) on the portal",
        person.display_name, person.email
    );
    let results = process_observations(
        &mut tx,
        Origin::Manual {
            person: p.user.0,
            summary: &summary,
        },
        &[&observation],
        now,
        pipeline,
        &kinds,
    )
    .await
    .map_err(|e| match e {
        ingest::upload::UploadError::Port(e) => ApiError::from(e),
        refused => ApiError::Invalid(refused.to_string()),
    })?;
    let result = results
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the pipeline gave no result")))?;
    let mut notified = Vec::new();
    if result
        .counters
        .iter()
        .any(|c| c.outcome == ResultOutcome::Review)
    {
        let reviewers = tx.staff_holding(Permission::ReadingsReview).await?;
        notified = tx
            .notify(&crate::notifications::Note {
                event: "reading.review",
                subject: Some(device.id.0),
                title: format!(
                    "A meter of {} ({}) waits for review",
                    device.model, device.serial
                ),
                body: format!(
                    "{} typed {}; the checks want a person to look: {}",
                    person.display_name,
                    counters_text(&result),
                    result
                        .counters
                        .iter()
                        .flat_map(|c| c.reasons.iter().map(|r| r.message.clone()))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                link: Some("/review".into()),
                recipients: &reviewers,
            })
            .await?;
    }
    tx.audit(
        &p.actor(),
        "reading.submitted",
        ("equipment", Some(device.id.to_string())),
        Some(device.account_id),
        serde_json::json!({
            "counters": typed.counters.iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(),
            "outcome": result.outcome,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Submitted { result, notified })
}

/// "total 123,456, mono 100,000" for messages written once for many readers.
pub fn counters_text(result: &ObservationResult) -> String {
    let f = crate::web::formats::Formats::default();
    result
        .counters
        .iter()
        .map(|c| format!("{} {}", c.kind, f.number(saturating(c.value))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A counter as the signed number the formats group (counters never come near `i64::MAX`).
pub(crate) fn saturating(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_tokens_are_checked() {
        assert!(parse_submission(&new_submission()).is_ok());
        for bad in [
            "",
            "short",
            "has spaces in it here",
            &"x".repeat(65),
            "abcdefgh<script>zz",
        ] {
            assert!(parse_submission(bad).is_err(), "{bad}");
        }
    }
}
