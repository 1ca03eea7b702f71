//! The value cache of `cache-store-value`, `cache-lookup-value` and `cache-remove-value`.
//!
//! Behind a trait ([`CacheStore`]) so that an external, shared cache (Redis, for several
//! gateway instances: APIM's `caching-type="external"`) can be added beside the in-process one
//! without touching policies. The in-process store ([`LocalCache`]) is `moka`'s concurrent
//! TinyLFU cache: bounded by the bytes its keys and values take, with a time to live per entry,
//! and counters for hits, misses and evictions that the gateway exports.
//!
//! Must not: evaluate expressions or know about policies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::value::Value;

/// A value that can be cached: the scalar types APIM's variables hold (strings, numbers,
/// booleans, characters, byte arrays, dates and time spans). Objects (JSON tokens, responses,
/// certificates) are refused by [`CachedValue::new`]: they are not plain data and could not be
/// shared with an external cache.
#[derive(Clone, Debug)]
pub struct CachedValue(Value);

impl CachedValue {
    /// `v` as a cacheable value; `None` for types the cache does not hold.
    pub fn new(v: Value) -> Option<CachedValue> {
        match v {
            Value::Str(_)
            | Value::Int(_)
            | Value::Double(_)
            | Value::Bool(_)
            | Value::Char(_)
            | Value::Bytes(_)
            | Value::DateTime(_)
            | Value::DateTimeOffset(_)
            | Value::TimeSpan(_) => Some(CachedValue(v)),
            _ => None,
        }
    }

    /// The value.
    pub fn value(&self) -> Value {
        self.0.clone()
    }

    /// Bytes it takes in the cache (what the size bound counts).
    fn weight(&self) -> usize {
        match &self.0 {
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 8,
        }
    }
}

impl CachedValue {
    /// The value as bytes for an external cache: a type tag, then its data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.0 {
            Value::Str(s) => {
                out.push(b's');
                out.extend_from_slice(s.as_bytes());
            }
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Double(d) => {
                out.push(b'd');
                out.extend_from_slice(&d.to_le_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[b'b', u8::from(*b)]),
            Value::Char(c) => {
                out.push(b'c');
                out.extend_from_slice(&u32::from(*c).to_le_bytes());
            }
            Value::Bytes(b) => {
                out.push(b'y');
                out.extend_from_slice(b);
            }
            Value::DateTime(d) => {
                out.push(b't');
                let nanos = d.wall.and_utc().timestamp_nanos_opt().unwrap_or(0);
                out.extend_from_slice(&nanos.to_le_bytes());
                out.push(match d.kind {
                    crate::dotnet::DateKind::Local => b'l',
                    crate::dotnet::DateKind::Utc => b'u',
                    crate::dotnet::DateKind::Unspecified => b'n',
                    // `new` admits no DateTimeOffset inside a DateTime.
                    crate::dotnet::DateKind::Offset(_) => b'n',
                });
            }
            Value::DateTimeOffset(d) => {
                out.push(b'o');
                let nanos = d.utc().and_utc().timestamp_nanos_opt().unwrap_or(0);
                out.extend_from_slice(&nanos.to_le_bytes());
                out.extend_from_slice(&d.offset_minutes().to_le_bytes());
            }
            Value::TimeSpan(t) => {
                out.push(b'p');
                out.extend_from_slice(&t.0.to_le_bytes());
            }
            // `new` admits nothing else.
            _ => {}
        }
        out
    }

    /// What [`CachedValue::to_bytes`] wrote; `None` for anything else (another program's
    /// value under the same key is a miss, not an error).
    pub fn from_bytes(b: &[u8]) -> Option<CachedValue> {
        let (tag, rest) = b.split_first()?;
        let i64_of = |r: &[u8]| r.try_into().ok().map(i64::from_le_bytes);
        let v = match tag {
            b's' => Value::Str(std::str::from_utf8(rest).ok()?.into()),
            b'i' => Value::Int(i64_of(rest)?),
            b'd' => Value::Double(f64::from_le_bytes(rest.try_into().ok()?)),
            b'b' => Value::Bool(*rest.first()? != 0),
            b'c' => Value::Char(char::from_u32(u32::from_le_bytes(rest.try_into().ok()?))?),
            b'y' => Value::Bytes(rest.into()),
            b't' => {
                let (nanos, kind) = rest.split_at_checked(8)?;
                let wall = chrono::DateTime::from_timestamp_nanos(i64_of(nanos)?).naive_utc();
                let kind = match kind {
                    [b'l'] => crate::dotnet::DateKind::Local,
                    [b'u'] => crate::dotnet::DateKind::Utc,
                    [b'n'] => crate::dotnet::DateKind::Unspecified,
                    _ => return None,
                };
                Value::DateTime(crate::dotnet::DateTime { wall, kind })
            }
            b'o' => {
                let (nanos, minutes) = rest.split_at_checked(8)?;
                let utc = chrono::DateTime::from_timestamp_nanos(i64_of(nanos)?).naive_utc();
                let minutes = i32::from_le_bytes(minutes.try_into().ok()?);
                Value::DateTimeOffset(
                    crate::dotnet::DateTimeOffset::from_utc(utc).to_offset(minutes)?,
                )
            }
            b'p' => Value::TimeSpan(crate::dotnet::TimeSpan(i64_of(rest)?)),
            _ => return None,
        };
        Some(CachedValue(v))
    }
}

/// One operation on an external (shared) cache, which the gateway performs over the network
/// while the policy's section is suspended (`Io::Cache`).
#[derive(Clone, Debug)]
pub enum CacheOp {
    /// The value under the key.
    Get(Arc<str>),
    /// Store the value under the key for the time to live.
    Set(Arc<str>, CachedValue, Duration),
    /// Remove the value under the key.
    Remove(Arc<str>),
}

impl CacheOp {
    /// Performs it on `store` (drivers that do no I/O stand in for the external cache).
    pub fn apply_to(&self, store: &dyn CacheStore) -> Option<CachedValue> {
        match self {
            CacheOp::Get(k) => store.get(k),
            CacheOp::Set(k, v, ttl) => {
                store.set(k, v.clone(), *ttl);
                None
            }
            CacheOp::Remove(k) => {
                store.remove(k);
                None
            }
        }
    }
}

/// What an external cache operation came to: the value a `Get` found (`None`: a miss, and
/// always for `Set` and `Remove`); `Err` when the cache could not be asked and the gateway's
/// configuration says to refuse then.
pub type CacheResult = Result<Option<CachedValue>, String>;

/// How downstream caches may keep a response `cache-lookup` found or `cache-store` stored
/// (`downstream-caching-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Downstream {
    /// No `Cache-Control` from the gateway.
    None,
    /// `private, max-age=…`.
    Private {
        /// Adds `must-revalidate`.
        must_revalidate: bool,
    },
    /// `public, max-age=…`.
    Public {
        /// Adds `must-revalidate`.
        must_revalidate: bool,
    },
}

/// Counts of a cache's activity since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found a value.
    pub hits: u64,
    /// Lookups that found none.
    pub misses: u64,
    /// Values stored.
    pub stores: u64,
    /// Values dropped to stay within the size bound.
    pub evictions: u64,
    /// Values in the cache now.
    pub entries: u64,
    /// Bytes of keys and values in the cache now.
    pub bytes: u64,
}

/// Where cached values live.
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    /// The value under `key`, if one is there and has not expired.
    fn get(&self, key: &str) -> Option<CachedValue>;
    /// Stores `value` under `key` for `ttl`.
    fn set(&self, key: &str, value: CachedValue, ttl: Duration);
    /// Removes the value under `key`.
    fn remove(&self, key: &str);
    /// Activity counts, for metrics.
    fn stats(&self) -> CacheStats;
}

/// What the cache holds per key.
#[derive(Clone, Debug)]
struct Entry {
    value: CachedValue,
    ttl: Duration,
}

/// Each entry's own time to live (`cache-store-value duration`).
struct PerEntryTtl;

impl moka::Expiry<Arc<str>, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &Arc<str>, e: &Entry, _: Instant) -> Option<Duration> {
        Some(e.ttl)
    }
    fn expire_after_update(
        &self,
        _: &Arc<str>,
        e: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(e.ttl)
    }
}

/// The in-process cache, bounded in bytes.
pub struct LocalCache {
    cache: moka::sync::Cache<Arc<str>, Entry>,
    max_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What one entry's bookkeeping costs besides its key and value, counted against the bound.
const ENTRY_OVERHEAD: usize = 64;

impl LocalCache {
    /// A cache holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> LocalCache {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = evictions.clone();
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &Arc<str>, e: &Entry| {
                u32::try_from(k.len() + e.value.weight() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .eviction_listener(move |_, _, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        LocalCache {
            cache,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            evictions,
        }
    }

    /// The bound it was made with.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Runs the cache's pending maintenance (evictions, expiries) now; for tests and metrics.
    pub fn sync(&self) {
        self.cache.run_pending_tasks();
    }
}

impl CacheStore for LocalCache {
    fn get(&self, key: &str) -> Option<CachedValue> {
        let found = self.cache.get(key).map(|e| e.value);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn set(&self, key: &str, value: CachedValue, ttl: Duration) {
        self.stores.fetch_add(1, Ordering::Relaxed);
        self.cache.insert(Arc::from(key), Entry { value, ttl });
    }

    fn remove(&self, key: &str) {
        self.cache.invalidate(key);
    }

    fn stats(&self) -> CacheStats {
        // moka counts entries as its maintenance runs; run it so the counts are current
        // (stats are read by a metrics scrape, not on the request path).
        self.cache.run_pending_tasks();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stores: self.stores.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: &LocalCache, k: &str) -> Option<String> {
        c.get(k).map(|v| v.value().to_dotnet_string())
    }

    #[test]
    fn values_live_for_their_ttl_and_can_be_removed() {
        let c = LocalCache::new(1 << 20);
        let v = |s: &str| CachedValue::new(Value::str(s)).unwrap();
        c.set("a", v("1"), Duration::from_secs(60));
        c.set("b", v("2"), Duration::from_millis(50));
        assert_eq!(text(&c, "a").as_deref(), Some("1"));
        assert_eq!(text(&c, "b").as_deref(), Some("2"));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(text(&c, "b"), None, "expired");
        c.set("a", v("3"), Duration::from_secs(60));
        assert_eq!(text(&c, "a").as_deref(), Some("3"), "replaced");
        c.remove("a");
        assert_eq!(text(&c, "a"), None);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.stores), (3, 2, 3));
    }

    #[test]
    fn the_size_bound_holds_and_evictions_are_counted() {
        let c = LocalCache::new(64 * 1024);
        let big = CachedValue::new(Value::str(&"x".repeat(1000))).unwrap();
        for i in 0..1000 {
            c.set(&format!("k{i}"), big.clone(), Duration::from_secs(60));
        }
        c.sync();
        let s = c.stats();
        assert!(s.bytes <= 64 * 1024, "{s:?}");
        assert!(s.entries < 1000 && s.entries > 10, "{s:?}");
        assert!(s.evictions > 0, "{s:?}");
    }

    #[test]
    fn only_plain_values_are_cacheable() {
        assert!(CachedValue::new(Value::Int(1)).is_some());
        assert!(CachedValue::new(Value::Bytes(Arc::from(&b"ab"[..]))).is_some());
        assert!(CachedValue::new(Value::Null).is_none());
        assert!(CachedValue::new(Value::Array(Arc::from(vec![Value::Int(1)]))).is_none());
    }

    #[test]
    fn values_come_back_from_an_external_cache_as_stored() {
        let offset = crate::dotnet::DateTimeOffset::parse_dotnet("2024-05-06T10:00:00.25+02:00")
            .map(Value::DateTimeOffset)
            .unwrap();
        let date = crate::dotnet::DateTime::parse_dotnet("2024-05-06T10:00:00").unwrap();
        for v in [
            Value::str("x"),
            Value::Int(-3),
            Value::Double(1.5),
            Value::Bool(true),
            Value::Char('é'),
            Value::Bytes(Arc::from(&b"ab"[..])),
            Value::DateTime(date),
            offset,
            Value::TimeSpan(crate::dotnet::TimeSpan(42)),
        ] {
            let back = CachedValue::from_bytes(&CachedValue::new(v.clone()).unwrap().to_bytes())
                .unwrap()
                .value();
            assert_eq!(back.to_dotnet_string(), v.to_dotnet_string());
            assert_eq!(back.type_name(), v.type_name());
        }
        assert!(CachedValue::from_bytes(b"o123").is_none());
        assert!(CachedValue::from_bytes(b"").is_none());
    }
}
