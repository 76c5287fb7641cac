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

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::parse_x509_certificate;

    fn csr_asking_for_too_much(key: &KeyPair) -> String {
        let mut params = CertificateParams::new(vec!["vault.example".to_owned()]).unwrap();
        params.distinguished_name = name("alice-admin");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serialize_request(key).unwrap().pem().unwrap()
    }

    #[test]
    fn a_device_certificate_carries_only_what_the_server_decides() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            Ca::create(dir.path()).is_err(),
            "a second CA would replace the pinned one"
        );

        let device_key = KeyPair::generate().unwrap();
        let signed = ca
            .sign_device(
                &csr_asking_for_too_much(&device_key),
                "dev-0123456789abcdef",
            )
            .unwrap();
        let der = CertificateDer::from_pem_slice(signed.pem.as_bytes()).unwrap();
        assert_eq!(signed.sha256, <[u8; 32]>::from(Sha256::digest(&der)));
        let (_, cert) = parse_x509_certificate(&der).unwrap();
        let (_, ca_cert) = parse_x509_certificate(ca.der()).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert_eq!(cert.issuer(), ca_cert.subject());
        let cn: Vec<_> = cert
            .subject()
            .iter_common_name()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(cn, ["dev-0123456789abcdef"]);
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            device_key.public_key_raw()
        );
        assert!(cert.subject_alternative_name().unwrap().is_none());
        assert!(!cert.is_ca());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth && !eku.any);
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
            / 86400;
        assert!((365..=366).contains(&days), "{days}");
    }

    #[test]
    fn a_bad_csr_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        let good = csr_asking_for_too_much(&KeyPair::generate().unwrap());
        // One character of the signed request changed: it no longer parses,
        // or its signature no longer holds.
        let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
        let middle = lines.len() / 2;
        let flipped: String = lines[middle]
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 10 {
                    if c == 'A' { 'B' } else { 'A' }
                } else {
                    c
                }
            })
            .collect();
        lines[middle] = flipped;
        let tampered = lines.join("\n");
        for bad in ["", "not pem", tampered.as_str()] {
            let CsrRefused(message) = ca.sign_device(bad, "dev-1").err().unwrap();
            assert!(message.contains("twofill-host join"), "{message}");
        }
    }

    #[test]
    fn the_server_certificate_names_every_hostname_and_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path()).unwrap();
        let (chain, _) = ca.server_identity(&["vault.example".to_owned()]).unwrap();
        let (_, cert) = parse_x509_certificate(&chain[0]).unwrap();
        let names: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        for expected in [
            "DNSName(vault.example)",
            "DNSName(localhost)",
            "IPAddress(7f:00:00:01)",
        ] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
    }
}
