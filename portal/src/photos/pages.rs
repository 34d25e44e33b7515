//! The photo pages: upload a photo of a device's counter (`/equipment/{id}/photo`), check
//! what was read and send it (`/meter-photos/{id}/confirm`). The same domain operations as the
//! photo API (`flow.rs`).

use super::flow::{self, Confirmation};
use crate::auth::session::ActiveSession;
use crate::equipment::views::visible_equipment;
use crate::http::form::Form;
use crate::http::{ApiError, AppState};
use crate::ids::EquipmentId;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "photo_upload.html")]
struct UploadPage {
    chrome: Chrome,
    csrf: String,
    id: i64,
    device: String,
    error: String,
}

async fn device_name(
    state: &AppState,
    session: &ActiveSession,
    id: EquipmentId,
) -> Result<String, ApiError> {
    let p = &session.principal;
    let e = state
        .db
        .tenant(p.tenant)
        .read(async |tx| visible_equipment(tx, p, id).await)
        .await?;
    Ok(format!("{} {} ({})", e.make, e.model, e.serial))
}

async fn upload_page(
    state: &AppState,
    session: &ActiveSession,
    id: i64,
    error: String,
    status: StatusCode,
) -> Response {
    let device = match device_name(state, session, EquipmentId(id)).await {
        Ok(d) => d,
        Err(e) => return crate::equipment::pages::failure(e),
    };
    web::render(
        status,
        &UploadPage {
            chrome: Chrome::signed_in(state, session).await,
            csrf: session.csrf.clone(),
            id,
            device,
            error,
        },
    )
}

pub async fn upload_form(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    if let Err(e) = session
        .principal
        .require(crate::auth::Permission::ReadingsSubmit)
    {
        return crate::equipment::pages::failure(e.into());
    }
    upload_page(&state, &session, id, String::new(), StatusCode::OK).await
}

struct CounterField {
    code: String,
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "photo_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    csrf: String,
    device: String,
    photo: i64,
    image: String,
    accept: bool,
    warnings: Vec<String>,
    counters: Vec<CounterField>,
    error: String,
}

fn label_of(code: &str) -> String {
    match code {
        "total" => crate::web::i18n::n_("Total").into(),
        "mono" => crate::web::i18n::n_("Black & white").into(),
        "color" => crate::web::i18n::n_("Colour").into(),
        other => other.replace('_', " "),
    }
}

/// One file from a multipart upload, read under the route's size limit.
async fn the_photo(mut multipart: Multipart) -> Result<(String, Vec<u8>), String> {
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        if field.name() == Some("photo") {
            let content_type = field.content_type().unwrap_or("").to_ascii_lowercase();
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            if bytes.is_empty() {
                return Err(crate::web::i18n::n_("Choose a photo to upload.").into());
            }
            return Ok((content_type, bytes.to_vec()));
        }
    }
    Err(crate::web::i18n::n_("Choose a photo to upload.").into())
}

pub async fn upload(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    request: axum::extract::Request,
) -> Response {
    // the device first: another account's device is not found, whatever was sent
    if let Err(e) = device_name(&state, &session, EquipmentId(id)).await {
        return crate::equipment::pages::failure(e);
    }
    let multipart =
        match <Multipart as axum::extract::FromRequest<AppState>>::from_request(request, &state)
            .await
        {
            Ok(m) => m,
            Err(_) => {
                return upload_page(
                    &state,
                    &session,
                    id,
                    crate::web::i18n::n_(
                        "Send the photo with the form on this page (a file upload).",
                    )
                    .into(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        };
    let (content_type, bytes) = match the_photo(multipart).await {
        Ok(x) => x,
        Err(m) => {
            return upload_page(&state, &session, id, m, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let Some(readers) = state.intake.photos.as_ref() else {
        return web::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Photos cannot be read on this server; type the counters instead.",
        );
    };
    let p = &session.principal;
    let read = flow::upload(
        &state.db.tenant(p.tenant),
        readers,
        &state.config.upload_dir,
        p,
        EquipmentId(id),
        &content_type,
        bytes,
    )
    .await;
    match read {
        Ok(read) => {
            let device = device_name(&state, &session, EquipmentId(id))
                .await
                .unwrap_or_default();
            web::ok(&ConfirmPage {
                chrome: Chrome::signed_in(&state, &session).await,
                csrf: session.csrf.clone(),
                device,
                photo: read.photo,
                image: read.image.clone(),
                accept: read.accept,
                warnings: read.warnings.clone(),
                counters: counters_of(&read.counters),
                error: String::new(),
            })
        }
        Err(ApiError::Invalid(m)) => {
            upload_page(&state, &session, id, m, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => crate::equipment::pages::failure(e),
    }
}

fn counters_of(read: &BTreeMap<String, u64>) -> Vec<CounterField> {
    let mut codes: Vec<String> = read.keys().cloned().collect();
    if !codes.iter().any(|c| c == "total") {
        codes.insert(0, "total".into());
    }
    codes
        .into_iter()
        .map(|code| CounterField {
            label: label_of(&code),
            value: read.get(&code).map(|v| v.to_string()).unwrap_or_default(),
            code,
        })
        .collect()
}

pub async fn confirm(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(photo): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &session.principal;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let mut counters = BTreeMap::new();
    for code in ["total", "mono", "color"] {
        match form
            .optional(code)
            .map(|v| v.map(crate::readings::pages::parse_typed_counter))
        {
            Ok(Some(Ok(Some(v)))) => {
                counters.insert(code.to_owned(), v);
            }
            Ok(Some(Ok(None))) | Ok(None) => {}
            Ok(Some(Err(m))) => {
                return web::error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("{}: {m}", label_of(code)),
                );
            }
            Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        }
    }
    let confirmed = flow::confirm(
        &state.db.tenant(p.tenant),
        &state.config.pipeline,
        p,
        photo,
        &Confirmation { counters },
    )
    .await;
    match confirmed {
        Ok(done) => {
            let o = crate::readings::pages::outcome_of(&done.result, &p.formats);
            web::ok(&ResultPage {
                chrome: Chrome::signed_in(&state, &session).await,
                outcome: o,
            })
        }
        Err(ApiError::Invalid(m)) | Err(ApiError::Conflict(m)) => {
            web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &m)
        }
        Err(e) => crate::equipment::pages::failure(e),
    }
}

#[derive(Template)]
#[template(path = "reading_result.html")]
struct ResultPage {
    chrome: Chrome,
    outcome: crate::readings::pages::Outcome,
}
