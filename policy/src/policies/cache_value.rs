//! `cache-lookup-value`, `cache-store-value` and `cache-remove-value`: values kept between
//! requests in the gateway's value cache (`crate::cache`), by key.
//!
//! `caching-type="internal"` uses the gateway's own cache; `external` the external one (Redis,
//! shared by every node; refused at load without one); `prefer-external`, APIM's default, the
//! external one when there is one. The external cache is the gateway's I/O: the policy
//! suspends its section with `Io::Cache` and completes with the answer.
//! A lookup that misses assigns `default-value`; without one it leaves the variable unset
//! (APIM's reference says both "null is assigned" and "the variable is not set"; APIM's own
//! token-caching pattern tests `!context.Variables.ContainsKey("x")` after a lookup, which
//! only works when a miss sets nothing).

use std::sync::Arc;
use std::time::Duration;

use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::cache::{CacheOp, CacheResult, CachedValue};
use crate::context::RequestContext;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::value::Value;

/// Longest time a value may be cached: a year (APIM states no bound).
const MAX_DURATION: u64 = 365 * 24 * 3600;

#[derive(Clone, Debug)]
pub struct CacheLookupValue {
    key: Template,
    default: Option<Template>,
    variable: Arc<str>,
    external: bool,
}

#[derive(Clone, Debug)]
pub struct CacheStoreValue {
    key: Template,
    value: Template,
    duration: Seconds,
    external: bool,
}

#[derive(Clone, Debug)]
pub struct CacheRemoveValue {
    key: Template,
    external: bool,
}

/// `duration`: a number of seconds, or an expression giving one.
#[derive(Clone, Debug)]
enum Seconds {
    Fixed(u64),
    Expr(Expression),
}

/// Reads `caching-type`: whether the policy uses the external cache. `external` needs one
/// (`redis:` in the gateway's configuration); `prefer-external` (APIM's default) uses it when
/// there is one, else the gateway's own, as APIM documents.
pub(super) fn caching_type(el: &El, r: &Reader) -> Result<bool, CompileError> {
    match el.opt("caching-type").map(|a| (a, a.value.text.as_str())) {
        None | Some((_, "prefer-external")) => Ok(r.external_cache),
        Some((_, "internal")) => Ok(false),
        Some((_, "external")) if r.external_cache => Ok(true),
        Some((a, "external")) => Err(el.attr_err(
            a,
            ErrorKind::InvalidValue,
            "caching-type=\"external\" needs an external cache: configure `redis` for the gateway, or use internal or prefer-external (the gateway's own cache)",
        )),
        Some((a, other)) => Err(el.attr_err(
            a,
            ErrorKind::InvalidValue,
            format!("caching-type '{other}'; expected internal, external or prefer-external"),
        )),
    }
}

fn key(el: &El, r: &Reader) -> Result<Template, CompileError> {
    el.template(el.req("key")?, r.route)
}

/// The key, evaluated; an empty one is a failure (it would collide with every other).
fn eval_key(t: &Template, ctx: &dyn RequestContext, o: &Origin) -> Result<Arc<str>, Fail> {
    let k = o.text(t, ctx)?;
    if k.is_empty() {
        return Err(o.fail(
            "CacheKeyEmpty",
            "The cache key is empty.",
            500,
            "Internal server error",
        ));
    }
    Ok(k)
}

impl PolicyStep for CacheLookupValue {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["key", "default-value", "variable-name", "caching-type"])?;
        el.only_children(&[], false)?;
        Ok(CacheLookupValue {
            external: caching_type(el, r)?,
            key: key(el, r)?,
            default: el
                .opt("default-value")
                .map(|a| el.template(a, r.route))
                .transpose()?,
            variable: el.literal(el.req("variable-name")?)?.into(),
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let key = eval_key(&self.key, ctx, at.origin)?;
        if self.external {
            return Ok(Flow::Cache(Box::new(CacheOp::Get(key))));
        }
        let found = ctx.cache().get(&key);
        self.found(found, ctx, at.origin)
    }
}

impl CacheLookupValue {
    /// The variable from what the cache found (or the default).
    fn found(
        &self,
        found: Option<CachedValue>,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<Flow, Fail> {
        let value = match found {
            Some(v) => v.value(),
            None => match &self.default {
                Some(d) => d.eval(ctx).map_err(|e| o.expr_failed(&e))?,
                None => return Ok(Flow::Next),
            },
        };
        ctx.state_mut().set_variable(&self.variable, value);
        Ok(Flow::Next)
    }

    /// The external cache's answer.
    pub(crate) fn complete(
        &self,
        r: CacheResult,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<Flow, Fail> {
        let found = r.map_err(|why| unavailable(o, &why))?;
        self.found(found, ctx, o)
    }
}

/// The external cache could not be asked and the configuration says to refuse.
pub(super) fn unavailable(o: &Origin, why: &str) -> Fail {
    o.fail(
        "CacheUnavailable",
        &format!("The external cache is unavailable: {why}."),
        503,
        "Service unavailable",
    )
}

/// `Set`/`Remove` answered: nothing to do unless the cache could not be asked.
fn done(r: CacheResult, o: &Origin) -> Result<Flow, Fail> {
    r.map(|_| Flow::Next).map_err(|why| unavailable(o, &why))
}

impl PolicyStep for CacheStoreValue {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["key", "value", "duration", "caching-type"])?;
        el.only_children(&[], false)?;
        let external = caching_type(el, r)?;
        let d = el.req("duration")?;
        let duration = match expr::compile(&d.value, el.src, r.route)? {
            Some(e) if matches!(e.ty(), Ty::Int | Ty::Object) => Seconds::Expr(e),
            Some(e) => {
                return Err(el.attr_err(
                    d,
                    ErrorKind::ExpressionType,
                    format!("duration must be a number of seconds, not '{}'", e.ty()),
                ))
            }
            None => Seconds::Fixed(el.u64_attr(d, 1, MAX_DURATION)?),
        };
        Ok(CacheStoreValue {
            key: key(el, r)?,
            value: el.template(el.req("value")?, r.route)?,
            duration,
            external,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let key = eval_key(&self.key, ctx, o)?;
        let seconds = match &self.duration {
            Seconds::Fixed(s) => *s,
            Seconds::Expr(e) => match o.value(e, ctx)? {
                Value::Int(s) if (1..=MAX_DURATION as i64).contains(&s) => s as u64,
                v => {
                    return Err(o.fail(
                        "ExpressionValueEvaluationFailure",
                        &format!(
                            "Expression evaluation failed. The cache duration {} is not between 1 and {MAX_DURATION} seconds.",
                            v.to_dotnet_string()
                        ),
                        500,
                        "Internal server error",
                    ))
                }
            },
        };
        let value = self.value.eval(ctx).map_err(|e| o.expr_failed(&e))?;
        let type_name = value.type_name();
        let Some(cached) = CachedValue::new(value) else {
            return Err(o.fail(
                "CacheValueNotSupported",
                &format!("A value of type '{type_name}' cannot be cached; cache a string (for example its JSON) or a number."),
                500,
                "Internal server error",
            ));
        };
        let ttl = Duration::from_secs(seconds);
        if self.external {
            return Ok(Flow::Cache(Box::new(CacheOp::Set(key, cached, ttl))));
        }
        ctx.cache().set(&key, cached, ttl);
        Ok(Flow::Next)
    }
}

impl CacheStoreValue {
    /// The external cache's answer.
    pub(crate) fn complete(&self, r: CacheResult, o: &Origin) -> Result<Flow, Fail> {
        done(r, o)
    }
}

impl PolicyStep for CacheRemoveValue {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["key", "caching-type"])?;
        el.only_children(&[], false)?;
        Ok(CacheRemoveValue {
            external: caching_type(el, r)?,
            key: key(el, r)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let key = eval_key(&self.key, ctx, at.origin)?;
        if self.external {
            return Ok(Flow::Cache(Box::new(CacheOp::Remove(key))));
        }
        ctx.cache().remove(&key);
        Ok(Flow::Next)
    }
}

impl CacheRemoveValue {
    /// The external cache's answer.
    pub(crate) fn complete(&self, r: CacheResult, o: &Origin) -> Result<Flow, Fail> {
        done(r, o)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};
    use crate::value::Value;

    #[test]
    fn a_stored_value_is_found_by_later_requests_until_removed() {
        let store = read(r#"<cache-store-value key="@("token-" + context.Request.Method)" value="@(42)" duration="60" caching-type="internal"/>"#).unwrap();
        let lookup = read(r#"<cache-lookup-value key="token-GET" variable-name="t"/>"#).unwrap();
        let remove = read(r#"<cache-remove-value key="token-GET"/>"#).unwrap();
        let cache = std::sync::Arc::new(crate::cache::LocalCache::new(1 << 20));
        let mut ctx = SimpleContext::new("GET", "/").with_cache(cache.clone());
        run(&store, &mut ctx).unwrap();
        // Another request, sharing the cache.
        let mut later = SimpleContext::new("GET", "/").with_cache(cache.clone());
        run(&lookup, &mut later).unwrap();
        assert!(matches!(later.state().variable("t"), Some(Value::Int(42))));
        run(&remove, &mut later).unwrap();
        let mut last = SimpleContext::new("GET", "/").with_cache(cache);
        run(&lookup, &mut last).unwrap();
        assert!(last.state().variable("t").is_none(), "a miss sets nothing");
        let s = last.cache().stats();
        assert_eq!((s.hits, s.misses, s.stores), (1, 1, 1));
    }

    #[test]
    fn a_miss_assigns_the_default_value() {
        let lookup = read(r#"<cache-lookup-value key="k" default-value="@("none-" + context.Request.Method)" variable-name="t"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&lookup, &mut ctx).unwrap();
        assert_eq!(
            ctx.state()
                .variable("t")
                .map(Value::to_dotnet_string)
                .as_deref(),
            Some("none-GET")
        );
        // Without a default the variable stays unset: APIM's ContainsKey pattern works.
        let lookup = read(r#"<cache-lookup-value key="k" variable-name="u"/>"#).unwrap();
        run(&lookup, &mut ctx).unwrap();
        assert!(ctx.state().variable("u").is_none());
    }

    #[test]
    fn what_cannot_be_cached_fails_and_bad_attributes_are_refused() {
        let mut ctx = SimpleContext::new("GET", "/");
        for (xml, reason) in [
            (
                r#"<cache-store-value key="k" value="@(new JObject())" duration="60"/>"#,
                "CacheValueNotSupported",
            ),
            (
                r#"<cache-store-value key="@(context.Request.Headers.GetValueOrDefault("x", ""))" value="v" duration="60"/>"#,
                "CacheKeyEmpty",
            ),
            (
                r#"<cache-store-value key="k" value="v" duration="@(context.Request.Method.Length - 3)"/>"#,
                "ExpressionValueEvaluationFailure",
            ),
        ] {
            let p = read(xml).unwrap();
            assert_eq!(&*run(&p, &mut ctx).unwrap_err().reason, reason, "{xml}");
        }
        assert!(refused(
            r#"<cache-store-value key="k" value="v" duration="60" caching-type="external"/>"#
        )
        .contains("needs an external cache"));
        assert!(refused(
            r#"<cache-lookup-value key="k" variable-name="v" caching-type="remote"/>"#
        )
        .contains("expected internal, external or prefer-external"));
        assert!(refused(r#"<cache-store-value key="k" value="v"/>"#).contains("duration"));
        assert!(
            refused(r#"<cache-store-value key="k" value="v" duration="0"/>"#).contains("duration")
        );
        assert!(
            refused(r#"<cache-store-value key="k" value="v" duration="@("x")"/>"#)
                .contains("number of seconds")
        );
        assert!(refused(r#"<cache-lookup-value key="k"/>"#).contains("variable-name"));
    }
}
