//! Counters for `rate-limit`, `quota` and their by-key forms, windowed as APIM windows them:
//! rate limits over a **sliding** window (APIM's classic tiers; approximated, as Envoy and
//! nginx's ecosystems do, by the current fixed window plus the previous one weighted by how
//! much of it still overlaps), quotas over **fixed** windows aligned to `first-period-start`
//! (default 0001-01-01T00:00:00Z). [`Window::decide`] is the arithmetic; the in-process store
//! and the Redis script (gateway) both follow it.
//!
//! Behind a trait so a shared store (Redis, for several gateway instances) can replace the
//! in-process one without touching plans. The in-process store keeps each key's windows in a
//! [`DashMap`] (sharded locks, no global lock on the request path) and bounds its size.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

/// The answer to one counted call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call is within the limit.
    pub allowed: bool,
    /// What is left in the current window after this call.
    pub remaining: u64,
    /// Time until a call would be allowed again (refused), or until the window renews.
    pub retry_after: Duration,
}

/// How a counter's calls are windowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Rate limits: the last `period`, sliding.
    Sliding,
    /// Quotas: fixed periods counted from `origin_ms` (Unix milliseconds; APIM's
    /// `first-period-start`).
    Fixed {
        /// The start of the first period.
        origin_ms: i64,
    },
}

/// `first-period-start`'s default, 0001-01-01T00:00:00Z, in Unix milliseconds.
pub const YEAR_ONE_MS: i64 = -62_135_596_800_000;

/// What a counter holds: the index of its current fixed period, the calls in it, and (sliding)
/// the calls of the period before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowState {
    /// Index of the current period.
    pub index: i64,
    /// Calls counted in it.
    pub current: u64,
    /// Calls counted in the period before it.
    pub previous: u64,
}

impl Window {
    /// Counts `amount` at `now_ms` against `limit` per `period_ms`, updating `state`.
    pub fn decide(
        self,
        state: &mut WindowState,
        now_ms: i64,
        amount: u64,
        limit: u64,
        period_ms: i64,
    ) -> Decision {
        let period_ms = period_ms.max(1);
        let origin = match self {
            Window::Sliding => 0,
            Window::Fixed { origin_ms } => origin_ms,
        };
        let since = now_ms.saturating_sub(origin);
        let index = since.div_euclid(period_ms);
        let elapsed = since.rem_euclid(period_ms);
        if state.index != index {
            state.previous = if state.index == index - 1 {
                state.current
            } else {
                0
            };
            state.current = 0;
            state.index = index;
        }
        let left_in_period = Duration::from_millis((period_ms - elapsed) as u64);
        // The previous period's calls that still fall inside the sliding window.
        let carried = match self {
            Window::Sliding => (state.previous as f64 * (period_ms - elapsed) as f64
                / period_ms as f64)
                .ceil() as u64,
            Window::Fixed { .. } => 0,
        };
        let used = carried.saturating_add(state.current);
        if used.saturating_add(amount) > limit {
            // When enough of the previous period has slid out (sliding), else the next period.
            let retry_after = match self {
                Window::Sliding if state.previous > 0 && state.current + amount <= limit => {
                    let room = (limit - state.current - amount) as f64;
                    let out_at = period_ms as f64 * (1.0 - room / state.previous as f64);
                    Duration::from_millis((out_at - elapsed as f64).max(1.0) as u64)
                }
                _ => left_in_period,
            };
            return Decision {
                allowed: false,
                remaining: limit.saturating_sub(used),
                retry_after,
            };
        }
        state.current += amount;
        Decision {
            allowed: true,
            remaining: limit.saturating_sub(used + amount),
            retry_after: left_in_period,
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where rate-limit and quota counters live: on this node, or shared between nodes.
pub trait CounterStore: Send + Sync + std::fmt::Debug {
    /// Counts `count.amount` against `count.key`, allowing at most `count.limit` per window.
    /// With `amount == 0` it only reports.
    fn hit(&self, count: &Count) -> Decision;

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
    /// The window's length.
    pub period: Duration,
    /// Sliding (rate limits) or fixed (quotas).
    pub window: Window,
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
            let d = store.hit(c);
            out.push(d);
            if !d.allowed {
                break;
            }
        }
        out
    }
}

/// In-process counters.
#[derive(Debug)]
pub struct LocalCounters {
    windows: DashMap<String, (WindowState, i64)>,
    max_keys: usize,
}

impl Default for LocalCounters {
    fn default() -> Self {
        LocalCounters::new(1_000_000)
    }
}

impl LocalCounters {
    /// A store holding at most `max_keys` counters (the least recently counted go first).
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

    /// Drops counters not counted for two of their periods, when the map is full (a flood of
    /// distinct keys must not grow memory without bound).
    fn make_room(&self, now: i64) {
        if self.windows.len() < self.max_keys {
            return;
        }
        self.windows.retain(|_, (_, expires)| *expires > now);
        if self.windows.len() >= self.max_keys {
            // Still full of live counters: forget the half that expires first rather than
            // refuse service.
            let mut ends: Vec<i64> = self.windows.iter().map(|w| w.1).collect();
            ends.sort_unstable();
            if let Some(cut) = ends.get(ends.len() / 2).copied() {
                self.windows.retain(|_, (_, expires)| *expires > cut);
            }
        }
    }
}

impl CounterStore for LocalCounters {
    fn hit(&self, c: &Count) -> Decision {
        let now = now_ms();
        if !self.windows.contains_key(&c.key) {
            self.make_room(now);
        }
        let period_ms = c.period.as_millis().clamp(1, i64::MAX as u128) as i64;
        let mut entry = self
            .windows
            .entry(c.key.clone())
            .or_insert((WindowState::default(), 0));
        let d = c
            .window
            .decide(&mut entry.0, now, c.amount, c.limit, period_ms);
        // A sliding counter matters for two periods; a fixed one for what is left of its own.
        entry.1 = now.saturating_add(period_ms.saturating_mul(2));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(key: &str, limit: u64, period: Duration, window: Window) -> Count {
        Count {
            key: key.into(),
            amount: 1,
            limit,
            period,
            window,
        }
    }

    #[test]
    fn a_sliding_window_carries_the_previous_periods_calls() {
        let w = Window::Sliding;
        let mut s = WindowState::default();
        // Period 1000 ms: 10 calls at 100..1000 ms into period 0.
        for i in 0..10 {
            assert!(w.decide(&mut s, 100 + i, 1, 10, 1000).allowed);
        }
        assert!(!w.decide(&mut s, 900, 1, 10, 1000).allowed);
        // 250 ms into period 1: 75 % of period 0 still in the window (8 calls): 2 more fit.
        let d = w.decide(&mut s, 1250, 1, 10, 1000);
        assert!(d.allowed && d.remaining == 1, "{d:?}");
        assert!(w.decide(&mut s, 1250, 1, 10, 1000).allowed);
        let d = w.decide(&mut s, 1250, 1, 10, 1000);
        assert!(!d.allowed);
        // Retry once enough of period 0 has slid out: at 300 ms, 7 of its 10 remain.
        assert_eq!(d.retry_after, Duration::from_millis(50), "{d:?}");
        assert!(w.decide(&mut s, 1300, 1, 10, 1000).allowed);
        // Two periods on, nothing is carried.
        assert_eq!(w.decide(&mut s, 3100, 1, 10, 1000).remaining, 9);
    }

    #[test]
    fn a_fixed_window_is_aligned_to_its_origin_and_renews_whole() {
        let w = Window::Fixed { origin_ms: 500 };
        let mut s = WindowState::default();
        assert!(w.decide(&mut s, 1400, 1, 2, 1000).allowed);
        let d = w.decide(&mut s, 1400, 1, 2, 1000);
        assert!(d.allowed && d.remaining == 0);
        assert_eq!(
            d.retry_after,
            Duration::from_millis(100),
            "the period ends at 1500"
        );
        assert!(!w.decide(&mut s, 1499, 1, 2, 1000).allowed);
        assert_eq!(w.decide(&mut s, 1500, 1, 2, 1000).remaining, 1);
        // Year one as the origin: a day's quota renews at UTC midnight.
        let day = 86_400_000;
        let w = Window::Fixed {
            origin_ms: YEAR_ONE_MS,
        };
        let d = w.decide(&mut WindowState::default(), 10 * day + 3_600_000, 1, 5, day);
        assert_eq!(d.retry_after, Duration::from_millis(23 * 3_600_000));
    }

    #[test]
    fn the_local_store_keeps_one_counter_per_key() {
        let c = LocalCounters::default();
        let p = Duration::from_secs(60);
        let k = |key: &str| {
            count(
                key,
                2,
                p,
                Window::Fixed {
                    origin_ms: now_ms() - 1000,
                },
            )
        };
        assert!(c.hit(&k("k")).allowed);
        let d = c.hit(&k("k"));
        assert!(d.allowed && d.remaining == 0);
        assert!(!c.hit(&k("k")).allowed);
        assert!(c.hit(&k("other")).allowed);
    }

    #[test]
    fn bounded() {
        let c = LocalCounters::new(10);
        for i in 0..100 {
            c.hit(&count(
                &format!("k{i}"),
                5,
                Duration::from_secs(60),
                Window::Sliding,
            ));
        }
        assert!(c.len() <= 10, "{}", c.len());
    }
}
