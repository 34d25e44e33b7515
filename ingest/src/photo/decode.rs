//! Decoding a photo under limits: the size is checked from the header before any pixel
//! buffer is allocated, the EXIF orientation is applied, and the picture is turned into one
//! grey channel at a working resolution.

use super::PhotoError;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// What a photo may cost before it is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The file itself (phones send 2–8 MB).
    pub max_bytes: usize,
    /// Either side, in pixels.
    pub max_side: u32,
    /// Width × height: 50 MP covers every phone camera in use.
    pub max_pixels: u64,
    /// The decoder's own allocation ceiling.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 30 << 20,
            max_side: 12_000,
            max_pixels: 50_000_000,
            max_alloc: 256 << 20,
        }
    }
}

/// The longest side of the grey working image: enough for counter digits of a panel that
/// fills a fifth of a 12 MP frame to stay ~40 px high.
pub const WORKING_SIDE: u32 = 2400;

/// A decoded photo: upright, grey, at working size.
#[derive(Debug, Clone)]
pub struct Photo {
    pub grey: GrayImage,
    /// Photo pixels per working pixel (≥ 1), to place evidence on the original.
    pub factor: f32,
}

/// Decodes JPEG or PNG bytes into an upright grey image no longer than [`WORKING_SIDE`].
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Photo, PhotoError> {
    if bytes.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge(format!(
            "{} bytes (at most {})",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = image::guess_format(bytes).map_err(|_| PhotoError::NotAnImage)?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(PhotoError::Unsupported(format!("{format:?}")));
    }
    if format == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        // the decoder would fill the missing part with grey: rows of counters would vanish
        return Err(PhotoError::Corrupt(
            "the JPEG is truncated (its image data has no end marker)".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits.clone());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt("the image has no pixels".into()));
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(PhotoError::TooLarge(format!(
            "{width}×{height} pixels (at most {} MP, {} px a side)",
            limits.max_pixels / 1_000_000,
            limits.max_side
        )));
    }
    decoder.set_limits(decoder_limits).map_err(corrupt)?;
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    if let Some(orientation) = orientation {
        picture.apply_orientation(orientation);
    }
    let grey = picture.into_luma8();
    let long = grey.width().max(grey.height());
    let grey = shrink(grey, WORKING_SIDE);
    let factor = long as f32 / grey.width().max(grey.height()) as f32;
    Ok(Photo { grey, factor })
}

/// Whether a JPEG's scan data ends: an end-of-image marker after the first start-of-scan
/// (an EXIF thumbnail before it has its own; phones may append data after it).
pub fn jpeg_complete(bytes: &[u8]) -> bool {
    let Some(scan) = bytes.windows(2).position(|w| w == [0xff, 0xda]) else {
        return false;
    };
    bytes[scan..].windows(2).any(|w| w == [0xff, 0xd9])
}

/// Scales down (never up) so that the longer side is at most `side`.
pub fn shrink(grey: GrayImage, side: u32) -> GrayImage {
    let long = grey.width().max(grey.height());
    if long <= side {
        return grey;
    }
    let scale = f64::from(side) / f64::from(long);
    let w = ((f64::from(grey.width()) * scale).round() as u32).max(1);
    let h = ((f64::from(grey.height()) * scale).round() as u32).max(1);
    image::imageops::resize(&grey, w, h, image::imageops::FilterType::Triangle)
}

fn corrupt(e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::Limits(l) => PhotoError::TooLarge(l.to_string()),
        image::ImageError::Unsupported(u) => PhotoError::Unsupported(u.to_string()),
        other => PhotoError::Corrupt(other.to_string()),
    }
}
