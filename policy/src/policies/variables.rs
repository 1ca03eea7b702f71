//! `set-variable`: a value into `context.Variables`, of one of the types APIM allows there.

use std::sync::Arc;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::Template;
use crate::xml::Attr;

#[derive(Clone, Debug)]
pub struct SetVariable {
    pub name: Arc<str>,
    pub value: Template,
}

impl PolicyStep for SetVariable {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["name", "value"])?;
        el.only_children(&[], false)?;
        let n = el.req("name")?;
        let v = el.req("value")?;
        let value = el.template(v, r.route)?;
        if let Template::Expr(e) = &value {
            check_variable_type(el, v, e.ty())?;
        }
        Ok(SetVariable {
            name: el.literal(n)?.into(),
            value,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let v = self
            .value
            .eval(ctx)
            .map_err(|e| at.origin.expr_failed(&e))?;
        ctx.state_mut().set_variable(&self.name, v);
        Ok(Flow::Next)
    }
}

/// The types APIM allows in variables.
fn check_variable_type(el: &El, a: &Attr, ty: &Ty) -> Result<(), CompileError> {
    let ok = matches!(
        ty,
        Ty::Bool
            | Ty::Int
            | Ty::Double
            | Ty::Char
            | Ty::Str
            | Ty::DateTime
            | Ty::TimeSpan
            | Ty::Bytes
            | Ty::Cert
            | Ty::Null
            | Ty::Object
            | Ty::Array(_)
            | Ty::DistName
    );
    if ok {
        Ok(())
    } else {
        Err(el.attr_err(
            a,
            ErrorKind::ExpressionType,
            format!("a variable cannot hold a value of type '{ty}'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::policies::testing::{read, refused, run};
    use crate::value::Value;

    #[test]
    fn set_variable_stores_typed_values() {
        let p = read(r#"<set-variable name="n" value="@(40 + 2)"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert!(matches!(ctx.state.variable("n"), Some(Value::Int(42))));
        assert!(refused(r#"<set-variable name="n"/>"#).contains("needs the attribute 'value'"));
        assert!(refused(r#"<set-variable name="n" value="1" type="int"/>"#)
            .contains("unknown attribute 'type'"));
    }
}
