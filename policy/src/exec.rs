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
//! sections around the backend call is [`crate::pipeline`]'s. No I/O happens here.

use std::sync::Arc;
use std::time::Duration;

use crate::context::{HeaderWrite, RequestContext};
use crate::last_error::error_body;
use crate::plan::{Block, Op, Plan, Step};
use crate::policies::{self, Fail, Site};
use crate::sections::Section;
use crate::value::Value;

/// How a section ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionOutcome {
    /// Ran to its end; the pipeline goes on.
    Continue,
    /// A response was produced (`return-response`, `mock-response`): send it, skip the rest.
    Respond,
    /// The backend section reached `forward-request` at top-level step `resume_at - 1`: call
    /// the backend, then resume the section at `resume_at` with [`Plan::resume_backend`].
    /// The timeout of the reached `forward-request`, and where to resume.
    Forward {
        /// The reached `forward-request`'s timeout.
        timeout: Duration,
        /// The top-level backend step to resume at.
        resume_at: usize,
    },
    /// A step failed; `context.LastError` is set. Run [`Plan::handle_error`].
    Failed,
}

enum Flow {
    Next,
    Stop(SectionOutcome),
}

impl Plan {
    /// Runs one section from its start.
    pub fn run_section(&self, section: Section, ctx: &mut dyn RequestContext) -> SectionOutcome {
        self.run_from(section, 0, ctx)
    }

    /// Continues the backend section after the backend answered.
    pub fn resume_backend(&self, resume_at: usize, ctx: &mut dyn RequestContext) -> SectionOutcome {
        self.run_from(Section::Backend, resume_at, ctx)
    }

    fn run_from(
        &self,
        section: Section,
        start: usize,
        ctx: &mut dyn RequestContext,
    ) -> SectionOutcome {
        let block = self.section(section);
        for (i, step) in block.iter().enumerate().skip(start) {
            match self.step(step, ctx) {
                Ok(Flow::Next) => {}
                Ok(Flow::Stop(SectionOutcome::Forward { timeout, .. })) => {
                    return SectionOutcome::Forward {
                        timeout,
                        resume_at: i + 1,
                    }
                }
                Ok(Flow::Stop(o)) => return o,
                Err(e) => {
                    ctx.state_mut().last_error = Some(*e);
                    return SectionOutcome::Failed;
                }
            }
        }
        SectionOutcome::Continue
    }

    /// After a failure (LastError set by a step or by the gateway): writes the default error
    /// response, then runs `on-error`, which may change or replace it. A failure inside
    /// `on-error` gives a plain 500.
    pub fn handle_error(&self, ctx: &mut dyn RequestContext) {
        let (status, message) = match &ctx.state().last_error {
            Some(e) => (e.status, e.response_message.clone()),
            None => (500, Arc::from("Internal server error")),
        };
        write_error_response(ctx, status, &message);
        match self.run_section(Section::OnError, ctx) {
            SectionOutcome::Failed => write_error_response(ctx, 500, "Internal server error"),
            SectionOutcome::Continue | SectionOutcome::Respond | SectionOutcome::Forward { .. } => {
            }
        }
    }

    fn block(&self, block: &Block, ctx: &mut dyn RequestContext) -> Result<Flow, Fail> {
        for step in block {
            if let Flow::Stop(o) = self.step(step, ctx)? {
                return Ok(Flow::Stop(o));
            }
        }
        Ok(Flow::Next)
    }

    fn step(&self, step: &Step, ctx: &mut dyn RequestContext) -> Result<Flow, Fail> {
        let origin = &*step.origin;
        match &step.op {
            Op::Choose { whens, otherwise } => {
                for (cond, block) in whens {
                    let v = origin.value(cond, ctx)?;
                    if matches!(v, Value::Bool(true)) {
                        return self.block(block, ctx);
                    }
                }
                self.block(otherwise, ctx)
            }
            Op::ForwardRequest { timeout } => {
                ctx.state_mut().forward_timeout = Some(*timeout);
                Ok(Flow::Stop(SectionOutcome::Forward {
                    timeout: *timeout,
                    resume_at: 0,
                }))
            }
            Op::Policy(p) => {
                let at = Site {
                    origin,
                    counters: &*self.counters,
                };
                Ok(match p.run(ctx, &at)? {
                    policies::Flow::Next => Flow::Next,
                    policies::Flow::Respond => Flow::Stop(SectionOutcome::Respond),
                })
            }
        }
    }
}

fn write_error_response(ctx: &mut dyn RequestContext, status: u16, message: &str) {
    ctx.set_response_status(status, None);
    ctx.write_response_header("Content-Type", "application/json", HeaderWrite::Set);
    ctx.set_response_body(error_body(status, message));
}
