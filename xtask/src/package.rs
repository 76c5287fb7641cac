//! `cargo xtask package`: the installable packages an organization deploys.
//!
//! From the built extension (`target/twofill-extension`) it writes to
//! `target/package/`:
//!
//! - `twofill-<version>.crx`: CRX3 signed with `keys/dev-extension-key.pem`,
//!   so its id is the one the manifest `key` gives. Packed by Chromium itself
//!   (`--pack-extension`): the format is then exactly what Chromium
//!   verifies, with no signing code of ours to get subtly wrong, and Chromium
//!   is installed for the tests anyway. The id in the written header is
//!   checked against `keys/dev-extension-id.txt`.
//! - `updates.xml`: the gupdate manifest for that CRX (for
//!   `ExtensionInstallForcelist` / `ExtensionSettings.update_url`).
//! - `twofill-<version>.xpi`: the Firefox package (a zip with `manifest.json`
//!   at the root).
//! - with `--base-url`: `updates.json` (Firefox), and both packaged
//!   manifests name their update manifest under that URL (`update_url`,
//!   `browser_specific_settings.gecko.update_url`). The tree under
//!   `extension/` never carries an update URL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

/// Where the packages are expected to be served when no `--base-url` is
/// given: a local web server on the package directory, e.g.
/// `python3 -m http.server -d target/package 8000`.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8000";

// The Firefox add-on id (the host's allow-list has it too).
use twofill_words::GECKO_EXTENSION_ID as GECKO_ID;

pub struct Options {
    pub base_url: Option<String>,
    pub build: bool,
}

pub fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        base_url: None,
        build: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => {
                let url = args.next().context("--base-url needs a URL")?;
                options.base_url = Some(url.clone());
            }
            "--no-build" => options.build = false,
            other => bail!("package: unknown argument {other:?}"),
        }
    }
    if let Some(url) = &options.base_url {
        ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "--base-url must be an http(s) URL, got {url:?}"
        );
    }
    Ok(options)
}

/// What [`package`] wrote.
pub struct Packaged {
    pub crx: PathBuf,
    pub xpi: PathBuf,
}

/// Packages `extension_dir` into `out_dir` (emptied first).
pub fn package(
    root: &Path,
    extension_dir: &Path,
    out_dir: &Path,
    base_url: Option<&str>,
) -> Result<Packaged> {
    let manifest_path = extension_dir.join("manifest.json");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).with_context(|| {
            format!(
                "cannot read {}; run `cargo xtask build`",
                manifest_path.display()
            )
        })?)?;
    let version = manifest["version"]
        .as_str()
        .context("the manifest has no version")?
        .to_owned();
    let expected_id = std::fs::read_to_string(root.join("keys").join("dev-extension-id.txt"))?
        .trim()
        .to_owned();
    let base = base_url
        .unwrap_or(DEFAULT_BASE_URL)
        .trim_end_matches('/')
        .to_owned();

    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir)?;
    }
    std::fs::create_dir_all(out_dir)?;
    let work = tempfile_dir(out_dir)?;

    // Chromium: CRX3 + gupdate manifest.
    let mut chromium_manifest = manifest.clone();
    if base_url.is_some() {
        chromium_manifest["update_url"] = json!(format!("{base}/updates.xml"));
    }
    let stage = work.join(format!("twofill-{version}"));
    copy_tree(extension_dir, &stage)?;
    std::fs::write(
        stage.join("manifest.json"),
        serde_json::to_vec_pretty(&chromium_manifest)?,
    )?;
    let crx = out_dir.join(format!("twofill-{version}.crx"));
    pack_crx(root, &stage, &work, &crx)?;
    let id = crx3_id(&std::fs::read(&crx)?).context("the packed CRX has no readable id")?;
    ensure!(
        id == expected_id,
        "the CRX's id is {id}, expected {expected_id} (keys/dev-extension-key.pem does not match keys/dev-extension-id.txt)"
    );
    let crx_name = file_name(&crx);
    std::fs::write(
        out_dir.join("updates.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8'?>\n\
             <gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>\n  \
             <app appid='{id}'>\n    \
             <updatecheck codebase='{}' version='{}'/>\n  \
             </app>\n\
             </gupdate>\n",
            xml_attr(&format!("{base}/{crx_name}")),
            xml_attr(&version),
        ),
    )?;

    // Firefox: XPI (+ updates.json).
    let mut firefox_manifest = manifest;
    if base_url.is_some() {
        firefox_manifest["browser_specific_settings"]["gecko"]["update_url"] =
            json!(format!("{base}/updates.json"));
    }
    let xpi = out_dir.join(format!("twofill-{version}.xpi"));
    let mut files = list_files(extension_dir)?;
    files.retain(|(name, _)| name != "manifest.json");
    let mut entries = vec![(
        "manifest.json".to_owned(),
        serde_json::to_vec_pretty(&firefox_manifest)?,
    )];
    for (name, path) in files {
        entries.push((name, std::fs::read(path)?));
    }
    let xpi_bytes = zip(&entries)?;
    std::fs::write(&xpi, &xpi_bytes)?;
    if base_url.is_some() {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(&xpi_bytes);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let updates = json!({
            "addons": {
                GECKO_ID: {
                    "updates": [{
                        "version": version,
                        "update_link": format!("{base}/{}", file_name(&xpi)),
                        // Required by Firefox when the link is not https.
                        "update_hash": format!("sha256:{hex}"),
                    }]
                }
            }
        });
        std::fs::write(
            out_dir.join("updates.json"),
            serde_json::to_vec_pretty(&updates)?,
        )?;
    }
    std::fs::remove_dir_all(&work)?;
    Ok(Packaged { crx, xpi })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file path")
        .to_string_lossy()
        .into_owned()
}

fn tempfile_dir(out_dir: &Path) -> Result<PathBuf> {
    let work = out_dir
        .parent()
        .context("the package directory has no parent")?
        .join(format!("package-work-{}", std::process::id()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    Ok(work)
}

fn chromium_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TWOFILL_CHROMIUM") {
        return p.into();
    }
    // The real binary, not the Debian wrapper script (see tests/e2e).
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.exists() {
        real.to_owned()
    } else {
        PathBuf::from("chromium")
    }
}

/// `chromium --pack-extension` writes `<stage>.crx` next to the directory.
fn pack_crx(root: &Path, stage: &Path, work: &Path, crx: &Path) -> Result<()> {
    let key = root.join("keys").join("dev-extension-key.pem");
    let profile = work.join("profile");
    let out = Command::new(chromium_binary())
        .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--pack-extension={}", stage.display()))
        .arg(format!("--pack-extension-key={}", key.display()))
        // Chromium writes crash-report state under XDG_CONFIG_HOME.
        .env("XDG_CONFIG_HOME", work.join("xdg"))
        .output()
        .context("cannot run Chromium to pack the CRX; install it with `cargo xtask setup`")?;
    let mut packed = stage.as_os_str().to_owned();
    packed.push(".crx");
    let packed = PathBuf::from(packed);
    if !out.status.success() || !packed.exists() {
        bail!(
            "chromium --pack-extension failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&packed, crx)?;
    // Chromium writes it 0600; web servers and other users must read it.
    std::fs::set_permissions(crx, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(())
}

/// The extension id a CRX3 file declares (`SignedData.crx_id` in the
/// header, which Chromium checks against the signing key), in the a–p form.
pub fn crx3_id(crx: &[u8]) -> Option<String> {
    let rest = crx.strip_prefix(b"Cr24")?;
    let version = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    if version != 3 {
        return None;
    }
    let len = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let header = rest.get(8..8 + len)?;
    // CrxFileHeader.signed_header_data = 10000 → SignedData.crx_id = 1.
    let signed = protobuf_field(header, 10000)?;
    let id = protobuf_field(signed, 1)?;
    if id.len() != 16 {
        return None;
    }
    Some(
        id.iter()
            .flat_map(|b| [b >> 4, b & 0xf])
            .map(|n| char::from(b'a' + n))
            .collect(),
    )
}

/// The first length-delimited field `number` of a protobuf message.
fn protobuf_field(mut msg: &[u8], number: u64) -> Option<&[u8]> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    while !msg.is_empty() {
        let key = varint(&mut msg)?;
        match key & 7 {
            0 => {
                varint(&mut msg)?;
            }
            1 => msg = msg.get(8..)?,
            5 => msg = msg.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut msg)?).ok()?;
                let value = msg.get(..len)?;
                msg = &msg[len..];
                if key >> 3 == number {
                    return Some(value);
                }
            }
            _ => return None,
        }
    }
    None
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for (name, path) in list_files(from)? {
        let target = to.join(&name);
        std::fs::create_dir_all(target.parent().expect("a file in a directory"))?;
        std::fs::copy(&path, &target)?;
    }
    Ok(())
}

/// Every file under `dir` as (`/`-separated relative name, path), sorted.
fn list_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| anyhow::anyhow!("non-UTF-8 file name {n:?}"))?;
            let rel = format!("{prefix}{name}");
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out)?;
            } else {
                out.push((rel, entry.path()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// A deflated zip of `entries` with fixed timestamps (1980-01-01), so the
/// same input gives the same bytes.
fn zip(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    const DOS_DATE: u16 = (1 << 5) | 1; // 1980-01-01
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflate.write_all(data)?;
        let compressed = deflate.finish()?;
        let crc = crc32fast::hash(data);
        let offset = u32::try_from(out.len()).context("package too large for a zip")?;
        let sizes = [u32::try_from(compressed.len())?, u32::try_from(data.len())?];
        let name_len = u16::try_from(name.len())?;
        // Local file header.
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes()); // version needed
        out.extend(0u16.to_le_bytes()); // flags
        out.extend(8u16.to_le_bytes()); // deflate
        out.extend(0u16.to_le_bytes()); // time
        out.extend(DOS_DATE.to_le_bytes());
        out.extend(crc.to_le_bytes());
        out.extend(sizes[0].to_le_bytes());
        out.extend(sizes[1].to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes()); // extra
        out.extend(name.as_bytes());
        out.extend(&compressed);
        // Central directory entry.
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend((3u16 << 8 | 20).to_le_bytes()); // made by: Unix
        central.extend(20u16.to_le_bytes());
        central.extend(0u16.to_le_bytes());
        central.extend(8u16.to_le_bytes());
        central.extend(0u16.to_le_bytes());
        central.extend(DOS_DATE.to_le_bytes());
        central.extend(crc.to_le_bytes());
        central.extend(sizes[0].to_le_bytes());
        central.extend(sizes[1].to_le_bytes());
        central.extend(name_len.to_le_bytes());
        central.extend([0u8; 8]); // extra, comment, disk, internal attributes
        central.extend((0o100644u32 << 16).to_le_bytes()); // external: rw-r--r--
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let count = u16::try_from(entries.len())?;
    let central_offset = u32::try_from(out.len())?;
    let central_len = u32::try_from(central.len())?;
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(central_len.to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // comment
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_crx_id_from_a_header() {
        // Cr24, version 3, header { 10000: { 1: 16 bytes } }.
        let id: Vec<u8> = (0u8..16).collect();
        let mut signed = vec![0x0a, 16];
        signed.extend(&id);
        let mut header = vec![0x82, 0xf1, 0x04, signed.len() as u8];
        header.extend(&signed);
        let mut crx = b"Cr24".to_vec();
        crx.extend(3u32.to_le_bytes());
        crx.extend((header.len() as u32).to_le_bytes());
        crx.extend(&header);
        assert_eq!(
            crx3_id(&crx).as_deref(),
            Some("aaabacadaeafagahaiajakalamanaoap")
        );
        crx[4] = 2;
        assert_eq!(crx3_id(&crx), None);
    }

    #[test]
    fn zip_round_trips_through_unzip() {
        let entries = vec![
            ("manifest.json".to_owned(), b"{\"a\": 1}".to_vec()),
            ("pkg/x.wasm".to_owned(), vec![7u8; 5000]),
        ];
        let bytes = zip(&entries).unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.zip");
        std::fs::write(&path, &bytes).unwrap();
        // `unzip -t` checks every CRC; skipped where unzip is missing.
        if let Ok(out) = Command::new("unzip").arg("-t").arg(&path).output() {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(zip(&entries).unwrap(), bytes, "not reproducible");
    }
}
