//! Rate-limit and quota counters in Redis: each count is one Lua script run, atomic on the
//! server, so every node sees one counter. The window is the in-process store's: fixed, from
//! the first call counted, renewed when it has passed (the key's time to live).
//!
//! Must not: count on the request path synchronously (the plan suspends; `count` is awaited).

use std::sync::LazyLock;
use std::time::Duration;

use certgate_policy::{CountRequest, CountResult, CounterStore, Decision, LocalCounters};

use super::{OnFailure, Redis};

/// Counts every key of a request in order and stops at the first refusal. Per key:
/// `ARGV` amount, limit, window (ms); the answer is allowed (1/0), remaining and the window's
/// time left (ms) per key counted. A missing key starts a window; `PEXPIRE` only when the key
/// has none, so the window is the first call's.
const COUNT: &str = r#"
local out = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local period = tonumber(ARGV[3 * i])
  local count = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then ttl = period end
  if count + amount > limit then
    out[#out + 1] = 0
    out[#out + 1] = math.max(limit - count, 0)
    out[#out + 1] = ttl
    return out
  end
  if amount > 0 then
    count = redis.call('INCRBY', key, amount)
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, period) end
  end
  out[#out + 1] = 1
  out[#out + 1] = limit - count
  out[#out + 1] = ttl
end
return out
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(COUNT));

/// Lua's numbers are doubles: limits past 2^53 count as 2^53.
const MAX_EXACT: u64 = 1 << 53;

/// The counter store plans see when Redis is configured: shared, so a plan suspends and the
/// gateway calls [`RedisCounters::count`].
#[derive(Debug, Default)]
pub(crate) struct RedisCounters {
    /// What [`CounterStore::hit`] answers from (drivers that do no I/O; never the gateway,
    /// which counts with the snapshot's [`Redis`]).
    fallback: LocalCounters,
}

impl CounterStore for RedisCounters {
    fn hit(&self, key: &str, amount: u64, limit: u64, period: Duration) -> Decision {
        self.fallback.hit(key, amount, limit, period)
    }

    fn shared(&self) -> bool {
        true
    }
}

impl Redis {
    /// Counts `request` in Redis. When Redis cannot answer: the family's `on-failure` choice,
    /// counted.
    pub async fn count(&self, request: &CountRequest) -> CountResult {
        let mut invocation = SCRIPT.prepare_invoke();
        for c in &request.counts {
            invocation
                .key(self.key("count", &c.key))
                .arg(c.amount.min(MAX_EXACT))
                .arg(c.limit.min(MAX_EXACT))
                .arg(c.period.as_millis().clamp(1, u128::from(MAX_EXACT)) as u64);
        }
        let answer = self
            .run("count", |mut conn| async move {
                invocation.invoke_async::<Vec<i64>>(&mut conn).await
            })
            .await;
        match answer {
            Ok(flat) => Ok(flat
                .chunks_exact(3)
                .map(|d| Decision {
                    allowed: d[0] == 1,
                    remaining: d[1].max(0) as u64,
                    retry_after: Duration::from_millis(d[2].max(0) as u64),
                })
                .collect()),
            Err(why) => {
                let (family, choice) = if request.quota {
                    ("quota", self.settings.quota)
                } else {
                    ("rate-limit", self.settings.rate_limit)
                };
                crate::metrics::METRICS
                    .redis_unavailable
                    .with_label_values(&[family, choice.label()])
                    .inc();
                match choice {
                    // As if every level allowed the call, with its whole allowance left.
                    OnFailure::Allow => Ok(request
                        .counts
                        .iter()
                        .map(|c| Decision {
                            allowed: true,
                            remaining: c.limit,
                            retry_after: c.period,
                        })
                        .collect()),
                    OnFailure::Refuse => Err(why.to_string()),
                }
            }
        }
    }
}
