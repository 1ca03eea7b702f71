//! `X509Certificate2` (thumbprint, names, dates, `Verify()`, `GetNameInfo`, raw data), its
//! extensions, `X500DistinguishedName`, `Oid` and `X509NameType`. Checker bindings and
//! evaluator in one file.

use std::sync::Arc;

use crate::cert::Certificate;
use crate::dotnet::NameType;
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{EnumValue, Value};

/// Properties of certificates and of the wrapper types around them.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let call = |f: Builtin, ty: Ty| Ok((Ir::Call(f, vec![recv.clone()]), ty));
    let cert = |f: CertFn, ty: Ty| call(Builtin::Cert(f), ty);
    match (rty, name) {
        (Ty::Cert, m) => {
            let (f, t) = match m {
                "Thumbprint" => (CertFn::Thumbprint, Ty::Str),
                "Subject" => (CertFn::Subject, Ty::Str),
                "Issuer" => (CertFn::Issuer, Ty::Str),
                "SubjectName" => (CertFn::Subject, Ty::DistName),
                "IssuerName" => (CertFn::Issuer, Ty::DistName),
                "SerialNumber" => (CertFn::SerialNumber, Ty::Str),
                "NotBefore" => (CertFn::NotBefore, Ty::DateTime),
                "NotAfter" => (CertFn::NotAfter, Ty::DateTime),
                "RawData" => (CertFn::RawData, Ty::Bytes),
                "Version" => (CertFn::Version, Ty::Int),
                "SignatureAlgorithm" => (CertFn::SignatureAlgorithm, Ty::Oid),
                "HasPrivateKey" => (CertFn::HasPrivateKey, Ty::Bool),
                "Extensions" => (CertFn::Extensions, Ty::Extensions),
                "PublicKey" => return Ok(super::rsa::certificate_member(recv)),
                _ => return unknown_member(rty, name, off),
            };
            cert(f, t)
        }
        // Name/FriendlyName are the runtime representation of these wrapper types.
        (Ty::DistName, "Name") => Ok((recv, Ty::Str)),
        (Ty::Oid, "Value") => call(Builtin::Collection(CollectionFn::PairKey), Ty::Str),
        (Ty::Oid, "FriendlyName") => call(Builtin::Collection(CollectionFn::PairValue), Ty::Str),
        (Ty::Extensions, "Count") => call(Builtin::Collection(CollectionFn::Length), Ty::Int),
        (Ty::Extension, "Oid") => cert(CertFn::ExtensionOid, Ty::Oid),
        (Ty::Extension, "Critical") => cert(CertFn::ExtensionCritical, Ty::Bool),
        (Ty::Extension, "RawData") => cert(CertFn::ExtensionRawData, Ty::Bytes),
        _ => unknown_member(rty, name, off),
    }
}

/// `X509NameType.X`.
pub(crate) fn name_type(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let n = match name {
        "SimpleName" => NameType::SimpleName,
        "EmailName" => NameType::EmailName,
        "UpnName" => NameType::UpnName,
        "DnsName" => NameType::DnsName,
        "DnsFromAlternativeName" => NameType::DnsFromAlternativeName,
        "UrlName" => NameType::UrlName,
        _ => return unknown_member(&Ty::Static(Static::X509NameType), name, off),
    };
    Ok((Ir::Const(Value::Enum(EnumValue::NameType(n))), Ty::NameType))
}

/// Methods of certificates and extensions.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    name: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if rty == &Ty::Cert {
        if let Some(r) = super::rsa::certificate_method(b, recv.clone(), name, args, off) {
            return r;
        }
    }
    let (f, params, required, ty): (CertFn, &[Ty], usize, Ty) = match (rty, name) {
        (Ty::Cert, "Verify") => (CertFn::Verify, &[], 0, Ty::Bool),
        (Ty::Cert, "VerifyNoRevocation") => (CertFn::VerifyNoRevocation, &[], 0, Ty::Bool),
        (Ty::Cert, "GetNameInfo") => (CertFn::GetNameInfo, &[Ty::NameType, Ty::Bool], 2, Ty::Str),
        (Ty::Cert, "GetCertHashString") => (CertFn::Thumbprint, &[], 0, Ty::Str),
        (Ty::Cert, "GetSerialNumberString") => (CertFn::SerialNumber, &[], 0, Ty::Str),
        (Ty::Cert, "GetRawCertData") => (CertFn::RawData, &[], 0, Ty::Bytes),
        (Ty::Extension, "Format") => (CertFn::ExtensionFormat, &[Ty::Bool], 1, Ty::Str),
        _ => return unknown_member(rty, name, off),
    };
    let a = b.args(name, args, params, required, off)?;
    Ok((Ir::Call(Builtin::Cert(f), with_recv(recv, a)), ty))
}

/// `Extensions[int]` or `Extensions["2.5.29.17"]`.
pub(crate) fn extension_index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let (k, kty) = b.expr(index)?;
    match kty {
        Ty::Int => Ok((
            Ir::Call(Builtin::Collection(CollectionFn::Index), vec![recv, k]),
            Ty::Extension,
        )),
        Ty::Str => Ok((
            Ir::Call(Builtin::Cert(CertFn::ExtensionByName), vec![recv, k]),
            Ty::Extension,
        )),
        t => type_err(
            index.offset,
            format!("extensions are indexed by int or OID string, not '{t}'"),
        ),
    }
}

/// `new X509Certificate2(byte[] [, password])`.
/// `new Oid(valueOrName[, friendlyName])`.
pub(crate) fn new_oid(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let a = b.args("Oid", args, &[Ty::Str, Ty::Str], 1, off)?;
    Ok((b.fold(Ir::Call(Builtin::Cert(CertFn::NewOid), a)), Ty::Oid))
}

pub(crate) fn new(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let a = b.args("X509Certificate2", args, &[Ty::Bytes, Ty::Str], 1, off)?;
    Ok((Ir::Call(Builtin::Cert(CertFn::New), a), Ty::Cert))
}

pub(crate) fn eval(f: CertFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let ctx = env.ctx;
    Ok(match f {
        CertFn::Thumbprint => Value::Str(cert_arg(args)?.thumbprint().clone()),
        CertFn::Subject => Value::Str(cert_arg(args)?.subject().clone()),
        CertFn::Issuer => Value::Str(cert_arg(args)?.issuer().clone()),
        CertFn::SerialNumber => Value::Str(cert_arg(args)?.serial_number().clone()),
        CertFn::NotBefore => Value::DateTime(cert_arg(args)?.not_before()),
        CertFn::NotAfter => Value::DateTime(cert_arg(args)?.not_after()),
        CertFn::Verify => Value::Bool(ctx.verify_certificate(cert_arg(args)?, true).is_ok()),
        CertFn::VerifyNoRevocation => {
            Value::Bool(ctx.verify_certificate(cert_arg(args)?, false).is_ok())
        }
        CertFn::RawData => Value::Bytes(cert_arg(args)?.raw_data().clone()),
        CertFn::NewOid => {
            let text = opt_s(args, 0).unwrap_or("");
            let (oid, name) = match (opt_s(args, 0), opt_s(args, 1)) {
                // Both given: taken as they are.
                (Some(o), Some(n)) => (Some(o), n),
                _ => crate::cert::oid_lookup(text),
            };
            let oid = oid.map_or(Value::Null, Value::str);
            let name = if name.is_empty() {
                Value::Null
            } else {
                Value::str(name)
            };
            Value::Pair(Arc::new((oid, name)))
        }
        CertFn::Version => Value::Int(cert_arg(args)?.version()),
        CertFn::SignatureAlgorithm => {
            let c = cert_arg(args)?;
            Value::Pair(Arc::new((
                Value::Str(c.signature_algorithm_oid().clone()),
                Value::Str(c.signature_algorithm_friendly_name().clone()),
            )))
        }
        CertFn::Extensions => {
            let c = cert_arg(args)?;
            Value::Array(
                c.extensions()
                    .iter()
                    .map(|e| Value::Ext(e.clone()))
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        CertFn::ExtensionByName => {
            let key = s_arg(args, 1)?;
            match arg(args, 0) {
                Value::Array(a) => a
                    .iter()
                    .find(|v| matches!(v, Value::Ext(e) if &*e.oid == key || (!e.friendly_name.is_empty() && &*e.friendly_name == key)))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => return fail(EvalErrorKind::NullReference, NULL_REF),
            }
        }
        CertFn::ExtensionOid
        | CertFn::ExtensionCritical
        | CertFn::ExtensionRawData
        | CertFn::ExtensionFormat => {
            let Value::Ext(e) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            match f {
                CertFn::ExtensionOid => Value::Pair(Arc::new((
                    Value::Str(e.oid.clone()),
                    Value::Str(e.friendly_name.clone()),
                ))),
                CertFn::ExtensionCritical => Value::Bool(e.critical),
                CertFn::ExtensionRawData => Value::Bytes(e.raw.clone()),
                _ => {
                    // Format(multiLine): one entry per line when true.
                    if matches!(arg(args, 1), Value::Bool(true)) {
                        string(e.formatted.replace(", ", "\r\n") + "\r\n")
                    } else {
                        Value::Str(e.formatted.clone())
                    }
                }
            }
        }
        CertFn::HasPrivateKey => {
            cert_arg(args)?;
            Value::Bool(false)
        }
        CertFn::GetNameInfo => {
            let c = cert_arg(args)?;
            let Value::Enum(EnumValue::NameType(kind)) = arg(args, 1) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let for_issuer = matches!(arg(args, 2), Value::Bool(true));
            string(c.name_info(*kind, for_issuer))
        }
        CertFn::New => match arg(args, 0) {
            Value::Bytes(b) => match Certificate::from_bytes(b) {
                Ok(c) => Value::Cert(Arc::new(c)),
                Err(e) => {
                    return fail(
                        EvalErrorKind::Argument,
                        format!("Cannot find the requested object. ({e})"),
                    )
                }
            },
            _ => {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'rawData')",
                )
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::s;

    /// `new Oid(..)` from a value or a friendly name, as .NET resolves either.
    #[test]
    fn oids() {
        for (expr, want) in [
            (r#"@(new Oid("2.5.4.3").FriendlyName)"#, "CN"),
            (
                r#"@(new Oid("2.5.29.17").FriendlyName)"#,
                "Subject Alternative Name",
            ),
            (r#"@(new Oid("sha256RSA").Value)"#, "1.2.840.113549.1.1.11"),
            (r#"@(new Oid("1.2.3.4").FriendlyName == null)"#, "True"),
            (r#"@(new Oid("nothing").Value == null)"#, "True"),
            (r#"@(new Oid("1.2.3", "mine").FriendlyName)"#, "mine"),
            (
                r#"@{ Oid o = new Oid("2.5.4.10"); return o.Value + "=" + o.FriendlyName; }"#,
                "2.5.4.10=O",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn certificate_members_bind_and_fail_like_dotnet() {
        assert!(s("@(context.Request.Certificate.NotAfter)").contains("Object reference"));
        assert_eq!(
            s("@(context.Request.Certificate?.Subject ?? \"none\")"),
            "none"
        );
        assert!(s("@(context.Request.Certificate.Verify(1))").contains("takes 0 argument"));
        assert!(s("@(context.Request.Certificate.Nope)").contains("does not contain a definition"));
        let bad = s("@(new X509Certificate2(new byte[] {1, 2}))");
        assert!(bad.starts_with("ERR"), "{bad}");
        assert_eq!(s("@(X509NameType.DnsName.ToString())"), "DnsName");
    }
}
