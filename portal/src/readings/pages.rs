//! The meter pages: `/meters` (type the counters of one's devices, with the pipeline's answer
//! at once) and `/readings/{id}/evidence` (where one number came from — the e-mail, the photo,
//! the agent's raw values — so that a disputed bill can be explained).

use crate::auth::session::ActiveSession;
use crate::auth::{Permission, Principal};
use crate::db::DbError;
use crate::equipment::views::visible_equipment;
use crate::http::form::Form;
use crate::http::{ApiError, AppState};
use crate::ids::ReadingId;
use crate::readings::submit::saturating;
use crate::web::formats::Formats;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::BTreeMap;

/// A reading with its evidence, for someone who may see its device.
pub async fn with_evidence(
    db: &crate::db::TenantDb,
    p: &Principal,
    id: ReadingId,
) -> Result<
    (
        super::Reading,
        Option<super::Evidence>,
        crate::equipment::Equipment,
    ),
    ApiError,
> {
    p.require(Permission::ReadingsRead)?;
    Ok(db
        .read(async |tx| {
            let reading = tx.reading(id).await?;
            let device = visible_equipment(tx, p, reading.equipment_id).await?;
            let evidence = match reading.evidence_id {
                Some(e) => Some(tx.evidence(e).await?),
                None => None,
            };
            Ok::<_, DbError>((reading, evidence, device))
        })
        .await?)
}

#[derive(Template)]
#[template(path = "evidence.html")]
struct EvidencePage {
    chrome: Chrome,
    equipment_id: i64,
    device: String,
    kind: String,
    value: String,
    read_at: String,
    received_at: String,
    source: String,
    status: String,
    reasons: Vec<String>,
    summary: String,
    image: Option<String>,
    payload: String,
}

/// The longest evidence payload shown in the page (a whole e-mail is kept; the page shows its
/// start).
const SHOWN: usize = 20_000;

pub async fn evidence(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    let (reading, evidence, device) =
        match with_evidence(&state.db.tenant(p.tenant), p, ReadingId(id)).await {
            Ok(x) => x,
            Err(e) => return crate::equipment::pages::failure(e),
        };
    let (summary, payload, image) = match &evidence {
        Some(e) => (
            e.summary.clone(),
            e.payload
                .as_deref()
                .map(|p| p.chars().take(SHOWN).collect())
                .unwrap_or_default(),
            e.file_id
                .filter(|_| e.kind == "photo")
                .map(|f| format!("/api/v1/meter-photos/{f}/image")),
        ),
        None => (
            crate::web::i18n::n_("No evidence was kept with this reading.").into(),
            String::new(),
            None,
        ),
    };
    web::ok(&EvidencePage {
        chrome: Chrome::signed_in(&state, &session).await,
        equipment_id: device.id.0,
        device: format!("{} {} ({})", device.make, device.model, device.serial),
        kind: reading.meter_kind.to_string(),
        value: p.formats.number(reading.value.get()),
        read_at: p.formats.when(reading.read_at),
        received_at: p.formats.when(reading.received_at),
        source: reading.source.to_string(),
        status: reading.status.to_string(),
        reasons: reading.reasons.iter().map(|r| r.message.clone()).collect(),
        summary,
        image,
        payload,
    })
}

/// The counters the meter form asks for, of those this dealer bills.
const FORM_COUNTERS: &[(&str, &str)] = &[
    ("total", crate::web::i18n::n_("Total")),
    ("mono", crate::web::i18n::n_("Black & white")),
    ("color", crate::web::i18n::n_("Colour")),
];

struct CounterField {
    code: &'static str,
    label: &'static str,
    value: String,
}

/// What the pipeline said about a submission, for people.
pub(crate) struct Outcome {
    pub(crate) outcome: &'static str,
    pub(crate) headline: String,
    pub(crate) details: Vec<String>,
}

pub(crate) fn outcome_of(result: &ingest::wire::ObservationResult, f: &Formats) -> Outcome {
    use ingest::wire::ResultOutcome::*;
    let details: Vec<String> = result
        .counters
        .iter()
        .flat_map(|c| {
            c.reasons
                .iter()
                .filter(|r| r.outcome != ingest::domain::Outcome::Note)
                .map(move |r| {
                    format!(
                        "{} {}: {}",
                        c.kind,
                        f.number(saturating(c.value)),
                        r.message
                    )
                })
        })
        .chain(result.reasons.iter().map(|r| r.message.clone()))
        .collect();
    let (outcome, headline) = match result.outcome {
        Accepted => (
            "accepted",
            crate::web::i18n::n_("Thank you: the reading was accepted.").to_owned(),
        ),
        Duplicate => (
            "duplicate",
            crate::web::i18n::n_("This reading was received already.").to_owned(),
        ),
        Review => (
            "review",
            crate::web::i18n::n_(
                "Received. It looks unusual, so a person will check it before it is billed:",
            )
            .to_owned(),
        ),
        Rejected => ("rejected", crate::web::i18n::n_("Not accepted:").to_owned()),
    };
    Outcome {
        outcome,
        headline,
        details,
    }
}

struct MeterDevice {
    id: i64,
    name: String,
    serial: String,
    /// The day the meter is due, when the customer owes one this cycle.
    due: String,
    last: String,
    submission: String,
    counters: Vec<CounterField>,
    result: Option<Outcome>,
    error: String,
}

#[derive(Template)]
#[template(path = "meters.html")]
struct MetersPage {
    chrome: Chrome,
    csrf: String,
    devices: Vec<MeterDevice>,
}

/// What was just sent for one device: its result, the values to show again, and an error
/// next to its form.
type Shown = (i64, Option<Outcome>, BTreeMap<String, String>, String);

/// The meters page, with what was just sent for one device.
async fn meters_page(
    state: &AppState,
    session: &ActiveSession,
    shown: Option<Shown>,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let db = state.db.tenant(p.tenant);
    let loaded = db
        .read(async |tx| {
            Ok((
                tx.equipment_rows(p.account(), None, 200).await?,
                tx.meter_kinds().await?,
                crate::collection::owed(tx, p.account(), state.silence_ms()).await?,
            ))
        })
        .await;
    let (rows, kinds, owed) = match loaded {
        Ok(x) => x,
        Err(e) => return crate::equipment::pages::failure(e.into()),
    };
    let mut shown = shown;
    let mut devices: Vec<MeterDevice> = rows
        .into_iter()
        .filter(|r| r.status == "active")
        .map(|r| {
            let mine = shown.as_ref().is_some_and(|(id, ..)| *id == r.id);
            let (result, values, error) = match shown.take_if(|_| mine) {
                Some((_, result, values, error)) => (result, values, error),
                None => (None, BTreeMap::new(), String::new()),
            };
            MeterDevice {
                id: r.id,
                name: format!("{} {}", r.make, r.model),
                serial: r.serial,
                due: owed
                    .get(&crate::ids::EquipmentId(r.id))
                    .map(|(_, cycle)| p.formats.day(cycle.due_at - 1))
                    .unwrap_or_default(),
                last: r
                    .last_total
                    .map(|v| {
                        format!(
                            "{} ({})",
                            p.formats.number(v),
                            p.formats.when(r.last_total_at.unwrap_or(0))
                        )
                    })
                    .unwrap_or_else(|| "none yet".into()),
                submission: super::submit::new_submission(),
                counters: FORM_COUNTERS
                    .iter()
                    .filter(|(code, _)| kinds.iter().any(|k| k.as_str() == *code))
                    .map(|(code, label)| CounterField {
                        code,
                        label,
                        value: values.get(*code).cloned().unwrap_or_default(),
                    })
                    .collect(),
                result,
                error,
            }
        })
        .collect();
    devices.sort_by_key(|d| d.due.is_empty());
    web::render(
        status,
        &MetersPage {
            chrome: Chrome::signed_in(state, session).await,
            csrf: session.csrf.clone(),
            devices,
        },
    )
}

pub async fn meters(State(state): State<AppState>, session: ActiveSession) -> Response {
    meters_page(&state, &session, None, StatusCode::OK).await
}

/// A counter as people type it: digits, perhaps grouped with spaces, dots, commas or
/// apostrophes ("123 456", "123.456", "123'456").
pub(crate) fn parse_typed_counter(raw: &str) -> Result<Option<u64>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let digits: String = s
        .chars()
        .filter(|c| !" .,'\u{202f}\u{a0}".contains(*c))
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 10 {
        return Err(format!(
            "'{s}' is not a counter: type the digits the device shows"
        ));
    }
    digits
        .parse()
        .map(Some)
        .map_err(|_| format!("'{s}' is not a counter"))
}

pub async fn submit_meters(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            return meters_page(
                &state,
                &session,
                Some((id, None, BTreeMap::new(), e.to_string())),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut values = BTreeMap::new();
    let mut counters = BTreeMap::new();
    let mut problems = Vec::new();
    for (code, label) in FORM_COUNTERS {
        let raw = match form.optional(code) {
            Ok(v) => v.unwrap_or_default().to_owned(),
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        match parse_typed_counter(&raw) {
            Ok(Some(v)) => {
                if let Ok(kind) = ingest::domain::MeterKind::parse(code) {
                    counters.insert(kind, v);
                }
            }
            Ok(None) => {}
            Err(m) => problems.push(format!("{label}: {m}")),
        }
        values.insert((*code).to_owned(), raw);
    }
    if problems.is_empty() && !counters.keys().any(|k| k.as_str() == "total") {
        problems.push(crate::web::i18n::n_("Type the total counter.").into());
    }
    if !problems.is_empty() {
        return meters_page(
            &state,
            &session,
            Some((id, None, values, problems.join(" "))),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let typed = super::submit::Typed {
        equipment: crate::ids::EquipmentId(id),
        counters,
        submission: form
            .optional("submission")
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned(),
    };
    match super::submit::submit(
        &state.db.tenant(p.tenant),
        &state.config.pipeline,
        p,
        &typed,
    )
    .await
    {
        Ok(done) => {
            state.notified.users(p.tenant, &done.notified);
            let rejected = done.result.outcome == ingest::wire::ResultOutcome::Rejected;
            let outcome = outcome_of(&done.result, &p.formats);
            let (values, status) = if rejected {
                (values, StatusCode::UNPROCESSABLE_ENTITY)
            } else {
                (BTreeMap::new(), StatusCode::OK)
            };
            meters_page(
                &state,
                &session,
                Some((id, Some(outcome), values, String::new())),
                status,
            )
            .await
        }
        Err(ApiError::Invalid(m)) => {
            meters_page(
                &state,
                &session,
                Some((id, None, values, m)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => crate::equipment::pages::failure(e),
    }
}
