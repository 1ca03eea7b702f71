//! Counters for `rate-limit-by-key` and `quota-by-key`.
//!
//! Behind a trait so a shared store (Redis, for several gateway instances) can replace the
//! in-process one without touching plans. The in-process store keeps one fixed window per key
//! in a [`DashMap`] (sharded locks, no global lock on the request path) and bounds its size.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// The answer to one counted call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call is within the limit.
    pub allowed: bool,
    /// What is left in the current window after this call.
    pub remaining: u64,
    /// Time until the window renews.
    pub retry_after: Duration,
}

/// Where rate-limit and quota counters live: on this node, or shared between nodes.
pub trait CounterStore: Send + Sync + std::fmt::Debug {
    /// Counts `amount` against `key` within a window of `period`, allowing at most `limit`.
    /// With `amount == 0` it only reports.
    fn hit(&self, key: &str, amount: u64, limit: u64, period: Duration) -> Decision;

    /// Whether counting needs the network (a store shared between nodes): the policy then
    /// suspends its section with [`crate::Io::Count`] and the gateway counts, never the
    /// request path blocking. [`CounterStore::hit`] is then only a fallback for drivers that
    /// do no I/O (tests).
    fn shared(&self) -> bool {
        false
    }
}

/// One count a policy asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    /// The counter (the policy's scope and the counter key).
    pub key: String,
    /// How much this call counts (0: only report).
    pub amount: u64,
    /// Calls allowed per window.
    pub limit: u64,
    /// The window.
    pub period: Duration,
}

/// The counts one policy asks a shared store for, in order: each is made only while the ones
/// before it allowed the call (a `rate-limit`'s levels: policy, API, operation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountRequest {
    /// The counts.
    pub counts: Vec<Count>,
    /// `quota`/`quota-by-key` rather than a rate limit (the gateway's failure choice differs).
    pub quota: bool,
}

/// The decisions, in order, up to and including the first refusal; `Err` when the store could
/// not be asked and the gateway's configuration says to refuse then.
pub type CountResult = Result<Vec<Decision>, String>;

impl CountRequest {
    /// Answers it from `store` (drivers that do no I/O).
    pub fn answer_from(&self, store: &dyn CounterStore) -> Vec<Decision> {
        let mut out = Vec::with_capacity(self.counts.len());
        for c in &self.counts {
            let d = store.hit(&c.key, c.amount, c.limit, c.period);
            out.push(d);
            if !d.allowed {
                break;
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u64,
}

/// In-process fixed-window counters.
#[derive(Debug)]
pub struct LocalCounters {
    windows: DashMap<String, Window>,
    max_keys: usize,
}

impl Default for LocalCounters {
    fn default() -> Self {
        LocalCounters::new(1_000_000)
    }
}

impl LocalCounters {
    /// A store holding at most `max_keys` counters (the oldest window is dropped first).
    pub fn new(max_keys: usize) -> LocalCounters {
        LocalCounters {
            windows: DashMap::new(),
            max_keys: max_keys.max(1),
        }
    }

    /// Number of live counters.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no counter is live.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Drops windows that have ended, when the map is full (a flood of distinct keys must
    /// not grow memory without bound).
    fn make_room(&self, now: Instant, period: Duration) {
        if self.windows.len() < self.max_keys {
            return;
        }
        self.windows
            .retain(|_, w| now.duration_since(w.start) < period);
        if self.windows.len() >= self.max_keys {
            // Still full of live windows: forget the oldest half rather than refuse service.
            let mut starts: Vec<Instant> = self.windows.iter().map(|w| w.start).collect();
            starts.sort();
            if let Some(cut) = starts.get(starts.len() / 2).copied() {
                self.windows.retain(|_, w| w.start > cut);
            }
        }
    }
}

impl CounterStore for LocalCounters {
    fn hit(&self, key: &str, amount: u64, limit: u64, period: Duration) -> Decision {
        let now = Instant::now();
        if !self.windows.contains_key(key) {
            self.make_room(now, period);
        }
        let mut w = self.windows.entry(key.to_string()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= period {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        let retry_after = period.saturating_sub(now.duration_since(w.start));
        if w.count.saturating_add(amount) > limit {
            return Decision {
                allowed: false,
                remaining: limit.saturating_sub(w.count),
                retry_after,
            };
        }
        w.count += amount;
        Decision {
            allowed: true,
            remaining: limit - w.count,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_limits_and_renews() {
        let c = LocalCounters::default();
        let p = Duration::from_millis(50);
        assert!(c.hit("k", 1, 2, p).allowed);
        let d = c.hit("k", 1, 2, p);
        assert!(d.allowed && d.remaining == 0);
        assert!(!c.hit("k", 1, 2, p).allowed);
        assert!(c.hit("other", 1, 2, p).allowed);
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.hit("k", 1, 2, p).allowed);
    }

    #[test]
    fn bounded() {
        let c = LocalCounters::new(10);
        for i in 0..100 {
            c.hit(&format!("k{i}"), 1, 5, Duration::from_secs(60));
        }
        assert!(c.len() <= 10, "{}", c.len());
    }
}
