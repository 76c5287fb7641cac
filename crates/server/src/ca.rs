//! The server's own certificate authority (ECDSA P-256): it signs the
//! server's TLS certificate (re-issued in memory at every start, so it
//! never expires under a running deployment) and each device's client
//! certificate, from the CSR the device sends when it joins. Devices pin
//! the CA, not the server certificate.

use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::config::{ALWAYS_HOSTNAMES, CA_CERT_FILE, CA_KEY_FILE, write_private};

const CA_NAME: &str = "twofill team server CA";
const CA_VALIDITY: Duration = Duration::days(10 * 365);
const SERVER_VALIDITY: Duration = Duration::days(400);
const DEVICE_VALIDITY: Duration = Duration::days(365);
/// Clocks differ; a certificate valid from a little before now works on
/// a laptop whose clock is behind.
const BACKDATE: Duration = Duration::hours(1);

pub struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A device certificate, as handed out and as the vault knows it.
pub struct DeviceCertificate {
    pub pem: String,
    /// SHA-256 of the certificate's DER: what the vault stores.
    pub sha256: [u8; 32],
}

/// Why a join's CSR was not signed; the message says what to do.
#[derive(Debug)]
pub struct CsrRefused(pub String);

impl Ca {
    /// Makes a new CA in `state` (`ca.pem`, `ca.key` 0600). Refuses to
    /// overwrite one: every enrolled device pins it.
    pub fn create(state: &Path) -> Result<Ca> {
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("cannot make the CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(CA_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, CA_VALIDITY);
        let cert = params.self_signed(&key).context("cannot sign the CA")?;
        write_private(&state.join(CA_KEY_FILE), key.serialize_pem().as_bytes())?;
        write_private(&state.join(CA_CERT_FILE), cert.pem().as_bytes())?;
        Ca::load(state)
    }

    pub fn load(state: &Path) -> Result<Ca> {
        let read = |file: &str| {
            let path = state.join(file);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {}; is {} a state directory made by `twofill-server init`?",
                    path.display(),
                    state.display()
                )
            })
        };
        let pem = read(CA_CERT_FILE)?;
        let key = KeyPair::from_pem(&read(CA_KEY_FILE)?).context("the CA key is unreadable")?;
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .context("the CA certificate is unreadable")?;
        let issuer =
            Issuer::from_ca_cert_der(&der, key).context("the CA certificate is unreadable")?;
        Ok(Ca { pem, der, issuer })
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The pin devices keep: SHA-256 of the CA's DER.
    pub fn pin(&self) -> [u8; 32] {
        twofill_team_api::ca_pin(&self.der)
    }

    /// A fresh server certificate for `hostnames` (plus localhost and
    /// 127.0.0.1) and its key.
    pub fn server_identity(
        &self,
        hostnames: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let mut names: Vec<String> = hostnames.to_vec();
        for always in ALWAYS_HOSTNAMES {
            if !names.iter().any(|n| n == always) {
                names.push(always.to_owned());
            }
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(names.clone())
            .with_context(|| format!("{names:?} are not all valid host names"))?;
        params.distinguished_name = name(&names[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, SERVER_VALIDITY);
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone()], key))
    }

    /// Signs a device certificate for the key in `csr_pem`. Everything the
    /// CSR asks for besides its key is ignored: the subject is `device_id`,
    /// there are no alternative names, and it is good for client
    /// authentication only.
    pub fn sign_device(
        &self,
        csr_pem: &str,
        device_id: &str,
    ) -> Result<DeviceCertificate, CsrRefused> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
            CsrRefused(format!(
                "the certificate signing request is not a valid, signed PKCS#10 request in PEM ({e}); \
                 twofill-host join makes one itself, so update twofill-host and join again"
            ))
        })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(device_id);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, DEVICE_VALIDITY);
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(|e| {
                CsrRefused(format!(
                    "the server cannot sign a certificate for this key ({e}); use an ECDSA P-256 or Ed25519 key"
                ))
            })?;
        Ok(DeviceCertificate {
            pem: cert.pem(),
            sha256: Sha256::digest(cert.der()).into(),
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Valid from a little before now for `days`, with a random serial.
fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
    let mut serial = [0u8; 16];
    crate::random::fill(&mut serial);
    serial[0] &= 0x7f; // positive
    params.serial_number = Some(SerialNumber::from_slice(&serial));
}
