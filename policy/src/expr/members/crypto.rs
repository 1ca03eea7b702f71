//! The hash and HMAC classes of `System.Security.Cryptography` APIM allows: `SHA256.Create()`
//! (and `MD5`, `SHA1`, `SHA384`, `SHA512`, the `…Managed` constructors), `new HMACSHA256(key)`
//! (and the other HMACs; without a key, a random one as .NET makes), `ComputeHash(bytes[,
//! offset, count])`, `Key`, `HashSize`, `Dispose()`, and .NET 5's one-shot `SHA256.HashData` /
//! `HMACSHA256.HashData(key, data)`. Checker bindings and evaluator in one file.
//!
//! Also APIM's `Encrypt`/`Decrypt` extension methods on `byte[]` with an algorithm name, key and
//! IV (`input.Encrypt("Aes", key, iv)`): AES in CBC mode with PKCS#7 padding, .NET's defaults
//! for `Aes`, the key size choosing AES-128, -192 or -256 (`dotnet::symmetric`). The
//! `SymmetricAlgorithm` overloads are `symmetric.rs`'s.
//!
//! The digests are the TLS library's. HMAC is written here over them (RFC 2104, ten lines)
//! because BoringSSL's Rust binding has no HMAC for every digest .NET offers (no MD5, no
//! SHA-384); RFC 2202 and RFC 4231's test vectors check it.

use std::sync::Arc;

use super::convert::bytes_of;
use crate::crypto::hash::{hash, MessageDigest};
use crate::dotnet::symmetric::{check_iv, check_key, is_aes, Aes, CBC, PKCS7};
use crate::dotnet::{hash_class, HashAlgorithm, Key};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

/// The static class a name designates (`SHA256`, `HMACSHA256`, ...), if it is one of these.
pub(crate) fn class(name: &str) -> Option<Static> {
    hash_class(name).map(|(alg, keyed)| Static::Hash(alg, keyed))
}

fn call(f: CryptoFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Crypto(f), args)
}

/// `new SHA256Managed()`, `new HMACSHA256(key)`, `new HMACSHA256()`.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let (alg, keyed) = hash_class(name)?;
    let plain = !keyed && name.ends_with("Managed");
    Some(if plain {
        b.args(name, args, &[], 0, off)
            .map(|_| (call(CryptoFn::New(alg), vec![]), Ty::Obj(ObjKind::Hasher)))
    } else if keyed {
        b.args(name, args, &[Ty::Bytes], 0, off)
            .map(|a| (call(CryptoFn::NewHmac(alg), a), Ty::Obj(ObjKind::Hasher)))
    } else {
        // `new SHA256()`: an abstract class in .NET.
        type_err(
            off,
            format!("cannot create an instance of the abstract type '{name}'; use {name}.Create()"),
        )
    })
}

/// `SHA256.Create()`, `SHA256.HashData(data)`, `HMACSHA256.HashData(key, data)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    alg: HashAlgorithm,
    keyed: bool,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (m, keyed) {
        ("Create", false) => {
            b.args(m, args, &[], 0, off)?;
            Ok((call(CryptoFn::New(alg), vec![]), Ty::Obj(ObjKind::Hasher)))
        }
        ("HashData", false) => {
            let a = b.args(m, args, &[Ty::Bytes], 1, off)?;
            Ok((call(CryptoFn::HashData(alg), a), Ty::Bytes))
        }
        ("HashData", true) => {
            let a = b.args(m, args, &[Ty::Bytes, Ty::Bytes], 2, off)?;
            Ok((call(CryptoFn::HmacData(alg), a), Ty::Bytes))
        }
        _ => unknown_member(&Ty::Static(Static::Hash(alg, keyed)), m, off),
    }
}

/// `h.ComputeHash(bytes)`, `h.ComputeHash(bytes, offset, count)`, `h.Dispose()`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "ComputeHash" => {
            if args.len() == 2 {
                return type_err(
                    off,
                    "'ComputeHash' takes the bytes, or the bytes, an offset and a count",
                );
            }
            let a = b.args(m, args, &[Ty::Bytes, Ty::Int, Ty::Int], 1, off)?;
            Ok((call(CryptoFn::ComputeHash, with_recv(recv, a)), Ty::Bytes))
        }
        // Nothing to release: the object holds no resource.
        "Dispose" | "Clear" => {
            b.args(m, args, &[], 0, off)?;
            Ok((Ir::Const(Value::Null), Ty::Void))
        }
        _ => unknown_member(&Ty::Obj(ObjKind::Hasher), m, off),
    }
}

/// `bytes.Encrypt("Aes", key, iv)`, `bytes.Decrypt("Aes", key, iv)`.
pub(crate) fn symmetric(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    // `Encrypt(alg)`, `Encrypt(alg, key, iv)` with an algorithm object.
    if let Some(first) = args.first() {
        if b.expr(first)?.1 == Ty::Obj(ObjKind::Symmetric) {
            return super::symmetric::encrypt(b, recv, m, args, off);
        }
    }
    if args.len() != 3 {
        return type_err(
            off,
            format!("'{m}' takes an algorithm name, a key and an IV, or a SymmetricAlgorithm"),
        );
    }
    let a = b.args(m, args, &[Ty::Str, Ty::Bytes, Ty::Bytes], 3, off)?;
    if let Some(Value::Str(alg)) = a[0].as_const() {
        if !is_aes(alg) {
            return type_err(
                args[0].offset,
                format!("the algorithm '{alg}' is not supported by certgate; expected \"Aes\""),
            );
        }
    }
    let f = if m == "Encrypt" {
        CryptoFn::Encrypt
    } else {
        CryptoFn::Decrypt
    };
    Ok((call(f, with_recv(recv, a)), Ty::Bytes))
}

/// `h.Key` (an HMAC's), `h.HashSize`.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "Key" => Ok((call(CryptoFn::Key, vec![recv]), Ty::Bytes)),
        "HashSize" => Ok((call(CryptoFn::HashSize, vec![recv]), Ty::Int)),
        _ => unknown_member(&Ty::Obj(ObjKind::Hasher), name, off),
    }
}

fn digest(alg: HashAlgorithm) -> MessageDigest {
    match alg {
        HashAlgorithm::Md5 => MessageDigest::md5(),
        HashAlgorithm::Sha1 => MessageDigest::sha1(),
        HashAlgorithm::Sha256 => MessageDigest::sha256(),
        HashAlgorithm::Sha384 => MessageDigest::sha384(),
        HashAlgorithm::Sha512 => MessageDigest::sha512(),
    }
}

fn digest_of(alg: HashAlgorithm, parts: &[&[u8]]) -> EvalResult<Vec<u8>> {
    let data = parts.concat();
    hash(digest(alg), &data)
        .map(|d| d.to_vec())
        .map_err(|e| EvalError::new(EvalErrorKind::Other, format!("hash failed: {e}")))
}

/// HMAC (RFC 2104): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), the key hashed first when longer than
/// the block and zero-padded to it.
fn hmac(alg: HashAlgorithm, key: &[u8], data: &[u8]) -> EvalResult<Vec<u8>> {
    let block = alg.block_size();
    let mut k = if key.len() > block {
        digest_of(alg, &[key])?
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let pad = |byte: u8| k.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = digest_of(alg, &[&pad(0x36), data])?;
    digest_of(alg, &[&pad(0x5c), &inner])
}

pub(crate) fn eval(f: CryptoFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let bytes = |v: Vec<u8>| Value::Bytes(v.into());
    Ok(match f {
        CryptoFn::New(alg) => Value::Obj(Arc::new(Obj::Hasher(alg, None))),
        CryptoFn::NewHmac(alg) => {
            let key = match arg(args, 0) {
                Value::Null if args.is_empty() => {
                    // .NET makes a random key of the block size.
                    let mut k = vec![0u8; alg.block_size()];
                    crate::crypto::rand::rand_bytes(&mut k).map_err(|e| {
                        EvalError::new(EvalErrorKind::Other, format!("no random key: {e}"))
                    })?;
                    k.into()
                }
                _ => bytes_of(args, 0, "key")?,
            };
            Value::Obj(Arc::new(Obj::Hasher(alg, Some(Key(key)))))
        }
        CryptoFn::HashData(alg) => bytes(digest_of(alg, &[&bytes_of(args, 0, "source")?])?),
        CryptoFn::HmacData(alg) => bytes(hmac(
            alg,
            &bytes_of(args, 0, "key")?,
            &bytes_of(args, 1, "source")?,
        )?),
        CryptoFn::Encrypt | CryptoFn::Decrypt => {
            let data = bytes_of(args, 0, "input")?;
            let alg = s_arg(args, 1)?;
            let key = bytes_of(args, 2, "key")?;
            let iv = bytes_of(args, 3, "iv")?;
            let cryptographic = |m: String| EvalError::new(EvalErrorKind::Other, m);
            if !is_aes(alg) {
                return Err(cryptographic(format!(
                    "the algorithm '{alg}' is not supported by certgate; expected \"Aes\""
                )));
            }
            // .NET's defaults for a named algorithm: CBC, PKCS#7; the key's size picks
            // AES-128, -192 or -256.
            check_key(&key).map_err(cryptographic)?;
            check_iv(&iv).map_err(cryptographic)?;
            let aes = Aes {
                key: key.to_vec(),
                iv: iv.to_vec(),
                mode: CBC,
                padding: PKCS7,
            };
            // AES in CBC is linear in the input; the input is a value the budget admitted.
            env.step()?;
            let out = if f == CryptoFn::Encrypt {
                aes.encrypt(&data)
            } else {
                aes.decrypt(&data)
            };
            bytes(out.map_err(cryptographic)?)
        }
        CryptoFn::ComputeHash | CryptoFn::Key | CryptoFn::HashSize => {
            let Value::Obj(o) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let Obj::Hasher(alg, key) = &**o else {
                return fail(EvalErrorKind::InvalidCast, "not a hash algorithm");
            };
            match f {
                CryptoFn::HashSize => Value::Int(alg.bits()),
                CryptoFn::Key => match key {
                    Some(k) => Value::Bytes(k.0.clone()),
                    None => return fail(EvalErrorKind::Other, "a hash algorithm has no key"),
                },
                _ => {
                    let data = bytes_of(args, 1, "buffer")?;
                    let data = if args.len() > 2 {
                        let (o, n) = (i_arg(args, 2)?, i_arg(args, 3)?);
                        let end = o
                            .checked_add(n)
                            .filter(|&e| o >= 0 && n >= 0 && e as usize <= data.len());
                        let Some(end) = end else {
                            return fail(EvalErrorKind::Argument, "Offset and length were out of bounds for the array or count is greater than the number of elements from index to the end of the source collection.");
                        };
                        &data[o as usize..end as usize]
                    } else {
                        &data[..]
                    };
                    // Hashing is linear in the input; the input is a value the budget admitted.
                    env.step()?;
                    bytes(match key {
                        Some(k) => hmac(*alg, &k.0, data)?,
                        None => digest_of(*alg, &[data])?,
                    })
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 4231 test case 2 and RFC 2202 (HMAC-MD5, HMAC-SHA1) test case 2; RFC 4231 case 6
    /// (a key longer than the block).
    #[test]
    fn hmac_test_vectors() {
        let (k, m) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            hex(&hmac(HashAlgorithm::Sha256, k, m).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(hex(&hmac(HashAlgorithm::Sha384, k, m).unwrap()), "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
        assert_eq!(hex(&hmac(HashAlgorithm::Sha512, k, m).unwrap()), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
        assert_eq!(
            hex(&hmac(HashAlgorithm::Md5, k, m).unwrap()),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex(&hmac(HashAlgorithm::Sha1, k, m).unwrap()),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        let long = [0xaau8; 131];
        assert_eq!(
            hex(&hmac(
                HashAlgorithm::Sha256,
                &long,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )
            .unwrap()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// The forms APIM policies use, as .NET computes them.
    #[test]
    fn policies_hash_and_sign() {
        use crate::expr::testing::s;
        for (expr, want) in [
            (
                r#"@(Convert.ToBase64String(SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes("abc"))))"#,
                "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            ),
            (
                r#"@(Convert.ToBase64String(new HMACSHA256(Encoding.UTF8.GetBytes("Jefe")).ComputeHash(Encoding.UTF8.GetBytes("what do ya want for nothing?"))))"#,
                "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
            ),
            (
                r#"@(Convert.ToBase64String(MD5.Create().ComputeHash(Encoding.UTF8.GetBytes(""))))"#,
                "1B2M2Y8AsgTpgAmY7PhCfg==",
            ),
            (
                r#"@(System.Security.Cryptography.SHA1.Create().ComputeHash(Encoding.UTF8.GetBytes("abc")).Length)"#,
                "20",
            ),
            (r#"@(new SHA512Managed().HashSize)"#, "512"),
            (r#"@(SHA384.HashData(new byte[] {1}).Length)"#, "48"),
            (
                r#"@(HMACSHA256.HashData(new byte[] {1}, new byte[] {2}).Length)"#,
                "32",
            ),
            (r#"@(new HMACSHA1().Key.Length)"#, "64"),
            (
                r#"@(SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes("xabcx"), 1, 3)[0])"#,
                "186",
            ),
            (
                r#"@{ using (var h = new HMACSHA256(Encoding.UTF8.GetBytes("k"))) { return h.ComputeHash(new byte[0]).Length; } }"#,
                "32",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(s("@(new SHA256())").contains("abstract type 'SHA256'"));
        // APIM's Encrypt/Decrypt: AES-CBC with PKCS#7 (NIST SP 800-38A F.2.1's first block,
        // then the padding block).
        let key = "new byte[] {0x2b,0x7e,0x15,0x16,0x28,0xae,0xd2,0xa6,0xab,0xf7,0x15,0x88,0x09,0xcf,0x4f,0x3c}";
        let iv = "new byte[] {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}";
        let block = "new byte[] {0x6b,0xc1,0xbe,0xe2,0x2e,0x40,0x9f,0x96,0xe9,0x3d,0x7e,0x11,0x73,0x93,0x17,0x2a}";
        assert_eq!(
            s(&format!(
                "@(Convert.ToBase64String({block}.Encrypt(\"Aes\", {key}, {iv})))"
            )),
            // 7649abac8119b246cee98e9b12e9197d (the vector), then the padding block; the same as
            // `openssl enc -aes-128-cbc` gives.
            "dkmrrIEZskbO6Y6bEukZfYlk4LFJwQt7aC5uOarrcxw="
        );
        assert_eq!(
            s(&format!("@(Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(\"secret\").Encrypt(\"Aes\", {key}, {iv}).Decrypt(\"Aes\", {key}, {iv})))")),
            "secret"
        );
        // Not a whole block, as .NET says; a whole block with a bad padding, likewise.
        assert!(s(&format!(
            "@(new byte[] {{1}}.Decrypt(\"Aes\", {key}, {iv}))"
        ))
        .contains("The input data is not a complete block."));
        assert!(s(&format!("@(new byte[16].Decrypt(\"Aes\", {key}, {iv}))"))
            .contains("Padding is invalid"));
        assert!(s(&format!(
            "@(new byte[] {{1}}.Encrypt(\"Aes\", new byte[] {{1}}, {iv}))"
        ))
        .contains("not a valid size"));
        assert!(s(&format!(
            "@(new byte[] {{1}}.Encrypt(\"DES\", {key}, {iv}))"
        ))
        .contains("'DES' is not supported by certgate"));
        // `using` takes what C# takes: a disposable resource.
        assert!(s(r#"@{ using (var t = "x") { return t; } }"#)
            .contains("'string' cannot be used in a using statement"));
        assert_eq!(s(r#"@{ using (SHA1.Create()) { } return 1; }"#), "1");
        assert!(
            s(r#"@{ using (var h = MD5.Create()) { } return h; }"#).contains("'h' does not exist")
        );
        assert!(s("@(SHA256.Create().ComputeHash(null))").contains("Parameter 'buffer'"));
        assert!(s("@(SHA256.Create().ComputeHash(new byte[] {1}, 1, 1))").contains("out of bounds"));
        assert!(s("@(SHA256.Create().Key)").contains("has no key"));
        assert!(s("@(SHA256.Create().TransformBlock())")
            .contains("'HashAlgorithm.TransformBlock' is not supported by certgate"));
    }
}
