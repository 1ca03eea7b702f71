//! The compiled plan of one route: what each section does, as data the executor walks.
//!
//! Built once per route per configuration snapshot by [`crate::compile`]; immutable and shared
//! by all requests. Every step knows where it came from (policy name, scope, section, path, id)
//! so a failure can fill `context.LastError` without looking anything up.

use std::sync::Arc;
use std::time::Duration;

use crate::context::RouteInfo;
use crate::counters::CounterStore;
use crate::expr::Expression;
use crate::policies::{Origin, Policy};
use crate::sections::Section;

#[derive(Clone, Debug)]
pub struct Step {
    pub origin: Arc<Origin>,
    pub op: Op,
}

pub(crate) type Block = Vec<Step>;

/// What a step does: one of the control-flow elements, which shape the plan, or a policy of
/// the catalogue (`crate::policies`).
#[derive(Clone, Debug)]
pub enum Op {
    Choose {
        whens: Vec<(Expression, Block)>,
        otherwise: Block,
    },
    ForwardRequest {
        timeout: Duration,
    },
    /// `retry`: `block` once, then again while `condition` holds, at most `count` more times.
    Retry(Box<Retry>),
    /// `wait`: its `send-request` children are sent together; `any`: the first answer ends
    /// the wait and the other requests are abandoned.
    Wait {
        any: bool,
        block: Block,
    },
    /// `limit-concurrency`: at most `max` requests inside `block` per `key` at a time.
    LimitConcurrency {
        key: crate::expr::Template,
        max: u64,
        block: Block,
    },
    Policy(Policy),
}

/// `retry`'s settings and children.
#[derive(Clone, Debug)]
pub struct Retry {
    pub condition: Expression,
    /// Retries after the first run, 1 to 50.
    pub count: u32,
    /// Seconds between runs.
    pub interval: u64,
    /// With `delta`: the cap of the exponential wait.
    pub max_interval: Option<u64>,
    /// The linear (or, with `max-interval`, exponential) increment.
    pub delta: Option<u64>,
    /// The first retry runs at once.
    pub first_fast_retry: bool,
    pub block: Block,
}

impl Retry {
    /// The wait before retry number `n` (1-based), as APIM's algorithms give it: a fixed
    /// `interval`; with `delta`, `interval + (n - 1) * delta`; with `delta` and
    /// `max-interval`, `interval + (2^(n-1) - 1) * delta` capped at `max-interval` (APIM
    /// multiplies `delta` by a random factor in 0.8..1.2; certgate does not, so waits are
    /// predictable).
    pub fn wait_before(&self, n: u32) -> Duration {
        if n == 1 && self.first_fast_retry {
            return Duration::ZERO;
        }
        let k = u64::from(n.saturating_sub(1));
        let secs = match (self.delta, self.max_interval) {
            (None, None) => self.interval,
            (None, Some(max)) => self.interval.min(max),
            (Some(d), None) => self.interval.saturating_add(k.saturating_mul(d)),
            (Some(d), Some(max)) => {
                let factor = 1u64.checked_shl(k.min(62) as u32).unwrap_or(u64::MAX) - 1;
                self.interval
                    .saturating_add(factor.saturating_mul(d))
                    .min(max)
            }
        };
        Duration::from_secs(secs)
    }
}

/// A route's compiled policy.
#[derive(Debug)]
pub struct Plan {
    /// The route it was compiled for.
    pub route: RouteInfo,
    /// Steps of `inbound`.
    pub inbound: Block,
    /// Steps of `backend`.
    pub backend: Block,
    /// Steps of `outbound`.
    pub outbound: Block,
    /// Steps of `on-error`.
    pub on_error: Block,
    /// Whether the backend section forwards explicitly; without `forward-request` the
    /// executor forwards after the backend section (see README: decisions).
    pub explicit_forward: bool,
    /// Whether an expression reads `context.Request.Body`: the gateway buffers the body first.
    pub reads_request_body: bool,
    /// Whether a policy reads or rewrites the backend's body after it answered (a Liquid
    /// `set-body`, `find-and-replace`): the gateway then receives the backend's whole response
    /// before the backend section's remainder and outbound run.
    pub reads_response_body: bool,
    /// Whether `forward-request` sits inside `retry`: the backend may be called again, so the
    /// route is called whole (`reads_response_body` is set too).
    pub retries_backend: bool,
    /// Where its rate limits and quotas count.
    pub counters: Arc<dyn CounterStore>,
}

impl Plan {
    /// The steps of a section.
    pub fn section(&self, s: Section) -> &Block {
        match s {
            Section::Inbound => &self.inbound,
            Section::Backend => &self.backend,
            Section::Outbound => &self.outbound,
            Section::OnError => &self.on_error,
        }
    }

    /// Whether the inbound section validates client certificates (metrics label "Valid").
    pub fn validates_client_certificate(&self) -> bool {
        fn any(b: &Block) -> bool {
            b.iter().any(|s| match &s.op {
                Op::Policy(Policy::ValidateClientCertificate(_)) => true,
                Op::Choose { whens, otherwise } => {
                    whens.iter().any(|(_, b)| any(b)) || any(otherwise)
                }
                Op::LimitConcurrency { block, .. } => any(block),
                Op::Retry(r) => any(&r.block),
                Op::Wait { block, .. } => any(block),
                _ => false,
            })
        }
        any(&self.inbound)
    }

    /// Number of steps, nested ones included (for `certgate check` summaries).
    pub fn step_count(&self) -> usize {
        fn count(b: &Block) -> usize {
            b.iter()
                .map(|s| {
                    1 + match &s.op {
                        Op::Choose { whens, otherwise } => {
                            whens.iter().map(|(_, b)| count(b)).sum::<usize>() + count(otherwise)
                        }
                        Op::LimitConcurrency { block, .. } => count(block),
                        Op::Retry(r) => count(&r.block),
                        Op::Wait { block, .. } => count(block),
                        _ => 0,
                    }
                })
                .sum()
        }
        Section::ALL.iter().map(|s| count(self.section(*s))).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(interval: u64, max: Option<u64>, delta: Option<u64>, fast: bool) -> Retry {
        Retry {
            condition: Expression::constant(crate::value::Value::Bool(true)),
            count: 6,
            interval,
            max_interval: max,
            delta,
            first_fast_retry: fast,
            block: Vec::new(),
        }
    }

    #[test]
    fn retry_waits_follow_apims_algorithms() {
        let secs = |r: &Retry| {
            (1..=6)
                .map(|n| r.wait_before(n).as_secs())
                .collect::<Vec<_>>()
        };
        assert_eq!(secs(&retry(5, None, None, false)), [5, 5, 5, 5, 5, 5]);
        assert_eq!(secs(&retry(5, None, Some(2), false)), [5, 7, 9, 11, 13, 15]);
        // APIM's documented example: interval = delta = 10 s, max-interval = 100 s.
        assert_eq!(
            secs(&retry(10, Some(100), Some(10), false)),
            [10, 20, 40, 80, 100, 100]
        );
        assert_eq!(
            secs(&retry(10, Some(100), Some(10), true)),
            [0, 20, 40, 80, 100, 100]
        );
        assert_eq!(secs(&retry(50, Some(20), None, false)), [20; 6]);
    }
}
