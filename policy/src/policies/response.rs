//! The policies that build a response: `set-status`, `set-body`, `return-response` (a fresh
//! response that ends the pipeline) and `mock-response`.

use std::sync::Arc;

use super::headers::{HeaderTarget, SetHeader};
use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::value::{Obj, Value};

#[derive(Clone, Debug)]
pub struct SetStatus {
    pub code: StatusCode,
    pub reason: Option<Template>,
}

#[derive(Clone, Debug)]
pub enum StatusCode {
    Fixed(u16),
    Expr(Expression),
}

impl SetStatus {
    fn apply(&self, ctx: &mut dyn RequestContext, o: &Origin) -> Result<(), Fail> {
        let code = match &self.code {
            StatusCode::Fixed(c) => *c,
            StatusCode::Expr(e) => match o.value(e, ctx)? {
                Value::Int(c) if (100..=599).contains(&c) => c as u16,
                v => {
                    return Err(o.fail(
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
        let reason = self.reason.as_ref().map(|r| o.text(r, ctx)).transpose()?;
        // A reason phrase goes on the wire: refuse control characters from expressions.
        let reason = reason.filter(|r| !r.chars().any(|c| c.is_control()));
        ctx.set_response_status(code, reason.as_deref());
        Ok(())
    }
}

impl PolicyStep for SetStatus {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["code", "reason"])?;
        el.only_children(&[], false)?;
        let a = el.req("code")?;
        let code = match expr::compile(&a.value, el.src, r.route)? {
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
            .map(|a| el.template(a, r.route))
            .transpose()?;
        Ok(SetStatus { code, reason })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        self.apply(ctx, at.origin).map(|()| Flow::Next)
    }
}

/// `set-body`: before the backend call, the body of the request sent to it; after it (and in
/// `return-response`), the body of the response under construction.
#[derive(Clone, Debug)]
pub struct SetBody {
    pub body: Template,
    pub to_request: bool,
    /// `template="liquid"`: the body is this template's output (`body` is the request's, or
    /// after the backend call the backend's).
    pub liquid: Option<crate::liquid::LiquidTemplate>,
    /// Inside `return-response`: a Liquid template reads no body (APIM).
    pub in_return_response: bool,
}

impl SetBody {
    fn apply(&self, ctx: &mut dyn RequestContext, o: &Origin) -> Result<(), Fail> {
        if let Some(t) = &self.liquid {
            // Before the backend call the template reads the request's body; in
            // return-response (APIM: the pipeline is cancelled) it reads nothing.
            let input = match (self.to_request, self.in_return_response) {
                (true, _) => ctx
                    .state()
                    .request_body
                    .clone()
                    .or_else(|| ctx.request_body().map(<[u8]>::to_vec)),
                (false, true) => None,
                // After the backend call: the backend's body, which the gateway holds whole.
                (false, false) => ctx.response_body().map(<[u8]>::to_vec),
            };
            let content_type = if self.to_request {
                ctx.request_header("Content-Type")
            } else {
                ctx.response_header("Content-Type")
            }
            .map(|c| c.into_owned());
            let limits = crate::liquid::RenderLimits {
                max_output: ctx.expression_budget().max_string,
                ..crate::liquid::RenderLimits::default()
            };
            let out = t.render(ctx, input.as_deref(), content_type.as_deref(), limits);
            let out = out.map_err(|e| {
                o.fail(
                    "LiquidTemplateFailure",
                    &format!("The Liquid template failed: {e}"),
                    500,
                    "Internal server error",
                )
            })?;
            if self.to_request {
                ctx.state_mut().request_body = Some(out.into_bytes());
            } else {
                ctx.set_response_body(out.into_bytes());
            }
            return Ok(());
        }
        let v = o.text(&self.body, ctx)?;
        if self.to_request {
            ctx.state_mut().request_body = Some(v.as_bytes().to_vec());
        } else {
            ctx.set_response_body(v.as_bytes().to_vec());
        }
        Ok(())
    }
}

impl PolicyStep for SetBody {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["template", "xsi-nil", "parse-date"])?;
        let is_liquid = el.opt("template").is_some_and(|a| a.value.text == "liquid");
        if !is_liquid {
            el.only_children(&[], true)?;
        }
        // xsi-nil and parse-date say how a Liquid template reads the body; without a
        // template they change nothing, but are checked all the same.
        let xsi_nil_null = match el.opt("xsi-nil") {
            None => false,
            Some(a) => match el.literal(a)? {
                "blank" => false,
                "null" => true,
                other => {
                    return Err(el.attr_err(
                        a,
                        ErrorKind::InvalidValue,
                        format!("xsi-nil '{other}'; expected blank or null"),
                    ))
                }
            },
        };
        let options = crate::liquid::LiquidOptions {
            parse_date: el.bool_attr("parse-date", true)?,
            xsi_nil_null,
        };
        let mut liquid = None;
        if let Some(a) = el.opt("template") {
            match a.value.text.as_str() {
                "none" => {}
                "liquid" => {
                    let text = liquid_text(el);
                    let t =
                        crate::liquid::LiquidTemplate::compile(&text, options).map_err(|e| {
                            el.err(
                                ErrorKind::InvalidValue,
                                format!("the Liquid template is not supported: {e}"),
                            )
                        })?;
                    // The template reads the body: the gateway holds it whole.
                    let flag = match r.target {
                        HeaderTarget::Request => &r.route.reads_request_body,
                        HeaderTarget::Response => &r.route.reads_response_body,
                    };
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    liquid = Some(t);
                }
                other => {
                    return Err(el.attr_err(
                        a,
                        ErrorKind::InvalidValue,
                        format!("set-body template '{other}'; expected liquid or none"),
                    ));
                }
            }
        }
        if liquid.is_some() {
            return Ok(SetBody {
                body: Template::Literal("".into()),
                to_request: r.target == HeaderTarget::Request,
                liquid,
                in_return_response: false,
            });
        }
        let body = match el.text() {
            Some(t) => Template::compile(&t, el.src, r.route)?,
            None => Template::Literal("".into()),
        };
        Ok(SetBody {
            body,
            to_request: r.target == HeaderTarget::Request,
            liquid: None,
            in_return_response: false,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        self.apply(ctx, at.origin).map(|()| Flow::Next)
    }
}

/// A Liquid template's text: the element's text, or, when the template is markup (a SOAP
/// envelope), the element's inner XML as written.
fn liquid_text(el: &El) -> String {
    if el.e.elements().next().is_none() {
        return el.text().map(|t| t.text.to_string()).unwrap_or_default();
    }
    let text = el.src.text();
    let inner = text
        .get(el.e.offset..)
        .and_then(|rest| {
            let start = el.e.offset + rest.find('>')? + 1;
            let end = start + text.get(start..)?.find("</set-body")?;
            text.get(start..end)
        })
        .unwrap_or_default();
    inner.trim().to_string()
}

/// `return-response`: APIM's fresh `200 OK` (nothing of the response under construction, or of
/// the backend's, carries over), changed by its children, then the pipeline ends.
#[derive(Clone, Debug)]
pub struct ReturnResponse {
    /// `response-variable-name`: start from the response `send-request` stored there.
    pub variable: Option<Arc<str>>,
    pub status: Option<SetStatus>,
    pub headers: Vec<SetHeader>,
    pub body: Option<SetBody>,
}

impl PolicyStep for ReturnResponse {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["response-variable-name"])?;
        let variable = el
            .opt("response-variable-name")
            .map(|a| el.literal(a).map(Arc::from))
            .transpose()?;
        el.only_children(&["set-status", "set-header", "set-body"], false)?;
        let status = el
            .child("set-status")?
            .map(|c| SetStatus::read(&c, r))
            .transpose()?;
        let headers = el
            .children("set-header")
            .map(|c| SetHeader::read_for(&c, r, HeaderTarget::Response))
            .collect::<Result<Vec<_>, _>>()?;
        // return-response's body is the response's, whatever the section (a Liquid template
        // there reads no body: APIM cancels the pipeline first).
        let fresh = Reader {
            target: HeaderTarget::Request,
            ..*r
        };
        let body = el
            .child("set-body")?
            .map(|c| SetBody::read(&c, &fresh))
            .transpose()?
            .map(|b| SetBody {
                to_request: false,
                in_return_response: true,
                ..b
            });
        Ok(ReturnResponse {
            variable,
            status,
            headers,
            body,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        ctx.clear_response();
        let mut body = Vec::new();
        if let Some(name) = &self.variable {
            let sent = match ctx.state().variable(name) {
                Some(Value::Obj(o)) => match &**o {
                    Obj::Response(_) => Some(o.clone()),
                    _ => None,
                },
                _ => None,
            };
            let Some(o) = sent else {
                return Err(at.origin.fail(
                    "ResponseVariableNotFound",
                    &format!("return-response: the variable '{name}' does not hold a response from send-request."),
                    500,
                    "Internal server error",
                ));
            };
            if let Obj::Response(r) = &*o {
                ctx.set_response_status(r.status, Some(&r.reason));
                for (k, v) in &r.headers {
                    // The gateway frames the answer itself.
                    if !crate::http::is_framing(k) {
                        ctx.write_response_header(k, v, HeaderWrite::Append);
                    }
                }
                body = r.body.to_vec();
            }
        }
        if let Some(s) = &self.status {
            s.apply(ctx, at.origin)?;
        }
        for h in &self.headers {
            h.apply(ctx, at.origin)?;
        }
        match &self.body {
            Some(b) => b.apply(ctx, at.origin)?,
            None => ctx.set_response_body(body),
        }
        Ok(Flow::Respond)
    }
}

/// `mock-response`: the status and content type, an empty body, and the pipeline ends.
#[derive(Clone, Debug)]
pub struct MockResponse {
    pub status: u16,
    pub content_type: Option<Arc<str>>,
}

impl PolicyStep for MockResponse {
    fn read(el: &El, _: &Reader) -> Result<Self, CompileError> {
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
        Ok(MockResponse {
            status,
            content_type,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, _: &Site) -> Result<Flow, Fail> {
        ctx.clear_response();
        ctx.set_response_status(self.status, None);
        if let Some(ct) = &self.content_type {
            ctx.write_response_header("Content-Type", ct, HeaderWrite::Set);
        }
        ctx.set_response_body(Vec::new());
        Ok(Flow::Respond)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{HeaderWrite, RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn return_response_starts_fresh_and_answers() {
        let p = read(r#"<return-response><set-status code="418" reason="Teapot"/><set-header name="X-R"><value>1</value></set-header><set-body>short</set-body></return-response>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        ctx.write_response_header("X-Before", "1", HeaderWrite::Set);
        assert_eq!(run(&p, &mut ctx), Ok(true));
        assert_eq!((ctx.status, ctx.reason.as_str()), (418, "Teapot"));
        assert_eq!(ctx.response_header_values("X-R"), vec!["1"]);
        assert!(ctx.response_header("X-Before").is_none());
        assert_eq!(ctx.body_text(), Some("short"));
        // A variable without a response in it is a failure into on-error.
        let p = read(r#"<return-response response-variable-name="r"/>"#).unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(&*e.reason, "ResponseVariableNotFound");
    }

    #[test]
    fn set_status_guards_its_code_and_reason() {
        let p = read(r#"<set-status code="@(600)"/>"#).unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
        let p = read(r#"<set-status code="200" reason="@("a\nb")"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.reason, "OK", "a reason with a line break is dropped");
        assert!(refused(r#"<set-status code="@("x")"/>"#).contains("int expression"));
    }

    #[test]
    fn liquid_bodies_from_the_request_and_in_return_response() {
        let p = read(r#"<set-body template="liquid"><order id="{{body.id}}" by="{{context.Request.Headers['X-User'] | Upcase}}">{% for l in body.lines %}<line>{{l.sku}}</line>{% endfor %}{{body.absent}}</order></set-body>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/")
            .with_header("X-User", "ann")
            .with_header("Content-Type", "application/json");
        ctx.request_body = Some(br#"{"id":7,"lines":[{"sku":"a"},{"sku":"b"}]}"#.to_vec());
        run(&p, &mut ctx).unwrap();
        assert_eq!(
            ctx.state.request_body.as_deref(),
            Some(&br#"<order id="7" by="ANN"><line>a</line><line>b</line></order>"#[..])
        );
        // In return-response the template reads no body (APIM) and builds the response's.
        let p = read(r#"<return-response><set-body template="liquid">{"method":"{{context.Request.Method}}","id":"{{body.id}}"}</set-body></return-response>"#).unwrap();
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.body_text(), Some(r#"{"method":"POST","id":""}"#));
        // A template that fails while rendering is a failure into on-error.
        let p = read(r#"<set-body template="liquid">{{ 1 | DividedBy: 0 }}</set-body>"#).unwrap();
        assert_eq!(
            &*run(&p, &mut ctx).unwrap_err().reason,
            "LiquidTemplateFailure"
        );
    }

    #[test]
    fn set_body_and_mock_response() {
        assert!(refused(r#"<set-body template="handlebars">x</set-body>"#)
            .contains("expected liquid or none"));
        assert!(
            refused(r#"<set-body template="liquid">{{ 1 | Currency: "fr-FR" }}</set-body>"#)
                .contains("Liquid template is not supported")
        );
        // Read as inbound reads it: the body of the request sent to the backend.
        assert!(
            refused(r#"<set-body xsi-nil="true">x</set-body>"#).contains("expected blank or null")
        );
        assert!(refused(r#"<set-body parse-date="maybe">x</set-body>"#).contains("parse-date"));
        let p = read(r#"<set-body xsi-nil="null" parse-date="false"></set-body>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.state.request_body.as_deref(), Some(&b""[..]));
        assert_eq!(ctx.body_text(), None);
        let p =
            read(r#"<mock-response status-code="202" content-type="application/json"/>"#).unwrap();
        assert_eq!(run(&p, &mut ctx), Ok(true));
        assert_eq!(ctx.status, 202);
        assert_eq!(
            ctx.response_header_values("Content-Type"),
            vec!["application/json"]
        );
    }
}
