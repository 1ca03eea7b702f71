//! `RSA` (and `AsymmetricAlgorithm`, its base), `HashAlgorithmName`, `RSASignaturePadding`,
//! `RSAEncryptionPadding`, `RSACertificateExtensions.GetRSAPublicKey` and a certificate's
//! `PublicKey`: `RSA.Create([bits])`, the `Import…`/`Export…` forms and `FromXmlString`/
//! `ToXmlString`, `SignData`/`VerifyData`, `SignHash`/`VerifyHash` (PKCS#1), `Encrypt`/`Decrypt`,
//! `KeySize`. Checker bindings and evaluator in one file; the keys and operations are
//! `dotnet::rsa`'s.
//!
//! Hash names and paddings are carried as their names (`"SHA256"`, `"Pss"`, `"OaepSHA256"`),
//! typed so that one cannot stand for another. A private-key operation costs the evaluation
//! 20 000 steps and making a key 500 000, so a loop cannot sign without bound.
//!
//! Must not: parse keys or run RSA itself (that is `dotnet::rsa`).

use std::sync::{Arc, Mutex};

use super::convert::bytes_of;
use crate::dotnet::rsa::{valid_size, DerForm, RsaKey};
use crate::expr::ast::{Expr, ExprKind};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

const RSA: Ty = Ty::Obj(ObjKind::Rsa);
const HASH: Ty = Ty::Obj(ObjKind::HashName);
const SIGN: Ty = Ty::Obj(ObjKind::SignPadding);
const ENCRYPT: Ty = Ty::Obj(ObjKind::EncryptPadding);

/// What one private-key operation and one key made cost, in evaluation steps.
const PRIVATE_OP_STEPS: u32 = 20_000;
const KEY_MADE_STEPS: u32 = 500_000;

fn call(f: RsaFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Rsa(f), args)
}

/// The static classes of this family by name.
pub(crate) fn class(name: &str) -> Option<Static> {
    let short = name
        .strip_prefix("System.Security.Cryptography.X509Certificates.")
        .or_else(|| name.strip_prefix("System.Security.Cryptography."))
        .unwrap_or(name);
    Some(match short {
        "RSA" => Static::Rsa,
        "HashAlgorithmName" => Static::HashName,
        "RSASignaturePadding" => Static::SignPadding,
        "RSAEncryptionPadding" => Static::EncryptPadding,
        "RSACertificateExtensions" => Static::RsaCertExtensions,
        _ => return None,
    })
}

fn name_const(name: &str, ty: Ty) -> CheckResult<(Ir, Ty)> {
    Ok((Ir::Const(Value::str(name)), ty))
}

/// `HashAlgorithmName.SHA256`, `RSASignaturePadding.Pss`, `RSAEncryptionPadding.OaepSHA256`.
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (s, name) {
        (Static::HashName, "MD5" | "SHA1" | "SHA256" | "SHA384" | "SHA512") => {
            name_const(name, HASH)
        }
        (Static::SignPadding, "Pkcs1" | "Pss") => name_const(name, SIGN),
        (
            Static::EncryptPadding,
            "Pkcs1" | "OaepSHA1" | "OaepSHA256" | "OaepSHA384" | "OaepSHA512",
        ) => name_const(name, ENCRYPT),
        _ => unknown_member(&Ty::Static(s), name, off),
    }
}

/// `RSA.Create([bits])`, `RSAEncryptionPadding.CreateOaep(hash)`,
/// `RSACertificateExtensions.GetRSAPublicKey(cert)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    s: Static,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (s, m) {
        (Static::Rsa, "Create") => {
            let a = b.args(m, args, &[Ty::Int], 0, off)?;
            Ok((call(RsaFn::Create, a), RSA))
        }
        (Static::EncryptPadding, "CreateOaep") => {
            let a = b.args(m, args, &[HASH], 1, off)?;
            let mut parts = vec![Ir::Const(Value::str("Oaep"))];
            parts.extend(a);
            Ok((Ir::Concat(parts), ENCRYPT))
        }
        (Static::RsaCertExtensions, "GetRSAPublicKey" | "GetRSAPrivateKey") => {
            let a = b.args(m, args, &[Ty::Cert], 1, off)?;
            Ok((certificate_key(m, a), RSA))
        }
        _ => unknown_member(&Ty::Static(s), m, off),
    }
}

/// A client certificate's RSA key: its public key (null when it is not RSA); never a private
/// key (a client's certificate comes without one).
fn certificate_key(m: &str, cert: Vec<Ir>) -> Ir {
    if m == "GetRSAPrivateKey" {
        return Ir::Const(Value::Null);
    }
    call(RsaFn::FromCertificate, cert)
}

/// `new HashAlgorithmName("SHA256")`.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    if !matches!(
        name,
        "HashAlgorithmName" | "System.Security.Cryptography.HashAlgorithmName"
    ) {
        return None;
    }
    Some(
        b.args("HashAlgorithmName", args, &[Ty::Str], 1, off)
            .map(|mut a| (a.remove(0), HASH)),
    )
}

/// Properties: `KeySize` of an RSA key, `Name` of a hash name, a certificate key's `Oid`.
pub(crate) fn member(recv: Ir, k: ObjKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (k, name) {
        (ObjKind::Rsa, "KeySize") => Ok((call(RsaFn::KeySize, vec![recv]), Ty::Int)),
        (ObjKind::HashName, "Name") => Ok((recv, Ty::Str)),
        (ObjKind::EncryptPadding, "OaepHashAlgorithm") => {
            Ok((call(RsaFn::OaepHash, vec![recv]), HASH))
        }
        (ObjKind::PublicKey, "Oid") => Ok((call(RsaFn::KeyOid, vec![recv]), Ty::Oid)),
        _ => unknown_member(&Ty::Obj(k), name, off),
    }
}

/// `cert.PublicKey`, `cert.GetRSAPublicKey()`: the certificate-side entry points.
pub(crate) fn certificate_member(recv: Ir) -> (Ir, Ty) {
    (recv, Ty::Obj(ObjKind::PublicKey))
}

pub(crate) fn certificate_method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    if !matches!(m, "GetRSAPublicKey" | "GetRSAPrivateKey") {
        return None;
    }
    Some(
        b.args(m, args, &[], 0, off)
            .map(|_| (certificate_key(m, vec![recv]), RSA)),
    )
}

/// An `Import…(bytes, out int bytesRead)` call: the key read, and the out argument set to the
/// bytes' length (certgate reads the whole input as one key).
fn import_der(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    form: DerForm,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let [data, out] = args else {
        return type_err(
            off,
            format!("'{m}' takes the bytes and 'out int bytesRead'"),
        );
    };
    let data = b.coerce(data, &Ty::Bytes)?;
    let discard = matches!(&out.kind, ExprKind::Out { name, .. } if name == "_");
    let tmp = b.temp(off)?;
    let mut seq = vec![
        Ir::Assign(tmp, Box::new(data)),
        call(RsaFn::Import(form), vec![recv, Ir::Local(tmp)]),
    ];
    if !discard {
        let out = b.out_arg(out, &Ty::Int)?;
        seq.push(Ir::Assign(
            out,
            Box::new(Ir::Call(
                Builtin::Collection(CollectionFn::Length),
                vec![Ir::Local(tmp)],
            )),
        ));
    }
    seq.push(Ir::Const(Value::Null));
    Ok((Ir::Seq(seq), Ty::Void))
}

/// Methods of an RSA key, and of a certificate's `PublicKey`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: ObjKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if k == ObjKind::PublicKey {
        return match m {
            "GetRSAPublicKey" => {
                b.args(m, args, &[], 0, off)?;
                Ok((call(RsaFn::FromCertificate, vec![recv]), RSA))
            }
            "ExportSubjectPublicKeyInfo" => {
                b.args(m, args, &[], 0, off)?;
                Ok((call(RsaFn::CertificateKeyInfo, vec![recv]), Ty::Bytes))
            }
            _ => unknown_member(&Ty::Obj(k), m, off),
        };
    }
    if k != ObjKind::Rsa {
        return unknown_member(&Ty::Obj(k), m, off);
    }
    let der = match m {
        "ImportRSAPrivateKey" | "ExportRSAPrivateKey" => Some(DerForm::Pkcs1Private),
        "ImportPkcs8PrivateKey" | "ExportPkcs8PrivateKey" => Some(DerForm::Pkcs8Private),
        "ImportRSAPublicKey" | "ExportRSAPublicKey" => Some(DerForm::Pkcs1Public),
        "ImportSubjectPublicKeyInfo" | "ExportSubjectPublicKeyInfo" => {
            Some(DerForm::SubjectPublicKeyInfo)
        }
        _ => None,
    };
    if let Some(form) = der {
        if m.starts_with("Import") {
            return import_der(b, recv, m, form, args, off);
        }
        b.args(m, args, &[], 0, off)?;
        return Ok((call(RsaFn::Export(form), vec![recv]), Ty::Bytes));
    }
    let (f, params, required, ty): (RsaFn, &[Ty], usize, Ty) = match m {
        "ImportFromPem" => (RsaFn::ImportPem, &[Ty::Str], 1, Ty::Void),
        "FromXmlString" => (RsaFn::FromXml, &[Ty::Str], 1, Ty::Void),
        "ToXmlString" => (RsaFn::ToXml, &[Ty::Bool], 1, Ty::Str),
        "SignData" => (RsaFn::SignData, &[Ty::Bytes, HASH, SIGN], 3, Ty::Bytes),
        "VerifyData" => (
            RsaFn::VerifyData,
            &[Ty::Bytes, Ty::Bytes, HASH, SIGN],
            4,
            Ty::Bool,
        ),
        "SignHash" => (RsaFn::SignHash, &[Ty::Bytes, HASH, SIGN], 3, Ty::Bytes),
        "VerifyHash" => (
            RsaFn::VerifyHash,
            &[Ty::Bytes, Ty::Bytes, HASH, SIGN],
            4,
            Ty::Bool,
        ),
        "Encrypt" => (RsaFn::Encrypt, &[Ty::Bytes, ENCRYPT], 2, Ty::Bytes),
        "Decrypt" => (RsaFn::Decrypt, &[Ty::Bytes, ENCRYPT], 2, Ty::Bytes),
        // Nothing to release.
        "Dispose" | "Clear" => {
            b.args(m, args, &[], 0, off)?;
            return Ok((Ir::Const(Value::Null), Ty::Void));
        }
        _ => return unknown_member(&Ty::Obj(k), m, off),
    };
    let a = b.args(m, args, params, required, off)?;
    Ok((call(f, with_recv(recv, a)), ty))
}

fn cryptographic(m: String) -> EvalError {
    EvalError::new(EvalErrorKind::Other, m)
}

pub(crate) fn eval(f: RsaFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let made = |k: RsaKey| Value::Obj(Arc::new(Obj::Rsa(Mutex::new(k))));
    match f {
        RsaFn::Create => {
            let bits = match arg(args, 0) {
                Value::Null => 2048,
                v => int(v).unwrap_or(0),
            };
            if !valid_size(bits) {
                return fail(
                    EvalErrorKind::Other,
                    format!("Specified key size is not valid ({bits} bits; certgate makes keys of 512 to 4096 bits, in steps of 8)."),
                );
            }
            return Ok(made(RsaKey::Pending(bits as u32)));
        }
        RsaFn::FromCertificate => {
            let cert = match arg(args, 0) {
                Value::Cert(c) => c.clone(),
                Value::Null => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'certificate')",
                    )
                }
                _ => return fail(EvalErrorKind::InvalidCast, "not a certificate"),
            };
            env.step()?;
            return Ok(
                match crate::dotnet::rsa::from_certificate(cert.raw_data()) {
                    Some(k) => made(k),
                    None => Value::Null,
                },
            );
        }
        RsaFn::CertificateKeyInfo | RsaFn::KeyOid => {
            let Value::Cert(cert) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let info = crate::dotnet::rsa::certificate_key_info(cert.raw_data())
                .ok_or_else(|| cryptographic("The certificate's key cannot be read.".into()))?;
            return Ok(if f == RsaFn::KeyOid {
                Value::Pair(Arc::new((Value::str(info.oid), Value::str(info.name))))
            } else {
                Value::Bytes(info.der.into())
            });
        }
        RsaFn::OaepHash => {
            let s = s_arg(args, 0)?;
            return Ok(match s.strip_prefix("Oaep") {
                Some(h) => Value::str(h),
                None => Value::Null,
            });
        }
        _ => {}
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Rsa(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not an RSA key");
    };
    let mut key = cell.lock().unwrap_or_else(|e| e.into_inner());
    // Making a pending key, or a private-key operation, is charged before it runs.
    let pending = matches!(*key, RsaKey::Pending(_));
    let private = matches!(
        f,
        RsaFn::SignData | RsaFn::SignHash | RsaFn::Decrypt | RsaFn::Export(_) | RsaFn::ToXml
    );
    if pending
        && !matches!(
            f,
            RsaFn::KeySize | RsaFn::Import(_) | RsaFn::ImportPem | RsaFn::FromXml
        )
    {
        env.steps(KEY_MADE_STEPS)?;
    }
    env.steps(if private { PRIVATE_OP_STEPS } else { 1_000 })?;
    let hash = |i: usize| s_arg(args, i);
    let pss = |i: usize| -> EvalResult<bool> { Ok(s_arg(args, i)? == "Pss") };
    let out = match f {
        RsaFn::KeySize => Ok(Value::Int(key.key_size())),
        RsaFn::Import(form) => {
            let data = bytes_of(args, 1, "source")?;
            RsaKey::import_der(&data, form).map(|k| {
                *key = k;
                Value::Null
            })
        }
        RsaFn::ImportPem => RsaKey::import_pem(s_arg(args, 1)?).map(|k| {
            *key = k;
            Value::Null
        }),
        RsaFn::FromXml => RsaKey::from_xml(s_arg(args, 1)?).map(|k| {
            *key = k;
            Value::Null
        }),
        RsaFn::Export(form) => key.export_der(form).map(|d| Value::Bytes(d.into())),
        RsaFn::ToXml => {
            let private = matches!(arg(args, 1), Value::Bool(true));
            key.write_xml(private).map(|x| Value::str(&x))
        }
        RsaFn::SignData => {
            let data = bytes_of(args, 1, "data")?;
            key.sign_data(&data, hash(2)?, pss(3)?)
                .map(|s| Value::Bytes(s.into()))
        }
        RsaFn::VerifyData => {
            let (data, sig) = (bytes_of(args, 1, "data")?, bytes_of(args, 2, "signature")?);
            key.verify_data(&data, &sig, hash(3)?, pss(4)?)
                .map(Value::Bool)
        }
        RsaFn::SignHash | RsaFn::VerifyHash => {
            let at = if f == RsaFn::SignHash { 3 } else { 4 };
            if pss(at)? {
                return fail(
                    EvalErrorKind::Other,
                    "SignHash and VerifyHash with RSASignaturePadding.Pss are not supported by certgate; use SignData and VerifyData",
                );
            }
            let h = bytes_of(args, 1, "hash")?;
            if f == RsaFn::SignHash {
                key.sign_hash(&h, hash(2)?).map(|s| Value::Bytes(s.into()))
            } else {
                let sig = bytes_of(args, 2, "signature")?;
                key.verify_hash(&h, &sig, hash(3)?).map(Value::Bool)
            }
        }
        RsaFn::Encrypt => {
            let data = bytes_of(args, 1, "data")?;
            key.encrypt(&data, s_arg(args, 2)?)
                .map(|c| Value::Bytes(c.into()))
        }
        RsaFn::Decrypt => {
            let data = bytes_of(args, 1, "data")?;
            key.decrypt(&data, s_arg(args, 2)?)
                .map(|c| Value::Bytes(c.into()))
        }
        RsaFn::Create
        | RsaFn::FromCertificate
        | RsaFn::CertificateKeyInfo
        | RsaFn::KeyOid
        | RsaFn::OaepHash => Ok(Value::Null),
    };
    out.map_err(cryptographic)
}

#[cfg(test)]
mod tests {
    use crate::expr::env::EvalErrorKind;
    use crate::expr::testing::{assert_refused, failure, s};

    #[test]
    fn keys_sign_verify_encrypt_and_decrypt_as_dotnet() {
        for (expr, want) in [
            (r#"@(RSA.Create().KeySize)"#, "2048"),
            (r#"@(RSA.Create(1024).KeySize)"#, "1024"),
            (
                r#"@{ var r = RSA.Create(1024); var d = Encoding.UTF8.GetBytes("hi"); var sig = r.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1); return sig.Length + "/" + r.VerifyData(d, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) + "/" + r.VerifyData(new byte[] {1}, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1); }"#,
                "128/True/False",
            ),
            (
                r#"@{ var r = RSA.Create(1024); var d = new byte[] {1, 2}; var sig = r.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pss); return r.VerifyData(d, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pss) + "/" + r.VerifyData(d, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) + "/" + (Convert.ToBase64String(sig) == Convert.ToBase64String(r.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pss))); }"#,
                "True/False/False",
            ),
            (
                r#"@{ var r = RSA.Create(1024); var h = SHA256.Create().ComputeHash(new byte[] {5}); var sig = r.SignHash(h, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1); return r.VerifyData(new byte[] {5}, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) && r.VerifyHash(h, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1); }"#,
                "True",
            ),
            (
                r#"@{ var r = RSA.Create(1024); var c = r.Encrypt(Encoding.UTF8.GetBytes("secret"), RSAEncryptionPadding.OaepSHA1); return Encoding.UTF8.GetString(r.Decrypt(c, RSAEncryptionPadding.OaepSHA1)); }"#,
                "secret",
            ),
            (
                r#"@{ var r = RSA.Create(1024); var c = r.Encrypt(new byte[] {7}, RSAEncryptionPadding.Pkcs1); return r.Decrypt(c, RSAEncryptionPadding.Pkcs1)[0]; }"#,
                "7",
            ),
            // A key moves between objects through each form, and the public half verifies.
            (
                r#"@{ var a = RSA.Create(1024); var b = RSA.Create(); b.ImportRSAPrivateKey(a.ExportRSAPrivateKey(), out int n); var p = RSA.Create(); p.ImportSubjectPublicKeyInfo(a.ExportSubjectPublicKeyInfo(), out _); var d = new byte[] {9}; return (n > 500) + "/" + p.VerifyData(d, b.SignData(d, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1), HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1) + "/" + p.KeySize; }"#,
                "True/True/1024",
            ),
            (
                r#"@{ var a = RSA.Create(1024); var b = RSA.Create(); b.FromXmlString(a.ToXmlString(true)); var c = RSA.Create(); c.ImportPkcs8PrivateKey(b.ExportPkcs8PrivateKey(), out _); var p = RSA.Create(); p.FromXmlString(c.ToXmlString(false)); var d = new byte[] {3}; return p.VerifyData(d, a.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) + "/" + p.ToXmlString(false).StartsWith("<RSAKeyValue><Modulus>"); }"#,
                "True/True",
            ),
            (
                r#"@(HashAlgorithmName.SHA256.Name + "/" + new HashAlgorithmName("SHA384") + "/" + RSAEncryptionPadding.CreateOaep(HashAlgorithmName.SHA512) + "/" + RSASignaturePadding.Pss)"#,
                "SHA256/SHA384/OaepSHA512/Pss",
            ),
            (
                r#"@(RSAEncryptionPadding.OaepSHA256.OaepHashAlgorithm.Name)"#,
                "SHA256",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    /// OAEP with SHA-256 runs in the OpenSSL build; the BoringSSL build refuses it by name.
    #[test]
    fn oaep_with_a_sha2_hash() {
        let e = r#"@{ var r = RSA.Create(1024); var c = r.Encrypt(Encoding.UTF8.GetBytes("x"), RSAEncryptionPadding.OaepSHA256); return c.Length + Encoding.UTF8.GetString(r.Decrypt(c, RSAEncryptionPadding.OaepSHA256)); }"#;
        #[cfg(feature = "openssl")]
        assert_eq!(s(e), "128x");
        #[cfg(not(feature = "openssl"))]
        assert_refused(e, "not supported by certgate's BoringSSL build");
    }

    #[test]
    fn bad_keys_sizes_and_uses_are_cryptographic_failures() {
        for expr in [
            r#"@(RSA.Create(100))"#,
            r#"@(RSA.Create(8192))"#,
            r#"@{ var r = RSA.Create(); r.ImportFromPem("not a key"); return r.KeySize; }"#,
            r#"@{ var r = RSA.Create(); r.ImportRSAPrivateKey(new byte[] {1, 2, 3}, out _); return 0; }"#,
            r#"@{ var r = RSA.Create(); r.FromXmlString("<RSAKeyValue><Modulus>AQAB</Modulus></RSAKeyValue>"); return 0; }"#,
            r#"@{ var a = RSA.Create(1024); var p = RSA.Create(); p.ImportRSAPublicKey(a.ExportRSAPublicKey(), out _); return p.SignData(new byte[] {1}, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).Length; }"#,
            r#"@(RSA.Create(1024).SignData(new byte[] {1}, new HashAlgorithmName("SHA3"), RSASignaturePadding.Pkcs1))"#,
            // (Not Pkcs1: OpenSSL 3.2+ answers a bad PKCS#1 v1.5 ciphertext with a synthetic
            // plaintext, its defence against Bleichenbacher-style oracles, not an error.)
            r#"@{ var r = RSA.Create(1024); return r.Decrypt(new byte[] {1, 2}, RSAEncryptionPadding.OaepSHA1).Length; }"#,
            r#"@(RSA.Create(1024).SignHash(new byte[] {1}, HashAlgorithmName.SHA256, RSASignaturePadding.Pss))"#,
            // PSS with SHA-512 needs more room than a 1024-bit key has, in .NET too.
            r#"@(RSA.Create(1024).SignData(new byte[] {1}, HashAlgorithmName.SHA512, RSASignaturePadding.Pss))"#,
        ] {
            assert_eq!(failure(expr), Some(EvalErrorKind::Other), "{expr}");
        }
        assert_refused("@(RSA.Create().SignData(new byte[] {1}, HashAlgorithmName.SHA256, RSAEncryptionPadding.Pkcs1))", "cannot implicitly convert");
        assert_refused(
            "@(RSA.Create().ImportRSAPrivateKey(new byte[] {1}))",
            "takes the bytes and 'out int bytesRead'",
        );
        // Signing in a loop runs out of the evaluation's steps, not the machine's time.
        assert_eq!(
            failure(
                r#"@{ var r = RSA.Create(1024); var n = 0; foreach (var i in new int[1000]) { n += r.SignData(new byte[] {1}, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).Length; } return n; }"#
            ),
            Some(EvalErrorKind::StepLimit)
        );
    }
}
