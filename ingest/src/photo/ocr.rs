//! Tesseract over libtesseract: one engine per thread, reused across images (loading the
//! model costs ~100 ms; recognising a prepared crop ~50–300 ms).

use super::PhotoError;
use image::GrayImage;
use serde::Serialize;
use tesseract::{PageSegMode, Tesseract};

/// A word Tesseract read, with where it is in the prepared image and how sure it is (0–100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    pub text: String,
    pub conf: f32,
    pub left: i32,
    pub top: i32,
    pub width: i32,
    pub height: i32,
    /// Tesseract's (block, paragraph, line): words of one label phrase share it.
    #[serde(skip)]
    pub line: (u32, u32, u32),
}

impl Word {
    pub fn right(&self) -> i32 {
        self.left + self.width
    }
    pub fn centre_y(&self) -> i32 {
        self.top + self.height / 2
    }
}

/// How Tesseract should look at an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Labels and values scattered over a panel or page.
    Sparse,
    /// One value, cut out: a single line of digits and thousands separators only.
    Digits,
}

/// A reusable Tesseract engine. Not `Send`: keep one per worker thread.
pub struct Engine {
    tesseract: Option<Tesseract>,
    datapath: Option<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("datapath", &self.datapath)
            .finish()
    }
}

impl Engine {
    /// Loads the English model from `datapath` (the system's tessdata when `None`).
    pub fn new(datapath: Option<&str>) -> Result<Self, PhotoError> {
        let tesseract = Self::load(datapath)?;
        Ok(Engine {
            tesseract: Some(tesseract),
            datapath: datapath.map(str::to_owned),
        })
    }

    fn load(datapath: Option<&str>) -> Result<Tesseract, PhotoError> {
        Tesseract::new(datapath, Some("eng"))
            .map_err(|e| PhotoError::Engine(format!("cannot load the OCR model: {e}")))?
            // Tesseract's own chatter ("Detected 6 diacritics") is not for our stderr
            .set_variable("debug_file", "/dev/null")
            .map_err(engine_error)
    }

    /// Reads the words of a prepared grey image.
    pub fn words(&mut self, image: &GrayImage, pass: Pass) -> Result<Vec<Word>, PhotoError> {
        let engine = match self.tesseract.take() {
            Some(t) => t,
            None => Self::load(self.datapath.as_deref())?,
        };
        let (mode, whitelist) = match pass {
            Pass::Sparse => (PageSegMode::PsmSparseText, ""),
            Pass::Digits => (PageSegMode::PsmSingleLine, "0123456789,.'"),
        };
        let engine = engine
            .set_variable("tessedit_char_whitelist", whitelist)
            .map_err(engine_error)?;
        let mut engine = engine
            .set_frame(
                image.as_raw(),
                image.width() as i32,
                image.height() as i32,
                1,
                image.width() as i32,
            )
            .map_err(engine_error)?
            .set_source_resolution(300);
        engine.set_page_seg_mode(mode);
        let mut engine = engine.recognize().map_err(engine_error)?;
        let tsv = engine.get_tsv_text(0).map_err(engine_error)?;
        self.tesseract = Some(engine);
        Ok(parse_tsv(&tsv))
    }
}

fn engine_error(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Engine(e.to_string())
}

/// Tesseract's TSV: `level page block par line word left top width height conf text`; words
/// are level 5.
fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 12 || f[0] != "5" {
                return None;
            }
            let n = |i: usize| f[i].trim().parse::<i32>().ok();
            let text = f[11].trim();
            if text.is_empty() {
                return None;
            }
            Some(Word {
                text: text.to_owned(),
                conf: f[10].trim().parse().ok()?,
                left: n(6)?,
                top: n(7)?,
                width: n(8)?,
                height: n(9)?,
                line: (n(2)? as u32, n(3)? as u32, n(4)? as u32),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_keep_their_box_line_and_confidence() {
        let tsv = "1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n\
                   5\t1\t2\t1\t3\t1\t10\t20\t30\t12\t96.5\tTotal\n\
                   5\t1\t2\t1\t3\t2\t45\t20\t40\t12\t91\t1,234\n\
                   5\t1\t2\t1\t3\t3\t45\t20\t40\t12\t91\t \n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 2);
        assert_eq!(words[1].text, "1,234");
        assert_eq!(words[1].line, (2, 1, 3));
        assert_eq!(
            (words[0].left, words[0].top, words[0].right()),
            (10, 20, 40)
        );
        assert!((words[0].conf - 96.5).abs() < 1e-6);
    }
}
