//! Rate-limit and quota counters in Redis: each count is one Lua script run, atomic on the
//! server, so every node sees one counter. The windows are the in-process store's (APIM's:
//! sliding for rate limits, fixed from `first-period-start` for quotas), on Redis's clock.
//!
//! Must not: count on the request path synchronously (the plan suspends; `count` is awaited).

use std::sync::LazyLock;
use std::time::Duration;

use certgate_policy::{
    Count, CountRequest, CountResult, CounterStore, Decision, LocalCounters, Window,
};

use super::{OnFailure, Redis};

/// Counts every key of a request in order and stops at the first refusal, with
/// `certgate_policy::Window::decide`'s arithmetic on Redis's clock (one clock for every node).
/// Per key, `ARGV`: amount, limit, period (ms), mode (0 sliding, 1 fixed), origin (ms). A key's
/// periods are `<key>:<index>`; a sliding window reads the period before too. The answer is
/// allowed (1/0), remaining and retry-after (ms) per key counted.
const COUNT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local a = 5 * (i - 1)
  local amount = tonumber(ARGV[a + 1])
  local limit = tonumber(ARGV[a + 2])
  local period = tonumber(ARGV[a + 3])
  local sliding = tonumber(ARGV[a + 4]) == 0
  local origin = tonumber(ARGV[a + 5])
  local since = now - origin
  local index = math.floor(since / period)
  local elapsed = since - index * period
  local here = key .. ':' .. index
  local current = tonumber(redis.call('GET', here) or '0')
  local previous = 0
  if sliding then
    previous = tonumber(redis.call('GET', key .. ':' .. (index - 1)) or '0')
  end
  local carried = math.ceil(previous * (period - elapsed) / period)
  local used = carried + current
  local left = period - elapsed
  if used + amount > limit then
    local retry = left
    if sliding and previous > 0 and current + amount <= limit then
      local out_at = period * (1 - (limit - current - amount) / previous)
      retry = math.max(math.floor(out_at - elapsed), 1)
    end
    out[#out + 1] = 0
    out[#out + 1] = math.max(limit - used, 0)
    out[#out + 1] = retry
    return out
  end
  if amount > 0 then
    redis.call('INCRBY', here, amount)
    -- A sliding period is read during the next one too.
    if redis.call('PTTL', here) < 0 then
      if sliding then redis.call('PEXPIRE', here, left + period) else redis.call('PEXPIRE', here, left) end
    end
  end
  out[#out + 1] = 1
  out[#out + 1] = math.max(limit - used - amount, 0)
  out[#out + 1] = left
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
    fn hit(&self, count: &Count) -> Decision {
        self.fallback.hit(count)
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
            let (mode, origin) = match c.window {
                Window::Sliding => (0, 0),
                Window::Fixed { origin_ms } => (1, origin_ms),
            };
            invocation
                .key(self.key("count", &c.key))
                .arg(c.amount.min(MAX_EXACT))
                .arg(c.limit.min(MAX_EXACT))
                .arg(c.period.as_millis().clamp(1, u128::from(MAX_EXACT)) as u64)
                .arg(mode)
                .arg(origin);
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
