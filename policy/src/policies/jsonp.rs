//! `jsonp`: when the request's query names a callback (`callback-parameter-name`), the
//! backend's body becomes `callback(body)` with `Content-Type: application/javascript`. A
//! callback that is not a JavaScript identifier (dotted names allowed, as JSONP clients use
//! them) fails with APIM's `CallbackParameterInvalid` (400). The body is the backend's: the
//! route is called whole.

use std::sync::Arc;

use super::{body_of, holds_body, set_body_of, Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};

#[derive(Clone, Debug)]
pub struct Jsonp {
    parameter: Arc<str>,
}

/// `name` or `a.b.c`, each part a JavaScript identifier (ASCII letters, digits, `_`, `$`).
fn is_callback(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

impl PolicyStep for Jsonp {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["callback-parameter-name"])?;
        el.only_children(&[], false)?;
        let parameter = el.literal(el.req("callback-parameter-name")?)?;
        if parameter.is_empty() {
            return Err(el.err(ErrorKind::InvalidValue, "callback-parameter-name is empty"));
        }
        holds_body(r);
        Ok(Jsonp {
            parameter: parameter.into(),
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let Some(callback) = ctx.url().query_param(&self.parameter) else {
            return Ok(Flow::Next);
        };
        if !is_callback(&callback) {
            let msg = format!(
                "Value of callback parameter {} is not a valid JavaScript identifier.",
                self.parameter
            );
            return Err(at.origin.fail("CallbackParameterInvalid", &msg, 400, &msg));
        }
        let body = body_of(ctx, true).unwrap_or_default();
        let mut out = Vec::with_capacity(body.len() + callback.len() + 2);
        out.extend_from_slice(callback.as_bytes());
        out.push(b'(');
        out.extend_from_slice(&body);
        out.push(b')');
        set_body_of(ctx, true, out);
        ctx.write_response_header("Content-Type", "application/javascript", HeaderWrite::Set);
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn the_body_is_wrapped_in_the_callback() {
        let p = read(r#"<jsonp callback-parameter-name="cb"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/?cb=app.receive");
        ctx.set_response_body(br#"{"a":1}"#.to_vec());
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.body_text(), Some(r#"app.receive({"a":1})"#));
        assert_eq!(
            ctx.response_header("Content-Type").as_deref(),
            Some("application/javascript")
        );
        // No callback: nothing happens.
        let mut ctx = SimpleContext::new("GET", "/");
        ctx.set_response_body(b"{}".to_vec());
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.body_text(), Some("{}"));
        for bad in ["alert(1)", "a..b", "1x", "a%3Bb"] {
            let mut ctx = SimpleContext::new("GET", &format!("/?cb={bad}"));
            let e = run(&p, &mut ctx).unwrap_err();
            assert_eq!(
                (&*e.reason, e.status),
                ("CallbackParameterInvalid", 400),
                "{bad}"
            );
        }
        assert!(refused("<jsonp/>").contains("callback-parameter-name"));
    }
}
