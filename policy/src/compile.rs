//! Compiles policy elements into plan steps (SPEC §3 list of policies).
//!
//! One function per policy, each reading its attributes and children with the helpers of
//! [`El`], which refuse unknown attributes and children with the element's position. Nothing
//! is skipped silently: an element this module does not know is a compile error.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cert::DistinguishedName;
use crate::context::RouteInfo;
use crate::context::Severity;
use crate::counters::{CounterStore, LocalCounters};
use crate::document::{merge_section, Statement};
use crate::document::{Fragments, ScopeDocument};
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::plan::*;
use crate::sections::{Scope, Section};
use crate::source::{Source, Spanned};
use crate::thumbprints::normalise_hex;
use crate::value::Value;

use crate::xml::{Attr, Element, Node};

/// What a route's compilation needs besides its documents.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub route: RouteInfo,
    /// Counter store for rate limits and quotas; shared across routes and reloads.
    pub counters: Arc<dyn CounterStore>,
    /// Secret values to redact from error messages.
    pub secrets: Vec<String>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            route: RouteInfo::default(),
            counters: Arc::new(LocalCounters::default()),
            secrets: Vec::new(),
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
    let mut c = Compiler {
        route: &opts.route,
        fragments,
        explicit_forward: false,
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
    Ok(Plan {
        route: opts.route.clone(),
        inbound: next(),
        backend: next(),
        outbound: next(),
        on_error: next(),
        explicit_forward: c.explicit_forward,
        counters: opts.counters.clone(),
    })
}

/// Policies and the sections where APIM allows them.
const POLICIES: &[(&str, &[Section])] = {
    use Section::*;
    &[
        ("choose", &[Inbound, Backend, Outbound, OnError]),
        ("return-response", &[Inbound, Backend, Outbound, OnError]),
        ("set-status", &[Inbound, Backend, Outbound, OnError]),
        ("set-header", &[Inbound, Backend, Outbound, OnError]),
        ("set-body", &[Inbound, Backend, Outbound, OnError]),
        ("set-variable", &[Inbound, Backend, Outbound, OnError]),
        ("trace", &[Inbound, Backend, Outbound, OnError]),
        ("set-backend-service", &[Inbound, Backend]),
        ("authentication-certificate", &[Inbound]),
        ("check-header", &[Inbound]),
        ("ip-filter", &[Inbound]),
        ("rewrite-uri", &[Inbound]),
        ("mock-response", &[Inbound, Outbound, OnError]),
        ("forward-request", &[Backend]),
        ("rate-limit-by-key", &[Inbound]),
        ("quota-by-key", &[Inbound]),
        ("validate-client-certificate", &[Inbound]),
    ]
};

struct Compiler<'r> {
    route: &'r RouteInfo,
    /// For `<include-fragment>` inside `<when>`/`<otherwise>` (section level is expanded by
    /// the document layer).
    fragments: &'r Fragments,
    explicit_forward: bool,
    /// In the backend section, statements after `forward-request` act on the response.
    after_forward: bool,
}

/// An element with its source, and the attribute/child readers every policy uses.
struct El<'a> {
    e: &'a Element,
    src: &'a Source,
}

impl<'a> El<'a> {
    fn err(&self, kind: ErrorKind, msg: impl Into<String>) -> CompileError {
        self.src.error(self.e.offset, kind, msg)
    }

    fn attr_err(&self, a: &Attr, kind: ErrorKind, msg: impl Into<String>) -> CompileError {
        self.src
            .error(a.value.src_offset(0).max(a.offset), kind, msg)
    }

    /// Refuses attributes not in `allowed` (`id` is allowed everywhere, as in APIM).
    fn only_attrs(&self, allowed: &[&str]) -> Result<(), CompileError> {
        for a in &self.e.attrs {
            if a.name != "id" && !allowed.contains(&a.name.as_str()) {
                let expected = if allowed.is_empty() {
                    "no attributes".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(self.src.error(
                    a.offset,
                    ErrorKind::UnknownAttribute,
                    format!(
                        "unknown attribute '{}' on <{}>; expected {expected}",
                        a.name, self.e.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses child elements not in `allowed`, and text unless `text_ok`.
    fn only_children(&self, allowed: &[&str], text_ok: bool) -> Result<(), CompileError> {
        for n in &self.e.children {
            match n {
                Node::Element(c) if !allowed.contains(&c.name.as_str()) => {
                    let expected = if allowed.is_empty() {
                        "no child elements".to_string()
                    } else {
                        allowed
                            .iter()
                            .map(|a| format!("<{a}>"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(self.src.error(
                        c.offset,
                        ErrorKind::UnknownPolicy,
                        format!(
                            "unexpected element <{}> inside <{}>; expected {expected}",
                            c.name, self.e.name
                        ),
                    ));
                }
                Node::Text(t) if !text_ok => {
                    return Err(self.src.error(
                        t.src_offset(0),
                        ErrorKind::Structure,
                        format!("unexpected text inside <{}>", self.e.name),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn opt(&self, name: &str) -> Option<&'a Attr> {
        self.e.attr(name)
    }

    fn req(&self, name: &str) -> Result<&'a Attr, CompileError> {
        self.opt(name).ok_or_else(|| {
            self.err(
                ErrorKind::MissingAttribute,
                format!("<{}> needs the attribute '{name}'", self.e.name),
            )
        })
    }

    fn children(&self, name: &'a str) -> impl Iterator<Item = El<'a>> + 'a {
        let src = self.src;
        self.e
            .elements()
            .filter(move |c| c.name == name)
            .map(move |e| El { e, src })
    }

    fn child(&self, name: &'a str) -> Result<Option<El<'a>>, CompileError> {
        let mut it = self.children(name);
        let first = it.next();
        if let Some(second) = it.next() {
            return Err(second.err(
                ErrorKind::Structure,
                format!("<{name}> appears more than once in <{}>", self.e.name),
            ));
        }
        Ok(first)
    }

    fn literal(&self, a: &'a Attr) -> Result<&'a str, CompileError> {
        if expr::is_expression(&a.value.text) {
            return Err(self.attr_err(
                a,
                ErrorKind::InvalidValue,
                format!(
                    "attribute '{}' of <{}> must be a literal, not an expression",
                    a.name, self.e.name
                ),
            ));
        }
        Ok(a.value.text.as_str())
    }

    fn bool_attr(&self, name: &str, default: bool) -> Result<bool, CompileError> {
        match self.opt(name) {
            None => Ok(default),
            Some(a) => match a.value.text.trim() {
                "true" | "True" => Ok(true),
                "false" | "False" => Ok(false),
                other => Err(self.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("attribute '{name}' is '{other}'; expected true or false"),
                )),
            },
        }
    }

    fn u64_attr(&self, a: &Attr, min: u64, max: u64) -> Result<u64, CompileError> {
        let t = self.literal(a)?.trim();
        match t.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(self.attr_err(
                a,
                ErrorKind::InvalidValue,
                format!(
                    "attribute '{}' is '{t}'; expected a whole number from {min} to {max}",
                    a.name
                ),
            )),
        }
    }

    fn template(&self, a: &Attr, route: &RouteInfo) -> Result<Template, CompileError> {
        Template::compile(&a.value, self.src, route)
    }

    fn text(&self) -> Option<Spanned> {
        self.e.text().map(|t| t.trimmed())
    }
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
        let mut allowed: Vec<&str> = POLICIES.iter().map(|(n, _)| *n).collect();
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
        let Some((policy, sections)) = POLICIES.iter().find(|(n, _)| *n == name) else {
            let msg = if name == "base" {
                "<base/> is only allowed directly inside a section".to_string()
            } else {
                format!(
                    "unknown policy <{name}>; expected one of {}",
                    POLICIES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
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
                        let cond = self.bool_expr(&ce, ce.req("condition")?)?;
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
            "return-response" => {
                el.only_attrs(&["response-variable-name"])?;
                if let Some(a) = el.opt("response-variable-name") {
                    return Err(el.attr_err(a, ErrorKind::InvalidValue, "response-variable-name needs send-request, which certgate does not support; build the response with <set-status>, <set-header> and <set-body>"));
                }
                el.only_children(&["set-status", "set-header", "set-body"], false)?;
                let status = el
                    .child("set-status")?
                    .map(|c| self.set_status(&c))
                    .transpose()?;
                let headers = el
                    .children("set-header")
                    .map(|c| self.set_header(&c, HeaderTarget::Response))
                    .collect::<Result<Vec<_>, _>>()?;
                let body = el
                    .child("set-body")?
                    .map(|c| self.set_body(&c))
                    .transpose()?;
                Op::ReturnResponse {
                    status,
                    headers,
                    body,
                }
            }
            "set-status" => Op::SetStatus(self.set_status(&el)?),
            "set-header" => Op::SetHeader(self.set_header(&el, target)?),
            "set-body" => Op::SetBody(self.set_body(&el)?),
            "set-variable" => {
                el.only_attrs(&["name", "value"])?;
                el.only_children(&[], false)?;
                let n = el.req("name")?;
                let v = el.req("value")?;
                let value = el.template(v, route)?;
                if let Template::Expr(e) = &value {
                    check_variable_type(&el, v, e.ty())?;
                }
                Op::SetVariable {
                    name: el.literal(n)?.into(),
                    value,
                }
            }
            "trace" => {
                el.only_attrs(&["source", "severity"])?;
                el.only_children(&["message", "metadata"], false)?;
                let source = el.literal(el.req("source")?)?.into();
                let severity = match el.opt("severity").map(|a| (a, a.value.text.as_str())) {
                    None | Some((_, "verbose")) => Severity::Verbose,
                    Some((_, "information")) => Severity::Information,
                    Some((_, "error")) => Severity::Error,
                    Some((a, other)) => {
                        return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!("severity '{other}'; expected verbose, information or error"),
                        ))
                    }
                };
                let Some(m) = el.child("message")? else {
                    return Err(el.err(ErrorKind::Structure, "<trace> needs a <message> child"));
                };
                m.only_attrs(&[])?;
                m.only_children(&[], true)?;
                let message = match m.text() {
                    Some(t) => Template::compile(&t, el.src, route)?,
                    None => Template::Literal("".into()),
                };
                let mut metadata = Vec::new();
                for md in el.children("metadata") {
                    md.only_attrs(&["name", "value"])?;
                    md.only_children(&[], false)?;
                    metadata.push((
                        md.literal(md.req("name")?)?.into(),
                        md.template(md.req("value")?, route)?,
                    ));
                }
                Op::Trace {
                    source,
                    severity,
                    message,
                    metadata,
                }
            }
            "set-backend-service" => {
                el.only_attrs(&["base-url", "backend-id"])?;
                el.only_children(&[], false)?;
                match (el.opt("base-url"), el.opt("backend-id")) {
                    (Some(u), None) => {
                        let t = el.template(u, route)?;
                        if let Some(lit) = t.literal() {
                            if !(lit.starts_with("http://") || lit.starts_with("https://")) {
                                return Err(el.attr_err(
                                    u,
                                    ErrorKind::InvalidValue,
                                    format!("base-url '{lit}' is not an absolute http(s) URL"),
                                ));
                            }
                        }
                        Op::SetBackendService(BackendChoice::BaseUrl(t))
                    }
                    (None, Some(b)) => {
                        Op::SetBackendService(BackendChoice::BackendId(el.template(b, route)?))
                    }
                    _ => {
                        return Err(el.err(
                            ErrorKind::MissingAttribute,
                            "<set-backend-service> needs exactly one of base-url and backend-id",
                        ))
                    }
                }
            }
            "authentication-certificate" => {
                el.only_attrs(&["thumbprint", "certificate-id", "body", "password"])?;
                el.only_children(&[], false)?;
                let choice = match (el.opt("thumbprint"), el.opt("certificate-id"), el.opt("body")) {
                    (Some(t), None, None) => CertificateChoice::Thumbprint(el.template(t, route)?),
                    (None, Some(c), None) => CertificateChoice::Id(el.template(c, route)?),
                    (None, None, Some(b)) => {
                        let Some(body) = expr::compile(&b.value, el.src, route)? else {
                            return Err(el.attr_err(b, ErrorKind::InvalidValue, "body must be an expression giving the certificate as byte[]"));
                        };
                        if !matches!(body.ty(), Ty::Bytes | Ty::Object) {
                            return Err(el.attr_err(b, ErrorKind::ExpressionType, format!("body is of type '{}'; expected byte[]", body.ty())));
                        }
                        let password = el.opt("password").map(|p| el.template(p, route)).transpose()?;
                        CertificateChoice::Body { body, password }
                    }
                    _ => return Err(el.err(ErrorKind::MissingAttribute, "<authentication-certificate> needs exactly one of thumbprint, certificate-id and body")),
                };
                if el.opt("password").is_some() && !matches!(choice, CertificateChoice::Body { .. })
                {
                    return Err(el.err(ErrorKind::InvalidValue, "password is only used with body"));
                }
                Op::AuthenticationCertificate(choice)
            }
            "check-header" => {
                el.only_attrs(&[
                    "name",
                    "failed-check-httpcode",
                    "failed-check-error-message",
                    "ignore-case",
                ])?;
                el.only_children(&["value"], false)?;
                let name = el.literal(el.req("name")?)?.into();
                let failed_code = el.u64_attr(el.req("failed-check-httpcode")?, 100, 599)? as u16;
                let failed_message = el.template(el.req("failed-check-error-message")?, route)?;
                let ignore_case = el.bool_attr("ignore-case", false)?;
                let mut values = Vec::new();
                for v in el.children("value") {
                    v.only_attrs(&[])?;
                    values.push(Arc::from(v.text().map(|t| t.text).unwrap_or_default()));
                }
                Op::CheckHeader {
                    name,
                    failed_code,
                    failed_message,
                    ignore_case,
                    values,
                }
            }
            "ip-filter" => {
                el.only_attrs(&["action"])?;
                el.only_children(&["address", "address-range"], false)?;
                let a = el.req("action")?;
                let allow = match a.value.text.as_str() {
                    "allow" => true,
                    "forbid" => false,
                    other => {
                        return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!("action '{other}'; expected allow or forbid"),
                        ))
                    }
                };
                let mut addresses = Vec::new();
                let mut ranges = Vec::new();
                for c in el.e.elements() {
                    let ce = El { e: c, src: el.src };
                    if c.name == "address" {
                        ce.only_attrs(&[])?;
                        let t = ce.text().map(|t| t.text).unwrap_or_default();
                        addresses.push(t.parse::<IpAddr>().map_err(|_| {
                            ce.err(
                                ErrorKind::InvalidValue,
                                format!("'{t}' is not an IP address"),
                            )
                        })?);
                    } else {
                        ce.only_attrs(&["from", "to"])?;
                        let parse = |n: &str| -> Result<IpAddr, CompileError> {
                            let a = ce.req(n)?;
                            a.value.text.trim().parse().map_err(|_| {
                                ce.attr_err(
                                    a,
                                    ErrorKind::InvalidValue,
                                    format!("'{}' is not an IP address", a.value.text),
                                )
                            })
                        };
                        let (from, to) = (parse("from")?, parse("to")?);
                        if from.is_ipv4() != to.is_ipv4() || from > to {
                            return Err(ce.err(
                                ErrorKind::InvalidValue,
                                "address-range needs from <= to, of the same address family",
                            ));
                        }
                        ranges.push((from, to));
                    }
                }
                Op::IpFilter {
                    allow,
                    addresses,
                    ranges,
                }
            }
            "rewrite-uri" => {
                el.only_attrs(&["template", "copy-unmatched-params"])?;
                el.only_children(&[], false)?;
                let template = el.template(el.req("template")?, route)?;
                Op::RewriteUri {
                    template,
                    copy_unmatched_params: el.bool_attr("copy-unmatched-params", true)?,
                }
            }
            "mock-response" => {
                el.only_attrs(&["status-code", "content-type"])?;
                el.only_children(&[], false)?;
                let status = match el.opt("status-code") {
                    Some(a) => el.u64_attr(a, 100, 599)? as u16,
                    None => 200,
                };
                let content_type = el
                    .opt("content-type")
                    .map(|a| el.literal(a).map(Arc::from))
                    .transpose()?;
                Op::MockResponse {
                    status,
                    content_type,
                }
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
            "rate-limit-by-key" | "quota-by-key" => {
                let quota = name == "quota-by-key";
                let mut allowed = vec![
                    "calls",
                    "renewal-period",
                    "counter-key",
                    "increment-condition",
                    "increment-count",
                ];
                if quota {
                    allowed.extend(["bandwidth", "first-period-start"]);
                } else {
                    allowed.extend([
                        "retry-after-header-name",
                        "retry-after-variable-name",
                        "remaining-calls-header-name",
                        "remaining-calls-variable-name",
                        "total-calls-header-name",
                    ]);
                }
                el.only_attrs(&allowed)?;
                el.only_children(&[], false)?;
                if quota && el.opt("bandwidth").is_some() {
                    return Err(el.err(
                        ErrorKind::InvalidValue,
                        "quota-by-key bandwidth is not supported; use calls",
                    ));
                }
                let calls = el.u64_attr(el.req("calls")?, 1, u64::MAX / 2)?;
                let period = Duration::from_secs(el.u64_attr(
                    el.req("renewal-period")?,
                    1,
                    365 * 86_400 * 10,
                )?);
                let key = el.template(el.req("counter-key")?, route)?;
                let increment_condition = el
                    .opt("increment-condition")
                    .map(|a| self.bool_expr(&el, a))
                    .transpose()?;
                let increment_count = el
                    .opt("increment-count")
                    .map(|a| el.u64_attr(a, 0, u64::MAX / 2))
                    .transpose()?
                    .unwrap_or(1);
                let lit = |n: &str| el.opt(n).map(|a| el.literal(a).map(Arc::from)).transpose();
                // Counters are per policy instance: the same key under two policies counts twice.
                let counter_scope = format!(
                    "{name}:{}:{}:{}",
                    route.api_id,
                    route.operation_id,
                    el.src.pos(el.e.offset)
                );
                let limit = RateLimit {
                    calls,
                    period,
                    key,
                    increment_condition,
                    increment_count,
                    counter_scope: counter_scope.into(),
                    retry_after_header: lit("retry-after-header-name")?,
                    retry_after_variable: lit("retry-after-variable-name")?,
                    remaining_header: lit("remaining-calls-header-name")?,
                    remaining_variable: lit("remaining-calls-variable-name")?,
                    total_header: lit("total-calls-header-name")?,
                };
                if quota {
                    Op::QuotaByKey(limit)
                } else {
                    Op::RateLimitByKey(limit)
                }
            }
            "validate-client-certificate" => {
                Op::ValidateClientCertificate(Box::new(self.validate_client_certificate(&el)?))
            }
            _ => return Err(el.err(ErrorKind::UnknownPolicy, format!("unknown policy <{name}>"))),
        };
        Ok(Step { origin, op })
    }

    fn bool_expr(&self, el: &El, a: &Attr) -> Result<Expression, CompileError> {
        match expr::compile(&a.value, el.src, self.route)? {
            Some(e) if matches!(e.ty(), Ty::Bool) => Ok(e),
            Some(e) => Err(el.attr_err(
                a,
                ErrorKind::ExpressionType,
                format!("'{}' must be a bool expression, not '{}'", a.name, e.ty()),
            )),
            None => match a.value.text.trim() {
                "true" | "True" => Ok(Expression::constant(Value::Bool(true))),
                "false" | "False" => Ok(Expression::constant(Value::Bool(false))),
                other => Err(el.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("'{}' is '{other}'; expected @(...) or true/false", a.name),
                )),
            },
        }
    }

    fn set_status(&self, el: &El) -> Result<SetStatus, CompileError> {
        el.only_attrs(&["code", "reason"])?;
        el.only_children(&[], false)?;
        let a = el.req("code")?;
        let code = match expr::compile(&a.value, el.src, self.route)? {
            Some(e) if matches!(e.ty(), Ty::Int) => StatusCode::Expr(e),
            Some(e) => {
                return Err(el.attr_err(
                    a,
                    ErrorKind::ExpressionType,
                    format!("code must be an int expression, not '{}'", e.ty()),
                ))
            }
            None => StatusCode::Fixed(el.u64_attr(a, 100, 599)? as u16),
        };
        let reason = el
            .opt("reason")
            .map(|r| el.template(r, self.route))
            .transpose()?;
        Ok(SetStatus { code, reason })
    }

    fn set_header(&self, el: &El, target: HeaderTarget) -> Result<SetHeader, CompileError> {
        el.only_attrs(&["name", "exists-action"])?;
        el.only_children(&["value"], false)?;
        let n = el.req("name")?;
        let name = el.literal(n)?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(el.attr_err(
                n,
                ErrorKind::InvalidValue,
                format!("'{name}' is not a valid header name"),
            ));
        }
        let action = match el.opt("exists-action").map(|a| (a, a.value.text.as_str())) {
            None | Some((_, "override")) => ExistsAction::Override,
            Some((_, "skip")) => ExistsAction::Skip,
            Some((_, "append")) => ExistsAction::Append,
            Some((_, "delete")) => ExistsAction::Delete,
            Some((a, other)) => {
                return Err(el.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("exists-action '{other}'; expected override, skip, append or delete"),
                ))
            }
        };
        let mut values = Vec::new();
        for v in el.children("value") {
            v.only_attrs(&[])?;
            v.only_children(&[], true)?;
            let t = v.text().unwrap_or_default();
            values.push(Template::compile(&t, el.src, self.route)?);
        }
        if values.is_empty() && action != ExistsAction::Delete {
            return Err(el.err(
                ErrorKind::Structure,
                "<set-header> needs at least one <value> (or exists-action=\"delete\")",
            ));
        }
        Ok(SetHeader {
            name: name.into(),
            action,
            values,
            target,
        })
    }

    fn set_body(&self, el: &El) -> Result<Template, CompileError> {
        el.only_attrs(&["template", "xsi-nil", "parse-date"])?;
        el.only_children(&[], true)?;
        if let Some(a) = el.opt("template") {
            if a.value.text != "none" {
                return Err(el.attr_err(a, ErrorKind::InvalidValue, format!("set-body template '{}' is not supported; expected none (liquid templates are not implemented)", a.value.text)));
            }
        }
        if el.bool_attr("xsi-nil", false)? {
            return Ok(Template::Literal("".into()));
        }
        match el.text() {
            Some(t) => Template::compile(&t, el.src, self.route),
            None => Ok(Template::Literal("".into())),
        }
    }

    fn validate_client_certificate(
        &self,
        el: &El,
    ) -> Result<ValidateClientCertificate, CompileError> {
        el.only_attrs(&[
            "validate-revocation",
            "validate-trust",
            "validate-not-before",
            "validate-not-after",
            "ignore-error",
        ])?;
        el.only_children(&["identities"], false)?;
        let mut identities = Vec::new();
        let mut thumbprint_only = crate::thumbprints::ThumbprintSet::new();
        if let Some(ids) = el.child("identities")? {
            ids.only_attrs(&[])?;
            ids.only_children(&["identity"], false)?;
            for id in ids.children("identity") {
                id.only_attrs(&[
                    "thumbprint",
                    "serial-number",
                    "common-name",
                    "subject",
                    "dns-name",
                    "issuer-subject",
                    "issuer-thumbprint",
                    "issuer-certificate-id",
                ])?;
                id.only_children(&[], false)?;
                let text = |n: &str| -> Result<Option<String>, CompileError> {
                    id.opt(n)
                        .map(|a| id.literal(a).map(str::to_string))
                        .transpose()
                };
                let hex = |n: &str| -> Result<Option<String>, CompileError> {
                    let Some(t) = text(n)? else { return Ok(None) };
                    let h = normalise_hex(&t);
                    let is_thumbprint = n != "serial-number";
                    let ok = if is_thumbprint {
                        crate::thumbprints::parse_hex(&h).is_some()
                    } else {
                        !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
                    };
                    if !ok {
                        let want = if is_thumbprint {
                            "40 hex digits (a SHA-1 thumbprint)"
                        } else {
                            "hex digits"
                        };
                        let a = id.opt(n).map_or(id.e.offset, |a| a.value.src_offset(0));
                        return Err(id.src.error(
                            a,
                            ErrorKind::InvalidValue,
                            format!("{n} '{t}'; expected {want}"),
                        ));
                    }
                    Ok(Some(h))
                };
                let dn = |n: &str| -> Result<Option<DistinguishedName>, CompileError> {
                    match id.opt(n) {
                        None => Ok(None),
                        Some(a) => {
                            DistinguishedName::parse(id.literal(a)?)
                                .map(Some)
                                .map_err(|e| {
                                    id.attr_err(a, ErrorKind::InvalidValue, format!("{n}: {e}"))
                                })
                        }
                    }
                };
                let identity = Identity {
                    thumbprint: hex("thumbprint")?,
                    serial_number: hex("serial-number")?,
                    common_name: text("common-name")?,
                    subject: dn("subject")?,
                    dns_name: text("dns-name")?,
                    issuer_subject: dn("issuer-subject")?,
                    issuer_thumbprint: hex("issuer-thumbprint")?,
                    issuer_certificate_id: text("issuer-certificate-id")?,
                };
                if id.e.attrs.iter().all(|a| a.name == "id") {
                    return Err(id.err(
                        ErrorKind::MissingAttribute,
                        "<identity> needs at least one attribute to match",
                    ));
                }
                let only_thumb = identity.thumbprint.is_some()
                    && id.e.attrs.iter().filter(|a| a.name != "id").count() == 1;
                if only_thumb {
                    thumbprint_only.insert_hex(identity.thumbprint.as_deref().unwrap_or_default());
                }
                identities.push(identity);
            }
            if identities.len() > 10 {
                return Err(ids.err(
                    ErrorKind::InvalidValue,
                    format!("{} identities; at most 10 are allowed", identities.len()),
                ));
            }
        }
        Ok(ValidateClientCertificate {
            validate_revocation: el.bool_attr("validate-revocation", true)?,
            validate_trust: el.bool_attr("validate-trust", true)?,
            validate_not_before: el.bool_attr("validate-not-before", true)?,
            validate_not_after: el.bool_attr("validate-not-after", true)?,
            ignore_error: el.bool_attr("ignore-error", false)?,
            identities,
            thumbprint_only,
        })
    }
}

/// The types APIM allows in variables.
fn check_variable_type(el: &El, a: &Attr, ty: &Ty) -> Result<(), CompileError> {
    let ok = matches!(
        ty,
        Ty::Bool
            | Ty::Int
            | Ty::Double
            | Ty::Char
            | Ty::Str
            | Ty::DateTime
            | Ty::TimeSpan
            | Ty::Bytes
            | Ty::Cert
            | Ty::Null
            | Ty::Object
            | Ty::Array(_)
            | Ty::DistName
    );
    if ok {
        Ok(())
    } else {
        Err(el.attr_err(
            a,
            ErrorKind::ExpressionType,
            format!("a variable cannot hold a value of type '{ty}'"),
        ))
    }
}
