//! `set-query-parameter` (exists-action override | skip | append | delete, several `<value>`s):
//! the query string of the request sent to the backend. Names and values are written
//! percent-encoded; existing parameters are compared by their decoded name, case-sensitively
//! (query names are, unlike header names).

use std::sync::Arc;

use super::headers::ExistsAction;
use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

/// What a query component keeps as is: RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone, Debug)]
pub struct SetQueryParameter {
    name: Template,
    action: ExistsAction,
    values: Vec<Template>,
}

impl PolicyStep for SetQueryParameter {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["name", "exists-action"])?;
        el.only_children(&["value"], false)?;
        let name = el.template(el.req("name")?, r.route)?;
        if name.literal().is_some_and(str::is_empty) {
            return Err(el.err(ErrorKind::InvalidValue, "name is empty"));
        }
        let action = super::headers::exists_action(el)?;
        let mut values = Vec::new();
        for v in el.children("value") {
            v.only_attrs(&[])?;
            v.only_children(&[], true)?;
            values.push(Template::compile(
                &v.text().unwrap_or_default(),
                el.src,
                r.route,
            )?);
        }
        if values.is_empty() && action != ExistsAction::Delete {
            return Err(el.err(
                ErrorKind::Structure,
                "<set-query-parameter> needs at least one <value> (or exists-action=\"delete\")",
            ));
        }
        Ok(SetQueryParameter {
            name,
            action,
            values,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let name = o.text(&self.name, ctx)?;
        let mut values: Vec<Arc<str>> = Vec::with_capacity(self.values.len());
        for v in &self.values {
            values.push(o.text(v, ctx)?);
        }
        let url = ctx.url();
        let mut pairs: Vec<String> = url
            .query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(str::to_string)
            .collect();
        let named = |kv: &String| {
            let k = kv.split('=').next().unwrap_or("");
            percent_encoding::percent_decode_str(&k.replace('+', " ")).decode_utf8_lossy() == *name
        };
        let exists = pairs.iter().any(named);
        match self.action {
            ExistsAction::Skip if exists => return Ok(Flow::Next),
            ExistsAction::Override | ExistsAction::Delete => pairs.retain(|kv| !named(kv)),
            ExistsAction::Skip | ExistsAction::Append => {}
        }
        if self.action != ExistsAction::Delete {
            let k = percent_encoding::utf8_percent_encode(&name, COMPONENT).to_string();
            for v in &values {
                pairs.push(format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, COMPONENT)
                ));
            }
        }
        ctx.set_query(&pairs.join("&"));
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    fn query_after(xml: &str, url: &str) -> String {
        let p = read(xml).unwrap_or_else(|e| panic!("{e}"));
        let mut ctx = SimpleContext::new("GET", url);
        run(&p, &mut ctx).unwrap();
        ctx.url().query.to_string()
    }

    #[test]
    fn each_exists_action_as_apim_documents_it() {
        let q = "/x?a=1&b=2&a=3";
        let set = |action: &str, values: &str| {
            format!(
                r#"<set-query-parameter name="a" exists-action="{action}">{values}</set-query-parameter>"#
            )
        };
        assert_eq!(
            query_after(&set("override", "<value>9</value><value>8</value>"), q),
            "b=2&a=9&a=8"
        );
        assert_eq!(
            query_after(&set("skip", "<value>9</value>"), q),
            "a=1&b=2&a=3"
        );
        assert_eq!(
            query_after(&set("skip", "<value>9</value>"), "/x?b=2"),
            "b=2&a=9"
        );
        assert_eq!(
            query_after(&set("append", "<value>9</value>"), q),
            "a=1&b=2&a=3&a=9"
        );
        assert_eq!(query_after(&set("delete", ""), q), "b=2");
        // Values are encoded; names are matched decoded.
        assert_eq!(
            query_after(
                r#"<set-query-parameter name="q w"><value>@("a&b=c " + context.Request.Method)</value></set-query-parameter>"#,
                "/x?q+w=1"
            ),
            "q%20w=a%26b%3Dc%20GET"
        );
        assert!(
            refused(r#"<set-query-parameter name="a"/>"#).contains("needs at least one <value>")
        );
        assert!(refused(r#"<set-query-parameter name="a" exists-action="replace"><value>1</value></set-query-parameter>"#).contains("expected override, skip, append or delete"));
    }
}
