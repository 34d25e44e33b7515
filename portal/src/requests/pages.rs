//! The service-request pages: the list, a new request (with attachments), one request with
//! its timeline and actions, its files, and the dealer's dispatch board.

use super::work::{self, Upload};
use super::{NewRequest, PRIORITIES, PROBLEM_TYPES, RequestId, RequestView, STATUSES, label};
use crate::auth::Permission;
use crate::auth::session::ActiveSession;
use crate::http::form::Form;
use crate::http::{ApiError, AppState};
use crate::ids::{EquipmentId, UserId};
use crate::web::formats::Formats;
use crate::web::i18n::Lang;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

fn failure(e: ApiError) -> Response {
    match e {
        ApiError::NotFound => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such service request.")
        }
        other => crate::equipment::pages::failure(other),
    }
}

struct Row {
    id: i64,
    number: i64,
    device: String,
    account: String,
    problem: &'static str,
    priority: String,
    status: &'static str,
    technician: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct ListPage {
    chrome: Chrome,
    staff: bool,
    can_create: bool,
    open_only: bool,
    rows: Vec<Row>,
    older: Option<i64>,
}

const PAGE: u32 = 100;

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let open_only = !query.contains_key("all");
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let filter = super::Filter {
        account: p.account(),
        open_only,
        ..super::Filter::default()
    };
    let rows = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.requests(&filter, before, PAGE).await)
        .await
    {
        Ok(r) => r,
        Err(e) => return failure(e.into()),
    };
    let older = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    web::ok(&ListPage {
        chrome: Chrome::signed_in(&state, &session).await,
        staff: p.is_staff(),
        can_create: p.permissions.contains(&Permission::RequestsCreate),
        open_only,
        rows: rows.into_iter().map(|r| row(r, &p.formats)).collect(),
        older,
    })
}

fn row(r: RequestView, f: &Formats) -> Row {
    Row {
        id: r.id,
        number: r.number,
        device: r.device.unwrap_or_default(),
        account: r.account,
        problem: label(PROBLEM_TYPES, &r.problem_type),
        priority: r.priority,
        status: label(STATUSES, &r.status),
        technician: r.technician.unwrap_or_default(),
        opened: f.when(r.created_at),
    }
}

struct DeviceOption {
    id: i64,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "request_new.html")]
struct NewPage {
    chrome: Chrome,
    csrf: String,
    devices: Vec<DeviceOption>,
    problem_types: &'static [(&'static str, &'static str)],
    priorities: &'static [(&'static str, &'static str)],
    problem_type: String,
    priority: String,
    description: String,
    slots: Vec<usize>,
    error: String,
}

async fn new_page(
    state: &AppState,
    session: &ActiveSession,
    chosen: Option<i64>,
    draft: (String, String, String),
    error: String,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let devices =
        match crate::equipment::views::list(&state.db.tenant(p.tenant), p, None, 500).await {
            Ok(d) => d,
            Err(e) => return failure(e),
        };
    web::render(
        status,
        &NewPage {
            chrome: Chrome::signed_in(state, session).await,
            csrf: session.csrf.clone(),
            devices: devices
                .into_iter()
                .map(|d| DeviceOption {
                    selected: Some(d.id) == chosen,
                    name: format!(
                        "{} {} ({}){}",
                        d.make,
                        d.model,
                        d.serial,
                        if p.is_staff() {
                            format!(" — {}", d.account)
                        } else {
                            String::new()
                        }
                    ),
                    id: d.id,
                })
                .collect(),
            problem_types: PROBLEM_TYPES,
            priorities: PRIORITIES,
            problem_type: draft.0,
            priority: draft.1,
            description: draft.2,
            slots: vec![1, 2, 3],
            error,
        },
    )
}

pub async fn new_form(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let chosen = query.get("equipment").and_then(|e| e.parse::<i64>().ok());
    let draft = ("other".to_owned(), "normal".to_owned(), String::new());
    new_page(
        &state,
        &session,
        chosen,
        draft,
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The fields and files of a multipart form.
async fn read_multipart(mut m: Multipart) -> Result<(Form, Vec<Upload>), String> {
    let mut fields = Vec::new();
    let mut uploads = Vec::new();
    while let Some(field) = m
        .next_field()
        .await
        .map_err(|e| format!("the form could not be read: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachments" {
            let file_name = field.file_name().unwrap_or("file").to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| format!("the upload was cut short: {e}"))?;
            if !bytes.is_empty() {
                uploads.push(Upload {
                    name: file_name,
                    bytes: bytes.to_vec(),
                });
            }
        } else {
            let value = field
                .text()
                .await
                .map_err(|e| format!("the form could not be read: {e}"))?;
            fields.push(format!(
                "{}={}",
                web::url_encode(&name),
                web::url_encode(&value)
            ));
        }
    }
    let form = Form::parse_body(fields.join("&").as_bytes()).map_err(|e| e.to_string())?;
    Ok((form, uploads))
}

pub async fn create(
    State(state): State<AppState>,
    session: ActiveSession,
    request: Request,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let empty = || ("other".to_owned(), "normal".to_owned(), String::new());
    let multipart = match Multipart::from_request(request, &state).await {
        Ok(m) => m,
        Err(_) => {
            return new_page(
                &state,
                &session,
                None,
                empty(),
                crate::web::i18n::n_("Send the request with the form on this page.").into(),
                bad,
            )
            .await;
        }
    };
    let (form, uploads) = match read_multipart(multipart).await {
        Ok(x) => x,
        Err(m) => return new_page(&state, &session, None, empty(), m, bad).await,
    };
    let field = |n: &str| {
        form.optional(n)
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned()
    };
    let draft = (
        field("problem_type"),
        field("priority"),
        field("description"),
    );
    let equipment = field("equipment").parse::<i64>().ok();
    let preferred = (1..=3)
        .map(|i| (field(&format!("date{i}")), field(&format!("window{i}"))))
        .collect();
    let new = match equipment
        .ok_or_else(|| crate::web::i18n::n_("Choose the device.").to_owned())
        .and_then(|e| {
            NewRequest::parse(EquipmentId(e), &draft.1, &draft.0, &draft.2, preferred)
                .map_err(|e| e.to_string())
        }) {
        Ok(n) => n,
        Err(m) => return new_page(&state, &session, equipment, draft, m, bad).await,
    };
    let p = &session.principal;
    match work::create(
        &state.db.tenant(p.tenant),
        &state.config.upload_dir,
        p,
        &new,
        uploads,
    )
    .await
    {
        Ok(done) => {
            state.notified.users(p.tenant, &done.notified);
            web::see_other(
                &format!("/requests/{}", done.request.id),
                Some("request-sent"),
            )
        }
        Err(ApiError::Invalid(m)) => new_page(&state, &session, equipment, draft, m, bad).await,
        Err(e) => failure(e),
    }
}

struct Item {
    when: String,
    author: String,
    text: String,
    internal: bool,
}

struct Technician {
    id: i64,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "request_detail.html")]
struct DetailPage {
    chrome: Chrome,
    csrf: String,
    r: RequestView,
    status: &'static str,
    priority: &'static str,
    problem: &'static str,
    device: String,
    technician: String,
    visit: String,
    preferred: String,
    attachments: Vec<super::Attachment>,
    steps: Vec<(&'static str, &'static str)>,
    staff_manage: bool,
    technicians: Vec<Technician>,
    /// The reader's time zone, which the visit's times are typed in.
    zone: &'static str,
    events: Vec<Item>,
    can_comment: bool,
    error: String,
}

fn event_text(e: &super::Event, lang: Lang) -> String {
    match e.kind.as_str() {
        "status" => {
            let to = lang.t(label(STATUSES, e.to_status.as_deref().unwrap_or("")));
            match &e.body {
                Some(b) => format!("{to}: {b}"),
                None => to.to_owned(),
            }
        }
        _ => e.body.clone().unwrap_or_default(),
    }
}

async fn detail_page(
    state: &AppState,
    session: &ActiveSession,
    id: i64,
    error: String,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let db = state.db.tenant(p.tenant);
    let (r, events, attachments) = match work::show(&db, p, RequestId(id)).await {
        Ok(x) => x,
        Err(e) => return failure(e),
    };
    let manage = p.is_staff() && p.permissions.contains(&Permission::RequestsManage);
    let technicians = if manage {
        db.read(async |tx| tx.staff_holding(Permission::RequestsManage).await)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut names = Vec::new();
    for t in &technicians {
        if let Ok(u) = db.read(async |tx| tx.user(*t).await).await {
            names.push(Technician {
                id: u.id.0,
                selected: Some(u.id.0) == r.assigned_to,
                name: u.display_name,
            });
        }
    }
    let steps: Vec<(&'static str, &'static str)> = if manage {
        super::next_steps(&r.status)
            .iter()
            .map(|s| (*s, label(STATUSES, s)))
            .collect()
    } else if p.permissions.contains(&Permission::RequestsCreate) {
        super::customer_steps(&r.status)
            .iter()
            .map(|s| {
                (
                    *s,
                    if *s == "cancelled" {
                        crate::web::i18n::n_("Cancel this request")
                    } else {
                        crate::web::i18n::n_("Close: it is fixed")
                    },
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let visit = match (r.scheduled_start, r.scheduled_end) {
        (Some(a), Some(b)) => format!("{} – {}", p.formats.when(a), p.formats.when(b)),
        _ => String::new(),
    };
    web::render(
        status,
        &DetailPage {
            chrome: Chrome::signed_in(state, session).await.with_notice(notice),
            csrf: session.csrf.clone(),
            status: label(STATUSES, &r.status),
            priority: label(PRIORITIES, &r.priority),
            problem: label(PROBLEM_TYPES, &r.problem_type),
            device: r.device.clone().unwrap_or_default(),
            technician: r.technician.clone().unwrap_or_default(),
            preferred: r
                .preferred
                .iter()
                .map(|d| format!("{} ({})", d.date, d.window))
                .collect::<Vec<_>>()
                .join(", "),
            visit,
            attachments,
            steps,
            staff_manage: manage,
            technicians: names,
            zone: p.formats.zone.name(),
            events: events
                .iter()
                .map(|e| Item {
                    when: p.formats.when(e.created_at),
                    author: e.author.clone().unwrap_or_else(|| "the device".into()),
                    text: event_text(e, p.lang),
                    internal: e.internal,
                })
                .collect(),
            can_comment: manage
                || (!p.is_staff() && p.permissions.contains(&Permission::RequestsCreate)),
            error,
            r,
        },
    )
}

pub async fn detail(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let notice = web::notice_of(&query);
    detail_page(&state, &session, id, String::new(), notice, StatusCode::OK).await
}

/// After an action on one request: back to it, or its page with the refusal.
async fn after(
    state: &AppState,
    session: &ActiveSession,
    id: i64,
    done: Result<work::Done, ApiError>,
) -> Response {
    match done {
        Ok(done) => {
            state
                .notified
                .users(session.principal.tenant, &done.notified);
            web::see_other(&format!("/requests/{id}"), None)
        }
        Err(ApiError::Invalid(m)) => {
            detail_page(
                state,
                session,
                id,
                m,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => failure(e),
    }
}

/// A field of a posted form as text (absent: empty); a malformed form or a field sent twice is
/// the post's error.
fn field(f: &Form, name: &str) -> Result<String, ApiError> {
    Ok(f.optional(name)?.unwrap_or_default().trim().to_owned())
}

pub async fn comment(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let done = async {
        let f = Form::of_request(&headers, &body)?;
        let (text, internal) = (field(&f, "text")?, f.checked("internal")?);
        work::comment(
            &state.db.tenant(p.tenant),
            p,
            RequestId(id),
            &text,
            internal,
        )
        .await
    }
    .await;
    after(&state, &session, id, done).await
}

pub async fn status(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let done = async {
        let f = Form::of_request(&headers, &body)?;
        let (to, note) = (field(&f, "status")?, field(&f, "note")?);
        let note = (!note.is_empty()).then_some(note);
        work::change_status(
            &state.db.tenant(p.tenant),
            p,
            RequestId(id),
            &to,
            note.as_deref(),
        )
        .await
    }
    .await;
    after(&state, &session, id, done).await
}

pub async fn assign(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let done = async {
        let f = Form::of_request(&headers, &body)?;
        let raw = field(&f, "technician")?;
        let technician = match raw.as_str() {
            "" => None,
            t => {
                Some(UserId(t.parse::<i64>().map_err(|_| {
                    ApiError::Invalid("choose a technician".into())
                })?))
            }
        };
        work::assign(&state.db.tenant(p.tenant), p, RequestId(id), technician).await
    }
    .await;
    after(&state, &session, id, done).await
}

/// `YYYY-MM-DDTHH:MM` (what a datetime-local field sends), on the clock of the person typing.
fn parse_local_minute(f: &Formats, raw: &str) -> Result<i64, ApiError> {
    f.parse_local(raw).ok_or_else(|| {
        ApiError::Invalid(format!(
            "'{}' is not a date and time on your clock ({}; YYYY-MM-DDTHH:MM)",
            raw.chars().take(40).collect::<String>(),
            f.zone.name()
        ))
    })
}

pub async fn schedule(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let done = async {
        let f = Form::of_request(&headers, &body)?;
        let start = parse_local_minute(&p.formats, &field(&f, "start")?)?;
        let end = parse_local_minute(&p.formats, &field(&f, "end")?)?;
        work::schedule(&state.db.tenant(p.tenant), p, RequestId(id), start, end).await
    }
    .await;
    after(&state, &session, id, done).await
}

/// An attachment, as a download that is never run in the browser; `preview`: its small image.
async fn serve_file(
    state: &AppState,
    session: &ActiveSession,
    id: i64,
    file: i64,
    preview: bool,
) -> Response {
    let p = &session.principal;
    let found = state
        .db
        .tenant(p.tenant)
        .read(async |tx| {
            super::work::visible_request(tx, p, RequestId(id)).await?;
            let attached = tx.request_attachments(RequestId(id)).await?;
            if !attached.iter().any(|a| a.file_id == file) {
                return Err(crate::db::DbError::NotFound);
            }
            tx.stored_file(file).await
        })
        .await;
    let f = match found {
        Ok(f) => f,
        Err(e) => return failure(e.into()),
    };
    let (name, content_type) = match (preview, &f.thumbnail_name) {
        (true, Some(t)) => (t.clone(), "image/jpeg".to_owned()),
        (true, None) => return failure(ApiError::NotFound),
        (false, _) => (f.storage_name.clone(), f.content_type.clone()),
    };
    let limit = state.config.max_upload_bytes as u64;
    let path = state.config.upload_dir.join(&name);
    let bytes = match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let mut out = Vec::new();
            use tokio::io::AsyncReadExt;
            match file.take(limit + 1).read_to_end(&mut out).await {
                Ok(_) => out,
                Err(e) => return failure(ApiError::Internal(e.into())),
            }
        }
        Err(e) => {
            return failure(ApiError::Internal(anyhow::anyhow!(
                "{}: {e}",
                path.display()
            )));
        }
    };
    let disposition = if preview {
        "inline".to_owned()
    } else {
        format!(
            "attachment; filename=\"{}\"",
            f.original_name.replace(['"', '\\'], "_")
        )
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-content-type-options"),
                "nosniff".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub async fn file(
    State(state): State<AppState>,
    session: ActiveSession,
    Path((id, file)): Path<(i64, i64)>,
) -> Response {
    serve_file(&state, &session, id, file, false).await
}

pub async fn file_preview(
    State(state): State<AppState>,
    session: ActiveSession,
    Path((id, file)): Path<(i64, i64)>,
) -> Response {
    serve_file(&state, &session, id, file, true).await
}

struct Card {
    id: i64,
    number: i64,
    problem: &'static str,
    device: String,
    account: String,
    priority: String,
    technician: String,
    visit: String,
}

struct Column {
    label: &'static str,
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "dispatch.html")]
struct BoardPage {
    chrome: Chrome,
    columns: Vec<Column>,
}

pub async fn dispatch(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    let filter = super::Filter {
        open_only: true,
        ..super::Filter::default()
    };
    let rows = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.requests(&filter, None, 500).await)
        .await
    {
        Ok(r) => r,
        Err(e) => return failure(e.into()),
    };
    let rank = |priority: &str| {
        PRIORITIES
            .iter()
            .rposition(|(c, _)| *c == priority)
            .unwrap_or(0)
    };
    let columns = [
        "submitted",
        "acknowledged",
        "scheduled",
        "in_progress",
        "on_hold",
    ]
    .iter()
    .map(|status| {
        let mut cards: Vec<&RequestView> = rows.iter().filter(|r| r.status == *status).collect();
        cards.sort_by_key(|r| (std::cmp::Reverse(rank(&r.priority)), r.created_at));
        Column {
            label: label(STATUSES, status),
            cards: cards
                .into_iter()
                .map(|r| Card {
                    id: r.id,
                    number: r.number,
                    problem: label(PROBLEM_TYPES, &r.problem_type),
                    device: r.device.clone().unwrap_or_default(),
                    account: r.account.clone(),
                    priority: r.priority.clone(),
                    technician: r.technician.clone().unwrap_or_default(),
                    visit: r
                        .scheduled_start
                        .map(|t| p.formats.when(t))
                        .unwrap_or_default(),
                })
                .collect(),
        }
    })
    .collect();
    web::ok(&BoardPage {
        chrome: Chrome::signed_in(&state, &session).await,
        columns,
    })
}
