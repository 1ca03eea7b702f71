//! The .NET hash and HMAC classes APIM allows (`System.Security.Cryptography`: `MD5`, `SHA1`,
//! `SHA256`, `SHA384`, `SHA512`, their `Managed` forms, `HMACMD5`, `HMACSHA1`, `HMACSHA256`,
//! `HMACSHA384`, `HMACSHA512`): which algorithm a class name stands for, and its sizes. The
//! hashing itself is the TLS library's (`expr/members/crypto.rs`).
//!
//! Must not: import anything else from this crate.

/// A hash algorithm of .NET's classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// The block size HMAC pads its key to (RFC 2104).
    pub fn block_size(self) -> usize {
        match self {
            HashAlgorithm::Sha384 | HashAlgorithm::Sha512 => 128,
            _ => 64,
        }
    }

    /// `HashSize`, in bits.
    pub fn bits(self) -> i64 {
        match self {
            HashAlgorithm::Md5 => 128,
            HashAlgorithm::Sha1 => 160,
            HashAlgorithm::Sha256 => 256,
            HashAlgorithm::Sha384 => 384,
            HashAlgorithm::Sha512 => 512,
        }
    }
}

/// An HMAC key: a secret, so its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} bytes)", self.0.len())
    }
}

/// The algorithm a class name stands for, and whether the class is keyed (HMAC): `SHA256`,
/// `SHA256Managed`, `HMACSHA256`, in short or full (`System.Security.Cryptography.`) form.
pub(crate) fn hash_class(name: &str) -> Option<(HashAlgorithm, bool)> {
    let short = name
        .strip_prefix("System.Security.Cryptography.")
        .unwrap_or(name);
    let (keyed, base) = match short.strip_prefix("HMAC") {
        Some(rest) => (true, rest),
        None => (false, short.strip_suffix("Managed").unwrap_or(short)),
    };
    let alg = match base {
        "MD5" => HashAlgorithm::Md5,
        "SHA1" => HashAlgorithm::Sha1,
        "SHA256" => HashAlgorithm::Sha256,
        "SHA384" => HashAlgorithm::Sha384,
        "SHA512" => HashAlgorithm::Sha512,
        _ => return None,
    };
    Some((alg, keyed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        assert_eq!(hash_class("SHA256"), Some((HashAlgorithm::Sha256, false)));
        assert_eq!(
            hash_class("SHA1Managed"),
            Some((HashAlgorithm::Sha1, false))
        );
        assert_eq!(
            hash_class("System.Security.Cryptography.HMACSHA512"),
            Some((HashAlgorithm::Sha512, true))
        );
        assert_eq!(hash_class("HMACMD5"), Some((HashAlgorithm::Md5, true)));
        assert_eq!(hash_class("HMACSHA256Managed"), None);
        assert_eq!(hash_class("SHA3_256"), None);
    }
}
