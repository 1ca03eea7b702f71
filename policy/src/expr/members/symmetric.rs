//! `SymmetricAlgorithm` as APIM allows it: `SymmetricAlgorithm.Create("Aes")` (the
//! parameterless `Create()` is refused, as APIM refuses it), `Key`, `IV`, `Mode`, `Padding`,
//! `KeySize` (read and set), `BlockSize`, `GenerateKey()`, `GenerateIV()`, and APIM's
//! `Encrypt(alg)`/`Encrypt(alg, key, iv)` (and `Decrypt`) extension methods on `byte[]`.
//! Checker bindings and evaluator in one file; AES and the paddings are `dotnet::symmetric`'s.
//!
//! Must not: run AES itself.

use std::sync::{Arc, Mutex};

use super::convert::bytes_of;
use crate::dotnet::symmetric::{check_iv, check_key, is_aes, Aes};
use crate::dotnet::EnumType;
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{EnumValue, Obj, Value};

const TY: Ty = Ty::Obj(ObjKind::Symmetric);

fn call(f: SymFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Sym(f), args)
}

/// `SymmetricAlgorithm.Create(name)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (m, args) {
        ("Create", []) => type_err(
            off,
            "'SymmetricAlgorithm.Create()' is not supported by certgate (APIM allows Create only with an algorithm name, such as Create(\"Aes\"))",
        ),
        ("Create", _) => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            if let Some(Value::Str(name)) = a[0].as_const() {
                if !is_aes(name) {
                    return type_err(
                        args[0].offset,
                        format!("the algorithm '{name}' is not supported by certgate; expected \"Aes\""),
                    );
                }
            }
            Ok((call(SymFn::Create, a), TY))
        }
        _ => unknown_member(&Ty::Static(Static::Symmetric), m, off),
    }
}

fn prop(name: &str) -> Option<(SymProp, Ty)> {
    Some(match name {
        "Key" => (SymProp::Key, Ty::Bytes),
        "IV" => (SymProp::Iv, Ty::Bytes),
        "Mode" => (SymProp::Mode, Ty::Enum(EnumType::CipherMode)),
        "Padding" => (SymProp::Padding, Ty::Enum(EnumType::PaddingMode)),
        "KeySize" => (SymProp::KeySize, Ty::Int),
        "BlockSize" => (SymProp::BlockSize, Ty::Int),
        _ => return None,
    })
}

/// `alg.Key`, `alg.Mode`, ...
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match prop(name) {
        Some((p, ty)) => Ok((call(SymFn::Get(p), vec![recv]), ty)),
        None => unknown_member(&TY, name, off),
    }
}

/// `alg.Key = bytes`, `alg.Mode = CipherMode.ECB`, ...: the value, as an assignment gives.
pub(crate) fn set_member(
    b: &mut dyn Binder,
    recv: Ir,
    name: &str,
    value: &Expr,
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match prop(name) {
        Some((SymProp::BlockSize, _)) => type_err(
            off,
            "'SymmetricAlgorithm.BlockSize' of AES is 128 and cannot be set by certgate",
        ),
        Some((p, ty)) => {
            let v = b.coerce(value, &ty)?;
            Ok((call(SymFn::Set(p), vec![recv, v]), ty))
        }
        None => unknown_member(&TY, name, off),
    }
}

/// `GenerateKey()`, `GenerateIV()`, `Dispose()`, `Clear()`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    b.args(m, args, &[], 0, off)?;
    match m {
        "GenerateKey" => Ok((call(SymFn::Generate(false), vec![recv]), Ty::Void)),
        "GenerateIV" => Ok((call(SymFn::Generate(true), vec![recv]), Ty::Void)),
        // Nothing to release.
        "Dispose" | "Clear" => Ok((Ir::Const(Value::Null), Ty::Void)),
        _ => unknown_member(&TY, m, off),
    }
}

/// `bytes.Encrypt(alg)`, `bytes.Encrypt(alg, key, iv)` and the same `Decrypt`.
pub(crate) fn encrypt(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if !matches!(args.len(), 1 | 3) {
        return type_err(
            off,
            format!("'{m}' takes the algorithm, or the algorithm, a key and an IV"),
        );
    }
    let a = b.args(m, args, &[TY, Ty::Bytes, Ty::Bytes], 1, off)?;
    Ok((
        call(SymFn::Run(m == "Decrypt"), with_recv(recv, a)),
        Ty::Bytes,
    ))
}

fn cryptographic(m: String) -> EvalError {
    EvalError::new(EvalErrorKind::Other, m)
}

pub(crate) fn eval(f: SymFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    if f == SymFn::Create {
        let name = s_arg(args, 0)?;
        if !is_aes(name) {
            return fail(
                EvalErrorKind::Other,
                format!("the algorithm '{name}' is not supported by certgate; expected \"Aes\""),
            );
        }
        let aes = Aes::new().map_err(cryptographic)?;
        return Ok(Value::Obj(Arc::new(Obj::Symmetric(Mutex::new(aes)))));
    }
    let at = if matches!(f, SymFn::Run(_)) { 1 } else { 0 };
    let Value::Obj(o) = arg(args, at) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Symmetric(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a SymmetricAlgorithm");
    };
    let mut aes = cell.lock().unwrap_or_else(|e| e.into_inner());
    let named = |t: EnumType, n: i64| Value::Enum(EnumValue::Named(t, n));
    let number = |v: &Value| match v {
        Value::Enum(EnumValue::Named(_, n)) => *n,
        v => int(v).unwrap_or(-1),
    };
    Ok(match f {
        SymFn::Get(p) => match p {
            SymProp::Key => Value::Bytes(aes.key.clone().into()),
            SymProp::Iv => Value::Bytes(aes.iv.clone().into()),
            SymProp::Mode => named(EnumType::CipherMode, aes.mode),
            SymProp::Padding => named(EnumType::PaddingMode, aes.padding),
            SymProp::KeySize => Value::Int(aes.key.len() as i64 * 8),
            SymProp::BlockSize => Value::Int(128),
        },
        SymFn::Set(p) => {
            let v = arg(args, 1).clone();
            match p {
                SymProp::Key => {
                    let key = bytes_of(args, 1, "value")?;
                    check_key(&key).map_err(cryptographic)?;
                    aes.key = key.to_vec();
                }
                SymProp::Iv => {
                    let iv = bytes_of(args, 1, "value")?;
                    check_iv(&iv).map_err(cryptographic)?;
                    aes.iv = iv.to_vec();
                }
                // Checked when the algorithm runs, as .NET checks a mode when it transforms.
                SymProp::Mode => aes.mode = number(&v),
                SymProp::Padding => aes.padding = number(&v),
                SymProp::KeySize => aes.set_key_size(number(&v)).map_err(cryptographic)?,
                SymProp::BlockSize => {}
            }
            v
        }
        SymFn::Generate(iv) => {
            let r = if iv {
                aes.generate_iv()
            } else {
                aes.generate_key()
            };
            r.map_err(cryptographic)?;
            Value::Null
        }
        SymFn::Run(decrypt) => {
            let data = bytes_of(args, 0, "input")?;
            let mut run = aes.clone();
            if args.len() > 2 {
                let (key, iv) = (bytes_of(args, 2, "key")?, bytes_of(args, 3, "iv")?);
                check_key(&key).map_err(cryptographic)?;
                run.key = key.to_vec();
                run.iv = iv.to_vec();
            }
            // AES is linear in the input; the input is a value the budget admitted.
            env.step()?;
            let out = if decrypt {
                run.decrypt(&data)
            } else {
                run.encrypt(&data)
            };
            Value::Bytes(out.map_err(cryptographic)?.into())
        }
        SymFn::Create => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::env::EvalErrorKind;
    use crate::expr::testing::{assert_refused, failure, s};

    #[test]
    fn algorithm_objects_encrypt_as_apim_documents() {
        for (expr, want) in [
            (
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); var c = Encoding.UTF8.GetBytes("secret").Encrypt(a); return Encoding.UTF8.GetString(c.Decrypt(a)) + "/" + c.Length + "/" + a.KeySize + "/" + a.Mode + "/" + a.Padding + "/" + a.IV.Length; }"#,
                "secret/16/256/CBC/PKCS7/16",
            ),
            // The object's settings with a key and IV given.
            (
                r#"@{ var a = SymmetricAlgorithm.Create("AesManaged"); var k = new byte[16]; var iv = new byte[16]; var c = new byte[] {1}.Encrypt(a, k, iv); return Convert.ToBase64String(c) == Convert.ToBase64String(new byte[] {1}.Encrypt("Aes", k, iv)); }"#,
                "True",
            ),
            // Settings changed by assignment.
            (
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.Key = new byte[24]; a.Mode = CipherMode.ECB; a.Padding = PaddingMode.Zeros; var c = new byte[] {1, 2}.Encrypt(a); return c.Length + "/" + c.Decrypt(a).Length + "/" + a.KeySize + "/" + a.Mode; }"#,
                "16/16/192/ECB",
            ),
            (
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); var k = a.Key; a.GenerateKey(); var k2 = a.Key; a.KeySize = 128; return (Convert.ToBase64String(k) != Convert.ToBase64String(k2)) + "/" + a.Key.Length; }"#,
                "True/16",
            ),
            (
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.Padding = PaddingMode.None; try { new byte[] {1}.Encrypt(a); return "encrypted"; } catch (Exception e) { return e.Message; } }"#,
                "The input data is not a complete block.",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.Key = new byte[5]; return 1; }"#
            ),
            Some(EvalErrorKind::Other)
        );
        assert_eq!(
            failure(
                r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.Mode = CipherMode.CFB; return new byte[] {1}.Encrypt(a).Length; }"#
            ),
            Some(EvalErrorKind::Other)
        );
        assert_refused(
            r#"@(SymmetricAlgorithm.Create())"#,
            "is not supported by certgate (APIM allows Create only with an algorithm name",
        );
        assert_refused(
            r#"@(SymmetricAlgorithm.Create("DES"))"#,
            "the algorithm 'DES' is not supported by certgate",
        );
        assert_refused(
            r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.BlockSize = 64; return 1; }"#,
            "cannot be set",
        );
        assert_refused(
            r#"@{ var a = SymmetricAlgorithm.Create("Aes"); a.Mode = 1; return 1; }"#,
            "cannot implicitly convert",
        );
        assert_refused(
            r#"@(new byte[] {1}.Encrypt(SymmetricAlgorithm.Create("Aes"), new byte[16]))"#,
            "takes the algorithm, or the algorithm, a key and an IV",
        );
    }
}
