//! `rewrite-uri`: the backend request's path and query from a template, keeping the client's
//! query parameters the template does not name (`copy-unmatched-params`, default true).

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::CompileError;
use crate::expr::Template;

#[derive(Clone, Debug)]
pub struct RewriteUri {
    pub template: Template,
    pub copy_unmatched_params: bool,
}

impl PolicyStep for RewriteUri {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["template", "copy-unmatched-params"])?;
        el.only_children(&[], false)?;
        Ok(RewriteUri {
            template: el.template(el.req("template")?, r.route)?,
            copy_unmatched_params: el.bool_attr("copy-unmatched-params", true)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let target = at.origin.text(&self.template, ctx)?;
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut query = query.to_string();
        if self.copy_unmatched_params {
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
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, run};

    #[test]
    fn unmatched_query_parameters_are_kept_unless_asked_not_to() {
        let p = read(r#"<rewrite-uri template="v2/items?a=1"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/items?a=9&b=2");
        run(&p, &mut ctx).unwrap();
        assert_eq!((ctx.url().path, ctx.url().query), ("/v2/items", "a=1&b=2"));
        let p = read(r#"<rewrite-uri template="/x" copy-unmatched-params="false"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/items?b=2");
        run(&p, &mut ctx).unwrap();
        assert_eq!((ctx.url().path, ctx.url().query), ("/x", ""));
    }
}
