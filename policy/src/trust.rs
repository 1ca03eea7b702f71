//! Trust stores and chain verification (SPEC §4): `Root` anchors, `CertificateAuthority`
//! intermediates, CRL files, verified with openssl's `X509Store`/`X509StoreContext`.
//!
//! APIM's model: intermediates a client sends are not used to build the chain unless the store
//! allows it; only uploaded intermediates count. Failures map onto the reasons of
//! `validate-client-certificate`. Caching of results and fetching CRLs over HTTP build on this.

use std::sync::Arc;

use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509Crl, X509StoreContext, X509VerifyResult, X509};

use crate::cert::Certificate;

/// Why a chain did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustFailure {
    #[error("A certificate chain could not be built to a trusted root authority. ({0})")]
    NotTrusted(String),
    #[error("a certificate in the chain is not yet valid")]
    NotYetValid,
    #[error("a certificate in the chain has expired")]
    Expired,
    #[error("the certificate is revoked")]
    Revoked,
    #[error("the revocation status could not be determined ({0})")]
    RevocationUnknown(String),
    #[error("chain verification failed: {0}")]
    Other(String),
}

/// Roots, intermediates and CRLs of one configuration generation.
pub struct TrustStore {
    roots: Vec<X509>,
    intermediates: Vec<X509>,
    crls: Vec<X509Crl>,
    /// Use intermediates the client sent (off by default, as in APIM).
    pub allow_sent_intermediates: bool,
    store: X509Store,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("roots", &self.roots.len())
            .field("intermediates", &self.intermediates.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

/// The result of a successful verification: the chain from the leaf to the anchor.
#[derive(Clone, Debug)]
pub struct Verified {
    pub chain: Vec<Arc<Certificate>>,
}

impl Verified {
    /// The certificate that issued the leaf.
    pub fn issuer(&self) -> Option<&Arc<Certificate>> {
        self.chain.get(1)
    }
}

impl TrustStore {
    pub fn new(
        roots: Vec<X509>,
        intermediates: Vec<X509>,
        crls: Vec<X509Crl>,
    ) -> Result<TrustStore, openssl::error::ErrorStack> {
        let mut b = X509StoreBuilder::new()?;
        for r in &roots {
            b.add_cert(r.clone())?;
        }
        // Certificates must be within their validity at verification time (default), and
        // partial chains are not anchors: only `Root` entries are.
        b.set_flags(X509VerifyFlags::X509_STRICT)?;
        Ok(TrustStore {
            store: b.build(),
            roots,
            intermediates,
            crls,
            allow_sent_intermediates: false,
        })
    }

    pub fn roots(&self) -> &[X509] {
        &self.roots
    }

    /// Verifies `leaf` (with the chain the client sent, used only when allowed) against the
    /// anchors, optionally checking revocation with the configured CRLs.
    pub fn verify(
        &self,
        leaf: &Certificate,
        sent: &[X509],
        check_revocation: bool,
    ) -> Result<Verified, TrustFailure> {
        let mut untrusted = Stack::new().map_err(|e| TrustFailure::Other(e.to_string()))?;
        for i in &self.intermediates {
            untrusted
                .push(i.clone())
                .map_err(|e| TrustFailure::Other(e.to_string()))?;
        }
        if self.allow_sent_intermediates {
            for s in sent {
                untrusted
                    .push(s.clone())
                    .map_err(|e| TrustFailure::Other(e.to_string()))?;
            }
        }
        let store = &self.store;
        let mut ctx = X509StoreContext::new().map_err(|e| TrustFailure::Other(e.to_string()))?;
        let outcome = ctx
            .init(store, leaf.x509(), &untrusted, |c| {
                let ok = c.verify_cert()?;
                let chain: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(|x| x.to_owned()).collect())
                    .unwrap_or_default();
                Ok((ok, c.error(), chain))
            })
            .map_err(|e| TrustFailure::Other(e.to_string()))?;
        let (ok, err, chain) = outcome;
        if !ok {
            return Err(map_error(err));
        }
        if check_revocation {
            self.check_revocation(&chain)?;
        }
        let chain = chain
            .into_iter()
            .filter_map(|x| Certificate::from_x509(x).ok().map(Arc::new))
            .collect();
        Ok(Verified { chain })
    }

    /// Every certificate below the anchor needs a current CRL from its issuer that does not
    /// list it; a missing or outdated CRL means the status is unknown (which fails `Verify()`).
    fn check_revocation(&self, chain: &[X509]) -> Result<(), TrustFailure> {
        let now = openssl::asn1::Asn1Time::days_from_now(0)
            .map_err(|e| TrustFailure::Other(e.to_string()))?;
        for pair in chain.windows(2) {
            let (cert, issuer) = (&pair[0], &pair[1]);
            let key = issuer
                .public_key()
                .map_err(|e| TrustFailure::Other(e.to_string()))?;
            let crl = self.crls.iter().find(|c| {
                c.issuer_name().to_der().ok() == issuer.subject_name().to_der().ok()
                    && c.verify(&key).unwrap_or(false)
            });
            let Some(crl) = crl else {
                return Err(TrustFailure::RevocationUnknown(format!(
                    "no CRL from {}",
                    issuer
                        .subject_name()
                        .to_der()
                        .ok()
                        .and_then(|d| crate::cert::Name::from_der(&d).ok())
                        .map(|n| n.to_dotnet())
                        .unwrap_or_default()
                )));
            };
            if crl.next_update().is_some_and(|n| n < now) {
                return Err(TrustFailure::RevocationUnknown(
                    "the CRL has expired".into(),
                ));
            }
            if crl.last_update() > now {
                return Err(TrustFailure::RevocationUnknown(
                    "the CRL is not yet valid".into(),
                ));
            }
            if matches!(crl.get_by_cert(cert), openssl::x509::CrlStatus::Revoked(_)) {
                return Err(TrustFailure::Revoked);
            }
        }
        Ok(())
    }
}

fn map_error(e: X509VerifyResult) -> TrustFailure {
    // Codes from openssl/x509_vfy.h.
    match e.as_raw() {
        9 => TrustFailure::NotYetValid, // X509_V_ERR_CERT_NOT_YET_VALID
        10 => TrustFailure::Expired,    // X509_V_ERR_CERT_HAS_EXPIRED
        23 => TrustFailure::Revoked,    // X509_V_ERR_CERT_REVOKED
        3 | 11 | 12 => TrustFailure::RevocationUnknown(e.error_string().to_string()), // unable to get CRL, CRL not yet valid, CRL expired
        _ => TrustFailure::NotTrusted(e.error_string().to_string()),
    }
}
