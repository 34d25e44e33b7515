//! The equipment pages: the list (`/equipment`) and one device (`/equipment/{id}`).

use super::views;
use crate::auth::Permission;
use crate::auth::session::ActiveSession;
use crate::http::{ApiError, AppState};
use crate::ids::{EquipmentId, ReadingId};
use crate::web::chart::{self, Bar};
use crate::web::{self, Chrome};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

const PAGE: u32 = 100;

/// A page for a refusal or fault of the domain (404 for what is not the user's to see).
pub(crate) fn failure(e: ApiError) -> Response {
    match e {
        ApiError::NotFound => web::error_page(StatusCode::NOT_FOUND, "There is no such device."),
        ApiError::Refused(m) | ApiError::Invalid(m) => web::error_page(StatusCode::FORBIDDEN, &m),
        other => {
            tracing::error!(error = %other, "equipment page failed");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

struct Row {
    id: i64,
    make: String,
    model: String,
    serial: String,
    account: String,
    site: String,
    last_total: String,
    last_report: String,
    flags: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "equipment.html")]
struct ListPage {
    chrome: Chrome,
    staff: bool,
    rows: Vec<Row>,
    next: Option<i64>,
}

/// Reported within the last three days: the device's agent is alive.
const SILENT_AFTER_MS: i64 = 72 * 3_600_000;

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let after = query
        .get("after")
        .and_then(|a| a.parse::<i64>().ok())
        .map(EquipmentId);
    let db = state.db.tenant(p.tenant);
    let rows = match views::list(&db, p, after, PAGE).await {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let now = db.now_ms();
    let next = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows = rows
        .into_iter()
        .map(|r| {
            let mut flags = Vec::new();
            if r.low_supply {
                flags.push(crate::web::i18n::n_("toner low"));
            }
            if r.open_alerts > 0 {
                flags.push(crate::web::i18n::n_("alert"));
            }
            if r.last_reported_at
                .is_some_and(|at| now - at > SILENT_AFTER_MS)
            {
                flags.push(crate::web::i18n::n_("not reporting"));
            }
            Row {
                id: r.id,
                make: r.make,
                model: r.model,
                serial: r.serial,
                account: r.account,
                site: r.site.unwrap_or_default(),
                last_total: r
                    .last_total
                    .map(|v| {
                        format!(
                            "{} ({})",
                            p.formats.number(v),
                            p.formats.when(r.last_total_at.unwrap_or(0))
                        )
                    })
                    .unwrap_or_else(|| "—".into()),
                last_report: r
                    .last_reported_at
                    .map(|t| p.formats.when(t))
                    .unwrap_or_else(|| "never".into()),
                flags,
            }
        })
        .collect();
    web::ok(&ListPage {
        chrome: Chrome::signed_in(&state, &session).await,
        staff: p.is_staff(),
        rows,
        next,
    })
}

struct SupplyRow {
    description: String,
    percent: i64,
    shown: String,
}

struct AlertRow {
    code: String,
    severity: String,
    description: String,
    since: String,
}

struct ReadingRow {
    id: i64,
    read_at: String,
    kind: String,
    value: String,
    source: String,
    status: String,
    reasons: String,
    has_evidence: bool,
}

struct Month {
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "equipment_detail.html")]
struct DetailPage {
    chrome: Chrome,
    id: i64,
    title: String,
    serial: String,
    account: String,
    site: String,
    status: String,
    last_report: String,
    can_submit: bool,
    chart: String,
    months: Vec<Month>,
    supplies: Vec<SupplyRow>,
    alerts: Vec<AlertRow>,
    show_readings: bool,
    readings: Vec<ReadingRow>,
    older: Option<String>,
    /// `None`: the reader may not see service requests.
    requests: Option<Vec<OpenRequest>>,
    can_report: bool,
    can_order: bool,
}

struct OpenRequest {
    id: i64,
    number: i64,
    problem: &'static str,
    status: &'static str,
    opened: String,
}

/// The text of a reading's reasons, as a person reads them.
pub(crate) fn reasons_text(reasons: &[ingest::domain::Reason]) -> String {
    reasons
        .iter()
        .map(|r| r.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn detail(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    // `before=READ_AT.ID`: the next page of older readings
    let before = query.get("before").and_then(|b| {
        let (at, id) = b.split_once('.')?;
        Some((at.parse::<i64>().ok()?, ReadingId(id.parse::<i64>().ok()?)))
    });
    let db = state.db.tenant(p.tenant);
    let d = match views::detail(&db, p, EquipmentId(id), before).await {
        Ok(d) => d,
        Err(e) => return failure(e),
    };
    // the device is the reader's (checked above): its open service requests, when they may see them
    let requests = if p.permissions.contains(&Permission::RequestsRead) {
        let filter = crate::requests::Filter {
            account: p.account(),
            equipment: Some(EquipmentId(id)),
            open_only: true,
            assigned_to: None,
        };
        match db
            .read(async |tx| tx.requests(&filter, None, 20).await)
            .await
        {
            Ok(rows) => Some(
                rows.into_iter()
                    .map(|r| OpenRequest {
                        id: r.id,
                        number: r.number,
                        problem: crate::requests::label(
                            crate::requests::PROBLEM_TYPES,
                            &r.problem_type,
                        ),
                        status: crate::requests::label(crate::requests::STATUSES, &r.status),
                        opened: p.formats.when(r.created_at),
                    })
                    .collect(),
            ),
            Err(e) => return failure(e.into()),
        }
    } else {
        None
    };
    let older = (d.readings.len() == views::READINGS_PAGE as usize)
        .then(|| {
            d.readings
                .last()
                .map(|r| format!("{}.{}", r.read_at, r.id.0))
        })
        .flatten();
    let title = format!("{} {}", d.equipment.make, d.equipment.model);
    let bars: Vec<Bar> = d
        .monthly_total
        .iter()
        .map(|b| Bar {
            label: p.lang.month(&b.label),
            value: b.value,
        })
        .collect();
    let months: Vec<Month> = bars
        .iter()
        .map(|b: &Bar| Month {
            label: b.label.clone(),
            value: b
                .value
                .map(|v| p.formats.number(crate::readings::submit::saturating(v)))
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    web::ok(&DetailPage {
        chrome: Chrome::signed_in(&state, &session).await,
        id,
        chart: chart::bars(
            &p.lang.t1("Pages printed per month by {}", &title),
            &bars,
            &p.formats,
        ),
        months,
        serial: d.equipment.serial.to_string(),
        account: d.account,
        site: d.site.unwrap_or_default(),
        status: d.equipment.status.clone(),
        last_report: d
            .equipment
            .last_reported_at
            .map(|t| p.formats.when(t))
            .unwrap_or_else(|| "never".into()),
        can_submit: p.permissions.contains(&Permission::ReadingsSubmit),
        supplies: d
            .supplies
            .into_iter()
            .map(|s| SupplyRow {
                description: s.description,
                percent: s.percent.unwrap_or(0),
                shown: s
                    .percent
                    .map_or_else(|| "level unknown".into(), |v| format!("{v} %")),
            })
            .collect(),
        alerts: d
            .alerts
            .into_iter()
            .map(|a| AlertRow {
                code: a.code,
                severity: a.severity,
                description: a.description,
                since: p.formats.when(a.first_seen_at),
            })
            .collect(),
        show_readings: p.permissions.contains(&Permission::ReadingsRead),
        readings: d
            .readings
            .iter()
            .map(|r| ReadingRow {
                id: r.id.0,
                read_at: p.formats.when(r.read_at),
                kind: r.meter_kind.to_string(),
                value: p.formats.number(r.value.get()),
                source: r.source.to_string(),
                status: r.status.to_string(),
                reasons: reasons_text(&r.reasons),
                has_evidence: r.evidence_id.is_some(),
            })
            .collect(),
        older,
        title,
        requests,
        can_report: p.permissions.contains(&Permission::RequestsCreate),
        can_order: p.permissions.contains(&Permission::OrdersCreate),
    })
}
