//! .NET's `SymmetricAlgorithm` as `SymmetricAlgorithm.Create("Aes")` makes it: AES with a key
//! and IV made at random, `Mode` (`CipherMode.CBC`, the default, or `ECB`), `Padding`
//! (`PaddingMode.PKCS7`, the default, `None`, `Zeros`, `ANSIX923`, `ISO10126`) and the
//! encryption APIM's `Encrypt`/`Decrypt` extension methods run with it. AES itself is the TLS
//! library's; the paddings are written here, as .NET defines them.
//!
//! Must not: know about expressions.

use crate::crypto::symm::{Cipher, Crypter, Mode};

/// .NET's `CipherMode` numbers certgate runs.
pub(crate) const CBC: i64 = 1;
pub(crate) const ECB: i64 = 2;
const CFB: i64 = 4;

/// .NET's `PaddingMode` numbers.
pub(crate) const PKCS7: i64 = 2;
const NONE: i64 = 1;
const ZEROS: i64 = 3;
const ANSIX923: i64 = 4;
const ISO10126: i64 = 5;

const BLOCK: usize = 16;

/// A .NET `CryptographicException` message.
pub(crate) type Failure = String;

/// An AES object's settings.
#[derive(Clone)]
pub struct Aes {
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub mode: i64,
    pub padding: i64,
}

impl std::fmt::Debug for Aes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "Aes({} bits)", self.key.len() * 8)
    }
}

fn random(n: usize) -> Result<Vec<u8>, Failure> {
    let mut v = vec![0u8; n];
    crate::crypto::rand::rand_bytes(&mut v).map_err(|_| "No random bytes.".to_string())?;
    Ok(v)
}

/// The names .NET's `SymmetricAlgorithm.Create(name)` gives AES (Rijndael's 128-bit block is
/// AES).
pub(crate) fn is_aes(name: &str) -> bool {
    let short = name
        .strip_prefix("System.Security.Cryptography.")
        .unwrap_or(name);
    matches!(
        short,
        "Aes"
            | "AES"
            | "AesManaged"
            | "AesCryptoServiceProvider"
            | "AesCng"
            | "Rijndael"
            | "RijndaelManaged"
    )
}

pub(crate) fn check_key(key: &[u8]) -> Result<(), Failure> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        n => Err(format!(
            "Specified key is not a valid size for this algorithm ({n} bytes; expected 16, 24 or 32)."
        )),
    }
}

pub(crate) fn check_iv(iv: &[u8]) -> Result<(), Failure> {
    if iv.len() == BLOCK {
        Ok(())
    } else {
        Err("Specified initialization vector (IV) does not match the block size for this algorithm.".into())
    }
}

impl Aes {
    /// A new object: a 256-bit key and an IV at random, CBC, PKCS#7 (.NET's defaults).
    pub(crate) fn new() -> Result<Aes, Failure> {
        Ok(Aes {
            key: random(32)?,
            iv: random(BLOCK)?,
            mode: CBC,
            padding: PKCS7,
        })
    }

    /// `KeySize = bits`: a new key of that size at random.
    pub(crate) fn set_key_size(&mut self, bits: i64) -> Result<(), Failure> {
        match bits {
            128 | 192 | 256 => {
                self.key = random(bits as usize / 8)?;
                Ok(())
            }
            _ => Err("Specified key is not a valid size for this algorithm.".into()),
        }
    }

    pub(crate) fn generate_key(&mut self) -> Result<(), Failure> {
        self.key = random(self.key.len())?;
        Ok(())
    }

    pub(crate) fn generate_iv(&mut self) -> Result<(), Failure> {
        self.iv = random(BLOCK)?;
        Ok(())
    }

    fn cipher(&self) -> Result<Cipher, Failure> {
        check_key(&self.key)?;
        Ok(match (self.mode, self.key.len()) {
            (CBC, 16) => Cipher::aes_128_cbc(),
            (CBC, 24) => Cipher::aes_192_cbc(),
            (CBC, _) => Cipher::aes_256_cbc(),
            (ECB, 16) => Cipher::aes_128_ecb(),
            (ECB, 24) => Cipher::aes_192_ecb(),
            (ECB, _) => Cipher::aes_256_ecb(),
            (CFB, _) => {
                return Err("CipherMode.CFB is not supported by certgate; use CBC or ECB".into())
            }
            _ => return Err("Specified cipher mode is not valid for this algorithm.".into()),
        })
    }

    fn run(&self, data: &[u8], mode: Mode) -> Result<Vec<u8>, Failure> {
        let cipher = self.cipher()?;
        let iv = if self.mode == ECB {
            None
        } else {
            check_iv(&self.iv)?;
            Some(&self.iv[..])
        };
        let mut c = Crypter::new(cipher, mode, &self.key, iv).map_err(|_| lib())?;
        c.pad(false);
        let mut out = vec![0u8; data.len() + BLOCK];
        let mut n = c.update(data, &mut out).map_err(|_| lib())?;
        n += c.finalize(&mut out[n..]).map_err(|_| lib())?;
        out.truncate(n);
        Ok(out)
    }

    /// `input.Encrypt(alg)`.
    pub(crate) fn encrypt(&self, data: &[u8]) -> Result<Vec<u8>, Failure> {
        let pad = BLOCK - data.len() % BLOCK;
        let mut input = data.to_vec();
        match self.padding {
            NONE if !data.len().is_multiple_of(BLOCK) => {
                return Err("The input data is not a complete block.".into())
            }
            NONE => {}
            // Zeros pads only a partial block.
            ZEROS if !data.len().is_multiple_of(BLOCK) => input.resize(data.len() + pad, 0),
            ZEROS => {}
            PKCS7 => input.extend(std::iter::repeat_n(pad as u8, pad)),
            ANSIX923 => {
                input.extend(std::iter::repeat_n(0u8, pad - 1));
                input.push(pad as u8);
            }
            ISO10126 => {
                input.extend(random(pad - 1)?);
                input.push(pad as u8);
            }
            _ => return Err("Specified padding mode is not valid for this algorithm.".into()),
        }
        self.run(&input, Mode::Encrypt)
    }

    /// `input.Decrypt(alg)`: a padding that does not check out is .NET's "Padding is invalid".
    pub(crate) fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, Failure> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err("The input data is not a complete block.".into());
        }
        let mut out = self.run(data, Mode::Decrypt)?;
        let bad = || "Padding is invalid and cannot be removed.".to_string();
        match self.padding {
            NONE | ZEROS => {}
            PKCS7 | ANSIX923 | ISO10126 => {
                let n = usize::from(*out.last().ok_or_else(bad)?);
                if n == 0 || n > BLOCK || n > out.len() {
                    return Err(bad());
                }
                let pad = &out[out.len() - n..out.len() - 1];
                let ok = match self.padding {
                    PKCS7 => pad.iter().all(|&b| usize::from(b) == n),
                    ANSIX923 => pad.iter().all(|&b| b == 0),
                    _ => true,
                };
                if !ok {
                    return Err(bad());
                }
                out.truncate(out.len() - n);
            }
            _ => return Err("Specified padding mode is not valid for this algorithm.".into()),
        }
        Ok(out)
    }
}

fn lib() -> Failure {
    "The AES operation failed.".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST SP 800-38A F.2.1 (CBC-AES128) and F.1.1 (ECB-AES128), first block, no padding.
    #[test]
    fn nist_vectors() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
                .collect()
        };
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let block = hex("6bc1bee22e409f96e93d7e117393172a");
        let mut a = Aes {
            key,
            iv: hex("000102030405060708090a0b0c0d0e0f"),
            mode: CBC,
            padding: NONE,
        };
        assert_eq!(
            a.encrypt(&block).unwrap(),
            hex("7649abac8119b246cee98e9b12e9197d")
        );
        a.mode = ECB;
        assert_eq!(
            a.encrypt(&block).unwrap(),
            hex("3ad77bb40d7a3660a89ecaf32466ef97")
        );
    }

    #[test]
    fn every_padding_round_trips_and_bad_padding_is_refused() {
        let mut a = Aes::new().unwrap();
        for padding in [PKCS7, ANSIX923, ISO10126, ZEROS] {
            a.padding = padding;
            for len in [0usize, 1, 15, 16, 17, 33] {
                let data: Vec<u8> = (1..=len as u8).collect();
                let c = a.encrypt(&data).unwrap();
                assert_eq!(c.len() % 16, 0);
                let p = a.decrypt(&c).unwrap();
                if padding == ZEROS {
                    assert_eq!(&p[..len], &data[..]);
                } else {
                    assert_eq!(p, data, "padding {padding}, {len} bytes");
                }
            }
        }
        // A fixed key, so that the tampered block's padding is known to be invalid.
        a.padding = PKCS7;
        a.key = vec![7; 16];
        a.iv = vec![9; 16];
        let mut c = a.encrypt(b"attack at dawn").unwrap();
        c[15] ^= 1;
        assert_eq!(
            a.decrypt(&c),
            Err("Padding is invalid and cannot be removed.".into())
        );
        a.padding = NONE;
        assert!(a.encrypt(b"short").is_err());
        a.mode = CFB;
        assert!(a
            .encrypt(&[0; 16])
            .unwrap_err()
            .contains("not supported by certgate"));
        a.mode = 3;
        assert!(a.encrypt(&[0; 16]).unwrap_err().contains("not valid"));
    }
}
