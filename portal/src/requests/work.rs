//! What people do with requests: open one (with attachments), look at it, comment, move it
//! along its lifecycle, assign a technician, schedule a visit — each an event on the timeline,
//! an audit entry, and a notification for the other side.

use super::{Audience, Event, NewRequest, RequestId, RequestView, customer_steps, next_steps};
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::equipment::views::visible_equipment;
use crate::files::{FileError, store_upload};
use crate::http::ApiError;
use crate::ids::{EquipmentId, UserId};
use std::path::Path;

/// At most this many attachments per request.
pub const MAX_ATTACHMENTS: usize = 5;
/// The largest attachment.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Refused(m) => ApiError::Invalid(m),
            FileError::Db(d) => d.into(),
            FileError::Io(io) => ApiError::Internal(io.into()),
        }
    }
}

/// A request the principal may see: customers only their account's.
pub(crate) async fn visible_request(
    tx: &mut TenantTx,
    p: &Principal,
    id: RequestId,
) -> Result<RequestView, DbError> {
    let r = tx.request(id).await?;
    if p.sees_account(crate::ids::AccountId(r.account_id)) {
        Ok(r)
    } else {
        Err(DbError::NotFound)
    }
}

/// Tells the people on a request's `audience` side (never `actor`); returns who was told.
async fn tell(
    tx: &mut TenantTx,
    r: &RequestView,
    audience: Audience,
    actor: Option<UserId>,
    event: &'static str,
    title: String,
    body: String,
) -> Result<Vec<UserId>, DbError> {
    let mut to: Vec<UserId> = Vec::new();
    if matches!(audience, Audience::Customers | Audience::Both) {
        to.extend(
            tx.account_users_holding(
                crate::ids::AccountId(r.account_id),
                Permission::RequestsRead,
            )
            .await?,
        );
    }
    if matches!(audience, Audience::Staff | Audience::Both) {
        to.extend(tx.staff_holding(Permission::RequestsManage).await?);
        if let Some(t) = r.assigned_to {
            to.push(UserId(t));
        }
    }
    to.sort();
    to.dedup();
    to.retain(|u| Some(*u) != actor);
    tx.notify(&crate::notifications::Note {
        event,
        subject: Some(r.id),
        title,
        body,
        link: Some(format!("/requests/{}", r.id)),
        recipients: &to,
    })
    .await
}

/// What a change did: the request as it is now, and who was told.
#[derive(Debug, Clone)]
pub struct Done {
    pub request: RequestView,
    pub notified: Vec<UserId>,
}

/// A file a person sends with a request.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub async fn create(
    db: &TenantDb,
    upload_dir: &Path,
    p: &Principal,
    new: &NewRequest,
    uploads: Vec<Upload>,
) -> Result<Done, ApiError> {
    p.require(Permission::RequestsCreate)?;
    if uploads.len() > MAX_ATTACHMENTS {
        return Err(ApiError::Invalid(format!(
            "attach at most {MAX_ATTACHMENTS} files"
        )));
    }
    let mut tx = db.begin().await?;
    let device = visible_equipment(&mut tx, p, new.equipment).await?;
    let mut files = Vec::new();
    for u in uploads {
        files.push(
            store_upload(
                &mut tx,
                upload_dir,
                u.bytes,
                &u.name,
                p.user.0,
                MAX_ATTACHMENT_BYTES,
            )
            .await?,
        );
    }
    let source = if p.is_staff() { "staff" } else { "customer" };
    let id = tx
        .insert_request(
            device.account_id,
            Some(device.id),
            new,
            source,
            None,
            Some(p.user),
        )
        .await?;
    for f in &files {
        tx.attach_file(id, f.id).await?;
    }
    tx.add_event(
        id,
        "status",
        None,
        Some("submitted"),
        None,
        false,
        Some(p.user),
    )
    .await?;
    let r = tx.request(id).await?;
    let notified = tell(
        &mut tx,
        &r,
        Audience::Both,
        Some(p.user),
        "request.created",
        format!(
            "Service request {} ({}): {}",
            r.number,
            super::label(super::PRIORITIES, &r.priority)
                .split(" —")
                .next()
                .unwrap_or(""),
            super::label(super::PROBLEM_TYPES, &r.problem_type)
        ),
        format!(
            "{}: {}",
            r.device.clone().unwrap_or_default(),
            excerpt(&r.description)
        ),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.created",
        ("service_request", Some(id.to_string())),
        Some(device.account_id),
        serde_json::json!({ "number": r.number, "equipment": device.id.0, "priority": r.priority,
            "problem_type": r.problem_type, "attachments": files.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        request: r,
        notified,
    })
}

fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 140 {
        format!("{}…", one_line.chars().take(140).collect::<String>())
    } else {
        one_line
    }
}

/// A request with its timeline (staff also see internal notes) and attachments.
pub async fn show(
    db: &TenantDb,
    p: &Principal,
    id: RequestId,
) -> Result<(RequestView, Vec<Event>, Vec<super::Attachment>), ApiError> {
    p.require(Permission::RequestsRead)?;
    Ok(db
        .read(async |tx| {
            let r = visible_request(tx, p, id).await?;
            let events = tx.request_events(id, p.is_staff()).await?;
            let attachments = tx.request_attachments(id).await?;
            Ok::<_, DbError>((r, events, attachments))
        })
        .await?)
}

pub async fn comment(
    db: &TenantDb,
    p: &Principal,
    id: RequestId,
    text: &str,
    internal: bool,
) -> Result<Done, ApiError> {
    let text = super::parse_comment(text)?;
    if p.is_staff() {
        p.require(Permission::RequestsManage)?;
    } else {
        p.require(Permission::RequestsCreate)?;
        if internal {
            return Err(ApiError::Invalid("only staff write internal notes".into()));
        }
    }
    let mut tx = db.begin().await?;
    let r = visible_request(&mut tx, p, id).await?;
    tx.add_event(
        id,
        "comment",
        None,
        None,
        Some(&text),
        internal,
        Some(p.user),
    )
    .await?;
    let audience = match (p.is_staff(), internal) {
        (true, true) => Audience::Staff,
        (true, false) => Audience::Both,
        (false, _) => Audience::Both,
    };
    let author = tx.user(p.user).await?.display_name;
    let notified = tell(
        &mut tx,
        &r,
        audience,
        Some(p.user),
        "request.comment",
        format!("{author} commented on service request {}", r.number),
        excerpt(&text),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.commented",
        ("service_request", Some(id.to_string())),
        Some(crate::ids::AccountId(r.account_id)),
        serde_json::json!({ "internal": internal }),
    )
    .await?;
    let r = tx.request(id).await?;
    tx.commit().await?;
    Ok(Done {
        request: r,
        notified,
    })
}

pub async fn change_status(
    db: &TenantDb,
    p: &Principal,
    id: RequestId,
    to: &str,
    note: Option<&str>,
) -> Result<Done, ApiError> {
    let note = note
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(super::parse_comment)
        .transpose()?;
    let mut tx = db.begin().await?;
    let r = visible_request(&mut tx, p, id).await?;
    let allowed = if p.permissions.contains(&Permission::RequestsManage) && p.is_staff() {
        next_steps(&r.status)
    } else {
        p.require(Permission::RequestsCreate)?;
        customer_steps(&r.status)
    };
    if !allowed.contains(&to) {
        return Err(ApiError::Invalid(format!(
            "a request that is {} cannot become {to}",
            super::label(super::STATUSES, &r.status).to_lowercase()
        )));
    }
    tx.set_request_status(id, to).await?;
    tx.add_event(
        id,
        "status",
        Some(&r.status),
        Some(to),
        note.as_deref(),
        false,
        Some(p.user),
    )
    .await?;
    let r2 = tx.request(id).await?;
    let notified = tell(
        &mut tx,
        &r2,
        Audience::Both,
        Some(p.user),
        "request.updated",
        format!(
            "Service request {} is {}",
            r2.number,
            super::label(super::STATUSES, to).to_lowercase()
        ),
        note.clone()
            .unwrap_or_else(|| r2.device.clone().unwrap_or_default()),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.status_changed",
        ("service_request", Some(id.to_string())),
        Some(crate::ids::AccountId(r.account_id)),
        serde_json::json!({ "before": r.status, "after": to, "note": note }),
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        request: r2,
        notified,
    })
}

pub async fn assign(
    db: &TenantDb,
    p: &Principal,
    id: RequestId,
    technician: Option<UserId>,
) -> Result<Done, ApiError> {
    p.require(Permission::RequestsManage)?;
    let mut tx = db.begin().await?;
    let r = visible_request(&mut tx, p, id).await?;
    let name = match technician {
        Some(t) => {
            let u = match tx.user(t).await {
                Ok(u) => u,
                Err(DbError::NotFound) => {
                    return Err(ApiError::Invalid("there is no such technician".into()));
                }
                Err(e) => return Err(e.into()),
            };
            if u.kind != crate::users::UserKind::Staff || u.status != "active" {
                return Err(ApiError::Invalid(format!(
                    "{} is not active dealer staff",
                    u.display_name
                )));
            }
            Some(u.display_name)
        }
        None => None,
    };
    tx.set_request_assignment(id, technician).await?;
    let text = match &name {
        Some(n) => format!("Assigned to {n}"),
        None => "No technician assigned".to_owned(),
    };
    tx.add_event(
        id,
        "assignment",
        None,
        None,
        Some(&text),
        false,
        Some(p.user),
    )
    .await?;
    let r2 = tx.request(id).await?;
    let notified = tell(
        &mut tx,
        &r2,
        Audience::Both,
        Some(p.user),
        "request.updated",
        format!("Service request {}: {}", r2.number, text.to_lowercase()),
        r2.device.clone().unwrap_or_default(),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.assigned",
        ("service_request", Some(id.to_string())),
        Some(crate::ids::AccountId(r.account_id)),
        serde_json::json!({ "before": r.assigned_to, "after": technician.map(|t| t.0) }),
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        request: r2,
        notified,
    })
}

/// Schedules a visit (`start` before `end`, epoch ms); a request not yet scheduled moves to
/// scheduled.
pub async fn schedule(
    db: &TenantDb,
    p: &Principal,
    id: RequestId,
    start: i64,
    end: i64,
) -> Result<Done, ApiError> {
    p.require(Permission::RequestsManage)?;
    if end <= start {
        return Err(ApiError::Invalid(
            "the visit must end after it starts".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let r = visible_request(&mut tx, p, id).await?;
    if !super::is_open(&r.status) {
        return Err(ApiError::Invalid(format!(
            "a {} request is not scheduled",
            super::label(super::STATUSES, &r.status).to_lowercase()
        )));
    }
    tx.set_request_schedule(id, start, end).await?;
    let when = format!(
        "Visit scheduled {} – {}",
        crate::web::when_utc(start),
        crate::web::when_utc(end)
    );
    tx.add_event(id, "schedule", None, None, Some(&when), false, Some(p.user))
        .await?;
    if matches!(r.status.as_str(), "submitted" | "acknowledged" | "on_hold") {
        tx.set_request_status(id, "scheduled").await?;
        tx.add_event(
            id,
            "status",
            Some(&r.status),
            Some("scheduled"),
            None,
            false,
            Some(p.user),
        )
        .await?;
    }
    let r2 = tx.request(id).await?;
    let notified = tell(
        &mut tx,
        &r2,
        Audience::Both,
        Some(p.user),
        "request.updated",
        format!("Service request {}: visit scheduled", r2.number),
        when.clone(),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.scheduled",
        ("service_request", Some(id.to_string())),
        Some(crate::ids::AccountId(r.account_id)),
        serde_json::json!({ "before": [r.scheduled_start, r.scheduled_end], "after": [start, end] }),
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        request: r2,
        notified,
    })
}

impl TenantTx {
    /// A device reported a new critical alert: per the tenant's setting, open a request for
    /// it (unless one for the same device and alert is open) or suggest one to staff.
    pub async fn request_from_alert(
        &mut self,
        equipment: EquipmentId,
        code: &str,
        description: &str,
    ) -> Result<(), DbError> {
        let setting = self.setting(super::FROM_ALERTS).await?;
        let mode = setting.as_deref().unwrap_or("suggest");
        if mode == "off"
            || self
                .open_request_for_alert(equipment, code)
                .await?
                .is_some()
        {
            return Ok(());
        }
        let device = self.equipment(equipment).await?;
        if mode == "open" {
            let new = NewRequest {
                equipment,
                priority: "high".into(),
                problem_type: "error_code".into(),
                description: format!("The device reported: {description} (alert {code})."),
                preferred: Vec::new(),
            };
            let id = self
                .insert_request(
                    device.account_id,
                    Some(equipment),
                    &new,
                    "alert",
                    Some(code),
                    None,
                )
                .await?;
            self.add_event(
                id,
                "status",
                None,
                Some("submitted"),
                Some("Opened by the device's alert"),
                false,
                None,
            )
            .await?;
            let r = self.request(id).await?;
            tell(
                self,
                &r,
                Audience::Both,
                None,
                "request.created",
                format!(
                    "Service request {} opened by {}'s alert",
                    r.number, device.serial
                ),
                format!("{description} (alert {code})"),
            )
            .await?;
            self.audit(
                &crate::audit::Actor::system(),
                "request.created",
                ("service_request", Some(id.to_string())),
                Some(device.account_id),
                serde_json::json!({ "number": r.number, "equipment": equipment.0, "alert": code }),
            )
            .await?;
        } else {
            let staff = self.staff_holding(Permission::RequestsManage).await?;
            self.notify(&crate::notifications::Note {
                event: "request.suggested",
                subject: Some(equipment.0),
                title: format!(
                    "{} ({}) reports: {description}",
                    device.model, device.serial
                ),
                body: format!("Alert {code}. Open a service request if a visit is needed."),
                link: Some(format!("/requests/new?equipment={}", equipment.0)),
                recipients: &staff,
            })
            .await?;
        }
        Ok(())
    }
}

/// Adds a file to a request that is still open (the customer's own, or any for staff).
pub async fn attach(
    db: &TenantDb,
    upload_dir: &Path,
    p: &Principal,
    id: RequestId,
    upload: Upload,
) -> Result<Vec<super::Attachment>, ApiError> {
    p.require(Permission::RequestsCreate)?;
    let mut tx = db.begin().await?;
    let r = visible_request(&mut tx, p, id).await?;
    if !super::is_open(&r.status) {
        return Err(ApiError::Invalid(
            "files are added to open requests only".into(),
        ));
    }
    if tx.request_attachments(id).await?.len() >= MAX_ATTACHMENTS {
        return Err(ApiError::Invalid(format!(
            "a request holds at most {MAX_ATTACHMENTS} files"
        )));
    }
    let f = store_upload(
        &mut tx,
        upload_dir,
        upload.bytes,
        &upload.name,
        p.user.0,
        MAX_ATTACHMENT_BYTES,
    )
    .await?;
    tx.attach_file(id, f.id).await?;
    tx.add_event(
        id,
        "comment",
        None,
        None,
        Some(&format!("Attached {}", f.original_name)),
        false,
        Some(p.user),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "request.file_attached",
        ("service_request", Some(id.to_string())),
        Some(crate::ids::AccountId(r.account_id)),
        serde_json::json!({ "file": f.id, "name": f.original_name }),
    )
    .await?;
    let all = tx.request_attachments(id).await?;
    tx.commit().await?;
    Ok(all)
}
