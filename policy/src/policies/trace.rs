//! `trace`: a structured event (source, severity, message, metadata) for the access log.

use std::sync::Arc;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{RequestContext, Severity, TraceEvent};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

#[derive(Clone, Debug)]
pub struct Trace {
    pub source: Arc<str>,
    pub severity: Severity,
    pub message: Template,
    pub metadata: Vec<(Arc<str>, Template)>,
}

impl PolicyStep for Trace {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["source", "severity"])?;
        // Older documents write the message as the element's text.
        el.only_children(&["message", "metadata"], true)?;
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
        let text = el.text().filter(|t| !t.text.is_empty());
        let message = match (el.child("message")?, text) {
            (Some(_), Some(_)) => {
                return Err(el.err(
                    ErrorKind::Structure,
                    "<trace> has both a <message> and text; write the message once",
                ))
            }
            (Some(m), None) => {
                m.only_attrs(&[])?;
                m.only_children(&[], true)?;
                match m.text() {
                    Some(t) => Template::compile(&t, el.src, r.route)?,
                    None => Template::Literal("".into()),
                }
            }
            (None, Some(t)) => Template::compile(&t, el.src, r.route)?,
            (None, None) => {
                return Err(el.err(
                    ErrorKind::Structure,
                    "<trace> needs a <message> child (or, as older documents write it, text)",
                ))
            }
        };
        let mut metadata = Vec::new();
        for md in el.children("metadata") {
            md.only_attrs(&["name", "value"])?;
            md.only_children(&[], false)?;
            metadata.push((
                md.literal(md.req("name")?)?.into(),
                md.template(md.req("value")?, r.route)?,
            ));
        }
        Ok(Trace {
            source,
            severity,
            message,
            metadata,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let message = at.origin.text(&self.message, ctx)?.to_string();
        let mut md = Vec::with_capacity(self.metadata.len());
        for (k, v) in &self.metadata {
            md.push((k.clone(), at.origin.text(v, ctx)?.to_string()));
        }
        ctx.trace(TraceEvent {
            source: self.source.clone(),
            severity: self.severity,
            message,
            metadata: md,
        });
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{Severity, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn trace_emits_a_structured_event() {
        let p = read(r#"<trace source="audit" severity="information"><message>@(context.Request.Method)</message><metadata name="k" value="v"/></trace>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/");
        run(&p, &mut ctx).unwrap();
        let t = &ctx.traces[0];
        assert_eq!(
            (&*t.source, t.severity, t.message.as_str()),
            ("audit", Severity::Information, "POST")
        );
        assert_eq!(t.metadata, vec![("k".into(), "v".to_string())]);
        assert!(
            refused(r#"<trace source="a" severity="loud"><message>m</message></trace>"#)
                .contains("severity 'loud'")
        );
        assert!(refused(r#"<trace source="a"/>"#).contains("needs a <message>"));
        // Older documents: the message as text.
        let p =
            read(r#"<trace source="legacy">@("seen " + context.Request.Method)</trace>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.traces[0].message, "seen GET");
        assert!(refused(r#"<trace source="a">x<message>y</message></trace>"#).contains("both"));
        // White space around a <message> is not a second message.
        let p = read("<trace source=\"a\">\n  <message>m</message>\n</trace>").unwrap();
        run(&p, &mut ctx).unwrap();
        assert_eq!(ctx.traces[1].message, "m");
    }
}
