//! `find-and-replace`: every occurrence of `from` in the body becomes `to` (ordinal, as the
//! name says; APIM does not document more). Before the backend call the body is the request's,
//! after it the backend's (the gateway holds either whole for this route). A message without
//! a body is left alone.

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

#[derive(Clone, Debug)]
pub struct FindAndReplace {
    /// After the backend call: the backend's body.
    response: bool,
    from: Template,
    to: Template,
}

impl PolicyStep for FindAndReplace {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["from", "to"])?;
        el.only_children(&[], false)?;
        let from = el.template(el.req("from")?, r.route)?;
        if from.literal().is_some_and(str::is_empty) {
            return Err(el.err(ErrorKind::InvalidValue, "from is empty"));
        }
        Ok(FindAndReplace {
            response: super::holds_body(r),
            from,
            to: el.template(el.req("to")?, r.route)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let from = o.text(&self.from, ctx)?;
        if from.is_empty() {
            return Ok(Flow::Next);
        }
        let to = o.text(&self.to, ctx)?;
        let Some(body) = super::body_of(ctx, self.response) else {
            return Ok(Flow::Next);
        };
        let text = String::from_utf8_lossy(&body);
        if text.contains(&*from) {
            super::set_body_of(ctx, self.response, text.replace(&*from, &to).into_bytes());
        }
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn every_occurrence_in_the_request_body_is_replaced() {
        let p = read(r#"<find-and-replace from="@("color")" to="colour"/>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/");
        ctx.request_body = Some(br#"{"color":"red","colors":["color"]}"#.to_vec());
        run(&p, &mut ctx).unwrap();
        assert_eq!(
            ctx.state.request_body.as_deref(),
            Some(&br#"{"colour":"red","colours":["colour"]}"#[..])
        );
        // Several in a row see each other's result.
        let p = read(r#"<find-and-replace from="red" to="blue"/>"#).unwrap();
        run(&p, &mut ctx).unwrap();
        assert!(
            String::from_utf8_lossy(ctx.state.request_body.as_deref().unwrap()).contains("blue")
        );
        // No body: nothing to do.
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert!(ctx.state.request_body.is_none());
        assert!(refused(r#"<find-and-replace from="" to="x"/>"#).contains("from is empty"));
        assert!(refused(r#"<find-and-replace from="a"/>"#).contains("'to'"));
    }
}
