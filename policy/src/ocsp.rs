//! Revocation checked with OCSP (RFC 6960): the responder a client certificate names in its
//! Authority Information Access extension, asked by the gateway for the CA stores that opt in.
//! This module builds the request (one `CertID`, SHA-1 hashes as responders expect), reads and
//! checks the response (signed by the issuing CA, or by a responder the CA delegated with
//! `id-kp-OCSPSigning`; the `CertID` answered; `thisUpdate` not in the future) and keeps each
//! certificate's last answer until it is due again. The gateway sends the requests.
//!
//! The DER structures are RustCrypto's `x509-ocsp` (both TLS backends, as for CRLs); signatures
//! are checked with the crypto library. Must not: do I/O.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use x509_cert::der::asn1::{Null, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, TbsRequest,
};

use crate::crypto::hash::{hash, MessageDigest};
use crate::crypto::x509::{X509Ref, X509};
use crate::revocation::{refresh_time, Refresh, Registry, Schedule};

const AIA_OID: &str = "1.3.6.1.5.5.7.1.1";
const OCSP_METHOD: &str = "1.3.6.1.5.5.7.48.1";
const SHA1: &str = "1.3.14.3.2.26";
const BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// How far a responder's clock may be ahead of ours.
const SKEW: Duration = Duration::from_secs(300);

/// The `http://` OCSP responders `cert` names (Authority Information Access).
pub fn ocsp_urls(cert: &X509Ref) -> Vec<String> {
    let Some(parsed) = cert
        .to_der()
        .ok()
        .and_then(|d| x509_cert::Certificate::from_der(&d).ok())
    else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for ext in parsed.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id.to_string() != AIA_OID {
            continue;
        }
        let Ok(aia) = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()) else {
            continue;
        };
        for d in aia.0 {
            if d.access_method.to_string() != OCSP_METHOD {
                continue;
            }
            if let GeneralName::UniformResourceIdentifier(u) = d.access_location {
                let u = u.to_string();
                if u.starts_with("http://") || u.starts_with("https://") {
                    urls.push(u);
                }
            }
        }
    }
    urls
}

/// What a responder said about one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// The responder does not know the certificate.
    Unknown,
}

/// A checked answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The status.
    pub status: OcspStatus,
    /// `nextUpdate`: past it the answer no longer holds (none: it holds until refreshed).
    pub next_update: Option<SystemTime>,
}

/// Why a response was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcspRefused {
    /// Not an OCSP response, or not a basic one.
    #[error("not an OCSP response: {0}")]
    Malformed(String),
    /// The responder refused the request (`tryLater`, `unauthorized`, ...).
    #[error("the responder answered {0:?}")]
    Status(OcspResponseStatus),
    /// Not signed by the CA or by a responder it delegated.
    #[error("the response is not signed by the issuer or a responder it delegated")]
    BadSignature,
    /// No answer for the certificate asked about.
    #[error("the response does not answer for the certificate")]
    NotAnswered,
    /// `thisUpdate` in the future.
    #[error("the response is not yet valid")]
    NotYetValid,
    /// `nextUpdate` has passed: a stale answer (a responder's cache) never replaces a current
    /// one.
    #[error("the response has run out")]
    Expired,
}

fn malformed(e: impl std::fmt::Display) -> OcspRefused {
    OcspRefused::Malformed(e.to_string())
}

/// One certificate's OCSP: its request and the last answer taken.
pub struct OcspEntry {
    /// The responder.
    pub url: Arc<str>,
    /// The DER `OCSPRequest` to POST.
    pub request: Vec<u8>,
    cert_id: CertId,
    issuer: X509,
    current: RwLock<Option<(OcspAnswer, Arc<[u8]>)>>,
    schedule: Schedule,
}

impl std::fmt::Debug for OcspEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcspEntry")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn sha1(data: &[u8]) -> Result<OctetString, OcspRefused> {
    let d = hash(MessageDigest::sha1(), data).map_err(malformed)?;
    OctetString::new(d.to_vec()).map_err(malformed)
}

/// The issuer's public key bits (what `issuerKeyHash` and `byKey` hash).
fn key_bits(cert: &X509Ref) -> Result<Vec<u8>, OcspRefused> {
    let der = cert.to_der().map_err(malformed)?;
    let parsed = x509_cert::Certificate::from_der(&der).map_err(malformed)?;
    Ok(parsed
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec())
}

/// The `CertID` that names `cert` (SHA-1 hashes, as responders expect).
fn cert_id(cert: &X509Ref, issuer: &X509Ref) -> Result<CertId, OcspRefused> {
    let serial = cert.serial_number().to_bn().map_err(malformed)?.to_vec();
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap(SHA1),
            parameters: Some(Null.into()),
        },
        issuer_name_hash: sha1(&issuer.subject_name().to_der().map_err(malformed)?)?,
        issuer_key_hash: sha1(&key_bits(issuer)?)?,
        serial_number: SerialNumber::new(&serial).map_err(malformed)?,
    })
}

/// A responder's answer for `cert`, signed by its issuer (`issuer`, `key`): `good` or
/// `revoked`, valid from `this_update` to `next_update`. For tests and demos that need
/// answers `openssl ocsp` cannot write (it counts `nextUpdate` in whole minutes).
pub(crate) fn issue_response(
    cert: &X509Ref,
    issuer: &X509Ref,
    key: &crate::crypto::pkey::PKeyRef<crate::crypto::pkey::Private>,
    status: OcspStatus,
    this_update: SystemTime,
    next_update: SystemTime,
) -> Result<Vec<u8>, OcspRefused> {
    let time = |t: SystemTime| {
        let since = t.duration_since(std::time::UNIX_EPOCH).map_err(malformed)?;
        // Whole seconds: DER's GeneralizedTime has no fraction.
        x509_cert::der::DateTime::from_unix_duration(Duration::from_secs(since.as_secs()))
            .map(x509_ocsp::OcspGeneralizedTime::from)
            .map_err(malformed)
    };
    let cert_status = match status {
        OcspStatus::Good => CertStatus::good(),
        OcspStatus::Revoked => CertStatus::revoked(x509_ocsp::RevokedInfo {
            revocation_time: time(this_update)?,
            revocation_reason: None,
        }),
        OcspStatus::Unknown => CertStatus::unknown(),
    };
    let name = issuer.subject_name().to_der().map_err(malformed)?;
    let tbs = x509_ocsp::ResponseData {
        version: Default::default(),
        responder_id: ResponderId::ByName(
            x509_cert::name::Name::from_der(&name).map_err(malformed)?,
        ),
        produced_at: time(this_update)?,
        responses: vec![x509_ocsp::SingleResponse {
            cert_id: cert_id(cert, issuer)?,
            cert_status,
            this_update: time(this_update)?,
            next_update: Some(time(next_update)?),
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let tbs_der = tbs.to_der().map_err(malformed)?;
    let signature = crate::crl::sign(key, &tbs_der).map_err(malformed)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: crate::crl::signature_algorithm(key).map_err(malformed)?,
        signature: x509_cert::der::asn1::BitString::from_bytes(&signature).map_err(malformed)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .and_then(|r| r.to_der())
        .map_err(malformed)
}

impl OcspEntry {
    fn new(url: &str, cert: &X509Ref, issuer: &X509Ref) -> Result<OcspEntry, OcspRefused> {
        let cert_id = cert_id(cert, issuer)?;
        let request = OcspRequest {
            tbs_request: TbsRequest {
                request_list: vec![Request {
                    req_cert: cert_id.clone(),
                    single_request_extensions: None,
                }],
                ..TbsRequest::default()
            },
            optional_signature: None,
        }
        .to_der()
        .map_err(malformed)?;
        Ok(OcspEntry {
            url: url.into(),
            request,
            cert_id,
            issuer: issuer.to_owned(),
            current: RwLock::new(None),
            schedule: Schedule::default(),
        })
    }

    /// The last answer taken; `None` before the first.
    pub fn current(&self) -> Option<OcspAnswer> {
        self.current
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|(a, _)| *a))
    }

    /// The last response as received, to staple: only a `good` one that has not run out.
    pub fn staple(&self) -> Option<Arc<[u8]>> {
        let c = self.current.read().ok()?;
        let (answer, der) = c.as_ref()?;
        let fresh = answer.next_update.is_none_or(|n| n > SystemTime::now());
        (answer.status == OcspStatus::Good && fresh).then(|| der.clone())
    }

    /// Reads a response; takes it when it is signed by the issuer (or a responder it
    /// delegated) and answers for this certificate.
    pub fn take(&self, bytes: &[u8], refresh: Refresh) -> Result<OcspAnswer, OcspRefused> {
        let response = OcspResponse::from_der(bytes).map_err(malformed)?;
        if response.response_status != OcspResponseStatus::Successful {
            return Err(OcspRefused::Status(response.response_status));
        }
        let body = response
            .response_bytes
            .ok_or_else(|| malformed("no response bytes"))?;
        if body.response_type.to_string() != BASIC {
            return Err(malformed("not a basic OCSP response"));
        }
        let basic = BasicOcspResponse::from_der(body.response.as_bytes()).map_err(malformed)?;
        let tbs = basic.tbs_response_data.to_der().map_err(malformed)?;
        let signature = basic.signature.raw_bytes();
        let alg = &basic.signature_algorithm.oid;
        let signed = self
            .signer_keys(&basic)?
            .iter()
            .any(|k| crate::crl::verify_signed(alg, &tbs, signature, k));
        if !signed {
            return Err(OcspRefused::BadSignature);
        }
        let single = basic
            .tbs_response_data
            .responses
            .iter()
            .find(|r| {
                r.cert_id.serial_number == self.cert_id.serial_number
                    && r.cert_id.issuer_name_hash == self.cert_id.issuer_name_hash
                    && r.cert_id.issuer_key_hash == self.cert_id.issuer_key_hash
            })
            .ok_or(OcspRefused::NotAnswered)?;
        let now = SystemTime::now();
        if single.this_update.0.to_system_time() > now + SKEW {
            return Err(OcspRefused::NotYetValid);
        }
        if single
            .next_update
            .is_some_and(|n| n.0.to_system_time() < now)
        {
            return Err(OcspRefused::Expired);
        }
        let answer = OcspAnswer {
            status: match single.cert_status {
                CertStatus::Good(_) => OcspStatus::Good,
                CertStatus::Revoked(_) => OcspStatus::Revoked,
                CertStatus::Unknown(_) => OcspStatus::Unknown,
            },
            next_update: single.next_update.map(|t| t.0.to_system_time()),
        };
        if let Ok(mut c) = self.current.write() {
            *c = Some((answer, Arc::from(bytes)));
        }
        self.schedule
            .succeeded(refresh_time(answer.next_update, refresh));
        Ok(answer)
    }

    /// The keys that may sign the response: the issuer's when the responder is the issuer,
    /// else a certificate in the response that the issuer signed for OCSP signing and that
    /// the responder id names.
    fn signer_keys(
        &self,
        basic: &BasicOcspResponse,
    ) -> Result<Vec<crate::crypto::pkey::PKey<crate::crypto::pkey::Public>>, OcspRefused> {
        let issuer_key = self.issuer.public_key().map_err(malformed)?;
        let names = |der: &[u8], bits: &[u8], id: &ResponderId| -> bool {
            match id {
                ResponderId::ByName(n) => n.to_der().is_ok_and(|d| d == der),
                ResponderId::ByKey(h) => sha1(bits).is_ok_and(|s| s.as_bytes() == h.as_bytes()),
            }
        };
        let id = &basic.tbs_response_data.responder_id;
        let issuer_name = self.issuer.subject_name().to_der().map_err(malformed)?;
        if names(&issuer_name, &key_bits(&self.issuer)?, id) {
            return Ok(vec![issuer_key]);
        }
        let mut keys = Vec::new();
        for c in basic.certs.iter().flatten() {
            let Ok(der) = c.to_der() else { continue };
            let Ok(x) = X509::from_der(&der) else {
                continue;
            };
            let delegated = c
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id.to_string() == "2.5.29.37")
                .filter_map(|e| {
                    x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok()
                })
                .any(|eku| eku.0.iter().any(|o| o.to_string() == OCSP_SIGNING));
            let subject = c.tbs_certificate.subject.to_der().unwrap_or_default();
            let bits = c
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes();
            if delegated
                && x.verify(&issuer_key).unwrap_or(false)
                && x.issuer_name().to_der().ok().as_deref() == Some(issuer_name.as_slice())
                && names(&subject, bits, id)
            {
                if let Ok(k) = x.public_key() {
                    keys.push(k);
                }
            }
        }
        Ok(keys)
    }

    /// A request is starting now.
    pub fn tried(&self, now: Instant) {
        self.schedule.tried(now);
    }

    /// The request failed (or its response was refused).
    pub fn failed(&self) {
        self.schedule.failed();
    }

    /// No request to the responder has ended yet (neither answered nor failed).
    pub fn first_pending(&self) -> bool {
        self.schedule.first_pending()
    }

    /// Whether the gateway should ask now.
    pub fn due(&self, now: Instant, refresh: Refresh) -> bool {
        self.schedule.due(now, refresh)
    }
}

/// A certificate as the registry knows it: its issuer's DER and its serial number.
type CertKey = (Vec<u8>, Vec<u8>);

/// Every certificate the trust store asked about, across reloads.
pub struct OnlineOcsp(Registry<CertKey, OcspEntry>);

impl Default for OnlineOcsp {
    fn default() -> Self {
        OnlineOcsp(Registry::new(MAX_ENTRIES))
    }
}

impl std::fmt::Debug for OnlineOcsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineOcsp")
            .field("certificates", &self.all().len())
            .finish_non_exhaustive()
    }
}

/// Most certificates remembered (each client is one entry; past this, new clients are unknown
/// until older entries are gone: a reload, or a restart).
const MAX_ENTRIES: usize = 100_000;

impl OnlineOcsp {
    /// `cert`'s entry (asking `url`), registered on first sight (the gateway is woken).
    pub fn entry_for(&self, url: &str, cert: &X509Ref, issuer: &X509Ref) -> Option<Arc<OcspEntry>> {
        let key = (
            issuer.to_der().ok()?,
            cert.serial_number().to_bn().ok()?.to_vec(),
        );
        self.0
            .get_or_insert(key, || OcspEntry::new(url, cert, issuer).ok())
    }

    /// Every registered certificate.
    pub fn all(&self) -> Vec<Arc<OcspEntry>> {
        self.0.all()
    }

    /// Moves on after an answer was taken.
    pub fn changed(&self) {
        self.0.changed();
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    /// What to call when a new certificate is registered (once; the gateway's fetcher).
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        self.0.set_waker(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Certificate;
    use crate::pki::{crl, issue, DemoPki, Issued, KeyKind, Profile, Spec};
    use crate::trust::{SentChain, TrustFailure, TrustStore};

    /// `openssl ocsp` as the responder, offline: answers `request` from an index of
    /// `(status, serial)` lines, signed by `signer`.
    fn respond(request: &[u8], index: &[(&str, String)], signer: &Issued, ca: &Issued) -> Vec<u8> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("certgate-ocsp-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at = |f: &str| dir.join(f).display().to_string();
        std::fs::write(at("req.der"), request).unwrap();
        std::fs::write(at("ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(at("signer.pem"), signer.cert_pem()).unwrap();
        std::fs::write(at("signer.key"), signer.key_pem()).unwrap();
        let lines: String = index
            .iter()
            .map(|(s, serial)| match *s {
                "R" => format!("R\t301231235959Z\t240101000000Z\t{serial}\tunknown\t/CN=x\n"),
                _ => format!("V\t301231235959Z\t\t{serial}\tunknown\t/CN=x\n"),
            })
            .collect();
        std::fs::write(at("index.txt"), lines).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["ocsp", "-index", &at("index.txt"), "-CA", &at("ca.pem")])
            .args(["-rsigner", &at("signer.pem"), "-rkey", &at("signer.key")])
            .args([
                "-reqin",
                &at("req.der"),
                "-respout",
                &at("resp.der"),
                "-ndays",
                "1",
            ])
            .output()
            .expect("openssl (make test installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let resp = std::fs::read(at("resp.der")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        resp
    }

    #[test]
    fn certificates_are_checked_with_the_responder_they_name() {
        let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let url = "http://127.0.0.1:9/ocsp";
        let urls = [url];
        let mut spec = Spec::new(
            {
                let mut b = crate::crypto::x509::X509NameBuilder::new().unwrap();
                b.append_entry_by_text("CN", "OCSP Client").unwrap();
                b.build()
            },
            Profile::Client,
        );
        spec.ocsp_urls = &urls;
        let client = issue(KeyKind::EcdsaP256, &spec, Some(&pki.dev_ca)).unwrap();
        assert_eq!(ocsp_urls(&client.cert), [url]);
        assert!(ocsp_urls(&pki.valid.cert).is_empty());
        let serial = crate::pki::index_serial(&client.cert);

        let registry = Arc::new(OnlineOcsp::default());
        let root_crl = crl(&pki.root, &[], -1, 30).unwrap();
        let store = TrustStore::new(
            vec![pki.root.cert.clone()],
            vec![pki.dev_ca.cert.clone()],
            vec![root_crl],
        )
        .unwrap()
        .with_ocsp(registry.clone(), std::slice::from_ref(&pki.dev_ca.cert));
        assert!(store.has_crls());
        let leaf = Certificate::from_x509(client.cert.clone()).unwrap();
        let verify = || store.verify(&leaf, &SentChain::default(), true);
        assert!(matches!(verify(), Err(TrustFailure::RevocationPending(m)) if m.contains(url)));
        let entry = registry
            .entry_for(url, &client.cert, &pki.dev_ca.cert)
            .unwrap();
        assert!(entry.due(Instant::now(), Refresh::default()));
        assert!(entry.first_pending());

        // Good, signed by the CA: verified.
        let good = respond(
            &entry.request,
            &[("V", serial.clone())],
            &pki.dev_ca,
            &pki.dev_ca,
        );
        let answer = entry.take(&good, Refresh::default()).unwrap();
        assert_eq!(answer.status, OcspStatus::Good);
        assert!(answer.next_update.is_some());
        registry.changed();
        assert!(verify().is_ok());
        assert!(!entry.due(Instant::now(), Refresh::default()));

        // Signed by another CA: refused, the last answer stays.
        let forged = respond(
            &entry.request,
            &[("R", serial.clone())],
            &pki.tst_ca,
            &pki.dev_ca,
        );
        assert_eq!(
            entry.take(&forged, Refresh::default()),
            Err(OcspRefused::BadSignature)
        );
        assert!(entry.take(b"junk", Refresh::default()).is_err());
        assert!(verify().is_ok());

        // Revoked.
        let revoked = respond(
            &entry.request,
            &[("R", serial.clone())],
            &pki.dev_ca,
            &pki.dev_ca,
        );
        assert_eq!(
            entry.take(&revoked, Refresh::default()).unwrap().status,
            OcspStatus::Revoked
        );
        registry.changed();
        assert_eq!(verify().unwrap_err(), TrustFailure::Revoked);

        // Not in the responder's index: unknown.
        let unknown = respond(
            &entry.request,
            &[("V", "01".into())],
            &pki.dev_ca,
            &pki.dev_ca,
        );
        assert_eq!(
            entry.take(&unknown, Refresh::default()).unwrap().status,
            OcspStatus::Unknown
        );
        registry.changed();
        assert!(matches!(verify(), Err(TrustFailure::RevocationUnknown(_))));

        // A good answer that ran out is an unknown status; one that starts in the future is
        // refused. (Written by `issue_response`, which, unlike `openssl ocsp`, sets seconds.)
        let now = SystemTime::now();
        let answer = |status, this: SystemTime, next: SystemTime| {
            issue_response(
                &client.cert,
                &pki.dev_ca.cert,
                &pki.dev_ca.key,
                status,
                this,
                next,
            )
            .unwrap()
        };
        let minute = Duration::from_secs(60);
        let current = answer(OcspStatus::Good, now - minute, now + minute);
        assert_eq!(
            entry.take(&current, Refresh::default()).unwrap().status,
            OcspStatus::Good
        );
        registry.changed();
        assert!(verify().is_ok());
        // Stale (a responder's cache): refused, the current answer stays.
        let stale = answer(OcspStatus::Revoked, now - 2 * minute, now - minute);
        assert_eq!(
            entry.take(&stale, Refresh::default()),
            Err(OcspRefused::Expired)
        );
        assert!(verify().is_ok());
        // Current when taken, then it runs out (nextUpdate has whole seconds).
        let short = answer(OcspStatus::Good, now - minute, now + Duration::from_secs(2));
        entry.take(&short, Refresh::default()).unwrap();
        registry.changed();
        assert!(verify().is_ok());
        std::thread::sleep(Duration::from_millis(2100));
        // The cached verification ends at the answer's nextUpdate.
        assert!(
            matches!(verify(), Err(TrustFailure::RevocationUnknown(m)) if m.contains("expired"))
        );
        let early = answer(OcspStatus::Good, now + 10 * minute, now + 20 * minute);
        assert_eq!(
            entry.take(&early, Refresh::default()),
            Err(OcspRefused::NotYetValid)
        );
        let revoked = answer(OcspStatus::Revoked, now - minute, now + minute);
        entry.take(&revoked, Refresh::default()).unwrap();
        registry.changed();
        assert_eq!(verify().unwrap_err(), TrustFailure::Revoked);
    }
}
