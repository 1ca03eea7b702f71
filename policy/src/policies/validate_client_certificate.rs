//! `validate-client-certificate` (SPEC §4): missing → not-before → not-after → trust →
//! revocation → identities, with a hash-set fast path for identities that are just a
//! thumbprint. Its failures are typed ([`ClientCertificateFailure`]).

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::cert::{Certificate, DistinguishedName};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::last_error::LastError;
use crate::thumbprints::{normalise_hex, ThumbprintSet};
use crate::validation::ClientCertificateFailure;

/// One identity of `validate-client-certificate`: every present field must match.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub thumbprint: Option<String>,
    pub serial_number: Option<String>,
    pub common_name: Option<String>,
    pub subject: Option<DistinguishedName>,
    pub dns_name: Option<String>,
    pub issuer_subject: Option<DistinguishedName>,
    pub issuer_thumbprint: Option<String>,
    pub issuer_certificate_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ValidateClientCertificate {
    pub validate_revocation: bool,
    pub validate_trust: bool,
    pub validate_not_before: bool,
    pub validate_not_after: bool,
    pub ignore_error: bool,
    pub identities: Vec<Identity>,
    /// Identities that are just a thumbprint, as a set (the common case, and the fast one).
    pub thumbprint_only: ThumbprintSet,
}

impl PolicyStep for ValidateClientCertificate {
    fn read(el: &El, _: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "validate-revocation",
            "validate-trust",
            "validate-not-before",
            "validate-not-after",
            "ignore-error",
        ])?;
        el.only_children(&["identities"], false)?;
        let mut identities = Vec::new();
        let mut thumbprint_only = ThumbprintSet::new();
        if let Some(ids) = el.child("identities")? {
            ids.only_attrs(&[])?;
            ids.only_children(&["identity"], false)?;
            for id in ids.children("identity") {
                id.only_attrs(&[
                    "thumbprint",
                    "serial-number",
                    "common-name",
                    "subject",
                    "dns-name",
                    "issuer-subject",
                    "issuer-thumbprint",
                    "issuer-certificate-id",
                ])?;
                id.only_children(&[], false)?;
                let text = |n: &str| -> Result<Option<String>, CompileError> {
                    id.opt(n)
                        .map(|a| id.literal(a).map(str::to_string))
                        .transpose()
                };
                let hex = |n: &str| -> Result<Option<String>, CompileError> {
                    let Some(t) = text(n)? else { return Ok(None) };
                    let h = normalise_hex(&t);
                    let is_thumbprint = n != "serial-number";
                    let ok = if is_thumbprint {
                        crate::thumbprints::parse_hex(&h).is_some()
                    } else {
                        !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
                    };
                    if !ok {
                        let want = if is_thumbprint {
                            "40 hex digits (a SHA-1 thumbprint)"
                        } else {
                            "hex digits"
                        };
                        let a = id.opt(n).map_or(id.e.offset, |a| a.value.src_offset(0));
                        return Err(id.src.error(
                            a,
                            ErrorKind::InvalidValue,
                            format!("{n} '{t}'; expected {want}"),
                        ));
                    }
                    Ok(Some(h))
                };
                let dn = |n: &str| -> Result<Option<DistinguishedName>, CompileError> {
                    match id.opt(n) {
                        None => Ok(None),
                        Some(a) => {
                            DistinguishedName::parse(id.literal(a)?)
                                .map(Some)
                                .map_err(|e| {
                                    id.attr_err(a, ErrorKind::InvalidValue, format!("{n}: {e}"))
                                })
                        }
                    }
                };
                let identity = Identity {
                    thumbprint: hex("thumbprint")?,
                    serial_number: hex("serial-number")?,
                    common_name: text("common-name")?,
                    subject: dn("subject")?,
                    dns_name: text("dns-name")?,
                    issuer_subject: dn("issuer-subject")?,
                    issuer_thumbprint: hex("issuer-thumbprint")?,
                    issuer_certificate_id: text("issuer-certificate-id")?,
                };
                if id.e.attrs.iter().all(|a| a.name == "id") {
                    return Err(id.err(
                        ErrorKind::MissingAttribute,
                        "<identity> needs at least one attribute to match",
                    ));
                }
                let only_thumb = identity.thumbprint.is_some()
                    && id.e.attrs.iter().filter(|a| a.name != "id").count() == 1;
                if only_thumb {
                    thumbprint_only.insert_hex(identity.thumbprint.as_deref().unwrap_or_default());
                }
                identities.push(identity);
            }
            if identities.len() > 10 {
                return Err(ids.err(
                    ErrorKind::InvalidValue,
                    format!("{} identities; at most 10 are allowed", identities.len()),
                ));
            }
        }
        Ok(ValidateClientCertificate {
            validate_revocation: el.bool_attr("validate-revocation", true)?,
            validate_trust: el.bool_attr("validate-trust", true)?,
            validate_not_before: el.bool_attr("validate-not-before", true)?,
            validate_not_after: el.bool_attr("validate-not-after", true)?,
            ignore_error: el.bool_attr("ignore-error", false)?,
            identities,
            thumbprint_only,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let Err(f) = validate_client_certificate(self, ctx) else {
            return Ok(Flow::Next);
        };
        let err = LastError {
            certificate: Some(f),
            ..at.origin
                .error(f.reason(), f.message(), 401, f.response_message())
        };
        if self.ignore_error {
            ctx.state_mut().last_error = Some(err);
            Ok(Flow::Next)
        } else {
            Err(Box::new(err))
        }
    }
}

/// SPEC §4: missing → not-before → not-after → trust → revocation → identities.
fn validate_client_certificate(
    v: &ValidateClientCertificate,
    ctx: &dyn RequestContext,
) -> Result<(), ClientCertificateFailure> {
    let Some(cert) = ctx.certificate() else {
        return Err(ClientCertificateFailure::NotFound);
    };
    let now = crate::dotnet::DateTime::now();
    if v.validate_not_before && cert.not_before() > now {
        return Err(ClientCertificateFailure::NotYetValid);
    }
    if v.validate_not_after && cert.not_after() < now {
        return Err(ClientCertificateFailure::Expired);
    }
    if v.validate_trust && ctx.verify_certificate(cert, false).is_err() {
        return Err(ClientCertificateFailure::NotTrusted);
    }
    if v.validate_revocation {
        match ctx.verify_certificate(cert, true) {
            Ok(()) => {}
            Err(crate::trust::TrustFailure::Revoked) => {
                return Err(ClientCertificateFailure::Revoked);
            }
            // Unknown status, or no chain to check revocation along (validate-trust off).
            Err(_) => return Err(ClientCertificateFailure::RevocationUnknown),
        }
    }
    if v.identities.is_empty() {
        return Ok(());
    }
    if !v.thumbprint_only.is_empty() && v.thumbprint_only.contains(cert.sha1()) {
        return Ok(());
    }
    if v.identities
        .iter()
        .any(|id| identity_matches(id, cert, ctx))
    {
        return Ok(());
    }
    Err(ClientCertificateFailure::IdentityNotMatched)
}

fn identity_matches(id: &Identity, cert: &Certificate, ctx: &dyn RequestContext) -> bool {
    if id
        .thumbprint
        .as_deref()
        .is_some_and(|t| t != &**cert.thumbprint())
    {
        return false;
    }
    if id
        .serial_number
        .as_deref()
        .is_some_and(|s| s.trim_start_matches('0') != cert.serial_number().trim_start_matches('0'))
    {
        return false;
    }
    if let Some(cn) = &id.common_name {
        if !cert
            .common_name()
            .is_some_and(|c| c.eq_ignore_ascii_case(cn))
        {
            return false;
        }
    }
    if id.subject.as_ref().is_some_and(|s| s != cert.subject_dn()) {
        return false;
    }
    if id
        .dns_name
        .as_deref()
        .is_some_and(|d| !cert.dns_names().iter().any(|n| n.eq_ignore_ascii_case(d)))
    {
        return false;
    }
    if id
        .issuer_subject
        .as_ref()
        .is_some_and(|s| s != cert.issuer_dn())
    {
        return false;
    }
    if id.issuer_thumbprint.is_some() || id.issuer_certificate_id.is_some() {
        // The issuer must be the certificate that signed the leaf in the verified chain.
        let Some(issuer) = ctx.certificate_issuer(cert) else {
            return false;
        };
        if id
            .issuer_thumbprint
            .as_deref()
            .is_some_and(|t| t != &**issuer.thumbprint())
        {
            return false;
        }
        if let Some(cid) = &id.issuer_certificate_id {
            let Some(configured) = ctx.deployment().certificates().get(cid) else {
                return false;
            };
            if configured.thumbprint() != issuer.thumbprint() {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::policies::testing::{read, refused, run};
    use crate::validation::ClientCertificateFailure;

    #[test]
    fn a_missing_certificate_is_typed_and_ignore_error_goes_on() {
        let p = read(r#"<validate-client-certificate/>"#).unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(e.certificate, Some(ClientCertificateFailure::NotFound));
        assert_eq!((&*e.reason, e.status), ("ClientCertificateNotFound", 401));
        assert_eq!(&*e.response_message, "Client certificate missing");
        let p = read(r#"<validate-client-certificate ignore-error="true"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        assert_eq!(run(&p, &mut ctx), Ok(false));
        let last = ctx.state.last_error.as_ref().map(|e| e.certificate);
        assert_eq!(last, Some(Some(ClientCertificateFailure::NotFound)));
    }

    #[test]
    fn identities_are_checked_when_read() {
        assert!(refused(r#"<validate-client-certificate><identities><identity/></identities></validate-client-certificate>"#).contains("at least one attribute"));
        assert!(refused(r#"<validate-client-certificate><identities><identity thumbprint="xyz"/></identities></validate-client-certificate>"#).contains("40 hex digits"));
        let eleven = r#"<identity common-name="a"/>"#.repeat(11);
        assert!(refused(&format!("<validate-client-certificate><identities>{eleven}</identities></validate-client-certificate>")).contains("at most 10"));
    }
}
