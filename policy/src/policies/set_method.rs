//! `set-method`: the method of the request sent to the backend (an HTTP token; expressions
//! allowed, as the set-method page says).

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

#[derive(Clone, Debug)]
pub struct SetMethod(Template);

/// An HTTP method is a token (RFC 9110 §5.6.2).
pub(crate) fn is_token(m: &str) -> bool {
    !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl PolicyStep for SetMethod {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[])?;
        el.only_children(&[], true)?;
        let t = Template::compile(&el.text().unwrap_or_default(), el.src, r.route)?;
        if let Some(m) = t.literal() {
            if !is_token(m) {
                return Err(el.err(
                    ErrorKind::InvalidValue,
                    format!("'{m}' is not an HTTP method"),
                ));
            }
        }
        Ok(SetMethod(t))
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let m = at.origin.text(&self.0, ctx)?;
        if !is_token(&m) {
            return Err(at.origin.fail(
                "InvalidMethod",
                &format!("'{m}' is not an HTTP method."),
                500,
                "Internal server error",
            ));
        }
        ctx.set_method(&m);
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn the_method_changes_and_must_be_a_token() {
        let p = read(r#"<set-method>@(context.Request.Headers.GetValueOrDefault("X-Method", "PATCH"))</set-method>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/");
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.method(), "PATCH");
        let mut ctx = SimpleContext::new("POST", "/").with_header("X-Method", "GE T");
        assert_eq!(&*run(&p, &mut ctx).unwrap_err().reason, "InvalidMethod");
        assert!(refused("<set-method>DE LETE</set-method>").contains("not an HTTP method"));
        assert!(refused("<set-method/>").contains("not an HTTP method"));
    }
}
