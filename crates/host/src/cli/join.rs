//! `twofill-host join URL --invite TF1…`: enrolls this computer as a
//! device of a team server.
//!
//! Order matters. The invite carries the SHA-256 of the server's CA; the CA
//! is fetched without trusting anything yet and must hash to that pin
//! before anything secret is sent. From then on only that CA is trusted.
//! The invite is redeemed for a certificate on a new P-256 key, the
//! certificate is proven by a mutual-TLS `whoami`, and only then is
//! anything written: the identity ([`crate::server::device`]) and, in
//! personal mode, `[server]` in the user's config. A refusal at any step
//! leaves this computer as it was.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use twofill_team_api::{
    CA_PATH, DeviceInfo, ErrorReply, Invite, JOIN_PATH, JoinReply, JoinRequest, WHOAMI_PATH,
    WhoAmIReply, WhoAmIRequest, ca_pin,
};

use super::{JsonFlag, Report, emit};
use crate::config::{self, ServerConfig, Settings};
use crate::server::device::{self, Enrollment, KeyStorage};
use crate::server::http::{Client, Reply, ServerUrl};

#[derive(Args)]
pub(super) struct JoinArgs {
    /// The team server, e.g. https://vault.example:8443.
    url: String,
    /// The invite your admin gave you (tf1.….…).
    #[arg(long)]
    invite: String,
    /// What to call this computer in the server's device list (default:
    /// its host name).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Serialize)]
struct Joined {
    server: String,
    user: String,
    device: DeviceInfo,
    identity: PathBuf,
    /// The device key's key is in the OS keyring (else in a 0600 key file).
    in_keyring: bool,
    /// The server requires single sign-on: `twofill-host login` next.
    sign_in_needed: bool,
    /// Where, for people.
    key_storage: String,
    /// The config file that now names the server.
    config: String,
}

pub(super) fn run(args: JoinArgs) -> Result<()> {
    let settings = config::load()?;
    let invite: Invite = args.invite.parse()?;
    let url = ServerUrl::parse(&args.url).map_err(|e| anyhow!(e))?;
    let config_file = config_to_write(&settings, &url)?;
    let identity_dir = match settings
        .config
        .server
        .as_ref()
        .and_then(|s| s.identity.clone())
    {
        Some(dir) => dir,
        None => config::default_identity_dir()?,
    };

    let ca = fetch_pinned_ca(&url, &invite)?;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("cannot make a device key")?;
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .context("cannot make a certificate request")?;
    let device_name = args.name.unwrap_or_else(crate::identity::host_name);
    let request = JoinRequest {
        invite: invite.secret_text(),
        device_name,
        csr_pem: csr,
    };
    let pinned = Client::pinned(url.clone(), ca.clone(), None)?;
    let reply = pinned.post_json(JOIN_PATH, &serde_json::to_vec(&request)?)?;
    let joined: JoinReply = decode(&url, "joining", reply)?;

    // The server must keep to the CA it showed; and the certificate must
    // work before it is kept.
    let returned_ca = device::pem_certificates(joined.ca_pem.as_bytes())
        .context("the server's join reply carries no CA certificate")?;
    if returned_ca.first() != Some(&ca) {
        bail!(
            "the server's join reply names another CA than the one the invite pins; nothing was written. Tell your admin"
        );
    }
    let chain = device::pem_certificates(joined.certificate_pem.as_bytes())
        .context("the server's join reply carries no device certificate")?;
    let key_der = key.serialize_der();
    let key_for_tls = rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.clone().into());
    let as_device = Client::pinned(url.clone(), ca, Some((chain, key_for_tls)))?;
    let reply =
        as_device.post_json(WHOAMI_PATH, &serde_json::to_vec(&WhoAmIRequest::default())?)?;
    // With single sign-on required, the server takes the certificate and
    // then asks for a sign-in: that proves the certificate as well, and
    // the device is the one the join reply named.
    let sign_in_needed = reply.status == 401
        && serde_json::from_slice::<ErrorReply>(&reply.body)
            .is_ok_and(|e| crate::server::sso::is_sign_in_code(e.error.code));
    let (user, device) = if sign_in_needed {
        (joined.user.clone(), joined.device.clone())
    } else {
        let me: WhoAmIReply = decode(&url, "checking the new device certificate with", reply)?;
        (me.user, me.device)
    };

    let enrollment = Enrollment {
        server: url.to_string(),
        user,
        device,
    };
    let keyring = std::env::var_os("TWOFILL_NO_KEYRING").is_none();
    let storage = device::save(
        &identity_dir,
        &enrollment,
        &joined.certificate_pem,
        &joined.ca_pem,
        &key_der,
        keyring,
    )?;
    let config_shown = match &config_file {
        Some(path) => {
            write_server_table(path, &url)?;
            path.display().to_string()
        }
        None => settings.config_display(),
    };
    emit(
        args.out,
        &Joined {
            server: enrollment.server,
            user: enrollment.user,
            device: enrollment.device,
            identity: identity_dir,
            in_keyring: storage == KeyStorage::Keyring,
            sign_in_needed,
            key_storage: storage.to_string(),
            config: config_shown,
        },
    )
}

/// The user config to add `[server]` to; `None` when a system config is in
/// force, which must already name this server (users cannot point a
/// managed host elsewhere).
fn config_to_write(settings: &Settings, url: &ServerUrl) -> Result<Option<PathBuf>> {
    if !settings.managed() {
        return Ok(Some(match settings.source_path() {
            Some(p) => p.to_owned(),
            None => config::default_user_config_path()
                .context("cannot find the user config directory; set TWOFILL_CONFIG")?,
        }));
    }
    let system = settings.config_display();
    match &settings.config.server {
        Some(ServerConfig { url: managed, .. })
            if ServerUrl::parse(managed).is_ok_and(|m| m == *url) =>
        {
            Ok(None)
        }
        Some(ServerConfig { url: managed, .. }) => bail!(
            "this computer's twofill host is managed by {system}, which names the team server {managed}; join that server (ask your IT department if the invite is for {url})"
        ),
        None => bail!(
            "this computer's twofill host is managed by {system}, which has no [server] table, so it uses a local vault; ask your IT department to add [server] url = \"{url}\""
        ),
    }
}

/// The server's CA, fetched without trust and accepted only if it hashes
/// to the invite's pin.
fn fetch_pinned_ca(
    url: &ServerUrl,
    invite: &Invite,
) -> Result<rustls::pki_types::CertificateDer<'static>> {
    let reply = Client::unverified(url.clone())?.get(CA_PATH)?;
    if reply.status != 200 {
        bail!(
            "{url} answered HTTP {} for its CA certificate; is it a twofill team server?",
            reply.status
        );
    }
    let ca = device::pem_certificates(&reply.body)
        .with_context(|| format!("{url} sent no CA certificate; is it a twofill team server?"))?
        .swap_remove(0);
    if ca_pin(&ca) != invite.ca_pin {
        bail!(
            "this server's CA does not match the invite; the invite may be for another server, or someone is in the middle. Nothing was sent or written; check the URL with your admin"
        );
    }
    Ok(ca)
}

/// A 200 reply's body, or the server's refusal as an error.
fn decode<T: serde::de::DeserializeOwned>(url: &ServerUrl, doing: &str, reply: Reply) -> Result<T> {
    if reply.status == 200 {
        return serde_json::from_slice(&reply.body).with_context(|| {
            format!("{url} sent a reply this host does not understand while {doing} it")
        });
    }
    match serde_json::from_slice::<ErrorReply>(&reply.body) {
        Ok(e) => bail!(
            "the team server refused ({}): {}; nothing was written",
            serde_json::to_value(e.error.code)?
                .as_str()
                .unwrap_or("error"),
            e.error.message
        ),
        Err(_) => bail!(
            "{url} answered HTTP {} while {doing} it; nothing was written",
            reply.status
        ),
    }
}

/// Sets `[server] url` in the user's config, keeping everything else in it
/// (comments included).
fn write_server_table(path: &Path, url: &ServerUrl) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not a valid twofill config", path.display()))?;
    let table = doc
        .entry("server")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .with_context(|| format!("`server` in {} is not a table", path.display()))?;
    table.insert("url", toml_edit::value(url.to_string()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    device::write_private(path, doc.to_string().as_bytes())
}

impl Report for Joined {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "joined {} as {}", self.server, self.user)?;
        writeln!(
            out,
            "device: {} ({}), certificate and key in {}",
            self.device.id,
            self.device.name,
            self.identity.display()
        )?;
        writeln!(out, "the device key is protected by {}", self.key_storage)?;
        writeln!(out, "config: {} names the server", self.config)?;
        if self.sign_in_needed {
            return writeln!(
                out,
                "next: sign in with your organization's account: `twofill-host login` (the server requires it)"
            );
        }
        writeln!(
            out,
            "next: open a sign-in page in your browser; twofill asks the team server for your codes. `twofill-host whoami` shows what the server knows about you."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining_sets_the_server_and_keeps_the_rest_of_the_users_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twofill").join("host.toml");
        let url = |u: &str| ServerUrl::parse(u).unwrap();
        // No config yet: one is created with just the server.
        write_server_table(&path, &url("https://vault.example:8443")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "[server]\nurl = \"https://vault.example:8443\"\n");
        // A config of the user's own: comments, other tables and the
        // identity directory stay; only the URL changes.
        std::fs::write(
            &path,
            "# mine\nuser = \"os\"\n\n[server]\nurl = \"https://old.example\"\nidentity = \"/somewhere\" # kept\n\n[policy]\nallow_seed_reveal = false\n",
        )
        .unwrap();
        write_server_table(&path, &url("https://vault.example")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# mine\nuser = \"os\"\n\n[server]\nurl = \"https://vault.example\"\nidentity = \"/somewhere\" # kept\n\n[policy]\nallow_seed_reveal = false\n"
        );
        // A config that is not TOML is refused, and left as it was.
        std::fs::write(&path, "[server\n").unwrap();
        assert!(write_server_table(&path, &url("https://vault.example")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[server\n");
    }
}
