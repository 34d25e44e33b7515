//! Files people upload (service-request attachments; meter photos keep their own flow): the
//! type is sniffed from the content, never taken from the name or the browser; the file is
//! stored under a generated name (its SHA-256) in the tenant's folder; photos get a small
//! preview, made from a decode under memory limits; and files are served back as attachments
//! with `nosniff`, so that a browser never runs them.

use crate::db::{DbError, TenantTx};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What an upload really is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Pdf,
}

impl Kind {
    /// From the first bytes; anything else (an HTML file named .jpg…) is `None`.
    pub fn sniff(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Kind::Pdf)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Pdf => "pdf",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, Kind::Jpeg | Kind::Png)
    }
}

/// A file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: i64,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_name: String,
    pub thumbnail_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Refused(String),
    #[error("storing the file failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Writes `bytes` as `name` under `dir` (atomically: a reader never sees half a file).
pub async fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = dir.join(name);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, &path).await
}

/// The largest picture a preview is made from (pixels): beyond it, no preview (the file is
/// still kept). Checked from the header before any pixel is decoded.
const MAX_PREVIEW_SOURCE_PIXELS: u64 = 40_000_000;
/// Previews fit in this many pixels each way.
const PREVIEW_EDGE: u32 = 240;

/// A small JPEG preview of an image, decoded under memory limits; `None` when the image cannot
/// be decoded within them.
pub fn preview(bytes: &[u8]) -> Option<Vec<u8>> {
    // a cut JPEG decodes "fine", grey where the data ran out: refused, as meter photos are
    if Kind::sniff(bytes) == Some(Kind::Jpeg) && !ingest::photo::decode::jpeg_complete(bytes) {
        return None;
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let (w, h) = reader.into_dimensions().ok()?;
    if u64::from(w) * u64::from(h) > MAX_PREVIEW_SOURCE_PIXELS {
        return None;
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = image::ImageDecoder::orientation(&mut decoder).ok();
    let mut picture = image::DynamicImage::from_decoder(decoder).ok()?;
    if let Some(o) = orientation {
        picture.apply_orientation(o);
    }
    let small = picture.thumbnail(PREVIEW_EDGE, PREVIEW_EDGE).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .ok()?;
    Some(out)
}

/// A file name a person gave, kept for showing: its last path part, printable, at most 120
/// characters (the stored name is never this).
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !"<>\"".contains(*c))
        .take(120)
        .collect();
    if clean.trim().is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// Stores an upload for the tenant: checks its type, writes it (and a preview for a photo)
/// and records it. `limit` is the largest file accepted.
pub async fn store_upload(
    tx: &mut TenantTx,
    upload_dir: &Path,
    bytes: Vec<u8>,
    original_name: &str,
    uploaded_by: i64,
    limit: usize,
) -> Result<StoredFile, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Refused(format!(
            "{}: the file is empty",
            display_name(original_name)
        )));
    }
    if bytes.len() > limit {
        return Err(FileError::Refused(format!(
            "{}: larger than {} MB",
            display_name(original_name),
            limit / (1024 * 1024)
        )));
    }
    let kind = Kind::sniff(&bytes).ok_or_else(|| {
        FileError::Refused(format!(
            "{}: only photos (JPEG, PNG) and PDF documents can be attached",
            display_name(original_name)
        ))
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let tenant = tx.tenant_id().0;
    let storage_name = format!("{tenant}/{sha}.{}", kind.extension());
    let thumbnail = if kind.is_image() {
        let copy = bytes.clone();
        let preview = tokio::task::spawn_blocking(move || preview(&copy))
            .await
            .ok()
            .flatten();
        if preview.is_none() {
            return Err(FileError::Refused(format!(
                "{}: the image could not be read (damaged, or too large)",
                display_name(original_name)
            )));
        }
        preview
    } else {
        None
    };
    write(upload_dir, &storage_name, &bytes).await?;
    let thumbnail_name = match thumbnail {
        Some(t) => {
            let name = format!("{tenant}/{sha}.preview.jpg");
            write(upload_dir, &name, &t).await?;
            Some(name)
        }
        None => None,
    };
    Ok(tx
        .record_file(
            &storage_name,
            &display_name(original_name),
            kind.content_type(),
            bytes.len(),
            &sha,
            Some(uploaded_by),
            thumbnail_name.as_deref(),
        )
        .await?)
}

impl TenantTx {
    #[allow(clippy::too_many_arguments)]
    pub async fn record_file(
        &mut self,
        storage_name: &str,
        original_name: &str,
        content_type: &str,
        size: usize,
        sha256: &str,
        uploaded_by: Option<i64>,
        thumbnail_name: Option<&str>,
    ) -> Result<StoredFile, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        // the same bytes uploaded again keep their one stored name
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM files WHERE tenant_id = $1 AND storage_name = $2")
                .bind(t)
                .bind(storage_name)
                .fetch_optional(self.conn())
                .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO files (tenant_id, storage_name, original_name, content_type, size_bytes, \
                       sha256, uploaded_by, created_at, thumbnail_name) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(t)
                .bind(storage_name)
                .bind(original_name)
                .bind(content_type)
                .bind(size as i64)
                .bind(sha256)
                .bind(uploaded_by)
                .bind(now)
                .bind(thumbnail_name)
                .fetch_one(self.conn())
                .await?
            }
        };
        self.stored_file(id).await
    }

    pub async fn stored_file(&mut self, id: i64) -> Result<StoredFile, DbError> {
        let t = self.t();
        let row: Option<(i64, String, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, original_name, content_type, size_bytes, storage_name, thumbnail_name FROM files \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        let (id, original_name, content_type, size_bytes, storage_name, thumbnail_name) =
            row.ok_or(DbError::NotFound)?;
        Ok(StoredFile {
            id,
            original_name,
            content_type,
            size_bytes,
            storage_name,
            thumbnail_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(Kind::sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some(Kind::Jpeg));
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Kind::Png));
        assert_eq!(Kind::sniff(b"%PDF-1.7\n"), Some(Kind::Pdf));
        assert_eq!(
            Kind::sniff(b"<html><script>alert(1)</script>"),
            None,
            "HTML named .jpg"
        );
        assert_eq!(Kind::sniff(b""), None);
    }

    #[test]
    fn names_are_kept_for_showing_only() {
        assert_eq!(display_name("C:\\Users\\x\\IMG 1.jpg"), "IMG 1.jpg");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("a\r\nb<script>.jpg"), "abscript.jpg");
        assert_eq!(display_name(""), "file");
    }

    #[test]
    fn previews_are_small_and_damaged_images_have_none() {
        let mut png = Vec::new();
        image::DynamicImage::new_rgb8(1200, 800)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let p = preview(&png).unwrap();
        let decoded = image::load_from_memory(&p).unwrap();
        assert!(decoded.width() <= PREVIEW_EDGE && decoded.height() <= PREVIEW_EDGE);
        assert!(preview(&png[..png.len() / 3]).is_none());
        assert!(preview(b"not an image").is_none());
    }
}
