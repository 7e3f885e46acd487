//! Every awkward image kind decodes to the RGB bytes PIL gives, orientation applied;
//! bad files are refused with the reason.

use extract::preprocess::{
    center_crop_offset, decode_rgb, resized_shorter_side, DecodeError, DecodeLimits,
};

#[test]
fn odd_kinds_decode_like_pil() {
    let Some(python) = testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/odd_images.py");
    let manifest: serde_json::Value = serde_json::from_str(&testkit::run_python(
        &python,
        &script,
        &[dir.path().to_str().unwrap()],
    ))
    .unwrap();
    let entries = manifest.as_array().unwrap();
    assert!(entries.len() >= 12);
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        let ours =
            decode_rgb(&bytes, DecodeLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (width, height) = (
            entry["width"].as_u64().unwrap() as u32,
            entry["height"].as_u64().unwrap() as u32,
        );
        assert_eq!(
            ours.dimensions(),
            (width, height),
            "{name}: orientation or size differs from PIL"
        );
        let reference = std::fs::read(dir.path().join(format!("{name}.rgb"))).unwrap();
        let worst = ours
            .as_raw()
            .iter()
            .zip(&reference)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // Every kind to the bit: JPEG through libjpeg-turbo (PIL's decoder),
        // CMYK inverted and converted as PIL does, 16-bit colour by its high byte.
        assert_eq!(
            worst, 0,
            "{name} ({}): differs from PIL by {worst} levels",
            entry["mode"]
        );
    }
}

#[test]
fn bad_inputs_are_refused_with_the_reason() {
    assert_eq!(
        decode_rgb(b"", DecodeLimits::default()),
        Err(DecodeError::Empty)
    );
    assert_eq!(
        decode_rgb(b"plain text, not pixels", DecodeLimits::default()),
        Err(DecodeError::NotAnImage)
    );
    let bomb = decode_rgb(
        &testkit::png_claiming(30_000, 30_000),
        DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            bomb,
            DecodeError::TooLarge {
                width: 30_000,
                height: 30_000,
                ..
            }
        ),
        "{bomb}"
    );
    assert!(bomb
        .to_string()
        .contains("900000000 pixels exceeds the limit"));

    let mut jpeg = Vec::new();
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let truncated = decode_rgb(&jpeg[..jpeg.len() / 3], DecodeLimits::default());
    // A truncated baseline JPEG is either refused or decoded with grey fill, as
    // libjpeg does; it must never panic. Ours refuses it.
    assert!(
        matches!(truncated, Err(DecodeError::Corrupt { .. })),
        "{truncated:?}"
    );
    let small_limit = decode_rgb(&jpeg, DecodeLimits { max_pixels: 1000 }).unwrap_err();
    assert!(matches!(
        small_limit,
        DecodeError::TooLarge {
            pixels: 4096,
            limit: 1000,
            ..
        }
    ));
}

/// libjpeg warns about bytes between a scan's data and the next marker ("Corrupt
/// JPEG data: N extraneous bytes before marker 0xd9"), as many real photos have;
/// TurboJPEG reports that as a failure after decoding every pixel. PIL keeps such
/// an image, and so do we, with the same pixels.
#[test]
fn a_jpeg_that_only_makes_libjpeg_warn_decodes() {
    let mut jpeg = Vec::new();
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let clean = decode_rgb(&jpeg, DecodeLimits::default()).unwrap();
    let end = jpeg.len() - 2;
    assert_eq!(
        jpeg[end..],
        [0xFF, 0xD9],
        "ends with its end-of-image marker"
    );
    // Junk between the scan's data and EOI: more bytes than libjpeg's bit buffer
    // reads ahead, so it skips the rest to find the marker, and warns.
    let noisy = [&jpeg[..end], &[0x12; 32][..], &jpeg[end..]].concat();
    let decoded =
        decode_rgb(&noisy, DecodeLimits::default()).unwrap_or_else(|e| panic!("refused: {e}"));
    assert_eq!(decoded.dimensions(), clean.dimensions());
    assert!(
        decoded.as_raw() == clean.as_raw(),
        "the junk after the scan changed pixels"
    );
}

#[test]
fn torchvision_resize_and_crop_arithmetic() {
    // Resize(size) truncates the longer side: int(256 * 500 / 375) = 341.
    assert_eq!(resized_shorter_side(500, 375, 256), (341, 256));
    assert_eq!(resized_shorter_side(375, 500, 256), (256, 341));
    assert_eq!(resized_shorter_side(300, 300, 224), (224, 224));
    // CenterCrop uses int(round((full - crop) / 2)) with round-half-to-even.
    let python_round = |full: u32, crop: u32| ((full - crop) as f64 / 2.0).round_ties_even() as u32;
    for full in 224..300 {
        assert_eq!(
            center_crop_offset(full, 224),
            python_round(full, 224),
            "full = {full}"
        );
    }
    assert_eq!(center_crop_offset(227, 224), 2); // 1.5 -> 2
    assert_eq!(center_crop_offset(225, 224), 0); // 0.5 -> 0
}
