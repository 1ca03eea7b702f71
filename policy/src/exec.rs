//! Runs a compiled [`Plan`] against a [`RequestContext`], with APIM's control flow:
//!
//! - a section runs its steps in order; `return-response`/`mock-response` end the pipeline
//!   with the response built so far;
//! - any failure (a validation that fails, an expression that throws, a backend that cannot be
//!   reached) skips the rest of the section, fills `context.LastError` and runs `on-error`;
//! - if `on-error` does not return a response itself, the client gets the error's status and
//!   `{"statusCode": N, "message": "..."}`, with any headers `on-error` set.
//!
//! The order of the sections around the backend call is [`crate::pipeline`]'s; this module runs
//! one section (or its remainder after the backend) and on-error. No I/O happens here.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cert::Certificate;
use crate::context::{BackendCertificate, BackendTarget, HeaderWrite, RequestContext, TraceEvent};
use crate::expr::{EvalError, Template};
use crate::last_error::{error_body, LastError};
use crate::plan::*;
use crate::sections::Section;
use crate::validation::ClientCertificateFailure;
use crate::value::Value;

impl LastError {
    /// An error raised by a step.
    pub fn at(
        origin: &Origin,
        reason: &str,
        message: &str,
        status: u16,
        response_message: &str,
    ) -> LastError {
        LastError {
            source: origin.policy.into(),
            reason: reason.into(),
            message: message.into(),
            scope: origin.scope.as_str().into(),
            section: origin.section.as_str().into(),
            path: origin.path.clone(),
            policy_id: origin.id.clone(),
            status,
            response_message: response_message.into(),
            certificate: None,
        }
    }

    fn fail(
        origin: &Origin,
        reason: &str,
        message: &str,
        status: u16,
        response_message: &str,
    ) -> Fail {
        Box::new(LastError::at(
            origin,
            reason,
            message,
            status,
            response_message,
        ))
    }
}

/// A step's failure: boxed, because failures are rare and `Result`s on the request path should
/// stay small.
type Fail = Box<LastError>;

/// How a section ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionOutcome {
    /// Ran to its end; the pipeline goes on.
    Continue,
    /// A response was produced (`return-response`, `mock-response`): send it, skip the rest.
    Respond,
    /// The backend section reached `forward-request` at top-level step `resume_at - 1`: call
    /// the backend, then resume the section at `resume_at` with [`Plan::resume_backend`].
    Forward { timeout: Duration, resume_at: usize },
    /// A step failed; `context.LastError` is set. Run [`Plan::handle_error`].
    Failed,
}

enum Flow {
    Next,
    Stop(SectionOutcome),
}

/// Expression failures become `ExpressionValueEvaluationFailure` (500).
fn expr_failed(origin: &Origin, e: &EvalError) -> Fail {
    let msg = format!("Expression evaluation failed. {}", e.0);
    LastError::fail(
        origin,
        "ExpressionValueEvaluationFailure",
        &msg,
        500,
        "Internal server error",
    )
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
        let o = &*step.origin;
        let ev = |r: Result<Value, EvalError>| r.map_err(|e| expr_failed(o, &e));
        let evs = |t: &Template, ctx: &dyn RequestContext| {
            t.eval_str(ctx).map_err(|e| expr_failed(o, &e))
        };
        match &step.op {
            Op::Choose { whens, otherwise } => {
                for (cond, block) in whens {
                    if matches!(ev(cond.eval(ctx))?, Value::Bool(true)) {
                        return self.block(block, ctx);
                    }
                }
                self.block(otherwise, ctx)
            }
            Op::ReturnResponse {
                status,
                headers,
                body,
            } => {
                // APIM: a fresh response (200, no headers, no body); nothing of the one under
                // construction, or of the backend's, carries over.
                ctx.clear_response();
                if let Some(s) = status {
                    apply_status(s, ctx, o)?;
                } else {
                    ctx.set_response_status(200, None);
                }
                for h in headers {
                    apply_header(h, ctx, o)?;
                }
                match body {
                    Some(b) => {
                        let v = evs(b, ctx)?;
                        ctx.set_response_body(v.as_bytes().to_vec());
                    }
                    None => ctx.set_response_body(Vec::new()),
                }
                Ok(Flow::Stop(SectionOutcome::Respond))
            }
            Op::SetStatus(s) => {
                apply_status(s, ctx, o)?;
                Ok(Flow::Next)
            }
            Op::SetHeader(h) => {
                apply_header(h, ctx, o)?;
                Ok(Flow::Next)
            }
            Op::SetBody(t) => {
                let v = evs(t, ctx)?;
                ctx.set_response_body(v.as_bytes().to_vec());
                Ok(Flow::Next)
            }
            Op::SetVariable { name, value } => {
                let v = ev(value.eval(ctx))?;
                ctx.state_mut().set_variable(name, v);
                Ok(Flow::Next)
            }
            Op::Trace {
                source,
                severity,
                message,
                metadata,
            } => {
                let message = evs(message, ctx)?.to_string();
                let mut md = Vec::with_capacity(metadata.len());
                for (k, v) in metadata {
                    md.push((k.clone(), evs(v, ctx)?.to_string()));
                }
                ctx.trace(TraceEvent {
                    source: source.clone(),
                    severity: *severity,
                    message,
                    metadata: md,
                });
                Ok(Flow::Next)
            }
            Op::SetBackendService(choice) => {
                let target = match choice {
                    BackendChoice::BackendId(t) => BackendTarget::BackendId(evs(t, ctx)?),
                    BackendChoice::BaseUrl(t) => {
                        let url = evs(t, ctx)?;
                        if !(url.starts_with("http://") || url.starts_with("https://")) {
                            return Err(LastError::fail(
                                o,
                                "InvalidBackendUrl",
                                &format!("base-url '{url}' is not an absolute http(s) URL"),
                                500,
                                "Internal server error",
                            ));
                        }
                        BackendTarget::BaseUrl(url)
                    }
                };
                ctx.state_mut().backend = Some(target);
                Ok(Flow::Next)
            }
            Op::AuthenticationCertificate(choice) => {
                let c = match choice {
                    CertificateChoice::Id(t) => BackendCertificate::Id(evs(t, ctx)?),
                    CertificateChoice::Thumbprint(t) => BackendCertificate::Thumbprint(Arc::from(
                        crate::thumbprints::normalise_hex(&evs(t, ctx)?),
                    )),
                    CertificateChoice::Body { body, password } => {
                        let body = match ev(body.eval(ctx))? {
                            Value::Bytes(b) => b,
                            _ => return Err(LastError::fail(o, "ExpressionValueEvaluationFailure", "Expression evaluation failed. The certificate body is null or not a byte array.", 500, "Internal server error")),
                        };
                        let password = password.as_ref().map(|p| evs(p, ctx)).transpose()?;
                        BackendCertificate::Pfx { body, password }
                    }
                };
                ctx.state_mut().backend_certificate = Some(c);
                Ok(Flow::Next)
            }
            Op::CheckHeader {
                name,
                failed_code,
                failed_message,
                ignore_case,
                values,
            } => {
                let ok = match ctx.request_header(name) {
                    None => false,
                    Some(_) if values.is_empty() => true,
                    Some(_) => ctx
                        .request_header_values(name)
                        .iter()
                        .flat_map(|v| v.split(','))
                        .any(|v| {
                            let v = v.trim();
                            values.iter().any(|want| {
                                if *ignore_case {
                                    want.eq_ignore_ascii_case(v)
                                } else {
                                    **want == *v
                                }
                            })
                        }),
                };
                if ok {
                    return Ok(Flow::Next);
                }
                let msg = evs(failed_message, ctx)?;
                let reason = if ctx.request_header(name).is_none() {
                    "HeaderNotFound"
                } else {
                    "HeaderValueNotAllowed"
                };
                Err(LastError::fail(o, reason, &msg, *failed_code, &msg))
            }
            Op::IpFilter {
                allow,
                addresses,
                ranges,
            } => {
                let ip = normalise_ip(ctx.client_ip());
                let listed = addresses.iter().any(|a| normalise_ip(*a) == ip)
                    || ranges
                        .iter()
                        .any(|(f, t)| ip_in(ip, normalise_ip(*f), normalise_ip(*t)));
                if listed == *allow {
                    Ok(Flow::Next)
                } else {
                    Err(LastError::fail(
                        o,
                        "CallerIpNotAllowed",
                        &format!("Caller IP address {ip} is not allowed. Access denied."),
                        403,
                        "Forbidden",
                    ))
                }
            }
            Op::RewriteUri {
                template,
                copy_unmatched_params,
            } => {
                let target = evs(template, ctx)?;
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut query = query.to_string();
                if *copy_unmatched_params {
                    let original = ctx.url().query.to_string();
                    for kv in original.split('&').filter(|kv| !kv.is_empty()) {
                        let key = kv.split('=').next().unwrap_or("");
                        let present = query.split('&').any(|q| q.split('=').next() == Some(key));
                        if !present {
                            if !query.is_empty() {
                                query.push('&');
                            }
                            query.push_str(kv);
                        }
                    }
                }
                let path = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("/{path}")
                };
                ctx.rewrite_url(&path, &query);
                Ok(Flow::Next)
            }
            Op::MockResponse {
                status,
                content_type,
            } => {
                ctx.clear_response();
                ctx.set_response_status(*status, None);
                if let Some(ct) = content_type {
                    ctx.write_response_header("Content-Type", ct, HeaderWrite::Set);
                }
                ctx.set_response_body(Vec::new());
                Ok(Flow::Stop(SectionOutcome::Respond))
            }
            Op::ForwardRequest { timeout } => {
                ctx.state_mut().forward_timeout = Some(*timeout);
                Ok(Flow::Stop(SectionOutcome::Forward {
                    timeout: *timeout,
                    resume_at: 0,
                }))
            }
            Op::RateLimitByKey(r) => self.rate_limit(r, ctx, o, false),
            Op::QuotaByKey(r) => self.rate_limit(r, ctx, o, true),
            Op::ValidateClientCertificate(v) => match validate_client_certificate(v, ctx) {
                Ok(()) => Ok(Flow::Next),
                Err(f) => {
                    let err = LastError {
                        certificate: Some(f),
                        ..LastError::at(o, f.reason(), f.message(), 401, f.response_message())
                    };
                    if v.ignore_error {
                        ctx.state_mut().last_error = Some(err);
                        Ok(Flow::Next)
                    } else {
                        Err(Box::new(err))
                    }
                }
            },
        }
    }

    fn rate_limit(
        &self,
        r: &RateLimit,
        ctx: &mut dyn RequestContext,
        o: &Origin,
        quota: bool,
    ) -> Result<Flow, Fail> {
        let key = r.key.eval_str(ctx).map_err(|e| expr_failed(o, &e))?;
        let counts = match &r.increment_condition {
            None => true,
            Some(c) => matches!(
                c.eval(ctx).map_err(|e| expr_failed(o, &e))?,
                Value::Bool(true)
            ),
        };
        let full_key = format!("{}\u{1f}{key}", r.counter_scope);
        let d = self.counters.hit(
            &full_key,
            if counts { r.increment_count } else { 0 },
            r.calls,
            r.period,
        );
        let retry = d.retry_after.as_secs().max(1);
        if let Some(v) = &r.remaining_variable {
            ctx.state_mut()
                .set_variable(v, Value::Int(d.remaining as i64));
        }
        if d.allowed {
            if let Some(h) = &r.remaining_header {
                ctx.write_response_header(h, &d.remaining.to_string(), HeaderWrite::Set);
            }
            if let Some(h) = &r.total_header {
                ctx.write_response_header(h, &r.calls.to_string(), HeaderWrite::Set);
            }
            return Ok(Flow::Next);
        }
        if let Some(v) = &r.retry_after_variable {
            ctx.state_mut().set_variable(v, Value::Int(retry as i64));
        }
        let header = r.retry_after_header.as_deref().unwrap_or("Retry-After");
        ctx.write_response_header(header, &retry.to_string(), HeaderWrite::Set);
        let (reason, status, msg) = if quota {
            (
                "QuotaExceeded",
                403,
                format!(
                    "Out of call volume quota. Quota will be replenished in {}.",
                    crate::dotnet::TimeSpan(d.retry_after.as_secs() as i64 * 10_000_000)
                ),
            )
        } else {
            (
                "RateLimitExceeded",
                429,
                format!("Rate limit is exceeded. Try again in {retry} seconds."),
            )
        };
        Err(LastError::fail(o, reason, &msg, status, &msg))
    }
}

fn write_error_response(ctx: &mut dyn RequestContext, status: u16, message: &str) {
    ctx.set_response_status(status, None);
    ctx.write_response_header("Content-Type", "application/json", HeaderWrite::Set);
    ctx.set_response_body(error_body(status, message));
}

fn apply_status(s: &SetStatus, ctx: &mut dyn RequestContext, o: &Origin) -> Result<(), Fail> {
    let code = match &s.code {
        StatusCode::Fixed(c) => *c,
        StatusCode::Expr(e) => match e.eval(ctx).map_err(|e| expr_failed(o, &e))? {
            Value::Int(c) if (100..=599).contains(&c) => c as u16,
            v => {
                return Err(LastError::fail(
                    o,
                    "ExpressionValueEvaluationFailure",
                    &format!(
                        "Expression evaluation failed. Status code {} is out of range.",
                        v.to_dotnet_string()
                    ),
                    500,
                    "Internal server error",
                ))
            }
        },
    };
    let reason = s
        .reason
        .as_ref()
        .map(|r| r.eval_str(ctx).map_err(|e| expr_failed(o, &e)))
        .transpose()?;
    // A reason phrase goes on the wire: refuse control characters from expressions.
    let reason = reason.filter(|r| !r.chars().any(|c| c.is_control()));
    ctx.set_response_status(code, reason.as_deref());
    Ok(())
}

fn apply_header(h: &SetHeader, ctx: &mut dyn RequestContext, o: &Origin) -> Result<(), Fail> {
    let exists = match h.target {
        HeaderTarget::Request => ctx.request_header(&h.name).is_some(),
        HeaderTarget::Response => ctx.response_header(&h.name).is_some(),
    };
    let (remove_first, skip) = match h.action {
        ExistsAction::Delete => {
            match h.target {
                HeaderTarget::Request => ctx.remove_request_header(&h.name),
                HeaderTarget::Response => ctx.remove_response_header(&h.name),
            }
            return Ok(());
        }
        ExistsAction::Skip => (false, exists),
        ExistsAction::Override => (true, false),
        ExistsAction::Append => (false, false),
    };
    if skip {
        return Ok(());
    }
    let mut values = Vec::with_capacity(h.values.len());
    for v in &h.values {
        let s = v.eval_str(ctx).map_err(|e| expr_failed(o, &e))?;
        // Header injection guard: a value from an expression must not carry CR/LF.
        if s.contains(['\r', '\n', '\0']) {
            return Err(LastError::fail(
                o,
                "ExpressionValueEvaluationFailure",
                &format!(
                    "Expression evaluation failed. Header '{}' value contains a line break.",
                    h.name
                ),
                500,
                "Internal server error",
            ));
        }
        values.push(s);
    }
    for (i, v) in values.iter().enumerate() {
        let how = if i == 0 && remove_first {
            HeaderWrite::Set
        } else {
            HeaderWrite::Append
        };
        match h.target {
            HeaderTarget::Request => ctx.write_request_header(&h.name, v, how),
            HeaderTarget::Response => ctx.write_response_header(&h.name, v, how),
        }
    }
    Ok(())
}

fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn ip_in(ip: IpAddr, from: IpAddr, to: IpAddr) -> bool {
    ip.is_ipv4() == from.is_ipv4() && from <= ip && ip <= to
}

/// SPEC §4: missing → not-before → not-after → trust → revocation → identities.
fn validate_client_certificate(
    v: &ValidateClientCertificate,
    ctx: &dyn RequestContext,
) -> Result<(), ClientCertificateFailure> {
    let Some(cert) = ctx.certificate() else {
        return Err(ClientCertificateFailure::NotFound);
    };
    let now = crate::dotnet::DateTime::now();
    if v.validate_not_before && cert.not_before() > now {
        return Err(ClientCertificateFailure::NotYetValid);
    }
    if v.validate_not_after && cert.not_after() < now {
        return Err(ClientCertificateFailure::Expired);
    }
    if v.validate_trust && ctx.verify_certificate(cert, false).is_err() {
        return Err(ClientCertificateFailure::NotTrusted);
    }
    if v.validate_revocation {
        match ctx.verify_certificate(cert, true) {
            Ok(()) => {}
            Err(crate::trust::TrustFailure::Revoked) => {
                return Err(ClientCertificateFailure::Revoked);
            }
            // Unknown status, or no chain to check revocation along (validate-trust off).
            Err(_) => return Err(ClientCertificateFailure::RevocationUnknown),
        }
    }
    if v.identities.is_empty() {
        return Ok(());
    }
    if !v.thumbprint_only.is_empty() && v.thumbprint_only.contains(cert.sha1()) {
        return Ok(());
    }
    if v.identities
        .iter()
        .any(|id| identity_matches(id, cert, ctx))
    {
        return Ok(());
    }
    Err(ClientCertificateFailure::IdentityNotMatched)
}

fn identity_matches(id: &Identity, cert: &Certificate, ctx: &dyn RequestContext) -> bool {
    if id
        .thumbprint
        .as_deref()
        .is_some_and(|t| t != &**cert.thumbprint())
    {
        return false;
    }
    if id
        .serial_number
        .as_deref()
        .is_some_and(|s| s.trim_start_matches('0') != cert.serial_number().trim_start_matches('0'))
    {
        return false;
    }
    if let Some(cn) = &id.common_name {
        if !cert
            .common_name()
            .is_some_and(|c| c.eq_ignore_ascii_case(cn))
        {
            return false;
        }
    }
    if id.subject.as_ref().is_some_and(|s| s != cert.subject_dn()) {
        return false;
    }
    if id
        .dns_name
        .as_deref()
        .is_some_and(|d| !cert.dns_names().iter().any(|n| n.eq_ignore_ascii_case(d)))
    {
        return false;
    }
    if id
        .issuer_subject
        .as_ref()
        .is_some_and(|s| s != cert.issuer_dn())
    {
        return false;
    }
    if id.issuer_thumbprint.is_some() || id.issuer_certificate_id.is_some() {
        // The issuer must be the certificate that signed the leaf in the verified chain.
        let Some(issuer) = ctx.certificate_issuer(cert) else {
            return false;
        };
        if id
            .issuer_thumbprint
            .as_deref()
            .is_some_and(|t| t != &**issuer.thumbprint())
        {
            return false;
        }
        if let Some(cid) = &id.issuer_certificate_id {
            let Some(configured) = ctx.deployment().certificates().get(cid) else {
                return false;
            };
            if configured.thumbprint() != issuer.thumbprint() {
                return false;
            }
        }
    }
    true
}
