//! Compiles a route's scope documents into its [`Plan`]: sections into blocks of steps, the
//! control-flow elements (`choose`, `forward-request`, `include-fragment`) itself, and every
//! other policy by one line of dispatch to its reader in `crate::policies`.
//!
//! Nothing is skipped silently: an element this module does not know, or one in a section APIM
//! does not allow it in, is a compile error at its position.

use std::sync::Arc;
use std::time::Duration;

use crate::context::RouteInfo;
use crate::counters::{CounterStore, LocalCounters};
use crate::document::{merge_section, Fragments, ScopeDocument, Statement};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::plan::{Block, Op, Plan, Step};
use crate::policies::{HeaderTarget, Origin, Policy, Reader, CATALOGUE};
use crate::sections::{Scope, Section};

/// What a route's compilation needs besides its documents.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// `context.Api`/`context.Operation` of the route.
    pub route: RouteInfo,
    /// Counter store for rate limits and quotas; shared across routes and reloads.
    pub counters: Arc<dyn CounterStore>,
    /// Secret values to redact from error messages.
    pub secrets: Vec<String>,
    /// Where `validate-jwt`'s `openid-config` URLs are registered; shared across routes and
    /// reloads, fetched by the gateway.
    pub openid: Arc<crate::openid::OpenIdRegistry>,
    /// Whether the gateway has an external (shared) cache: `caching-type="external"` and
    /// `"prefer-external"` use it, suspending the section while the gateway asks it.
    pub external_cache: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            route: RouteInfo::default(),
            counters: Arc::new(LocalCounters::default()),
            secrets: Vec::new(),
            openid: Arc::default(),
            external_cache: false,
        }
    }
}

/// Compiles the effective policy of one route from its scope documents (outermost first).
pub fn compile_route(
    docs: &[&ScopeDocument],
    fragments: &Fragments,
    opts: &CompileOptions,
) -> Result<Plan, CompileError> {
    let secrets: Vec<&str> = opts.secrets.iter().map(String::as_str).collect();
    compile_inner(docs, fragments, opts).map_err(|e| e.redact(&secrets))
}

fn compile_inner(
    docs: &[&ScopeDocument],
    fragments: &Fragments,
    opts: &CompileOptions,
) -> Result<Plan, CompileError> {
    // A fresh flag for this route: the checker sets it when an expression reads the body.
    let route = RouteInfo {
        reads_request_body: Default::default(),
        reads_response_body: Default::default(),
        ..opts.route.clone()
    };
    let mut c = Compiler {
        route: &route,
        fragments,
        openid: &opts.openid,
        external_cache: opts.external_cache,
        explicit_forward: false,
        retries_backend: false,
        after_forward: false,
    };
    let mut blocks = Vec::new();
    for section in Section::ALL {
        let stmts = merge_section(docs, section, fragments)?;
        c.after_forward = false;
        blocks.push(c.block(&stmts, section, section.as_str())?);
    }
    let mut it = blocks.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let reads_request_body = route
        .reads_request_body
        .load(std::sync::atomic::Ordering::Relaxed);
    let reads_response_body = route
        .reads_response_body
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(Plan {
        reads_request_body,
        reads_response_body,
        retries_backend: c.retries_backend,
        route: route.clone(),
        inbound: next(),
        backend: next(),
        outbound: next(),
        on_error: next(),
        explicit_forward: c.explicit_forward,
        counters: opts.counters.clone(),
    })
}

/// The control-flow elements and the sections where APIM allows them; every other policy is
/// in the catalogue (`crate::policies::CATALOGUE`).
const CONTROL_FLOW: &[(&str, &[Section])] = &[
    (
        "choose",
        &[
            Section::Inbound,
            Section::Backend,
            Section::Outbound,
            Section::OnError,
        ],
    ),
    ("forward-request", &[Section::Backend]),
    (
        "wait",
        &[Section::Inbound, Section::Backend, Section::Outbound],
    ),
    (
        "retry",
        &[
            Section::Inbound,
            Section::Backend,
            Section::Outbound,
            Section::OnError,
        ],
    ),
    (
        "limit-concurrency",
        &[
            Section::Inbound,
            Section::Backend,
            Section::Outbound,
            Section::OnError,
        ],
    ),
];

/// Every policy element and the sections where APIM allows it, control flow first.
fn policies() -> impl Iterator<Item = &'static (&'static str, &'static [Section])> {
    CONTROL_FLOW.iter().chain(CATALOGUE.iter())
}

struct Compiler<'r> {
    route: &'r RouteInfo,
    /// For `<include-fragment>` inside `<when>`/`<otherwise>` (section level is expanded by
    /// the document layer).
    fragments: &'r Fragments,
    openid: &'r crate::openid::OpenIdRegistry,
    external_cache: bool,
    explicit_forward: bool,
    /// `forward-request` inside `retry`.
    retries_backend: bool,
    /// In the backend section, statements after `forward-request` act on the response.
    after_forward: bool,
}

impl Compiler<'_> {
    fn block(
        &mut self,
        stmts: &[Statement],
        section: Section,
        path: &str,
    ) -> Result<Block, CompileError> {
        let mut out = Vec::with_capacity(stmts.len());
        let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for s in stmts {
            let n = counts.entry(s.element.name.as_str()).or_insert(0);
            *n += 1;
            let step_path = format!("{path}/{}[{n}]", s.element.name);
            out.push(self.step(s, section, &step_path)?);
        }
        Ok(out)
    }

    fn nested(
        &mut self,
        parent: &El,
        scope: Scope,
        section: Section,
        path: &str,
    ) -> Result<Block, CompileError> {
        for c in parent.e.elements() {
            if let Some(why) = crate::policies::refused_why(&c.name) {
                let el = El {
                    e: c,
                    src: parent.src,
                };
                return Err(el.err(ErrorKind::UnknownPolicy, why));
            }
        }
        let mut allowed: Vec<&str> = policies().map(|(n, _)| *n).collect();
        allowed.push("include-fragment");
        parent.only_children(&allowed, false)?;
        let mut stmts = Vec::new();
        for c in parent.e.elements() {
            crate::document::expand(
                c,
                parent.src,
                scope,
                self.fragments,
                &mut stmts,
                &mut Vec::new(),
            )?;
        }
        self.block(&stmts, section, path)
    }

    fn step(&mut self, s: &Statement, section: Section, path: &str) -> Result<Step, CompileError> {
        let el = El {
            e: s.element,
            src: s.source,
        };
        let name = s.element.name.as_str();
        let Some((policy, sections)) = policies().find(|(n, _)| *n == name) else {
            let msg = if name == "base" {
                "<base/> is only allowed directly inside a section".to_string()
            } else if let Some(why) = crate::policies::refused_why(name) {
                why
            } else {
                format!(
                    "unknown policy <{name}>; expected one of {}",
                    policies().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                )
            };
            return Err(el.err(
                if name == "base" {
                    ErrorKind::Structure
                } else {
                    ErrorKind::UnknownPolicy
                },
                msg,
            ));
        };
        if !sections.contains(&section) {
            return Err(el.err(
                ErrorKind::Structure,
                format!(
                    "<{name}> is not allowed in the {section} section; allowed in {}",
                    sections
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let origin = Arc::new(Origin {
            policy,
            scope: s.scope,
            section,
            path: path.into(),
            id: el
                .opt("id")
                .map_or_else(|| Arc::from(""), |a| Arc::from(a.value.text.as_str())),
        });
        let route = self.route;
        let before_backend =
            section == Section::Inbound || (section == Section::Backend && !self.after_forward);
        let target = if before_backend {
            HeaderTarget::Request
        } else {
            HeaderTarget::Response
        };
        let op = match name {
            "choose" => {
                el.only_attrs(&[])?;
                el.only_children(&["when", "otherwise"], false)?;
                let mut whens = Vec::new();
                let mut otherwise = Vec::new();
                let mut seen_otherwise = false;
                for (i, c) in el.e.elements().enumerate() {
                    let ce = El { e: c, src: el.src };
                    if c.name == "when" {
                        if seen_otherwise {
                            return Err(ce.err(
                                ErrorKind::Structure,
                                "<when> after <otherwise>; expected <otherwise> last",
                            ));
                        }
                        ce.only_attrs(&["condition"])?;
                        let cond = ce.bool_expr(ce.req("condition")?, route)?;
                        let block =
                            self.nested(&ce, s.scope, section, &format!("{path}/when[{}]", i + 1))?;
                        whens.push((cond, block));
                    } else {
                        if seen_otherwise {
                            return Err(
                                ce.err(ErrorKind::Structure, "<otherwise> appears more than once")
                            );
                        }
                        seen_otherwise = true;
                        ce.only_attrs(&[])?;
                        otherwise =
                            self.nested(&ce, s.scope, section, &format!("{path}/otherwise"))?;
                    }
                }
                if whens.is_empty() {
                    return Err(el.err(ErrorKind::Structure, "<choose> needs at least one <when>"));
                }
                Op::Choose { whens, otherwise }
            }
            "wait" => {
                el.only_attrs(&["for"])?;
                let any = match el.opt("for").map(|a| (a, a.value.text.as_str())) {
                    None | Some((_, "all")) => false,
                    Some((_, "any")) => true,
                    Some((a, other)) => {
                        return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!("for '{other}'; expected all or any"),
                        ))
                    }
                };
                wait_children(&el)?;
                let block = self.nested(&el, s.scope, section, path)?;
                Op::Wait { any, block }
            }
            "retry" => {
                el.only_attrs(&[
                    "condition",
                    "count",
                    "interval",
                    "max-interval",
                    "delta",
                    "first-fast-retry",
                ])?;
                let condition = el.bool_expr(el.req("condition")?, route)?;
                let count = el.u64_attr(el.req("count")?, 1, 50)? as u32;
                let interval = el.u64_attr(el.req("interval")?, 0, 3600)?;
                let secs = |n: &str| el.opt(n).map(|a| el.u64_attr(a, 0, 3600)).transpose();
                let (max_interval, delta) = (secs("max-interval")?, secs("delta")?);
                let first_fast_retry = match el.opt("first-fast-retry") {
                    Some(a) => match el.bool_expr(a, route)?.as_const() {
                        Some(crate::value::Value::Bool(b)) => *b,
                        _ => return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            "first-fast-retry must be true or false (certgate decides it at load)",
                        )),
                    },
                    None => false,
                };
                let block = self.nested(&el, s.scope, section, path)?;
                if forwards(&block) {
                    // The backend may be called again: the gateway calls the route whole.
                    self.retries_backend = true;
                    route
                        .reads_response_body
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Op::Retry(Box::new(crate::plan::Retry {
                    condition,
                    count,
                    interval,
                    max_interval,
                    delta,
                    first_fast_retry,
                    block,
                }))
            }
            "limit-concurrency" => {
                el.only_attrs(&["key", "max-count"])?;
                let key = el.template(el.req("key")?, route)?;
                let max = el.u64_attr(el.req("max-count")?, 1, u32::MAX as u64)?;
                let block = self.nested(&el, s.scope, section, path)?;
                Op::LimitConcurrency { key, max, block }
            }
            "forward-request" => {
                el.only_attrs(&[
                    "timeout",
                    "timeout-ms",
                    "follow-redirects",
                    "buffer-request-body",
                    "buffer-response",
                    "fail-on-error-status-code",
                    "http-version",
                ])?;
                el.only_children(&[], false)?;
                for flag in [
                    "follow-redirects",
                    "buffer-request-body",
                    "buffer-response",
                    "fail-on-error-status-code",
                ] {
                    el.bool_attr(flag, false)?;
                }
                if el.bool_attr("follow-redirects", false)? {
                    return Err(el.err(ErrorKind::InvalidValue, "follow-redirects=\"true\" is not supported; redirects are returned to the client"));
                }
                let timeout = match (el.opt("timeout"), el.opt("timeout-ms")) {
                    (Some(_), Some(_)) => {
                        return Err(el.err(
                            ErrorKind::InvalidValue,
                            "use either timeout or timeout-ms, not both",
                        ))
                    }
                    (Some(a), None) => Duration::from_secs(el.u64_attr(a, 0, 240)?),
                    (None, Some(a)) => Duration::from_millis(el.u64_attr(a, 0, 240_000)?),
                    (None, None) => Duration::from_secs(300),
                };
                self.explicit_forward = true;
                self.after_forward = true;
                Op::ForwardRequest { timeout }
            }
            _ => {
                let reader = Reader {
                    name,
                    route,
                    target,
                    openid: self.openid,
                    external_cache: self.external_cache,
                };
                match Policy::read(&el, &reader) {
                    Some(p) => Op::Policy(p?),
                    None => {
                        return Err(
                            el.err(ErrorKind::UnknownPolicy, format!("unknown policy <{name}>"))
                        )
                    }
                }
            }
        };
        Ok(Step { origin, op })
    }
}

/// Whether a block reaches `forward-request` anywhere.
fn forwards(b: &Block) -> bool {
    b.iter().any(|s| match &s.op {
        Op::ForwardRequest { .. } => true,
        Op::Choose { whens, otherwise } => {
            whens.iter().any(|(_, b)| forwards(b)) || forwards(otherwise)
        }
        Op::LimitConcurrency { block, .. } => forwards(block),
        Op::Retry(r) => forwards(&r.block),
        Op::Wait { .. } => false,
        Op::Policy(_) => false,
    })
}

/// What a `wait` may hold: `send-request`, `cache-lookup-value` and `choose` (APIM's list);
/// inside a `choose`'s branches also `set-variable` and `trace`, which run as the conditions
/// are decided, before the requests go out. Nothing that answers, waits or calls the backend.
fn wait_children(el: &El) -> Result<(), CompileError> {
    fn check(el: &El, in_choose: bool) -> Result<(), CompileError> {
        for c in el.e.elements() {
            let ce = El { e: c, src: el.src };
            match c.name.as_str() {
                "send-request" | "cache-lookup-value" | "choose" => {}
                "when" | "otherwise" if el.e.name == "choose" => {}
                "set-variable" | "trace" if in_choose => {}
                other => {
                    return Err(ce.err(
                        ErrorKind::Structure,
                        format!("<{other}> inside <wait>: a wait holds send-request, cache-lookup-value and choose (whose branches may also set-variable and trace)"),
                    ))
                }
            }
            if matches!(c.name.as_str(), "choose" | "when" | "otherwise") {
                check(&ce, true)?;
            }
        }
        Ok(())
    }
    check(el, false)
}
