//! Meter readings from photos: a customer's picture of a counter screen, a small display or
//! a printed counter page, read with Tesseract.
//!
//! The rule is the e-mail extractors' rule made stricter: a number is only offered for
//! taking without review (`accept`) when the photo itself proves it — the colour and
//! black-and-white counters add up to the total, or two independent reads at different
//! scales agree digit for digit with high confidence. Everything else is a candidate for a
//! person (or the device's history, in the validation pipeline) to confirm.
//!
//! Stages, in order: [`decode`] (limits, orientation, grey, working size) → [`prepare`]
//! (where the writing is, its turn and size; an upright cut) → [`ocr`] (Tesseract words with
//! boxes and confidences) → [`labels`] and [`read`] (labels to counters, values beside them)
//! → [`decide`] (candidates, cross-checks, `accept`).

pub mod decide;
pub mod decode;
pub mod labels;
pub mod ocr;
pub mod prepare;
pub mod read;
pub mod segments;

pub use decode::Limits;
pub use ocr::Engine;

use crate::email::report::DeviceReading;
use serde::Serialize;

/// Why a photo could not be read at all (as opposed to read with nothing found).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PhotoError {
    #[error("not an image (JPEG or PNG expected)")]
    NotAnImage,
    #[error("unsupported image format: {0}")]
    Unsupported(String),
    #[error("the image is too large: {0}")]
    TooLarge(String),
    #[error("the image is damaged or truncated: {0}")]
    Corrupt(String),
    #[error("the OCR engine failed: {0}")]
    Engine(String),
}

/// The `printyx ingest extract PHOTO --json` contract: the e-mail extract shape
/// (`kind`, `devices`, `warnings`) plus `accept` and `evidence`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoExtraction {
    /// Always `"photo"`.
    pub kind: &'static str,
    /// At most one device: the one photographed. `serial` is empty when none is shown.
    pub devices: Vec<DeviceReading>,
    pub warnings: Vec<String>,
    /// Confident enough to take without review: the photo proves its own numbers.
    pub accept: bool,
    /// The OCR words each counter was read from.
    pub evidence: Vec<read::Evidence>,
    /// Every value read for each counter, best first; the validation pipeline may pick the
    /// one consistent with the device's history.
    pub candidates: Vec<decide::Candidate>,
    /// Contrast, noise and sharpness of the writing, when writing was found.
    pub quality: Option<prepare::Quality>,
}

/// Reads photos with one Tesseract engine (one reader per worker thread).
#[derive(Debug)]
pub struct Reader {
    engine: Engine,
    limits: Limits,
}

impl Reader {
    /// A reader with the system's English model.
    pub fn new(limits: Limits) -> Result<Self, PhotoError> {
        Ok(Reader {
            engine: Engine::new(None)?,
            limits,
        })
    }

    /// Reads one photo's bytes. An unreadable photo is an `Ok` with no devices and a
    /// warning; only input that is not a usable image is an `Err`.
    pub fn read(&mut self, bytes: &[u8]) -> Result<PhotoExtraction, PhotoError> {
        let photo = decode::decode(bytes, &self.limits)?;
        decide::decide(&photo, &mut self.engine)
    }
}
