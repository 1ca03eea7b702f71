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
    /// `limit-concurrency`: at most `max` requests inside `block` per `key` at a time.
    LimitConcurrency {
        key: crate::expr::Template,
        max: u64,
        block: Block,
    },
    Policy(Policy),
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
                        _ => 0,
                    }
                })
                .sum()
        }
        Section::ALL.iter().map(|s| count(self.section(*s))).sum()
    }
}
