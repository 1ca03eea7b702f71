//! The external cache of `cache-lookup-value`, `cache-store-value`, `cache-remove-value` and
//! response caching (`caching-type="external"`, and `"prefer-external"` when Redis is
//! configured): `GET`, `SET … PX` and `DEL` on keys of certgate's own.
//!
//! Bounded as the internal cache's values are: a value is a policy's string or bytes, which
//! the expression budget (`max-string-bytes`) and `max-response-body-bytes` already bound; the
//! total is Redis's own `maxmemory` (README). Must not: block a request thread.

use certgate_policy::{CacheOp, CacheResult, CachedValue};

use super::{OnFailure, Redis};

impl Redis {
    /// Performs `op`. When Redis cannot answer: `on-failure.cache` decides (`allow`: a miss,
    /// a store not made), counted.
    pub(crate) async fn cache(&self, op: &CacheOp) -> CacheResult {
        let answer = match op {
            CacheOp::Get(k) => {
                let key = self.key("cache", k);
                self.run("get", |mut conn| async move {
                    redis::cmd("GET")
                        .arg(key)
                        .query_async::<Option<Vec<u8>>>(&mut conn)
                        .await
                })
                .await
                // Bytes another program wrote under the key are a miss.
                .map(|found| found.and_then(|b| CachedValue::from_bytes(&b)))
            }
            CacheOp::Set(k, v, ttl) => {
                let (key, bytes) = (self.key("cache", k), v.to_bytes());
                let ms = ttl.as_millis().max(1) as u64;
                self.run("set", |mut conn| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(ms)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await
                .map(|()| None)
            }
            CacheOp::Remove(k) => {
                let key = self.key("cache", k);
                self.run("del", |mut conn| async move {
                    redis::cmd("DEL")
                        .arg(key)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await
                .map(|()| None)
            }
        };
        answer.or_else(|why| {
            let choice = self.settings.cache;
            crate::metrics::METRICS
                .redis_unavailable
                .with_label_values(&["cache", choice.label()])
                .inc();
            match choice {
                OnFailure::Allow => Ok(None),
                OnFailure::Refuse => Err(why.to_string()),
            }
        })
    }
}
