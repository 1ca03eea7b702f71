//! `set-header` (exists-action override | skip | append | delete, several `<value>`s) and
//! `check-header`.

use std::sync::Arc;

use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistsAction {
    Override,
    Skip,
    Append,
    Delete,
}

/// `exists-action` of `set-header` and `set-query-parameter` (default override).
pub(crate) fn exists_action(el: &El) -> Result<ExistsAction, CompileError> {
    Ok(
        match el.opt("exists-action").map(|a| (a, a.value.text.as_str())) {
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
        },
    )
}

/// Which headers a `set-header` writes: the request's before the backend call, the response's
/// after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderTarget {
    Request,
    Response,
}

#[derive(Clone, Debug)]
pub struct SetHeader {
    pub name: Arc<str>,
    pub action: ExistsAction,
    pub values: Vec<Template>,
    pub target: HeaderTarget,
}

impl SetHeader {
    /// Reads a `<set-header>` that writes to `target` (`return-response` always builds a
    /// response).
    pub(crate) fn read_for(
        el: &El,
        r: &Reader,
        target: HeaderTarget,
    ) -> Result<SetHeader, CompileError> {
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
        let action = exists_action(el)?;
        let mut values = Vec::new();
        for v in el.children("value") {
            v.only_attrs(&[])?;
            v.only_children(&[], true)?;
            let t = v.text().unwrap_or_default();
            values.push(Template::compile(&t, el.src, r.route)?);
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

    pub(crate) fn apply(&self, ctx: &mut dyn RequestContext, o: &Origin) -> Result<(), Fail> {
        let exists = match self.target {
            HeaderTarget::Request => ctx.request_header(&self.name).is_some(),
            HeaderTarget::Response => ctx.response_header(&self.name).is_some(),
        };
        let (remove_first, skip) = match self.action {
            ExistsAction::Delete => {
                match self.target {
                    HeaderTarget::Request => ctx.remove_request_header(&self.name),
                    HeaderTarget::Response => ctx.remove_response_header(&self.name),
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
        let values = self.values(ctx, o)?;
        for (i, v) in values.iter().enumerate() {
            let how = if i == 0 && remove_first {
                HeaderWrite::Set
            } else {
                HeaderWrite::Append
            };
            match self.target {
                HeaderTarget::Request => ctx.write_request_header(&self.name, v, how),
                HeaderTarget::Response => ctx.write_response_header(&self.name, v, how),
            }
        }
        Ok(())
    }

    /// Applies it to a header list (a `send-request`'s), names compared case-insensitively.
    pub(crate) fn apply_to(
        &self,
        list: &mut Vec<(String, String)>,
        ctx: &dyn RequestContext,
        o: &Origin,
    ) -> Result<(), Fail> {
        let exists = list.iter().any(|(k, _)| k.eq_ignore_ascii_case(&self.name));
        match self.action {
            ExistsAction::Skip if exists => return Ok(()),
            ExistsAction::Delete | ExistsAction::Override => {
                list.retain(|(k, _)| !k.eq_ignore_ascii_case(&self.name))
            }
            ExistsAction::Skip | ExistsAction::Append => {}
        }
        if self.action != ExistsAction::Delete {
            for v in self.values(ctx, o)? {
                list.push((self.name.to_string(), v.to_string()));
            }
        }
        Ok(())
    }

    /// The values, evaluated; a line break or NUL in one is a failure (header injection).
    fn values(&self, ctx: &dyn RequestContext, o: &Origin) -> Result<Vec<Arc<str>>, Fail> {
        let mut values = Vec::with_capacity(self.values.len());
        for v in &self.values {
            let s = o.text(v, ctx)?;
            // Header injection guard: a value from an expression must not carry CR/LF.
            if s.contains(['\r', '\n', '\0']) {
                return Err(o.fail(
                    "ExpressionValueEvaluationFailure",
                    &format!(
                        "Expression evaluation failed. Header '{}' value contains a line break.",
                        self.name
                    ),
                    500,
                    "Internal server error",
                ));
            }
            values.push(s);
        }
        Ok(values)
    }
}

impl PolicyStep for SetHeader {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        SetHeader::read_for(el, r, r.target)
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        self.apply(ctx, at.origin).map(|()| Flow::Next)
    }
}

/// `check-header`: the request must carry the header (with one of the values, when listed).
#[derive(Clone, Debug)]
pub struct CheckHeader {
    pub name: Arc<str>,
    pub failed_code: u16,
    pub failed_message: Template,
    pub ignore_case: bool,
    pub values: Vec<Arc<str>>,
}

impl PolicyStep for CheckHeader {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "name",
            "failed-check-httpcode",
            "failed-check-error-message",
            "ignore-case",
        ])?;
        el.only_children(&["value"], false)?;
        let name = el.literal(el.req("name")?)?.into();
        let failed_code = el.u64_attr(el.req("failed-check-httpcode")?, 100, 599)? as u16;
        let failed_message = el.template(el.req("failed-check-error-message")?, r.route)?;
        let ignore_case = el.bool_attr("ignore-case", false)?;
        let mut values = Vec::new();
        for v in el.children("value") {
            v.only_attrs(&[])?;
            values.push(Arc::from(v.text().map(|t| t.text).unwrap_or_default()));
        }
        Ok(CheckHeader {
            name,
            failed_code,
            failed_message,
            ignore_case,
            values,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let ok = match ctx.request_header(&self.name) {
            None => false,
            Some(_) if self.values.is_empty() => true,
            Some(_) => ctx
                .request_header_values(&self.name)
                .iter()
                .flat_map(|v| v.split(','))
                .any(|v| {
                    let v = v.trim();
                    self.values.iter().any(|want| {
                        if self.ignore_case {
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
        let msg = at.origin.text(&self.failed_message, ctx)?;
        let reason = if ctx.request_header(&self.name).is_none() {
            "HeaderNotFound"
        } else {
            "HeaderValueNotAllowed"
        };
        Err(at.origin.fail(reason, &msg, self.failed_code, &msg))
    }
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::policies::testing::{read, refused, run};

    fn set(action: &str, value: &str) -> String {
        format!(
            r#"<set-header name="X-A" exists-action="{action}"><value>{value}</value></set-header>"#
        )
    }

    #[test]
    fn set_header_actions_on_the_request() {
        let ctx = || SimpleContext::new("GET", "/").with_header("X-A", "old");
        for (action, want) in [
            ("override", vec!["new"]),
            ("skip", vec!["old"]),
            ("append", vec!["old", "new"]),
        ] {
            let mut c = ctx();
            assert_eq!(run(&read(&set(action, "new")).unwrap(), &mut c), Ok(false));
            assert_eq!(c.request_header_list("X-A"), want, "{action}");
        }
        let mut c = ctx();
        let delete = read(r#"<set-header name="X-A" exists-action="delete"/>"#).unwrap();
        run(&delete, &mut c).unwrap();
        assert!(c.request_header_list("X-A").is_empty());
    }

    #[test]
    fn set_header_refuses_line_breaks_from_expressions_and_bad_names() {
        let p = read(&set("override", "@(\"a\\r\\nInjected: 1\")")).unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(&*e.reason, "ExpressionValueEvaluationFailure");
        assert!(
            refused(r#"<set-header name="X:A"><value>1</value></set-header>"#)
                .contains("not a valid header name")
        );
        assert!(refused(r#"<set-header name="X-A"/>"#).contains("needs at least one <value>"));
        assert!(refused(&set("replace", "1")).contains("exists-action 'replace'"));
    }

    #[test]
    fn check_header_reasons() {
        let p = read(r#"<check-header name="X-Key" failed-check-httpcode="401" failed-check-error-message="no key" ignore-case="true"><value>Secret</value></check-header>"#).unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(
            (&*e.reason, e.status, &*e.message),
            ("HeaderNotFound", 401, "no key")
        );
        let mut wrong = SimpleContext::new("GET", "/").with_header("X-Key", "other");
        assert_eq!(
            &*run(&p, &mut wrong).unwrap_err().reason,
            "HeaderValueNotAllowed"
        );
        let mut ok = SimpleContext::new("GET", "/").with_header("X-Key", "a, SECRET");
        assert_eq!(run(&p, &mut ok), Ok(false));
        assert!(refused(
            r#"<check-header name="X" failed-check-httpcode="99" failed-check-error-message="m"/>"#
        )
        .contains("from 100 to 599"));
    }
}
