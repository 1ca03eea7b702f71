//! Runs the sections of a compiled [`Plan`] against a [`RequestContext`], with APIM's control
//! flow:
//!
//! - a section runs its steps in order; `return-response`/`mock-response` end the pipeline
//!   with the response built so far;
//! - any failure (a validation that fails, an expression that throws, a backend that cannot be
//!   reached) skips the rest of the section, fills `context.LastError` and runs `on-error`;
//! - if `on-error` does not return a response itself, the client gets the error's status and
//!   `{"statusCode": N, "message": "..."}`, with any headers `on-error` set.
//!
//! Only the control-flow elements (`choose`, `forward-request`) are run here; every other step
//! is one line of dispatch into its policy's file (`crate::policies`). The order of the
//! sections around the backend call is [`crate::pipeline`]'s. No I/O happens here: a step that
//! needs some (`forward-request`, `send-request`) suspends the section with a [`StepPath`] to
//! itself, and the section resumes after it, however deep in `choose` it sits.

use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;

use crate::context::{HeaderWrite, RequestContext};
use crate::last_error::error_body;
use crate::outcall::{Outcall, TokenRequest};
use crate::plan::{Block, Op, Plan, Step};
use crate::policies::{self, Fail, Policy, Site};
use crate::sections::Section;
use crate::value::Value;

/// How a section ended.
#[derive(Debug)]
pub enum SectionOutcome {
    /// Ran to its end; the pipeline goes on.
    Continue,
    /// A response was produced (`return-response`, `mock-response`): send it, skip the rest.
    Respond,
    /// A step waits for I/O the caller does; resume the section with [`Plan::resume_section`]
    /// at the path once it is done.
    Suspend(Io, StepPath),
    /// A step failed; `context.LastError` is set: the pipeline runs on-error.
    Failed,
}

/// The I/O a suspended section waits for.
#[derive(Debug)]
pub enum Io {
    /// `forward-request`: the backend call, with the reached element's timeout.
    Backend {
        /// The reached `forward-request`'s timeout.
        timeout: Duration,
    },
    /// `send-request`: send this request and hand its result back.
    Send(Box<Outcall>),
    /// `authentication-managed-identity`: obtain this token and hand it back.
    Token(Box<TokenRequest>),
    /// `retry`: wait this long, then resume (the next attempt).
    Sleep(Duration),
    /// A `cache-*` policy over the external cache: ask it, and hand back its answer.
    Cache(Box<crate::cache::CacheOp>),
    /// `rate-limit`/`quota` over shared counters: count, and hand back the decisions.
    Count(Box<crate::counters::CountRequest>),
    /// `wait`: send these together (`any`: until the first answers), and hand back what came.
    SendAll {
        /// The requests, in document order.
        requests: Vec<Outcall>,
        /// `for="any"`.
        any: bool,
    },
}

/// What the caller's I/O came to, handed back to the step that asked for it.
#[derive(Debug)]
pub enum Answer {
    /// A `send-request`'s response.
    Sent(crate::outcall::SendResult),
    /// An `authentication-managed-identity`'s token.
    Token(crate::outcall::TokenResult),
    /// The responses of a `wait`'s requests, in order; `None` for one abandoned when another
    /// answered first (`for="any"`).
    SentAll(Vec<Option<crate::outcall::SendResult>>),
    /// A shared counter store's decisions (`Io::Count`).
    Counted(crate::counters::CountResult),
    /// The external cache's answer (`Io::Cache`).
    Cached(crate::cache::CacheResult),
}

/// In a `retry`'s path, after the attempt number: waiting before that attempt.
const WAITING: u32 = u32::MAX;

/// Where a suspended section stands: for each nesting level, outermost first, the index of the
/// step in its block, and after a `choose`'s index the branch taken (its `when`s by position,
/// then `otherwise`). Inline up to three levels of `choose`: no allocation on the request path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepPath(SmallVec<[u32; 7]>);

impl StepPath {
    /// The path of a section's first step.
    pub(crate) fn first() -> StepPath {
        StepPath(smallvec::smallvec![0])
    }
}

enum Flow {
    Next,
    Stop(SectionOutcome),
}

impl Plan {
    /// Runs one section from its start.
    pub fn run_section(&self, section: Section, ctx: &mut dyn RequestContext) -> SectionOutcome {
        self.run_at(section, &[], ctx)
    }

    /// Continues a suspended section after the step at `at`. `answer` is what the I/O that
    /// step asked for came to (`None` after the backend call, which the pipeline hands over
    /// itself).
    pub fn resume_section(
        &self,
        section: Section,
        at: &StepPath,
        answer: Option<Answer>,
        ctx: &mut dyn RequestContext,
    ) -> SectionOutcome {
        if let Some(answer) = answer {
            let step = self.step_at(section, &at.0);
            let done = match (step.map(|s| (&s.op, &*s.origin)), answer) {
                (Some((Op::Policy(Policy::SendRequest(p)), origin)), Answer::Sent(r)) => {
                    p.complete(r, ctx, origin)
                }
                (
                    Some((Op::Policy(Policy::AuthenticationManagedIdentity(p)), origin)),
                    Answer::Token(t),
                ) => p.complete(t, ctx, origin),
                (Some((Op::Wait { block, .. }, _)), Answer::SentAll(results)) => {
                    complete_wait(block, results, ctx)
                }
                (Some((Op::Policy(Policy::RateLimitByKey(p)), origin)), Answer::Counted(r))
                | (Some((Op::Policy(Policy::QuotaByKey(p)), origin)), Answer::Counted(r)) => {
                    p.complete(r, ctx, origin)
                }
                (
                    Some((Op::Policy(Policy::RateLimitBySubscription(p)), origin)),
                    Answer::Counted(r),
                )
                | (
                    Some((Op::Policy(Policy::QuotaBySubscription(p)), origin)),
                    Answer::Counted(r),
                ) => p.complete(r, ctx, origin),
                (Some((Op::Policy(policy), origin)), Answer::Cached(r)) => match policy {
                    Policy::CacheLookupValue(p) => p.complete(r, ctx, origin),
                    Policy::CacheStoreValue(p) => p.complete(r, origin),
                    Policy::CacheRemoveValue(p) => p.complete(r, origin),
                    Policy::CacheLookup(p) => p.complete(r, ctx, origin),
                    Policy::CacheStore(p) => p.complete(r),
                    _ => Ok(policies::Flow::Next),
                },
                // A cursor from another plan: nothing to hand the answer to.
                _ => Ok(policies::Flow::Next),
            };
            match done {
                Err(e) => {
                    ctx.state_mut().last_error = Some(*e);
                    return SectionOutcome::Failed;
                }
                // The answer completed the response (a `cache-lookup` hit from the external
                // cache): the pipeline ends here, as it would have without the suspension.
                Ok(policies::Flow::Respond) => return SectionOutcome::Respond,
                Ok(_) => {}
            }
        }
        self.run_at(section, &at.0, ctx)
    }

    fn run_at(
        &self,
        section: Section,
        from: &[u32],
        ctx: &mut dyn RequestContext,
    ) -> SectionOutcome {
        let mut path = StepPath::default();
        match self.block(self.section(section), from, &mut path, ctx) {
            Ok(Flow::Next) => SectionOutcome::Continue,
            Ok(Flow::Stop(o)) => o,
            Err(e) => {
                ctx.state_mut().last_error = Some(*e);
                SectionOutcome::Failed
            }
        }
    }

    /// The step a path leads to.
    /// Runs a `wait`'s children: policies now (a `send-request` gives its request, with its
    /// path in the block into `issued`), a `choose` by its conditions, into the branch taken.
    fn wait_children(
        &self,
        block: &Block,
        prefix: &mut Vec<u32>,
        issued: &mut Vec<Vec<u32>>,
        requests: &mut Vec<crate::outcall::Outcall>,
        ctx: &mut dyn RequestContext,
    ) -> Result<(), Fail> {
        for (i, s) in block.iter().enumerate() {
            prefix.push(i as u32);
            match &s.op {
                Op::Policy(p) => {
                    let at = Site {
                        origin: &s.origin,
                        counters: &*self.counters,
                    };
                    if let policies::Flow::Send(call) = p.run(ctx, &at)? {
                        requests.push(*call);
                        issued.push(prefix.clone());
                    }
                }
                Op::Choose { whens, otherwise } => {
                    let taken = chosen(whens, &s.origin, ctx)?;
                    let b = whens.get(taken).map_or(otherwise, |(_, b)| b);
                    prefix.push(taken as u32);
                    self.wait_children(b, prefix, issued, requests, ctx)?;
                    prefix.pop();
                }
                // The compiler lets nothing else inside a wait.
                _ => {}
            }
            prefix.pop();
        }
        Ok(())
    }

    fn step_at(&self, section: Section, path: &[u32]) -> Option<&Step> {
        step_in(self.section(section), path)
    }

    /// The error response `context.LastError` calls for, before on-error changes it.
    pub(crate) fn write_default_error(&self, ctx: &mut dyn RequestContext) {
        let (status, message) = match &ctx.state().last_error {
            Some(e) => (e.status, e.response_message.clone()),
            None => (500, Arc::from("Internal server error")),
        };
        write_error_response(ctx, status, &message);
    }

    /// Runs a block from its start (`from` empty) or after the step `from` leads to.
    fn block(
        &self,
        block: &Block,
        from: &[u32],
        path: &mut StepPath,
        ctx: &mut dyn RequestContext,
    ) -> Result<Flow, Fail> {
        let mut start = 0;
        if let Some((&i, rest)) = from.split_first() {
            if let Some((&branch, inner)) = rest.split_first() {
                if let Some(Step {
                    op: Op::Retry(r),
                    origin,
                }) = block.get(i as usize)
                {
                    // Resuming inside the `retry` at `i`, in attempt `branch`.
                    path.0.push(i);
                    if let Flow::Stop(o) = self.retry(r, origin, branch, inner, path, ctx)? {
                        return Ok(Flow::Stop(o));
                    }
                    path.0.pop();
                    return self.block(block, &[i], path, ctx);
                }
                // Resuming inside the `choose` at `i`: finish its branch first.
                let Some(b) = block.get(i as usize).and_then(|s| branch_of(s, branch)) else {
                    return Ok(Flow::Next);
                };
                path.0.extend([i, branch]);
                let r = self.block(b, inner, path, ctx);
                if let Some(Step {
                    op: Op::LimitConcurrency { .. },
                    ..
                }) = block.get(i as usize)
                {
                    // The request leaves the limit it waited inside.
                    leave_unless_suspended(&r, ctx);
                }
                if let Flow::Stop(o) = r? {
                    return Ok(Flow::Stop(o));
                }
                path.0.truncate(path.0.len() - 2);
            }
            start = i as usize + 1;
        }
        for (i, step) in block.iter().enumerate().skip(start) {
            path.0.push(i as u32);
            if let Flow::Stop(o) = self.step(step, path, ctx)? {
                return Ok(Flow::Stop(o));
            }
            path.0.pop();
        }
        Ok(Flow::Next)
    }

    fn step(
        &self,
        step: &Step,
        path: &mut StepPath,
        ctx: &mut dyn RequestContext,
    ) -> Result<Flow, Fail> {
        let origin = &*step.origin;
        match &step.op {
            Op::Choose { whens, otherwise } => {
                let taken = chosen(whens, origin, ctx)?;
                let b = whens.get(taken).map_or(otherwise, |(_, b)| b);
                path.0.push(taken as u32);
                let r = self.block(b, &[], path, ctx)?;
                path.0.pop();
                Ok(r)
            }
            Op::Retry(r) => self.retry(r, origin, 0, &[], path, ctx),
            Op::Wait { any, block } => {
                // The cache lookups and `choose` conditions run now; the requests go out
                // together. Where each came from is kept for when they have answered.
                let mut requests = Vec::new();
                let mut issued = Vec::new();
                self.wait_children(block, &mut Vec::new(), &mut issued, &mut requests, ctx)?;
                if requests.is_empty() {
                    return Ok(Flow::Next);
                }
                ctx.state_mut().wait_sends = issued;
                Ok(Flow::Stop(SectionOutcome::Suspend(
                    Io::SendAll {
                        requests,
                        any: *any,
                    },
                    path.clone(),
                )))
            }
            Op::LimitConcurrency { key, max, block } => {
                let k = origin.text(key, ctx)?;
                let Some(slot) = crate::concurrency::enter(&k, *max) else {
                    return Err(origin.fail(
                        "ConcurrencyLimitExceeded",
                        &format!("More than {max} requests are inside limit-concurrency '{k}'."),
                        429,
                        "Too many requests",
                    ));
                };
                ctx.state_mut().slots.push(slot);
                path.0.push(0);
                let r = self.block(block, &[], path, ctx);
                path.0.pop();
                leave_unless_suspended(&r, ctx);
                r
            }
            Op::ForwardRequest { timeout } => {
                ctx.state_mut().forward_timeout = Some(*timeout);
                Ok(Flow::Stop(SectionOutcome::Suspend(
                    Io::Backend { timeout: *timeout },
                    path.clone(),
                )))
            }
            Op::Policy(p) => {
                let at = Site {
                    origin,
                    counters: &*self.counters,
                };
                Ok(match p.run(ctx, &at)? {
                    policies::Flow::Next => Flow::Next,
                    policies::Flow::Respond => Flow::Stop(SectionOutcome::Respond),
                    policies::Flow::Send(call) => {
                        Flow::Stop(SectionOutcome::Suspend(Io::Send(call), path.clone()))
                    }
                    policies::Flow::Token(t) => {
                        Flow::Stop(SectionOutcome::Suspend(Io::Token(t), path.clone()))
                    }
                    policies::Flow::Count(c) => {
                        Flow::Stop(SectionOutcome::Suspend(Io::Count(c), path.clone()))
                    }
                    policies::Flow::Cache(c) => {
                        Flow::Stop(SectionOutcome::Suspend(Io::Cache(c), path.clone()))
                    }
                })
            }
        }
    }
}

impl Plan {
    /// A `retry` from attempt `attempt` (0: the first run), resuming inside it at `from`
    /// (empty: from the attempt's start; `[WAITING]`: after the wait before it).
    fn retry(
        &self,
        r: &crate::plan::Retry,
        origin: &crate::policies::Origin,
        mut attempt: u32,
        mut from: &[u32],
        path: &mut StepPath,
        ctx: &mut dyn RequestContext,
    ) -> Result<Flow, Fail> {
        loop {
            if from == [WAITING] {
                from = &[];
            }
            path.0.push(attempt);
            if let Flow::Stop(o) = self.block(&r.block, from, path, ctx)? {
                return Ok(Flow::Stop(o));
            }
            path.0.pop();
            from = &[];
            if attempt >= r.count || !matches!(origin.value(&r.condition, ctx)?, Value::Bool(true))
            {
                return Ok(Flow::Next);
            }
            attempt += 1;
            let wait = r.wait_before(attempt);
            if !wait.is_zero() {
                path.0.extend([attempt, WAITING]);
                let at = path.clone();
                path.0.truncate(path.0.len() - 2);
                return Ok(Flow::Stop(SectionOutcome::Suspend(Io::Sleep(wait), at)));
            }
        }
    }
}

/// Hands each of a `wait`'s `send-request`s its result, in order (an abandoned one sets
/// nothing); the first failure ends the wait.
/// The first `when` whose condition holds, or `whens.len()` for `otherwise`.
fn chosen(
    whens: &[(crate::expr::Expression, Block)],
    origin: &crate::policies::Origin,
    ctx: &dyn RequestContext,
) -> Result<usize, Fail> {
    for (i, (cond, _)) in whens.iter().enumerate() {
        if matches!(origin.value(cond, ctx)?, Value::Bool(true)) {
            return Ok(i);
        }
    }
    Ok(whens.len())
}

/// The step `path` leads to inside `block`: a step's index, then for a step with branches the
/// branch and the path inside it.
fn step_in<'b>(block: &'b Block, path: &[u32]) -> Option<&'b Step> {
    let mut block = block;
    let mut rest = path;
    loop {
        match rest {
            [i] => return block.get(*i as usize),
            [i, branch, inner @ ..] => {
                block = branch_of(block.get(*i as usize)?, *branch)?;
                rest = inner;
            }
            [] => return None,
        }
    }
}

fn complete_wait(
    block: &Block,
    results: Vec<Option<crate::outcall::SendResult>>,
    ctx: &mut dyn RequestContext,
) -> Result<policies::Flow, Fail> {
    let issued = std::mem::take(&mut ctx.state_mut().wait_sends);
    for (path, result) in issued.iter().zip(results) {
        if let (Some(s), Some(r)) = (step_in(block, path), result) {
            if let Op::Policy(Policy::SendRequest(p)) = &s.op {
                p.complete(r, ctx, &s.origin)?;
            }
        }
    }
    Ok(policies::Flow::Next)
}

/// The branch `branch` of the `choose` step `s` (its `when`s, then `otherwise`), or the block
/// of a `limit-concurrency` (branch 0).
fn branch_of(s: &Step, branch: u32) -> Option<&Block> {
    match &s.op {
        Op::Choose { whens, otherwise } => {
            Some(whens.get(branch as usize).map_or(otherwise, |(_, b)| b))
        }
        Op::LimitConcurrency { block, .. } => Some(block),
        Op::Retry(r) => Some(&r.block),
        _ => None,
    }
}

/// Gives back the innermost `limit-concurrency` slot unless the block suspended for I/O (then
/// the request is still inside; it leaves when the block ends after resuming).
fn leave_unless_suspended(r: &Result<Flow, Fail>, ctx: &mut dyn RequestContext) {
    if !matches!(r, Ok(Flow::Stop(SectionOutcome::Suspend(..)))) {
        ctx.state_mut().slots.pop();
    }
}

pub(crate) fn write_error_response(ctx: &mut dyn RequestContext, status: u16, message: &str) {
    ctx.set_response_status(status, None);
    ctx.write_response_header("Content-Type", "application/json", HeaderWrite::Set);
    ctx.set_response_body(error_body(status, message));
}
