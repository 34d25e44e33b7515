//! The customer's photo flow, one domain operation per step, used by the JSON API now and the
//! portal pages later: upload a photo of a device's counters → see what was read → confirm or
//! correct → the reading goes through the validation pipeline with the photo as its evidence,
//! and what the person confirmed is kept with the image as a labelled example.

use super::PhotoReaders;
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb};
use crate::equipment::views::visible_equipment;
use crate::http::ApiError;
use crate::ids::EquipmentId;
use ingest::domain::{MeterKind, ReadingStatus};
use ingest::photo::PhotoError;
use ingest::pipeline::PipelineConfig;
use ingest::upload::{Origin, process_observations};
use ingest::wire::{DeviceIdentity, Observation, ObservationResult, ObservationSource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The confidence of counters a person confirmed exactly as the reader read and proved them.
const CONFIRMED_AS_PROVEN: f64 = 0.95;
/// The confidence of counters a person typed or confirmed against an unproven read: like a
/// typed reply, enough for the pipeline, whose history and rate checks still apply.
const CONFIRMED_BY_PERSON: f64 = 0.9;

/// What an upload shows the customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoRead {
    /// The photo's id (for confirming and for its image).
    pub photo: i64,
    pub equipment: i64,
    /// The reader could take these numbers without review.
    pub accept: bool,
    pub counters: BTreeMap<String, u64>,
    pub candidates: serde_json::Value,
    pub evidence: serde_json::Value,
    pub warnings: Vec<String>,
    /// Where the image is served.
    pub image: String,
}

/// What the customer confirms: the counters as they read them off the photo.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub counters: BTreeMap<String, u64>,
}

/// The pipeline's answer to a confirmation, and which counters the person corrected.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Confirmed {
    pub photo: i64,
    pub corrected: Vec<String>,
    pub result: ObservationResult,
}

/// Reads an uploaded photo of `equipment`, stores it and what was read.
pub async fn upload(
    db: &TenantDb,
    readers: &PhotoReaders,
    upload_dir: &Path,
    principal: &Principal,
    equipment: EquipmentId,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<PhotoRead, ApiError> {
    principal.require(Permission::ReadingsSubmit)?;
    let device = db
        .read(async |tx| visible_equipment(tx, principal, equipment).await)
        .await?;
    let extension = match content_type {
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        other => {
            return Err(ApiError::Invalid(format!(
                "a meter photo is a JPEG or PNG image, not {other:?}"
            )));
        }
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len();
    let mut read = readers.read(bytes.clone()).await.map_err(|e| match e {
        PhotoError::Engine(why) => ApiError::Unavailable(why),
        refused => ApiError::Invalid(refused.to_string()),
    })?;
    // the device's history: a dropped or added digit is not offered as proven
    let read_kinds: Vec<String> = read
        .devices
        .first()
        .map(|d| d.counters.keys().cloned().collect())
        .unwrap_or_default();
    let last = db
        .read(async |tx| {
            let mut last = BTreeMap::new();
            for name in &read_kinds {
                let Ok(kind) = MeterKind::parse(name) else {
                    continue;
                };
                if let Some(r) = tx
                    .latest_reading(device.id, &kind, ReadingStatus::Accepted)
                    .await?
                {
                    last.insert(name.clone(), r.value.get().max(0) as u64);
                }
            }
            Ok(last)
        })
        .await?;
    ingest::photo::decide::check_against_history(&mut read, &last);
    let storage_name = format!("{}/{sha256}.{extension}", db.tenant_id().0);
    save(upload_dir, &storage_name, &bytes).await?;
    let read_json = serde_json::to_value(&read).map_err(|e| ApiError::Internal(e.into()))?;
    let summary = format!(
        "photo of {} ({} {})",
        device.serial, device.make, device.model
    );
    let file = db
        .run(async |tx| {
            let file = match tx.file_by_sha256(&sha256).await? {
                Some(f) => f,
                None => {
                    tx.create_file(
                        &storage_name,
                        "meter photo",
                        content_type,
                        size,
                        &sha256,
                        Some(principal.user.0),
                    )
                    .await?
                }
            };
            tx.record_photo_read(file.id, device.id.0, &summary, &read_json)
                .await?;
            tx.audit(
                &principal.actor(),
                "photo.upload",
                ("equipment", Some(device.id.0.to_string())),
                Some(device.account_id),
                serde_json::json!({ "file": file.id, "accept": read.accept }),
            )
            .await?;
            Ok::<_, DbError>(file)
        })
        .await?;
    Ok(PhotoRead {
        photo: file.id,
        equipment: device.id.0,
        accept: read.accept,
        counters: read
            .devices
            .first()
            .map(|d| d.counters.clone())
            .unwrap_or_default(),
        candidates: read_json["candidates"].clone(),
        evidence: read_json["evidence"].clone(),
        warnings: read.warnings,
        image: format!("/api/v1/meter-photos/{}/image", file.id),
    })
}

/// Writes the photo under the upload directory (once: the name is its hash), atomically.
async fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ApiError> {
    let path = dir.join(name);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(());
    }
    let internal = |e: std::io::Error| ApiError::Internal(anyhow::anyhow!("storing a photo: {e}"));
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(internal)?;
    }
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, bytes).await.map_err(internal)?;
    tokio::fs::rename(&partial, &path).await.map_err(internal)
}

/// The confirmed counters through the pipeline, with the photo as evidence; each counter is
/// kept with the image as a labelled example (what was read, what the person said).
pub async fn confirm(
    db: &TenantDb,
    pipeline: &PipelineConfig,
    principal: &Principal,
    photo: i64,
    confirmation: &Confirmation,
) -> Result<Confirmed, ApiError> {
    principal.require(Permission::ReadingsSubmit)?;
    if confirmation.counters.is_empty() {
        return Err(ApiError::Invalid(
            "counters: at least one counter is needed".into(),
        ));
    }
    let mut meters = BTreeMap::new();
    for (kind, value) in &confirmation.counters {
        let kind = MeterKind::parse(kind)
            .map_err(|e| ApiError::Invalid(format!("counters.{kind}: {e}")))?;
        meters.insert(kind, *value);
    }
    let mut tx = db.begin().await?;
    let uploaded = tx.uploaded_photo(photo).await?;
    let device = visible_equipment(&mut tx, principal, EquipmentId(uploaded.equipment_id)).await?;
    if tx.photo_labelled(photo).await? {
        return Err(ApiError::Conflict(format!(
            "photo {photo} was confirmed already"
        )));
    }
    let kinds = tx.meter_kinds().await?;
    if let Some((unknown, _)) = meters.iter().find(|(k, _)| !kinds.contains(k)) {
        return Err(ApiError::Invalid(format!(
            "counters.{unknown}: not a counter this dealer bills"
        )));
    }
    let read: BTreeMap<String, u64> =
        serde_json::from_value(uploaded.read["devices"][0]["counters"].clone()).unwrap_or_default();
    let proven = uploaded.read["accept"].as_bool().unwrap_or(false);
    let corrected: Vec<String> = confirmation
        .counters
        .iter()
        .filter(|(k, v)| read.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    let confidence = if proven && corrected.is_empty() {
        CONFIRMED_AS_PROVEN
    } else {
        CONFIRMED_BY_PERSON
    };
    let received_at = tx.now_ms();
    let observation = Observation {
        id: format!("photo-{photo}"),
        read_at: received_at,
        source: ObservationSource::Snmp,
        device: DeviceIdentity {
            serial: Some(device.serial.as_str().to_owned()),
            ..DeviceIdentity::default()
        },
        meters,
        supplies: None,
        alerts: None,
        evidence: None,
        confidence: Some(confidence),
    };
    let summary = format!(
        "photo {photo} of {}, confirmed by user {}{}",
        device.serial,
        principal.user.0,
        if corrected.is_empty() {
            String::new()
        } else {
            format!(", corrected: {}", corrected.join(", "))
        }
    );
    let read_text = uploaded.read.to_string();
    let origin = Origin::Photo {
        file: photo,
        summary: &summary,
        read: &read_text,
        person: principal.user.0,
    };
    let results = process_observations(
        &mut tx,
        origin,
        &[&observation],
        received_at,
        pipeline,
        &kinds,
    )
    .await
    .map_err(|e| match e {
        ingest::upload::UploadError::Port(e) => ApiError::from(e),
        refused => ApiError::Invalid(refused.to_string()),
    })?;
    for (kind, value) in &confirmation.counters {
        let key = format!("photo:{photo}:photo-{photo}:{kind}");
        tx.add_photo_label(
            photo,
            &key,
            kind,
            read.get(kind).copied(),
            *value,
            principal.user.0,
        )
        .await?;
    }
    tx.audit(
        &principal.actor(),
        "photo.confirm",
        ("equipment", Some(device.id.0.to_string())),
        Some(device.account_id),
        serde_json::json!({
            "file": photo,
            "before": read,
            "after": confirmation.counters,
            "corrected": corrected,
        }),
    )
    .await?;
    tx.commit().await?;
    let result = results
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the pipeline gave no result")))?;
    Ok(Confirmed {
        photo,
        corrected,
        result,
    })
}

/// The photo's bytes and content type, for someone who may see its device.
pub async fn image(
    db: &TenantDb,
    upload_dir: &Path,
    limit: usize,
    principal: &Principal,
    photo: i64,
) -> Result<(String, Vec<u8>), ApiError> {
    principal.require(Permission::ReadingsRead)?;
    let uploaded = db
        .read(async |tx| {
            let uploaded = tx.uploaded_photo(photo).await?;
            visible_equipment(tx, principal, EquipmentId(uploaded.equipment_id)).await?;
            Ok(uploaded)
        })
        .await?;
    let path = upload_dir.join(&uploaded.file.storage_name);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("photo {photo} at {}: {e}", path.display()))
    })?;
    let mut bytes = Vec::new();
    use tokio::io::AsyncReadExt;
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("photo {photo}: {e}")))?;
    Ok((uploaded.file.content_type, bytes))
}
