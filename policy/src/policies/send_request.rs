//! `send-request` and `send-one-way-request`: a request the policy sends itself (a token
//! endpoint, an enrichment lookup, an audit call), built from `mode` (`new`: empty; `copy`: the
//! client's request), `set-url`, `set-method`, `set-header`, `set-body` and
//! `authentication-certificate`.
//!
//! `send-request` suspends the section with the request ([`Flow::Send`]); the caller sends it
//! and [`SendRequest::complete`] stores the `IResponse` in `response-variable-name`, or fails
//! into on-error (`Timeout`, `BackendConnectionFailure`, ...), or with `ignore-error="true"`
//! stores null. `send-one-way-request` queues the request in the request state for the caller
//! to send in the background, and the section goes on at once.
//!
//! Refused by name: `proxy` (certgate sends directly) and `authentication-managed-identity`
//! inside them.

use std::sync::Arc;
use std::time::Duration;

use super::backend::AuthenticationCertificate;
use super::headers::{HeaderTarget, SetHeader};
use super::set_method::is_token;
use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;
use crate::outcall::{Outcall, SendResult};
use crate::value::{Obj, Value};

/// Headers `mode="copy"` does not copy besides the framing ones: the gateway names the host,
/// and an `Expect` would wait for a `100 Continue` nobody asked for.
const NOT_COPIED: &[&str] = &["host", "expect"];

/// APIM's default `timeout`, in seconds.
const DEFAULT_TIMEOUT: u64 = 60;

#[derive(Clone, Debug)]
pub struct SendRequest {
    /// `mode="copy"`: start from the client's request.
    copy: bool,
    /// `send-request`'s variable; `None` for `send-one-way-request`.
    variable: Option<Arc<str>>,
    timeout: Duration,
    ignore_error: bool,
    url: Template,
    method: Option<Template>,
    headers: Vec<SetHeader>,
    body: Option<Template>,
    certificate: Option<AuthenticationCertificate>,
    /// `authentication-managed-identity` inside: the resource and the client id.
    identity: Option<(Template, Option<Arc<str>>)>,
    /// In outbound, `copy` does not copy the request body (APIM).
    copy_body: bool,
}

impl PolicyStep for SendRequest {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        let one_way = r.name == "send-one-way-request";
        if one_way {
            el.only_attrs(&["mode", "timeout"])?;
        } else {
            el.only_attrs(&["mode", "response-variable-name", "timeout", "ignore-error"])?;
        }
        for refused in ["proxy"] {
            if let Some(c) = el.child(refused)? {
                return Err(c.err(
                    ErrorKind::UnknownPolicy,
                    format!("<{refused}> inside <{}> is not supported by certgate; it sends directly, with authentication-certificate for client certificates", r.name),
                ));
            }
        }
        el.only_children(
            &[
                "set-url",
                "set-method",
                "set-header",
                "set-body",
                "authentication-certificate",
                "authentication-managed-identity",
            ],
            false,
        )?;
        let copy = match el.opt("mode").map(|a| (a, a.value.text.as_str())) {
            None | Some((_, "new")) => false,
            Some((_, "copy")) => true,
            Some((a, other)) => {
                return Err(el.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("mode '{other}'; expected new or copy"),
                ))
            }
        };
        let variable = if one_way {
            None
        } else {
            Some(Arc::from(el.literal(el.req("response-variable-name")?)?))
        };
        let timeout = match el.opt("timeout") {
            Some(a) => el.u64_attr(a, 1, 240)?,
            None => DEFAULT_TIMEOUT,
        };
        let text = |name: &str| -> Result<Option<Template>, CompileError> {
            let Some(c) = el.child(name)? else {
                return Ok(None);
            };
            c.only_attrs(&[])?;
            c.only_children(&[], true)?;
            Template::compile(&c.text().unwrap_or_default(), el.src, r.route).map(Some)
        };
        let url = text("set-url")?;
        let Some(url) = url else {
            // APIM takes the client's URL in copy mode; in certgate that is the gateway itself.
            return Err(el.err(
                ErrorKind::Structure,
                format!("<{}> needs <set-url> (certgate does not send a copy back to the client's URL, which is the gateway's own)", r.name),
            ));
        };
        if let Some(lit) = url.literal() {
            if !(lit.starts_with("http://") || lit.starts_with("https://")) {
                return Err(el.err(
                    ErrorKind::InvalidValue,
                    format!("set-url '{lit}' is not an absolute http:// or https:// URL"),
                ));
            }
        }
        let method = text("set-method")?;
        if let Some(m) = method.as_ref().and_then(Template::literal) {
            if !is_token(m) {
                return Err(el.err(
                    ErrorKind::InvalidValue,
                    format!("set-method '{m}' is not an HTTP method"),
                ));
            }
        }
        let headers = el
            .children("set-header")
            .map(|c| SetHeader::read_for(&c, r, HeaderTarget::Request))
            .collect::<Result<Vec<_>, _>>()?;
        let body = match el.child("set-body")? {
            Some(c) => {
                c.only_attrs(&["template"])?;
                if let Some(a) = c.opt("template") {
                    if a.value.text != "none" {
                        return Err(c.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!(
                                "set-body template '{}' is not supported here; expected none",
                                a.value.text
                            ),
                        ));
                    }
                }
                c.only_children(&[], true)?;
                Some(Template::compile(
                    &c.text().unwrap_or_default(),
                    el.src,
                    r.route,
                )?)
            }
            None => None,
        };
        let certificate = el
            .child("authentication-certificate")?
            .map(|c| AuthenticationCertificate::read(&c, r))
            .transpose()?;
        let identity = match el.child("authentication-managed-identity")? {
            Some(c) => {
                c.only_attrs(&["resource", "client-id"])?;
                c.only_children(&[], false)?;
                let resource = c.template(c.req("resource")?, r.route)?;
                let client_id = c
                    .opt("client-id")
                    .map(|a| c.literal(a).map(Arc::from))
                    .transpose()?;
                Some((resource, client_id))
            }
            None => None,
        };
        let copy_body = copy && r.target == HeaderTarget::Request;
        if copy_body {
            // The gateway buffers this route's request bodies.
            r.route
                .reads_request_body
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(SendRequest {
            copy,
            variable,
            timeout: Duration::from_secs(timeout),
            ignore_error: el.bool_attr("ignore-error", false)?,
            url,
            method,
            headers,
            body,
            certificate,
            identity,
            copy_body,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let call = self.build(ctx, at.origin)?;
        if self.variable.is_none() {
            ctx.state_mut().one_way.push(call);
            return Ok(Flow::Next);
        }
        Ok(Flow::Send(Box::new(call)))
    }
}

impl SendRequest {
    /// The request to send, as the policy describes it for this request.
    fn build(&self, ctx: &dyn RequestContext, o: &Origin) -> Result<Outcall, Fail> {
        let url = o.text(&self.url, ctx)?.to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(failure(
                o,
                "InvalidUrl",
                &format!("set-url '{url}' is not an absolute http:// or https:// URL"),
            ));
        }
        let method = match &self.method {
            Some(t) => o.text(t, ctx)?.to_string(),
            None if self.copy => ctx.method().to_string(),
            None => "GET".to_string(),
        };
        if !is_token(&method) {
            return Err(failure(
                o,
                "InvalidMethod",
                &format!("set-method '{method}' is not an HTTP method"),
            ));
        }
        let mut headers = Vec::new();
        let mut body = Vec::new();
        if self.copy {
            headers = ctx.request_headers();
            headers.retain(|(k, _)| {
                !crate::http::is_framing(k) && !NOT_COPIED.iter().any(|n| k.eq_ignore_ascii_case(n))
            });
            if self.copy_body {
                body = match &ctx.state().request_body {
                    Some(b) => b.clone(),
                    None => ctx.request_body().unwrap_or_default().to_vec(),
                };
            }
        }
        for h in &self.headers {
            h.apply_to(&mut headers, ctx, o)?;
        }
        if let Some(t) = &self.body {
            body = o.text(t, ctx)?.as_bytes().to_vec();
        }
        let certificate = self
            .certificate
            .as_ref()
            .map(|c| c.choose(ctx, o))
            .transpose()?;
        let identity = match &self.identity {
            Some((resource, client_id)) => Some(crate::outcall::TokenRequest {
                resource: o.text(resource, ctx)?.to_string(),
                client_id: client_id.as_deref().map(str::to_string),
            }),
            None => None,
        };
        Ok(Outcall {
            method,
            url,
            headers,
            body,
            timeout: self.timeout,
            certificate,
            identity,
        })
    }

    /// Takes the sent request's result: the `IResponse` goes into the variable; a failure goes
    /// to on-error, or with `ignore-error="true"` the variable is null.
    pub(crate) fn complete(
        &self,
        result: SendResult,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<Flow, Fail> {
        let Some(name) = &self.variable else {
            return Ok(Flow::Next);
        };
        let value = match result {
            Ok(r) => Value::Obj(Arc::new(Obj::Response(r))),
            Err(_) if self.ignore_error => Value::Null,
            Err(e) => {
                let status = if matches!(e, crate::outcall::SendFailure::Timeout(_)) {
                    504
                } else {
                    500
                };
                return Err(o.fail(e.reason(), e.message(), status, "Internal server error"));
            }
        };
        ctx.state_mut().set_variable(name, value);
        Ok(Flow::Next)
    }
}

fn failure(o: &Origin, reason: &str, message: &str) -> Fail {
    o.fail(reason, message, 500, "Internal server error")
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::outcall::{SendFailure, SentResponse};
    use crate::policies::testing::{read, refused};
    use crate::policies::{Flow, Policy};

    fn built(xml: &str, ctx: &mut SimpleContext) -> crate::outcall::Outcall {
        let p = read(xml).unwrap_or_else(|e| panic!("{e}"));
        let (Policy::SendRequest(s) | Policy::SendOneWayRequest(s)) = &p else {
            panic!("{p:?}")
        };
        match crate::policies::testing::run_step(&p, ctx) {
            Ok(Flow::Send(c)) => *c,
            Ok(Flow::Next) if s.variable.is_none() => ctx.state.one_way.remove(0),
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_new_request_is_what_its_children_say() {
        let mut ctx =
            SimpleContext::new("POST", "/orders").with_header("Authorization", "Bearer client");
        let c = built(
            r#"<send-request mode="new" response-variable-name="r" timeout="5">
                 <set-url>@("http://127.0.0.1:9/" + context.Request.Method)</set-url>
                 <set-method>PUT</set-method>
                 <set-header name="X-A" exists-action="override"><value>1</value><value>2</value></set-header>
                 <set-body>{"a":1}</set-body>
               </send-request>"#,
            &mut ctx,
        );
        assert_eq!(c.url, "http://127.0.0.1:9/POST");
        assert_eq!(c.method, "PUT");
        assert_eq!(
            c.headers,
            vec![("X-A".into(), "1".into()), ("X-A".into(), "2".into())]
        );
        assert_eq!(c.body, br#"{"a":1}"#);
        assert_eq!(c.timeout.as_secs(), 5);
        // Nothing of the client's request is sent with mode="new".
        assert!(!c.headers.iter().any(|(k, _)| k == "Authorization"));
    }

    #[test]
    fn a_copy_takes_the_clients_method_headers_and_body_but_not_its_framing() {
        let mut ctx = SimpleContext::new("POST", "/orders")
            .with_header("Authorization", "Bearer client")
            .with_header("Host", "gateway.example")
            .with_header("Content-Length", "2")
            .with_header("X-Drop", "1");
        ctx.request_body = Some(b"hi".to_vec());
        let c = built(
            r#"<send-request mode="copy" response-variable-name="r">
                 <set-url>http://127.0.0.1:9/audit</set-url>
                 <set-header name="X-Drop" exists-action="delete"/>
                 <set-header name="Authorization" exists-action="skip"><value>ignored</value></set-header>
               </send-request>"#,
            &mut ctx,
        );
        assert_eq!(c.method, "POST");
        assert_eq!(
            c.headers,
            vec![("Authorization".into(), "Bearer client".into())]
        );
        assert_eq!(c.body, b"hi");
        assert_eq!(c.timeout.as_secs(), 60, "APIM's default timeout");
    }

    #[test]
    fn a_one_way_request_is_queued_and_the_section_goes_on() {
        let mut ctx = SimpleContext::new("GET", "/");
        let c = built(
            r#"<send-one-way-request><set-url>http://127.0.0.1:9/log</set-url><set-method>POST</set-method><set-body>@(context.Request.Method)</set-body></send-one-way-request>"#,
            &mut ctx,
        );
        assert_eq!(
            (c.method.as_str(), c.body.as_slice()),
            ("POST", &b"GET"[..])
        );
        assert!(c.identity.is_none());
        let c = built(
            r#"<send-request response-variable-name="r"><set-url>https://graph.example/me</set-url><authentication-managed-identity resource="@("https://graph." + context.Request.Method)" client-id="c-9"/></send-request>"#,
            &mut ctx,
        );
        assert_eq!(
            c.identity,
            Some(crate::outcall::TokenRequest {
                resource: "https://graph.GET".into(),
                client_id: Some("c-9".into())
            })
        );
    }

    #[test]
    fn urls_methods_and_children_are_checked() {
        assert!(refused(
            r#"<send-request response-variable-name="r"><set-url>ftp://x</set-url></send-request>"#
        )
        .contains("not an absolute http"));
        assert!(
            refused(r#"<send-request response-variable-name="r"/>"#).contains("needs <set-url>")
        );
        assert!(
            refused(r#"<send-request><set-url>http://x</set-url></send-request>"#)
                .contains("response-variable-name")
        );
        assert!(refused(r#"<send-request response-variable-name="r"><set-url>http://x</set-url><set-method>GE T</set-method></send-request>"#).contains("not an HTTP method"));
        assert!(refused(r#"<send-request response-variable-name="r" mode="move"><set-url>http://x</set-url></send-request>"#).contains("expected new or copy"));
        assert!(refused(r#"<send-request response-variable-name="r"><set-url>http://x</set-url><proxy url="http://p"/></send-request>"#).contains("<proxy> inside <send-request> is not supported"));
        assert!(refused(r#"<send-request response-variable-name="r"><set-url>http://x</set-url><authentication-managed-identity/></send-request>"#).contains("'resource'"));
        assert!(refused(r#"<send-request response-variable-name="r" timeout="241"><set-url>http://x</set-url></send-request>"#).contains("timeout"));
        assert!(refused(r#"<send-one-way-request response-variable-name="r"><set-url>http://x</set-url></send-one-way-request>"#).contains("response-variable-name"));
        // Computed URLs and methods are checked when they are known.
        let mut ctx = SimpleContext::new("GET", "/");
        for (xml, reason) in [
            (
                r#"<send-request response-variable-name="r"><set-url>@("ftp://" + context.Request.Method)</set-url></send-request>"#,
                "InvalidUrl",
            ),
            (
                r#"<send-request response-variable-name="r"><set-url>http://x</set-url><set-method>@(context.Request.Method + " T")</set-method></send-request>"#,
                "InvalidMethod",
            ),
            (
                r#"<send-request response-variable-name="r"><set-url>http://x</set-url><set-header name="X"><value>@(context.Request.Method + "\r\nb")</value></set-header></send-request>"#,
                "ExpressionValueEvaluationFailure",
            ),
        ] {
            let p = read(xml).unwrap();
            let e = crate::policies::testing::run_step(&p, &mut ctx)
                .err()
                .unwrap();
            assert_eq!(&*e.reason, reason, "{xml}");
        }
    }

    #[test]
    fn the_response_goes_into_the_variable_and_failures_into_on_error_unless_ignored() {
        let origin = crate::policies::testing::origin();
        let p = read(r#"<send-request response-variable-name="r"><set-url>http://x</set-url></send-request>"#).unwrap();
        let Policy::SendRequest(s) = &p else { panic!() };
        let mut ctx = SimpleContext::new("GET", "/");
        let ok = SentResponse::new(201, "Created", vec![], b"{}".as_slice().into());
        assert!(s.complete(Ok(ok), &mut ctx, &origin).is_ok());
        assert!(matches!(
            ctx.state().variable("r"),
            Some(crate::Value::Obj(_))
        ));
        for (f, reason, status) in [
            (SendFailure::Timeout("slow".into()), "Timeout", 504),
            (
                SendFailure::Connect("refused".into()),
                "BackendConnectionFailure",
                500,
            ),
            (SendFailure::TooLarge("big".into()), "ResponseTooLarge", 500),
        ] {
            let e = s.complete(Err(f), &mut ctx, &origin).err().unwrap();
            assert_eq!((&*e.reason, e.status), (reason, status));
        }
        let p = read(r#"<send-request response-variable-name="r" ignore-error="true"><set-url>http://x</set-url></send-request>"#).unwrap();
        let Policy::SendRequest(s) = &p else { panic!() };
        assert!(s
            .complete(Err(SendFailure::Connect("x".into())), &mut ctx, &origin)
            .is_ok());
        assert!(matches!(
            ctx.state().variable("r"),
            Some(crate::Value::Null)
        ));
    }
}
