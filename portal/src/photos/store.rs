//! Storage of meter photos: the file record, the photo's reading record (evidence of kind
//! `photo` holding what the reader made of it), and the labelled examples.

use crate::db::{DbError, TenantTx};
use sqlx::Row;

/// A stored file of this tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub id: i64,
    pub storage_name: String,
    pub content_type: String,
}

/// What the photo reader made of an uploaded photo, kept until a person confirms it.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedPhoto {
    pub file: StoredFile,
    pub equipment_id: i64,
    /// The reader's extraction, as JSON.
    pub read: serde_json::Value,
}

impl TenantTx {
    /// The file with these contents, when this tenant has stored it before.
    pub async fn file_by_sha256(&mut self, sha256: &str) -> Result<Option<StoredFile>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, storage_name, content_type FROM files WHERE tenant_id = $1 AND sha256 = $2 \
             ORDER BY id LIMIT 1",
        )
        .bind(t)
        .bind(sha256)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| file_of(&r)).transpose()
    }

    pub async fn create_file(
        &mut self,
        storage_name: &str,
        original_name: &str,
        content_type: &str,
        size: usize,
        sha256: &str,
        uploaded_by: Option<i64>,
    ) -> Result<StoredFile, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(
            "INSERT INTO files (tenant_id, storage_name, original_name, content_type, size_bytes, \
             sha256, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id, storage_name, content_type",
        )
        .bind(t)
        .bind(storage_name)
        .bind(original_name)
        .bind(content_type)
        .bind(size as i64)
        .bind(sha256)
        .bind(uploaded_by)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        file_of(&row)
    }

    /// Records what the reader made of a photo of `equipment`.
    pub async fn record_photo_read(
        &mut self,
        file: i64,
        equipment: i64,
        summary: &str,
        read: &serde_json::Value,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let payload = serde_json::json!({ "equipment_id": equipment, "read": read }).to_string();
        sqlx::query(
            "INSERT INTO evidence (tenant_id, kind, file_id, summary, payload, created_at) \
             VALUES ($1, 'photo', $2, $3, $4, $5)",
        )
        .bind(t)
        .bind(file)
        .bind(summary)
        .bind(payload)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// An uploaded photo and the reader's first reading of it; `NotFound` for a file that is
    /// not a meter photo of this tenant.
    pub async fn uploaded_photo(&mut self, file: i64) -> Result<UploadedPhoto, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT f.id, f.storage_name, f.content_type, e.payload FROM files f \
             JOIN evidence e ON e.tenant_id = f.tenant_id AND e.file_id = f.id AND e.kind = 'photo' \
             WHERE f.tenant_id = $1 AND f.id = $2 ORDER BY e.id LIMIT 1",
        )
        .bind(t)
        .bind(file)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        let payload: String = row.try_get("payload")?;
        let payload: serde_json::Value = serde_json::from_str(&payload)
            .map_err(|e| DbError::Refused(format!("photo record: {e}")))?;
        Ok(UploadedPhoto {
            file: file_of(&row)?,
            equipment_id: payload["equipment_id"].as_i64().ok_or(DbError::NotFound)?,
            read: payload["read"].clone(),
        })
    }

    /// Whether a person has confirmed this photo already.
    pub async fn photo_labelled(&mut self, file: i64) -> Result<bool, DbError> {
        let t = self.t();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM photo_labels WHERE tenant_id = $1 AND file_id = $2",
        )
        .bind(t)
        .bind(file)
        .fetch_one(self.conn())
        .await?;
        Ok(n > 0)
    }

    /// Keeps a confirmed (or corrected) counter with its photo: a labelled example.
    pub async fn add_photo_label(
        &mut self,
        file: i64,
        reading_key: &str,
        meter_kind: &str,
        ocr_value: Option<u64>,
        confirmed_value: u64,
        labelled_by: i64,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO photo_labels (tenant_id, file_id, reading_id, meter_kind, ocr_value, \
             confirmed_value, labelled_by, created_at) \
             VALUES ($1, $2, (SELECT id FROM readings WHERE tenant_id = $1 AND idempotency_key = $3), \
             $4, $5, $6, $7, $8)",
        )
        .bind(t)
        .bind(file)
        .bind(reading_key)
        .bind(meter_kind)
        .bind(ocr_value.map(|v| v as i64))
        .bind(confirmed_value as i64)
        .bind(labelled_by)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

fn file_of(row: &sqlx::any::AnyRow) -> Result<StoredFile, DbError> {
    Ok(StoredFile {
        id: row.try_get("id")?,
        storage_name: row.try_get("storage_name")?,
        content_type: row.try_get("content_type")?,
    })
}
