//! APIM's order for one request, coded once: inbound → backend up to `forward-request` → (the
//! caller's backend call) → the rest of backend → outbound, and on-error on any failure.
//!
//! This is a sans-I/O state machine (rustls's `conn/mod.rs` is the model): [`Plan::start`] runs
//! until the backend must be called or the request is answered, and [`Plan::after_backend`]
//! takes the backend's result and runs to the end. The caller does the I/O in between and sends
//! whatever response the context holds when the machine says [`Next::Finish`]. Both
//! [`run_pipeline`] (tests, benchmarks) and the gateway's Pingora hooks drive it; neither decides
//! APIM semantics itself, so the two cannot drift apart.
//!
//! Must not: touch sockets, know about Pingora, or run a single policy step (that is
//! [`crate::exec`]).

use std::time::Duration;

use crate::context::RequestContext;
use crate::exec::SectionOutcome;
use crate::last_error::LastError;
use crate::plan::Plan;
use crate::sections::Section;

/// What the caller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Call the backend, then hand its result to [`Plan::after_backend`] with `cursor`.
    /// `timeout` is the reached `forward-request`'s; `None` when the backend section has no
    /// `forward-request` anywhere and the gateway forwards after it with the backend's own
    /// timeouts (README: decisions).
    CallBackend {
        /// The reached `forward-request`'s timeout.
        timeout: Option<Duration>,
        /// Pass back to [`Plan::after_backend`].
        cursor: Cursor,
    },
    /// The pipeline is over without a backend call: send the response the context holds.
    Finish(PipelineResult),
}

/// Where the backend section resumes once the backend has answered (opaque to callers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The top-level backend step after the reached `forward-request`; `None` for the
    /// implicit forward after the whole section.
    resume_at: Option<usize>,
}

/// How a request's pipeline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineResult {
    /// The backend was called and its response, as the backend section's remainder and
    /// outbound left it, goes to the client.
    Proxied,
    /// A policy answered (`return-response`, `mock-response`): its response goes out as built.
    Responded,
    /// An error response was produced (the default one, as on-error left it).
    Error,
    /// The backend section did not reach its `forward-request` (e.g. an untaken `<choose>`
    /// branch): no backend call; outbound ran over APIM's empty `200 OK` and that goes out.
    NotForwarded,
}

/// Why a backend call failed (for [`run_pipeline`]'s callers; the gateway builds its
/// [`LastError`]s from Pingora's error types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendFailure {
    /// The connection failed (`BackendConnectionFailure`).
    Connect(String),
    /// No answer in time (`Timeout`).
    Timeout(String),
}

impl From<BackendFailure> for LastError {
    fn from(f: BackendFailure) -> LastError {
        match f {
            BackendFailure::Connect(m) => LastError::backend_connection_failure(&m),
            BackendFailure::Timeout(m) => LastError::timeout(&m),
        }
    }
}

impl Plan {
    /// Runs inbound and the backend section up to its `forward-request` (or its end).
    pub fn start(&self, ctx: &mut dyn RequestContext) -> Next {
        match self.run_section(Section::Inbound, ctx) {
            // `forward-request` is refused outside the backend section at compile time.
            SectionOutcome::Continue | SectionOutcome::Forward { .. } => {}
            SectionOutcome::Respond => return Next::Finish(PipelineResult::Responded),
            SectionOutcome::Failed => return Next::Finish(self.fail(ctx, false)),
        }
        match self.run_section(Section::Backend, ctx) {
            SectionOutcome::Forward { timeout, resume_at } => Next::CallBackend {
                timeout: Some(timeout),
                cursor: Cursor {
                    resume_at: Some(resume_at),
                },
            },
            SectionOutcome::Continue if !self.explicit_forward => Next::CallBackend {
                timeout: None,
                cursor: Cursor { resume_at: None },
            },
            SectionOutcome::Continue => {
                Next::Finish(self.outbound(ctx, PipelineResult::NotForwarded, false))
            }
            SectionOutcome::Respond => Next::Finish(PipelineResult::Responded),
            SectionOutcome::Failed => Next::Finish(self.fail(ctx, false)),
        }
    }

    /// Continues after the backend call: on a failure, on-error; otherwise the rest of the
    /// backend section and then outbound, unless one of them fails or answers. The context's
    /// response is the backend's from here on.
    pub fn after_backend(
        &self,
        cursor: Cursor,
        backend: Result<(), LastError>,
        ctx: &mut dyn RequestContext,
    ) -> PipelineResult {
        if let Err(e) = backend {
            ctx.state_mut().last_error = Some(e);
            return self.fail(ctx, false);
        }
        let Some(resume_at) = cursor.resume_at else {
            return self.outbound(ctx, PipelineResult::Proxied, true);
        };
        match self.resume_backend(resume_at, ctx) {
            SectionOutcome::Continue => self.outbound(ctx, PipelineResult::Proxied, true),
            // One backend call per request: a second `forward-request` on the same path.
            SectionOutcome::Forward { .. } => {
                ctx.state_mut().last_error = Some(LastError::gateway(
                    "forward-request",
                    "BackendAlreadyCalled",
                    "forward-request was reached again after the backend answered; certgate calls the backend once per request.",
                    Section::Backend,
                    500,
                ).with_response_message("Internal server error"));
                self.fail(ctx, true)
            }
            SectionOutcome::Respond => PipelineResult::Responded,
            SectionOutcome::Failed => self.fail(ctx, true),
        }
    }

    fn outbound(
        &self,
        ctx: &mut dyn RequestContext,
        done: PipelineResult,
        backend_answered: bool,
    ) -> PipelineResult {
        match self.run_section(Section::Outbound, ctx) {
            SectionOutcome::Failed => self.fail(ctx, backend_answered),
            SectionOutcome::Respond => PipelineResult::Responded,
            SectionOutcome::Continue | SectionOutcome::Forward { .. } => done,
        }
    }

    /// on-error, over a fresh response when the one in the context is the backend's: an error
    /// answer carries none of the backend's headers or body.
    fn fail(&self, ctx: &mut dyn RequestContext, backend_answered: bool) -> PipelineResult {
        if backend_answered {
            ctx.clear_response();
        }
        self.handle_error(ctx);
        PipelineResult::Error
    }
}

/// The whole pipeline for one request with `backend` as the backend call: the driver tests
/// and benchmarks use (the gateway drives the same machine from Pingora's hooks).
pub fn run_pipeline(
    plan: &Plan,
    ctx: &mut dyn RequestContext,
    mut backend: impl FnMut(&mut dyn RequestContext, Duration) -> Result<(), BackendFailure>,
) -> PipelineResult {
    match plan.start(ctx) {
        Next::Finish(r) => r,
        Next::CallBackend { timeout, cursor } => {
            let r = backend(ctx, timeout.unwrap_or(DEFAULT_BACKEND_TIMEOUT)).map_err(Into::into);
            plan.after_backend(cursor, r, ctx)
        }
    }
}

/// APIM's `forward-request` default timeout, used by [`run_pipeline`] for the implicit forward.
const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile_route, CompileOptions};
    use crate::context::SimpleContext;
    use crate::document::{Fragments, ScopeDocument};
    use crate::sections::Scope;
    use crate::source::Source;

    fn plan(backend: &str, outbound: &str) -> Plan {
        let text = format!(
            "<policies><backend>{backend}</backend><outbound>{outbound}</outbound><on-error><set-header name=\"X-Err\" exists-action=\"override\"><value>@(context.LastError.Reason)</value></set-header></on-error></policies>"
        );
        let doc = ScopeDocument::parse(
            Scope::Operation,
            Source::plain("op.xml", text.as_str()).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        compile_route(&[&doc], &Fragments::new(), &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The backend's answer as the gateway sees it: a 200 with a header of its own.
    fn backend_answers(ctx: &mut dyn RequestContext) {
        ctx.set_response_status(200, None);
        ctx.write_response_header("X-Backend", "1", crate::context::HeaderWrite::Set);
        ctx.set_response_body(b"backend".to_vec());
    }

    const FAILS: &str =
        r#"<set-variable name="x" value="@((string)context.Variables["missing"])"/>"#;
    const ANSWERS: &str = r#"<return-response><set-status code="203"/></return-response>"#;
    const OUT: &str =
        r#"<set-header name="X-Out" exists-action="override"><value>1</value></set-header>"#;

    /// (backend section, outbound section, backend result) → (the first step's answer, how
    /// the pipeline ends, status, whether outbound ran, whether the backend's header survived).
    #[test]
    fn every_plan_shape_drives_to_its_apim_ending() {
        let timeout = Some(Duration::from_secs(7));
        let t = |s: &str| s.replace("FWD", r#"<forward-request timeout="7"/>"#);
        type Case<'a> = (
            &'a str,
            String,
            bool,
            Option<Option<Duration>>,
            PipelineResult,
            u16,
            bool,
            bool,
        );
        let cases: Vec<Case> = vec![
            // No forward-request anywhere: the implicit forward with the backend's timeouts.
            (
                "implicit",
                String::new(),
                true,
                Some(None),
                PipelineResult::Proxied,
                200,
                true,
                true,
            ),
            (
                "explicit",
                t("FWD"),
                true,
                Some(timeout),
                PipelineResult::Proxied,
                200,
                true,
                true,
            ),
            (
                "backend fails",
                t("FWD"),
                false,
                Some(timeout),
                PipelineResult::Error,
                502,
                false,
                false,
            ),
            (
                "fails after",
                t(&format!("FWD{FAILS}")),
                true,
                Some(timeout),
                PipelineResult::Error,
                500,
                false,
                false,
            ),
            (
                "answers after",
                t(&format!("FWD{ANSWERS}")),
                true,
                Some(timeout),
                PipelineResult::Responded,
                203,
                false,
                false,
            ),
            (
                "forwards twice",
                t("FWDFWD"),
                true,
                Some(timeout),
                PipelineResult::Error,
                500,
                false,
                false,
            ),
            (
                "answers before",
                t(&format!("{ANSWERS}FWD")),
                true,
                None,
                PipelineResult::Responded,
                203,
                false,
                false,
            ),
            (
                "fails before",
                t(&format!("{FAILS}FWD")),
                true,
                None,
                PipelineResult::Error,
                500,
                false,
                false,
            ),
            (
                "not reached",
                t(r#"<choose><when condition="@(false)">FWD</when></choose>"#),
                true,
                None,
                PipelineResult::NotForwarded,
                200,
                true,
                false,
            ),
        ];
        for (name, backend, ok, call, ending, status, outbound_ran, backend_header) in cases {
            let plan = plan(&backend, OUT);
            let mut ctx = SimpleContext::new("GET", "/");
            let result = match (plan.start(&mut ctx), call) {
                (Next::CallBackend { timeout, cursor }, Some(want)) => {
                    assert_eq!(timeout, want, "{name}");
                    let r = if ok {
                        backend_answers(&mut ctx);
                        Ok(())
                    } else {
                        Err(BackendFailure::Connect("refused".into()).into())
                    };
                    plan.after_backend(cursor, r, &mut ctx)
                }
                (Next::Finish(r), None) => r,
                (next, call) => panic!("{name}: {next:?}, expected a backend call {call:?}"),
            };
            assert_eq!(result, ending, "{name}");
            assert_eq!(ctx.status, status, "{name}");
            assert_eq!(
                ctx.response_header("X-Out").is_some(),
                outbound_ran,
                "{name}"
            );
            assert_eq!(
                ctx.response_header("X-Backend").is_some(),
                backend_header,
                "{name}"
            );
            assert_eq!(
                ctx.response_header("X-Err").is_some(),
                ending == PipelineResult::Error,
                "{name}"
            );
        }
    }
}
