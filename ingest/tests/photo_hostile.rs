//! Input that is not a usable photo gets a clear error, quickly and in bounded memory:
//! files that are not images, truncated photos, decompression bombs, absurd dimensions.
//! Alone in its test binary so that the peak resident set measures only these reads.
#![cfg(feature = "photo")]
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // reads /proc/self/status

use e2e::photos::bytes;
use image::{GrayImage, ImageEncoder};
use ingest::photo::{Limits, PhotoError, Reader};

fn peak_kib() -> u64 {
    e2e::peak_rss_kib()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let pixels = vec![0u8; (width * height) as usize];
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, width, height, image::ExtendedColorType::L8)
    .unwrap();
    out
}

/// A valid PNG's header rewritten to claim other dimensions (the CRC is fixed up).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = png(16, 16);
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A fixture JPEG whose frame header (SOF0/SOF2) claims other dimensions.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut out = bytes("a003_screen.jpg");
    let sof = out
        .windows(2)
        .position(|w| w[0] == 0xff && (w[1] == 0xc0 || w[1] == 0xc2))
        .expect("a frame header");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// What a case is, its bytes, and the error it must get.
type Case = (&'static str, Vec<u8>, fn(&PhotoError) -> bool);

#[test]
fn what_is_not_a_usable_photo_is_refused_with_a_clear_error_in_bounded_memory() {
    let mut reader = Reader::new(Limits::default()).unwrap();
    // built before measuring: the inputs' own size is not what is measured
    let bomb = png(9000, 9000); // 81 MP of zeros: ~80 KB compressed, 81 MB decoded
    assert!(bomb.len() < 200_000, "the bomb is small: {}", bomb.len());
    let photo = bytes("a003_screen.jpg");
    let truncated = photo[..photo.len() / 3].to_vec();
    let mut png_photo = Vec::new();
    image::load_from_memory(&photo)
        .unwrap()
        .write_to(
            &mut std::io::Cursor::new(&mut png_photo),
            image::ImageFormat::Png,
        )
        .unwrap();
    let truncated_png = png_photo[..png_photo.len() / 2].to_vec();
    let cases: Vec<Case> = vec![
        (
            "text named .jpg",
            b"Total 123456\nthis is not a photo\n".to_vec(),
            |e| *e == PhotoError::NotAnImage,
        ),
        ("an empty file", Vec::new(), |e| {
            *e == PhotoError::NotAnImage
        }),
        (
            "a GIF",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            |e| matches!(e, PhotoError::Unsupported(_)),
        ),
        ("a decompression bomb", bomb, |e| {
            matches!(e, PhotoError::TooLarge(_))
        }),
        (
            "a PNG claiming 100000×100000",
            png_claiming(100_000, 100_000),
            |e| matches!(e, PhotoError::TooLarge(_)),
        ),
        ("a PNG claiming 0×0", png_claiming(0, 0), |e| {
            matches!(e, PhotoError::Corrupt(_) | PhotoError::TooLarge(_))
        }),
        (
            "a JPEG claiming 65000×65000",
            jpeg_claiming(65_000, 65_000),
            |e| matches!(e, PhotoError::TooLarge(_)),
        ),
        (
            "a JPEG claiming 9000×9000 (81 MP)",
            jpeg_claiming(9000, 9000),
            |e| matches!(e, PhotoError::TooLarge(_)),
        ),
        (
            "a PNG signature and nothing else",
            b"\x89PNG\r\n\x1a\n".to_vec(),
            |e| matches!(e, PhotoError::Corrupt(_)),
        ),
        // a cut-off JPEG decodes "fine" with grey where the rest was: rows of counters
        // would silently vanish
        ("a JPEG cut to a third", truncated, |e| {
            matches!(e, PhotoError::Corrupt(_))
        }),
        ("a PNG cut in half", truncated_png, |e| {
            matches!(e, PhotoError::Corrupt(_))
        }),
    ];
    let before = peak_kib();
    for (what, input, expected) in &cases {
        match reader.read(input) {
            Err(e) => {
                assert!(expected(&e), "{what}: {e:?}");
                assert!(!e.to_string().is_empty());
            }
            Ok(got) => panic!("{what}: read as a photo: {got:?}"),
        }
    }
    let grown_mib = (peak_kib() - before) / 1024;
    eprintln!("peak grew by {grown_mib} MiB");
    assert!(
        grown_mib < 32,
        "refusing bad input grew the peak by {grown_mib} MiB"
    );
}

#[test]
fn a_photo_over_the_size_limit_is_refused_before_it_is_decoded() {
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let mut reader = Reader::new(limits).unwrap();
    let err = reader.read(&bytes("a003_screen.jpg")).unwrap_err();
    assert!(matches!(err, PhotoError::TooLarge(_)), "{err:?}");
}

#[test]
fn a_phone_photo_stored_sideways_with_its_exif_orientation_reads_upright() {
    // the fixture turned a quarter clockwise on disk, with EXIF saying "turn it back"
    let upright = image::load_from_memory(&bytes("a003_screen.jpg"))
        .unwrap()
        .into_luma8();
    let sideways: GrayImage = image::imageops::rotate90(&upright);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .write_image(
            sideways.as_raw(),
            sideways.width(),
            sideways.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    // APP1 Exif: little-endian TIFF, one IFD entry: Orientation (0x0112) = 8, "turn 90°
    // anticlockwise to view" (the photo is stored turned 90° clockwise)
    let tiff: [u8; 26] = [
        b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut app1 = vec![0xff, 0xe1];
    let length = (2 + 6 + tiff.len()) as u16;
    app1.extend_from_slice(&length.to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&app1);
    with_exif.extend_from_slice(&jpeg[2..]);

    let mut reader = Reader::new(Limits::default()).unwrap();
    let got = reader.read(&with_exif).unwrap();
    let plain = reader.read(&jpeg).unwrap();
    assert!(got.accept, "{:?}", got.warnings);
    assert_eq!(got.devices[0].counters["total"], 1_620_914);
    // without the orientation the writing runs down the page and nothing is taken
    assert!(!plain.accept, "{plain:?}");
}
