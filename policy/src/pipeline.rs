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

use crate::cache::CacheOp;
use crate::context::RequestContext;
use crate::counters::CountRequest;
use crate::exec::Answer;
use crate::exec::{Io, SectionOutcome, StepPath};
use crate::last_error::LastError;
use crate::outcall::{Outcall, SendFailure, SendResult, TokenRequest, TokenResult};
use crate::plan::Plan;
use crate::sections::Section;

/// What the caller does next.
#[derive(Debug)]
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
    /// Send `request` (a `send-request`), then hand its result to [`Plan::after_send`].
    Send {
        /// What to send.
        request: Box<Outcall>,
        /// Pass back to [`Plan::after_send`].
        cursor: Cursor,
    },
    /// Send `requests` together (`wait`; `any`: until the first answers, abandoning the
    /// others), then hand what came back, in order, to [`Plan::after_send_all`].
    SendAll {
        /// What to send.
        requests: Vec<Outcall>,
        /// `for="any"`.
        any: bool,
        /// Pass back to [`Plan::after_send_all`].
        cursor: Cursor,
    },
    /// Wait `duration` (`retry`'s interval), then call [`Plan::after_sleep`].
    Sleep {
        /// How long.
        duration: Duration,
        /// Pass back to [`Plan::after_sleep`].
        cursor: Cursor,
    },
    /// Obtain an access token (`authentication-managed-identity`), then hand it to
    /// [`Plan::resume`].
    Token {
        /// Which token.
        request: Box<TokenRequest>,
        /// Pass back to [`Plan::resume`].
        cursor: Cursor,
    },
    /// Count in the shared counter store (`rate-limit`, `quota` and their by-key forms), then
    /// hand the decisions to [`Plan::resume`] as [`Answer::Counted`].
    Count {
        /// What to count.
        request: Box<CountRequest>,
        /// Pass back to [`Plan::resume`].
        cursor: Cursor,
    },
    /// Ask the external cache (`cache-*` policies over it), then hand its answer to
    /// [`Plan::resume`] as [`Answer::Cached`].
    Cache {
        /// What to do.
        op: Box<CacheOp>,
        /// Pass back to [`Plan::resume`].
        cursor: Cursor,
    },
    /// The pipeline is over: send the response the context holds.
    Finish(PipelineResult),
}

/// Where the pipeline resumes once the caller's I/O is done (opaque to callers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    stage: Stage,
    at: StepPath,
}

/// Where in APIM's order a pipeline stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Inbound,
    /// The backend section; `answered` once the backend was called.
    Backend {
        answered: bool,
    },
    /// The implicit forward after a backend section without `forward-request`.
    ImplicitForward,
    /// Outbound, which ends the pipeline as `done` when it runs through.
    Outbound {
        done: PipelineResult,
        answered: bool,
    },
    OnError,
}

impl Stage {
    /// The section a suspended step of this stage is in.
    fn section(self) -> Section {
        match self {
            Stage::Inbound => Section::Inbound,
            Stage::Backend { .. } | Stage::ImplicitForward => Section::Backend,
            Stage::Outbound { .. } => Section::Outbound,
            Stage::OnError => Section::OnError,
        }
    }

    /// Whether the response in the context is the backend's.
    fn answered(self) -> bool {
        matches!(
            self,
            Stage::Backend { answered: true } | Stage::Outbound { answered: true, .. }
        )
    }
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
    /// Runs inbound and the backend section up to its `forward-request` (or its end), or to
    /// the first request a policy sends.
    pub fn start(&self, ctx: &mut dyn RequestContext) -> Next {
        let first = self.run_section(Section::Inbound, ctx);
        self.settle(Stage::Inbound, first, ctx)
    }

    /// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): the first
    /// `cors` of the inbound section answers it alone, as APIM does; `None` when the inbound
    /// section has none (the request then runs as any other).
    pub fn preflight(&self, ctx: &mut dyn RequestContext) -> Option<PipelineResult> {
        let cors = self.inbound.iter().find_map(|s| match &s.op {
            crate::plan::Op::Policy(crate::policies::Policy::Cors(c)) => Some(c),
            _ => None,
        })?;
        cors.preflight(ctx);
        Some(PipelineResult::Responded)
    }

    /// Continues after the backend call: on a failure, on-error; otherwise the rest of the
    /// backend section and then outbound, unless one of them fails or answers. The context's
    /// response is the backend's from here on.
    pub fn after_backend(
        &self,
        cursor: Cursor,
        backend: Result<(), LastError>,
        ctx: &mut dyn RequestContext,
    ) -> Next {
        if let Err(e) = backend {
            ctx.state_mut().last_error = Some(e);
            return self.settle(
                Stage::Backend { answered: false },
                SectionOutcome::Failed,
                ctx,
            );
        }
        let outcome = match cursor.stage {
            Stage::ImplicitForward => SectionOutcome::Continue,
            // Nothing follows a lone `forward-request`.
            _ if self.lone_forward().is_some() => SectionOutcome::Continue,
            _ => self.resume_section(Section::Backend, &cursor.at, None, ctx),
        };
        self.settle(cursor.stage, outcome, ctx)
    }

    /// Continues a pipeline suspended for a policy's I/O (`Next::Send`, `Token`, `SendAll`,
    /// `Sleep`): the step that asked takes `answer` (`None` after a `retry`'s wait), and the
    /// pipeline goes on from there.
    pub fn resume(
        &self,
        cursor: Cursor,
        answer: Option<Answer>,
        ctx: &mut dyn RequestContext,
    ) -> Next {
        let outcome = self.resume_section(cursor.stage.section(), &cursor.at, answer, ctx);
        self.settle(cursor.stage, outcome, ctx)
    }

    /// [`Plan::resume`] after a `send-request`'s request was sent.
    pub fn after_send(
        &self,
        cursor: Cursor,
        sent: SendResult,
        ctx: &mut dyn RequestContext,
    ) -> Next {
        self.resume(cursor, Some(Answer::Sent(sent)), ctx)
    }

    /// [`Plan::resume`] after a `wait`'s requests (`None`: one abandoned when another
    /// answered first).
    pub fn after_send_all(
        &self,
        cursor: Cursor,
        results: Vec<Option<SendResult>>,
        ctx: &mut dyn RequestContext,
    ) -> Next {
        self.resume(cursor, Some(Answer::SentAll(results)), ctx)
    }

    /// [`Plan::resume`] after a `retry`'s wait: its next attempt.
    pub fn after_sleep(&self, cursor: Cursor, ctx: &mut dyn RequestContext) -> Next {
        self.resume(cursor, None, ctx)
    }

    /// The timeout of the backend section's only step when that step is `forward-request`,
    /// the section most routes have: the pipeline then knows its outcome without running it (a
    /// request-path saving, same result).
    fn lone_forward(&self) -> Option<Duration> {
        match self.backend.as_slice() {
            [crate::plan::Step {
                op: crate::plan::Op::ForwardRequest { timeout },
                ..
            }] => Some(*timeout),
            _ => None,
        }
    }

    /// Takes the pipeline from the end of a section run (`outcome` in `stage`) to the next
    /// I/O or to its end. APIM's order lives here and nowhere else.
    fn settle(
        &self,
        mut stage: Stage,
        mut outcome: SectionOutcome,
        ctx: &mut dyn RequestContext,
    ) -> Next {
        loop {
            let section = match (stage, outcome) {
                (_, SectionOutcome::Suspend(Io::Send(request), at)) => {
                    return Next::Send {
                        request,
                        cursor: Cursor { stage, at },
                    }
                }
                (_, SectionOutcome::Suspend(Io::Token(request), at)) => {
                    return Next::Token {
                        request,
                        cursor: Cursor { stage, at },
                    }
                }
                (_, SectionOutcome::Suspend(Io::SendAll { requests, any }, at)) => {
                    return Next::SendAll {
                        requests,
                        any,
                        cursor: Cursor { stage, at },
                    }
                }
                (_, SectionOutcome::Suspend(Io::Cache(op), at)) => {
                    return Next::Cache {
                        op,
                        cursor: Cursor { stage, at },
                    }
                }
                (_, SectionOutcome::Suspend(Io::Count(request), at)) => {
                    return Next::Count {
                        request,
                        cursor: Cursor { stage, at },
                    }
                }
                (_, SectionOutcome::Suspend(Io::Sleep(duration), at)) => {
                    return Next::Sleep {
                        duration,
                        cursor: Cursor { stage, at },
                    }
                }
                (Stage::OnError, o) => {
                    if let SectionOutcome::Failed = o {
                        // A failure inside on-error: a plain 500.
                        crate::exec::write_error_response(ctx, 500, "Internal server error");
                    }
                    return Next::Finish(PipelineResult::Error);
                }
                (_, SectionOutcome::Failed) => {
                    // on-error, over a fresh response when the one in the context is the
                    // backend's: an error answer carries none of its headers or body.
                    if stage.answered() {
                        ctx.clear_response();
                    }
                    self.write_default_error(ctx);
                    stage = Stage::OnError;
                    Section::OnError
                }
                (_, SectionOutcome::Respond) => return Next::Finish(PipelineResult::Responded),
                // `forward-request` is refused outside the backend section at compile time.
                (Stage::Inbound, _) => {
                    if let Some(timeout) = self.lone_forward() {
                        // What running the backend section would give, without running it.
                        ctx.state_mut().forward_timeout = Some(timeout);
                        return Next::CallBackend {
                            timeout: Some(timeout),
                            cursor: Cursor {
                                stage: Stage::Backend { answered: true },
                                at: StepPath::first(),
                            },
                        };
                    }
                    stage = Stage::Backend { answered: false };
                    Section::Backend
                }
                (
                    Stage::Backend { answered: false },
                    SectionOutcome::Suspend(Io::Backend { timeout }, at),
                ) => {
                    return Next::CallBackend {
                        timeout: Some(timeout),
                        cursor: Cursor {
                            stage: Stage::Backend { answered: true },
                            at,
                        },
                    }
                }
                (Stage::Backend { answered: false }, _) if !self.explicit_forward => {
                    return Next::CallBackend {
                        timeout: None,
                        cursor: Cursor {
                            stage: Stage::ImplicitForward,
                            at: StepPath::default(),
                        },
                    }
                }
                (Stage::Backend { answered: false }, _) => {
                    stage = Stage::Outbound {
                        done: PipelineResult::NotForwarded,
                        answered: false,
                    };
                    Section::Outbound
                }
                (
                    Stage::Backend { answered: true },
                    SectionOutcome::Suspend(Io::Backend { timeout }, at),
                ) if self.retries_backend => {
                    // `retry` around `forward-request`: the backend is called again (the
                    // gateway calls such routes whole, so nothing of the last answer is sent).
                    return Next::CallBackend {
                        timeout: Some(timeout),
                        cursor: Cursor {
                            stage: Stage::Backend { answered: true },
                            at,
                        },
                    };
                }
                (
                    Stage::Backend { answered: true },
                    SectionOutcome::Suspend(Io::Backend { .. }, _),
                ) => {
                    // One backend call per request: a second `forward-request` on the same path.
                    ctx.state_mut().last_error = Some(LastError::gateway(
                        "forward-request",
                        "BackendAlreadyCalled",
                        "forward-request was reached again after the backend answered; certgate calls the backend once per request.",
                        Section::Backend,
                        500,
                    ).with_response_message("Internal server error"));
                    outcome = SectionOutcome::Failed;
                    continue;
                }
                (Stage::Backend { answered: true } | Stage::ImplicitForward, _) => {
                    stage = Stage::Outbound {
                        done: PipelineResult::Proxied,
                        answered: true,
                    };
                    Section::Outbound
                }
                (Stage::Outbound { done, .. }, _) => return Next::Finish(done),
            };
            outcome = self.run_section(section, ctx);
        }
    }
}

/// The whole pipeline for one request with `backend` as the backend call and `send` as the
/// sender of `send-request`s: the driver tests and benchmarks use (the gateway drives the
/// same machine from Pingora's hooks).
pub fn run_pipeline_sending(
    plan: &Plan,
    ctx: &mut dyn RequestContext,
    backend: impl FnMut(&mut dyn RequestContext, Duration) -> Result<(), BackendFailure>,
    send: impl FnMut(&Outcall) -> SendResult,
) -> PipelineResult {
    run_pipeline_with(plan, ctx, backend, send, |_| {
        Err("this driver obtains no tokens".to_string())
    })
}

/// [`run_pipeline_sending`] with `token` as the source of managed-identity access tokens.
pub fn run_pipeline_with(
    plan: &Plan,
    ctx: &mut dyn RequestContext,
    mut backend: impl FnMut(&mut dyn RequestContext, Duration) -> Result<(), BackendFailure>,
    mut send: impl FnMut(&Outcall) -> SendResult,
    mut token: impl FnMut(&TokenRequest) -> TokenResult,
) -> PipelineResult {
    let mut next = plan.start(ctx);
    loop {
        next = match next {
            Next::Finish(r) => return r,
            Next::CallBackend { timeout, cursor } => {
                let r =
                    backend(ctx, timeout.unwrap_or(DEFAULT_BACKEND_TIMEOUT)).map_err(Into::into);
                plan.after_backend(cursor, r, ctx)
            }
            Next::Send { request, cursor } => {
                let r = send(&request);
                plan.after_send(cursor, r, ctx)
            }
            Next::Token { request, cursor } => {
                let t = token(&request);
                plan.resume(cursor, Some(Answer::Token(t)), ctx)
            }
            // One after the other here; with `any`, the first answers and the rest are
            // abandoned.
            Next::SendAll {
                requests,
                any,
                cursor,
            } => {
                let results = requests
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (!any || i == 0).then(|| send(r)))
                    .collect();
                plan.after_send_all(cursor, results, ctx)
            }
            // This driver does not wait (tests and benchmarks): the next attempt runs at once.
            Next::Sleep { cursor, .. } => plan.after_sleep(cursor, ctx),
            // Nor does it reach a shared store: the store's own fallback answers.
            Next::Count { request, cursor } => {
                let decisions = request.answer_from(&*plan.counters);
                plan.resume(cursor, Some(Answer::Counted(Ok(decisions))), ctx)
            }
            // The context's own cache stands in for the external one.
            Next::Cache { op, cursor } => {
                let found = op.apply_to(ctx.cache());
                plan.resume(cursor, Some(Answer::Cached(Ok(found))), ctx)
            }
        }
    }
}

/// [`run_pipeline_sending`] for plans that send no requests: a `send-request` fails as a
/// connection failure.
pub fn run_pipeline(
    plan: &Plan,
    ctx: &mut dyn RequestContext,
    backend: impl FnMut(&mut dyn RequestContext, Duration) -> Result<(), BackendFailure>,
) -> PipelineResult {
    run_pipeline_sending(plan, ctx, backend, |_| {
        Err(SendFailure::Connect("this driver sends no requests".into()))
    })
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
                    match plan.after_backend(cursor, r, &mut ctx) {
                        Next::Finish(r) => r,
                        next => panic!("{name}: {next:?} after the backend"),
                    }
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
