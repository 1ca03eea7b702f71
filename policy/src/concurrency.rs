//! The slots of `limit-concurrency`: how many requests are inside the policies it encloses, per
//! key, in this process. A [`Slot`] is held by the request (in its state) while it is inside,
//! across the I/O its steps wait for, and given back when it leaves, fails, or is dropped (a
//! client that went away).
//!
//! Must not: evaluate expressions or know about policies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use dashmap::DashMap;

/// Every key's count of requests inside; shared by all plans and reloads (APIM: a key "may be
/// shared by several policies").
static INSIDE: LazyLock<DashMap<Arc<str>, Arc<AtomicU64>>> = LazyLock::new(DashMap::new);

/// A request's place inside a `limit-concurrency`; dropping it leaves.
#[derive(Debug)]
pub struct Slot(Arc<AtomicU64>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Enters `key` if fewer than `max` requests are inside.
pub(crate) fn enter(key: &str, max: u64) -> Option<Slot> {
    let count = match INSIDE.get(key) {
        Some(c) => c.clone(),
        None => INSIDE.entry(Arc::from(key)).or_default().clone(),
    };
    count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(count))
}

/// How many requests are inside `key` now.
pub fn inside(key: &str) -> u64 {
    INSIDE.get(key).map_or(0, |c| c.load(Ordering::Acquire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back() {
        let a = enter("test-slots", 2).unwrap();
        let b = enter("test-slots", 2).unwrap();
        assert!(enter("test-slots", 2).is_none());
        assert_eq!(inside("test-slots"), 2);
        drop(a);
        let c = enter("test-slots", 2).unwrap();
        drop((b, c));
        assert_eq!(inside("test-slots"), 0);
        assert!(enter("other-key", 1).is_some(), "keys are separate");
    }
}
