//! QR codes in PNG and JPEG images.

use std::fs::File;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits};
use zeroize::Zeroizing;

use crate::error::ImportError;
use crate::{Imported, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS};

/// What one detected QR code held.
type Code = Result<Zeroizing<Vec<u8>>, String>;

pub(crate) fn from_image_file(path: &Path) -> Result<Imported, ImportError> {
    let bytes = read_capped(path)?;
    let (w, h, grey) = greyscale(&bytes, path)?;
    drop(bytes);
    let codes = catch_unwind(AssertUnwindSafe(|| find_codes(w, h, &grey))).map_err(|_| {
        // rqrr is not known to panic, but it parses hostile input; a bug
        // there should fail this import, not the admin's whole session.
        ImportError::QrUnreadable {
            path: path.to_owned(),
            detail: "the QR decoder failed on this image".into(),
        }
    })?;
    if codes.is_empty() {
        return Err(ImportError::NoQrCode {
            path: path.to_owned(),
        });
    }
    let count = codes.len();
    let results: Vec<Result<Imported, ImportError>> = codes
        .into_iter()
        .map(|code| match code {
            Ok(content) => match std::str::from_utf8(&content) {
                Ok(text) => crate::from_text(text),
                Err(_) => Err(ImportError::NotOtpauth {
                    what: format!("{} bytes of binary data", content.len()),
                }),
            },
            Err(detail) => Err(ImportError::QrUnreadable {
                path: path.to_owned(),
                detail,
            }),
        })
        .collect();

    if results.iter().all(Result::is_err) {
        let first = results
            .into_iter()
            .find_map(Result::err)
            .expect("count > 0");
        return Err(if count == 1 {
            first
        } else {
            ImportError::NoUsableQrCode {
                path: path.to_owned(),
                count,
                first: Box::new(first),
            }
        });
    }
    let mut all = Imported {
        tokens: Vec::new(),
        batches: Vec::new(),
    };
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(imported) => {
                all.tokens.extend(imported.tokens);
                all.batches.extend(imported.batches);
            }
            Err(e) => all.tokens.push(Err(ImportError::InQrCode {
                index: i + 1,
                count,
                source: Box::new(e),
            })),
        }
    }
    Ok(all)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, ImportError> {
    let read_error = |source| ImportError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let too_large = |len: u64| ImportError::ImageTooLarge {
        path: path.to_owned(),
        detail: format!(
            "{} MiB, the limit is {} MiB",
            len.div_ceil(1 << 20),
            MAX_IMAGE_BYTES >> 20
        ),
    };
    let file = File::open(path).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    if len > MAX_IMAGE_BYTES {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while being read.
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Name of a format we recognise but do not decode, for the error message.
fn other_format(bytes: &[u8]) -> Option<String> {
    // HEIC (iPhone photos) is not in `image`'s signature table.
    if bytes.get(4..8) == Some(b"ftyp")
        && let Some(brand) = bytes.get(8..12)
        && [&b"heic"[..], b"heix", b"mif1", b"heim", b"heis"].contains(&brand)
    {
        return Some("a HEIC image".into());
    }
    let format = image::guess_format(bytes).ok()?;
    let ext = format.extensions_str().first()?;
    Some(format!("a {} image", ext.to_ascii_uppercase()))
}

/// Decode `bytes` and flatten them to one luminance byte per pixel, with any
/// transparency composited onto white (a QR drawn on a transparent
/// background would otherwise turn into black on black).
fn greyscale(bytes: &[u8], path: &Path) -> Result<(usize, usize, Vec<u8>), ImportError> {
    let (format, name) = match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => (ImageFormat::Png, "PNG"),
        Ok(ImageFormat::Jpeg) => (ImageFormat::Jpeg, "JPEG"),
        _ => {
            return Err(ImportError::NotAnImage {
                path: path.to_owned(),
                format: other_format(bytes),
            });
        }
    };
    let damaged = |e: image::ImageError| ImportError::DamagedImage {
        path: path.to_owned(),
        format: name,
        detail: e.to_string(),
    };
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(damaged)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(ImportError::ImageTooLarge {
            path: path.to_owned(),
            detail: format!("{w}x{h} pixels, the limit is {MAX_IMAGE_PIXELS}"),
        });
    }
    if pixels == 0 {
        return Err(ImportError::NoQrCode {
            path: path.to_owned(),
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Room for a 16-bit RGBA decode of an image at the pixel limit.
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let decoded = reader.decode().map_err(damaged)?;
    let la = decoded.to_luma_alpha8();
    drop(decoded);
    let grey = la
        .pixels()
        .map(|p| {
            let [l, a] = p.0.map(u32::from);
            ((l * a + 255 * (255 - a)) / 255) as u8
        })
        .collect();
    Ok((w as usize, h as usize, grey))
}

/// Indices of `bounds` in reading order: rows top to bottom, left to right
/// within a row. A code joins the current row if its top is above the
/// vertical middle of the row's first code, so codes side by side whose
/// edges differ by a few pixels still read left to right.
fn reading_order(bounds: Vec<[rqrr::Point; 4]>) -> Vec<usize> {
    struct Item {
        index: usize,
        top: i32,
        middle: i32,
        left: i32,
    }
    let mut items: Vec<Item> = bounds
        .iter()
        .enumerate()
        .map(|(index, b)| {
            let top = b.iter().map(|p| p.y).min().unwrap_or_default();
            let bottom = b.iter().map(|p| p.y).max().unwrap_or_default();
            let left = b.iter().map(|p| p.x).min().unwrap_or_default();
            Item {
                index,
                top,
                middle: top + (bottom - top) / 2,
                left,
            }
        })
        .collect();
    items.sort_by_key(|i| (i.top, i.left));
    let mut rows: Vec<Vec<Item>> = Vec::new();
    for item in items {
        match rows.last_mut() {
            Some(row) if item.top < row[0].middle => row.push(item),
            _ => rows.push(vec![item]),
        }
    }
    rows.into_iter()
        .flat_map(|mut row| {
            row.sort_by_key(|i| i.left);
            row.into_iter().map(|i| i.index)
        })
        .collect()
}

/// Every QR code in the image, in [`reading_order`]. If none is
/// found, tries again with the image inverted (dark-mode screenshots show
/// light modules on a dark background).
fn find_codes(w: usize, h: usize, grey: &[u8]) -> Vec<Code> {
    let codes = detect(w, h, |x, y| grey[y * w + x]);
    if !codes.is_empty() {
        return codes;
    }
    detect(w, h, |x, y| 255 - grey[y * w + x])
}

fn detect(w: usize, h: usize, pixel: impl FnMut(usize, usize) -> u8) -> Vec<Code> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
    let grids = img.detect_grids();
    reading_order(grids.iter().map(|g| g.bounds).collect())
        .into_iter()
        .map(|i| {
            let grid = &grids[i];
            // Pre-sized so writes never reallocate and leave unzeroed copies.
            let mut out = Zeroizing::new(Vec::with_capacity(rqrr::MAX_PAYLOAD_SIZE));
            match grid.decode_to(&mut *out) {
                Ok(_) => Ok(out),
                Err(e) => Err(decode_error(e)),
            }
        })
        .collect()
}

fn decode_error(e: rqrr::DeQRError) -> String {
    use rqrr::DeQRError as E;
    match e {
        E::DataEcc | E::FormatEcc => "it is too blurred or damaged to correct".into(),
        E::InvalidVersion | E::InvalidGridSize => "its size could not be determined".into(),
        E::DataUnderflow | E::DataOverflow | E::UnknownDataType => {
            "its content is malformed".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rqrr::Point;

    fn square(x: i32, y: i32, size: i32) -> [Point; 4] {
        [
            Point { x, y },
            Point { x: x + size, y },
            Point {
                x: x + size,
                y: y + size,
            },
            Point { x, y: y + size },
        ]
    }

    #[test]
    fn reading_order_rows_then_columns() {
        // Right code 3 px higher than the left one: same row.
        assert_eq!(
            reading_order(vec![square(300, 97, 100), square(10, 100, 100)]),
            vec![1, 0]
        );
        // Second row starts below the first row's middle.
        assert_eq!(
            reading_order(vec![
                square(300, 400, 100),
                square(10, 420, 100),
                square(200, 10, 100),
                square(10, 30, 100),
            ]),
            vec![3, 2, 1, 0]
        );
        assert!(reading_order(Vec::new()).is_empty());
    }
}
