//! `emit-metric`: a custom metric, which certgate exports to Prometheus (APIM sends it to
//! Application Insights): `value` (1 by default) is added to a counter named after the metric,
//! labelled with its `namespace` and dimensions. Dimension names are fixed at load (they become
//! label names); a dimension without a value must be one of APIM's default dimensions, which
//! certgate fills from the route and deployment (`API ID`, `Operation ID`, `Gateway ID`,
//! `Location`; `Product ID`, `User ID`, `Subscription ID` and `Backend ID` are empty: certgate
//! has none).

use std::sync::Arc;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{MetricEvent, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::value::Value;

/// APIM's limit of custom dimensions per policy.
const MAX_DIMENSIONS: usize = 10;

#[derive(Clone, Debug)]
enum Amount {
    Fixed(f64),
    Expr(Expression),
}

#[derive(Clone, Debug)]
enum DimensionValue {
    Template(Template),
    /// A default dimension: from the route or the deployment.
    Default(&'static str),
}

#[derive(Clone, Debug)]
pub struct EmitMetric {
    name: Arc<str>,
    namespace: Arc<str>,
    value: Amount,
    dimensions: Vec<(Arc<str>, DimensionValue)>,
}

/// APIM's default dimensions, which need no value.
fn default_dimension(name: &str) -> Option<&'static str> {
    Some(match name {
        "API ID" => "api",
        "Operation ID" => "operation",
        "Gateway ID" => "gateway",
        "Location" | "Location ID" => "location",
        "Product ID" | "User ID" | "Subscription ID" | "Backend ID" => "none",
        _ => return None,
    })
}

impl PolicyStep for EmitMetric {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["name", "value", "namespace"])?;
        el.only_children(&["dimension"], false)?;
        let name = el.literal(el.req("name")?)?;
        if name.trim().is_empty() {
            return Err(el.err(ErrorKind::InvalidValue, "name is empty"));
        }
        let value = match el.opt("value") {
            None => Amount::Fixed(1.0),
            Some(a) => match expr::compile(&a.value, el.src, r.route)? {
                Some(e) if matches!(e.ty(), Ty::Int | Ty::Double | Ty::Object) => Amount::Expr(e),
                Some(e) => {
                    return Err(el.attr_err(
                        a,
                        ErrorKind::ExpressionType,
                        format!("value must be a number, not '{}'", e.ty()),
                    ))
                }
                None => match a.value.text.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Amount::Fixed(v),
                    _ => {
                        return Err(el.attr_err(
                            a,
                            ErrorKind::InvalidValue,
                            format!("value '{}' is not a number of at least 0", a.value.text),
                        ))
                    }
                },
            },
        };
        let mut dimensions = Vec::new();
        for d in el.children("dimension") {
            d.only_attrs(&["name", "value"])?;
            d.only_children(&[], false)?;
            let n = d.literal(d.req("name")?)?;
            let v = match (d.opt("value"), default_dimension(n)) {
                (Some(a), _) => DimensionValue::Template(d.template(a, r.route)?),
                // The route's ids are known here.
                (None, Some("api")) => DimensionValue::Template(Template::Literal(r.route.api_id.clone())),
                (None, Some("operation")) => {
                    DimensionValue::Template(Template::Literal(r.route.operation_id.clone()))
                }
                (None, Some(k)) => DimensionValue::Default(k),
                (None, None) => {
                    return Err(d.err(
                        ErrorKind::MissingAttribute,
                        format!("dimension '{n}' needs a value (only APIM's default dimensions, such as 'API ID', may leave it out)"),
                    ))
                }
            };
            if dimensions.iter().any(|(k, _): &(Arc<str>, _)| **k == *n) {
                return Err(d.err(
                    ErrorKind::InvalidValue,
                    format!("dimension '{n}' appears twice"),
                ));
            }
            dimensions.push((Arc::from(n), v));
        }
        if dimensions.is_empty() {
            return Err(el.err(
                ErrorKind::Structure,
                "<emit-metric> needs at least one <dimension>",
            ));
        }
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(el.err(
                ErrorKind::Structure,
                format!(
                    "<emit-metric> has {} dimensions; at most {MAX_DIMENSIONS}",
                    dimensions.len()
                ),
            ));
        }
        Ok(EmitMetric {
            name: name.into(),
            namespace: el
                .opt("namespace")
                .map(|a| el.literal(a).map(Arc::from))
                .transpose()?
                .unwrap_or_else(|| Arc::from("API Management")),
            value,
            dimensions,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let value = match &self.value {
            Amount::Fixed(v) => *v,
            Amount::Expr(e) => match o.value(e, ctx)? {
                Value::Int(i) => i as f64,
                Value::Double(d) => d,
                v => {
                    return Err(o.fail(
                        "ExpressionValueEvaluationFailure",
                        &format!(
                            "Expression evaluation failed. The metric value {} is not a number.",
                            v.to_dotnet_string()
                        ),
                        500,
                        "Internal server error",
                    ))
                }
            },
        };
        let mut dims = Vec::with_capacity(self.dimensions.len());
        for (k, v) in &self.dimensions {
            let v = match v {
                DimensionValue::Template(t) => o.text(t, ctx)?.to_string(),
                DimensionValue::Default("gateway") => ctx.deployment().gateway_id.to_string(),
                DimensionValue::Default("location") => ctx.deployment().region.to_string(),
                DimensionValue::Default(_) => String::new(),
            };
            dims.push((k.clone(), v));
        }
        ctx.emit_metric(MetricEvent {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            value,
            dimensions: dims,
        });
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn a_metric_with_its_dimensions() {
        let p = read(r#"<emit-metric name="calls" namespace="weather" value="@(context.Request.Method.Length)"><dimension name="client" value="@(context.Request.Method)"/><dimension name="Gateway ID"/></emit-metric>"#).unwrap();
        let mut ctx = SimpleContext::new("POST", "/");
        run(&p, &mut ctx).unwrap();
        let m = &ctx.metrics[0];
        assert_eq!(
            (&*m.namespace, &*m.name, m.value),
            ("weather", "calls", 4.0)
        );
        assert_eq!(m.dimensions[0], ("client".into(), "POST".to_string()));
        assert_eq!(&*m.dimensions[1].0, "Gateway ID");
        let p = read(r#"<emit-metric name="n"><dimension name="API ID"/></emit-metric>"#).unwrap();
        run(&p, &mut ctx).unwrap();
        assert_eq!(
            (&*ctx.metrics[1].namespace, ctx.metrics[1].value),
            ("API Management", 1.0)
        );
        for (xml, needle) in [
            (r#"<emit-metric name="n"/>"#, "at least one <dimension>"),
            (
                r#"<emit-metric name="n"><dimension name="custom"/></emit-metric>"#,
                "needs a value",
            ),
            (
                r#"<emit-metric name="n" value="-1"><dimension name="API ID"/></emit-metric>"#,
                "at least 0",
            ),
            (
                r#"<emit-metric name="n" value="@("x")"><dimension name="API ID"/></emit-metric>"#,
                "must be a number",
            ),
            (
                r#"<emit-metric name="n"><dimension name="a" value="1"/><dimension name="a" value="2"/></emit-metric>"#,
                "twice",
            ),
        ] {
            assert!(refused(xml).contains(needle), "{xml}: {}", refused(xml));
        }
    }
}
