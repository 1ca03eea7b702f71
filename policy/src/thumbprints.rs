//! Sets of certificate thumbprints, for allow-lists of any size (SPEC §1: "thumbprint lookups
//! go through immutable hash sets shared lock-free by all workers").
//!
//! Keys are the 20 binary bytes of the SHA-1, not hex strings: 20 bytes per entry instead of a
//! pointer plus a 40-byte heap string, and no allocation per lookup. The hash is a cheap mix of
//! the key's bytes (not SipHash): the set's contents come from configuration, never from the
//! network, so hash flooding is not a concern, but they need not be random either.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A SHA-1 thumbprint in binary.
pub(crate) type Thumbprint = [u8; 20];

/// Hashes a digest by its leading bytes.
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash their length first (a usize, ignored) and then their bytes. Configured
        // values need not be random (an operator may list anything), so both halves are mixed
        // with a folded multiply: hashbrown takes bucket bits from the low end and tag bits
        // from the high end, and both must vary.
        if bytes.len() >= 20 {
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            let mut c = [0u8; 4];
            a.copy_from_slice(&bytes[..8]);
            b.copy_from_slice(&bytes[8..16]);
            c.copy_from_slice(&bytes[16..20]);
            let x = u64::from_le_bytes(a)
                ^ u64::from_le_bytes(b).rotate_left(29)
                ^ (u32::from_le_bytes(c) as u64).rotate_left(47)
                ^ self.0;
            let m = (x as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_u128);
            self.0 = (m as u64) ^ ((m >> 64) as u64);
        }
    }

    fn write_usize(&mut self, _: usize) {}
}

/// An immutable-after-build set of thumbprints.
#[derive(Clone, Debug, Default)]
pub struct ThumbprintSet {
    set: HashSet<Thumbprint, BuildHasherDefault<DigestHasher>>,
}

impl ThumbprintSet {
    /// An empty set.
    pub fn new() -> ThumbprintSet {
        ThumbprintSet::default()
    }

    /// An empty set with room for `n` thumbprints.
    pub fn with_capacity(n: usize) -> ThumbprintSet {
        ThumbprintSet {
            set: HashSet::with_capacity_and_hasher(n, BuildHasherDefault::default()),
        }
    }

    /// Adds a thumbprint given as hex (any case; spaces and colons ignored). False if it is not
    /// a SHA-1 thumbprint.
    pub fn insert_hex(&mut self, hex: &str) -> bool {
        match parse_hex(hex) {
            Some(t) => {
                self.set.insert(t);
                true
            }
            None => false,
        }
    }

    /// Adds a thumbprint.
    pub fn insert(&mut self, t: Thumbprint) {
        self.set.insert(t);
    }

    /// Case-insensitive lookup by hex; no allocation.
    pub fn contains_hex(&self, hex: &str) -> bool {
        parse_hex(hex).is_some_and(|t| self.set.contains(&t))
    }

    /// Whether the set holds a thumbprint.
    pub fn contains(&self, t: &Thumbprint) -> bool {
        self.set.contains(t)
    }

    /// Number of thumbprints.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Heap bytes held by the table (buckets plus control bytes), for capacity planning.
    pub fn heap_bytes(&self) -> usize {
        let buckets = if self.set.capacity() == 0 {
            0
        } else {
            (self.set.capacity() * 8 / 7).next_power_of_two()
        };
        buckets * (std::mem::size_of::<Thumbprint>() + 1)
    }
}

/// Hex digit values; `SEP` for the separators allowed between digits, `BAD` for the rest.
const BAD: u8 = 0xff;
const SEP: u8 = 0xfe;
static HEX: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t[b' ' as usize] = SEP;
    t[b':' as usize] = SEP;
    t
};

/// 40 hex digits (upper or lower case), optionally separated by spaces or colons.
pub(crate) fn parse_hex(s: &str) -> Option<Thumbprint> {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    if b.len() == 40 {
        // The common form: no separators, one table lookup per digit.
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (h, l) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            if h > 15 || l > 15 {
                return None;
            }
            *o = h << 4 | l;
        }
        return Some(out);
    }
    let mut n = 0;
    let mut hi: Option<u8> = None;
    for &c in b {
        let v = HEX[c as usize];
        if v == SEP {
            continue;
        }
        if v == BAD {
            return None;
        }
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                if n == 20 {
                    return None;
                }
                out[n] = h << 4 | v;
                n += 1;
            }
        }
    }
    (n == 20 && hi.is_none()).then_some(out)
}

/// Thumbprints and serials: upper-case hex, spaces and colons removed.
pub(crate) fn normalise_hex(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ':' | '\u{200e}'))
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_random_keys_spread() {
        // Keys that differ only in their last bytes (leading zeros) must not collide.
        let mut hashes = std::collections::HashSet::new();
        for i in 0u32..1000 {
            let mut t = [0u8; 20];
            t[16..].copy_from_slice(&i.to_be_bytes());
            let mut h = DigestHasher::default();
            std::hash::Hash::hash(&t, &mut h);
            hashes.insert(h.finish() & 0xffff);
        }
        assert!(hashes.len() > 900, "{} distinct low bits", hashes.len());
    }

    #[test]
    fn hex_forms() {
        let t = "C9AF2C74A22DBCA898BF291E8B84C68E5D3661F0";
        let mut s = ThumbprintSet::new();
        assert!(s.insert_hex(t));
        assert!(s.contains_hex("c9af2c74a22dbca898bf291e8b84c68e5d3661f0"));
        assert!(s.contains_hex("c9:af:2c:74:a2:2d:bc:a8:98:bf:29:1e:8b:84:c6:8e:5d:36:61:f0"));
        assert!(!s.contains_hex("C9AF2C74A22DBCA898BF291E8B84C68E5D3661F1"));
        assert!(!s.contains_hex("C9AF"));
        assert!(!s.contains_hex(&format!("{t}00")));
        assert!(!s.contains_hex("zz"));
        assert!(!s.insert_hex("not hex"));
    }
}
