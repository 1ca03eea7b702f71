//! Why a client certificate is refused, typed: `validate-client-certificate`'s reasons (SPEC
//! §4), which strict hostnames give too. The APIM reason string, the message `context.LastError`
//! carries, the default response's message and the metric labels all come from here, so no
//! caller compares strings (modelled on rustls's `CertificateError`).
//!
//! Must not: decide anything; the checks are the policy's and the handshake's.

use crate::trust::TrustFailure;

/// A client certificate refusal, in the order SPEC §4 checks: missing → not-before → not-after
/// → trust → revocation → identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientCertificateFailure {
    /// The client sent no certificate.
    NotFound,
    /// Before its `NotBefore`.
    NotYetValid,
    /// After its `NotAfter`.
    Expired,
    /// No chain to a trusted root (APIM's CA stores, uploaded intermediates).
    NotTrusted,
    /// A CRL of an issuer in the chain lists it.
    Revoked,
    /// No current CRL for an issuer in the chain (or no chain to check along).
    RevocationUnknown,
    /// Trusted and valid, but none of the policy's identities.
    IdentityNotMatched,
}

impl ClientCertificateFailure {
    /// Every failure, for tables and tests.
    pub const ALL: [ClientCertificateFailure; 7] = [
        ClientCertificateFailure::NotFound,
        ClientCertificateFailure::NotYetValid,
        ClientCertificateFailure::Expired,
        ClientCertificateFailure::NotTrusted,
        ClientCertificateFailure::Revoked,
        ClientCertificateFailure::RevocationUnknown,
        ClientCertificateFailure::IdentityNotMatched,
    ];

    /// `context.LastError.Reason`, and the `reason` label of
    /// `certgate_client_certificate_validations_total`.
    pub const fn reason(self) -> &'static str {
        match self {
            ClientCertificateFailure::NotFound => "ClientCertificateNotFound",
            ClientCertificateFailure::NotYetValid => "ClientCertificateNotYetValid",
            ClientCertificateFailure::Expired => "ClientCertificateExpired",
            ClientCertificateFailure::NotTrusted => "ClientCertificateNotTrusted",
            ClientCertificateFailure::Revoked => "ClientCertificateRevoked",
            ClientCertificateFailure::RevocationUnknown => "ClientCertificateRevocationUnknown",
            ClientCertificateFailure::IdentityNotMatched => "ClientCertificateIdentityNotMatched",
        }
    }

    /// `context.LastError.Message`.
    pub const fn message(self) -> &'static str {
        match self {
            ClientCertificateFailure::NotFound => "Client certificate missing",
            ClientCertificateFailure::NotYetValid => "Client certificate is not yet valid.",
            ClientCertificateFailure::Expired => "Client certificate has expired.",
            ClientCertificateFailure::NotTrusted => {
                "A certificate chain could not be built to a trusted root authority."
            }
            ClientCertificateFailure::Revoked => "The certificate is revoked.",
            ClientCertificateFailure::RevocationUnknown => {
                "The revocation status of the certificate could not be determined."
            }
            ClientCertificateFailure::IdentityNotMatched => {
                "Certificate does not match any of allowed identities."
            }
        }
    }

    /// The message of the default 401 response when on-error does not answer.
    pub const fn response_message(self) -> &'static str {
        match self {
            ClientCertificateFailure::NotFound => "Client certificate missing",
            _ => "Invalid client certificate",
        }
    }

    /// The `reason` label of `certgate_tls_handshake_failures_total` when a strict hostname
    /// refuses the certificate in the handshake.
    pub const fn handshake_label(self) -> &'static str {
        match self {
            ClientCertificateFailure::NotFound => "client_certificate_missing",
            ClientCertificateFailure::NotYetValid => "client_certificate_not_yet_valid",
            ClientCertificateFailure::Expired => "client_certificate_expired",
            ClientCertificateFailure::NotTrusted => "client_certificate_untrusted",
            ClientCertificateFailure::Revoked => "client_certificate_revoked",
            ClientCertificateFailure::RevocationUnknown => "client_certificate_revocation_unknown",
            ClientCertificateFailure::IdentityNotMatched => {
                "client_certificate_identity_not_matched"
            }
        }
    }
}

impl From<&TrustFailure> for ClientCertificateFailure {
    /// What a failed chain verification means for the client: validity failures of the chain
    /// read as the certificate's own.
    fn from(f: &TrustFailure) -> ClientCertificateFailure {
        match f {
            TrustFailure::Expired => ClientCertificateFailure::Expired,
            TrustFailure::NotYetValid => ClientCertificateFailure::NotYetValid,
            TrustFailure::Revoked => ClientCertificateFailure::Revoked,
            TrustFailure::RevocationUnknown(_) | TrustFailure::RevocationPending(_) => {
                ClientCertificateFailure::RevocationUnknown
            }
            TrustFailure::NotTrusted(_) | TrustFailure::Other(_) => {
                ClientCertificateFailure::NotTrusted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClientCertificateFailure as F;

    #[test]
    fn reasons_labels_and_messages_are_distinct_and_apim_shaped() {
        let reasons: std::collections::BTreeSet<_> = F::ALL.iter().map(|f| f.reason()).collect();
        let labels: std::collections::BTreeSet<_> =
            F::ALL.iter().map(|f| f.handshake_label()).collect();
        assert_eq!((reasons.len(), labels.len()), (7, 7));
        for f in F::ALL {
            assert!(f.reason().starts_with("ClientCertificate"), "{f:?}");
            assert!(
                f.handshake_label().starts_with("client_certificate_"),
                "{f:?}"
            );
            assert!(!f.message().is_empty());
        }
        assert_eq!(F::NotFound.response_message(), "Client certificate missing");
        assert_eq!(F::Revoked.response_message(), "Invalid client certificate");
    }
}
