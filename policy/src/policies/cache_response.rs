//! `cache-lookup` and `cache-store`: APIM's response cache, in the gateway's value cache
//! (`crate::cache`). A GET that `cache-lookup` finds is answered from the cache in inbound; on
//! a miss the key goes into the request state and `cache-store` (outbound) stores the response
//! under it (`200 OK` only, unless `cache-response="true"`). The key is the route, the path,
//! the `vary-by-query-parameter` and `vary-by-header` values, and with `vary-by-developer` the
//! client certificate (certgate's stand-in for APIM's developer). A request with
//! `Authorization` is not cached unless `allow-private-response-caching`; then it varies by it.
//! `downstream-caching-type` `private`/`public` adds `Cache-Control` with the duration (and
//! `must-revalidate`, on by default) to responses the cache stored or served.
//!
//! `cache-store` needs the backend's whole body: its route is called whole
//! ([`crate::Plan::reads_response_body`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::cache::{CacheOp, CacheResult, CachedValue, Downstream};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Expression;
use crate::value::Value;

/// Longest time a response may be cached: a day.
const MAX_DURATION: u64 = 86_400;

/// Headers not stored with a response besides the framing ones: `Date` is the answer's own
/// and `Set-Cookie` belongs to one client.
const NOT_STORED: &[&str] = &["date", "set-cookie"];

#[derive(Clone, Debug)]
pub struct CacheLookup {
    vary_by_developer: bool,
    allow_private: Option<Expression>,
    downstream: Downstream,
    headers: Vec<Arc<str>>,
    query: Vec<Arc<str>>,
    /// The route (API and operation): part of every key.
    route: Arc<str>,
    /// `caching-type` chose the external cache (the `cache-store` after it stores there too).
    external: bool,
}

#[derive(Clone, Debug)]
pub struct CacheStore {
    duration: u64,
    any_status: bool,
}

impl PolicyStep for CacheLookup {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "vary-by-developer",
            "vary-by-developer-groups",
            "caching-type",
            "downstream-caching-type",
            "must-revalidate",
            "allow-private-response-caching",
        ])?;
        el.only_children(&["vary-by-header", "vary-by-query-parameter"], false)?;
        let external = super::cache_value::caching_type(el, r)?;
        if el.bool_attr("vary-by-developer-groups", false)? {
            return Err(el.err(
                ErrorKind::InvalidValue,
                "vary-by-developer-groups=\"true\": certgate has no developer groups",
            ));
        }
        let must_revalidate = el.bool_attr("must-revalidate", true)?;
        let downstream = match el
            .opt("downstream-caching-type")
            .map(|a| (a, a.value.text.as_str()))
        {
            None | Some((_, "none")) => Downstream::None,
            Some((_, "private")) => Downstream::Private { must_revalidate },
            Some((_, "public")) => Downstream::Public { must_revalidate },
            Some((a, other)) => {
                return Err(el.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("downstream-caching-type '{other}'; expected none, private or public"),
                ))
            }
        };
        let headers = el
            .children("vary-by-header")
            .map(|h| h.required_text().map(|t| Arc::from(t.to_ascii_lowercase())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut query = Vec::new();
        for q in el.children("vary-by-query-parameter") {
            let t = q.bare_text()?;
            // APIM: one or several names, separated by semicolons.
            query.extend(
                t.split(';')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(Arc::from),
            );
        }
        query.sort();
        Ok(CacheLookup {
            vary_by_developer: el.bool_attr("vary-by-developer", false)?,
            allow_private: el
                .opt("allow-private-response-caching")
                .map(|a| el.bool_expr(a, r.route))
                .transpose()?,
            downstream,
            headers,
            query,
            route: format!("{}:{}", r.route.api_id, r.route.operation_id).into(),
            external,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        if ctx.method() != "GET" {
            return Ok(Flow::Next);
        }
        let authorization = ctx.request_header("Authorization").map(|a| a.to_string());
        let private = match &self.allow_private {
            Some(e) => matches!(at.origin.value(e, ctx)?, Value::Bool(true)),
            None => false,
        };
        if authorization.is_some() && !private {
            return Ok(Flow::Next);
        }
        let url = ctx.url();
        let mut key = format!("response\u{1f}{}\u{1f}{}", self.route, url.path);
        for q in &self.query {
            key.push('\u{1f}');
            key.push_str(&url.query_values(q).join(","));
        }
        for h in &self.headers {
            key.push('\u{1f}');
            key.push_str(&ctx.request_header_values(h).join(","));
        }
        if self.vary_by_developer {
            key.push('\u{1f}');
            key.push_str(ctx.certificate().map_or("", |c| c.thumbprint()));
        }
        if let Some(a) = authorization {
            key.push('\u{1f}');
            key.push_str(&a);
        }
        if self.external {
            // The key waits for cache-store; a hit takes it back (complete).
            ctx.state_mut().response_cache = Some((key.as_str().into(), self.downstream, true));
            return Ok(Flow::Cache(Box::new(CacheOp::Get(key.into()))));
        }
        let found = ctx.cache().get(&key);
        ctx.state_mut().response_cache = Some((key.into(), self.downstream, false));
        Ok(self.answer(found, ctx))
    }
}

impl CacheLookup {
    /// A stored response answers the request; a miss lets the pipeline go on (and
    /// `cache-store` store the response under the key left in the state).
    fn answer(&self, found: Option<CachedValue>, ctx: &mut dyn RequestContext) -> Flow {
        let cached = found.and_then(|v| match v.value() {
            Value::Bytes(b) => decode(&b),
            _ => None,
        });
        let Some((status, reason, headers, body, seconds_left)) = cached else {
            return Flow::Next;
        };
        ctx.state_mut().response_cache = None;
        ctx.clear_response();
        ctx.set_response_status(status, Some(&reason));
        for (k, v) in &headers {
            ctx.write_response_header(k, v, HeaderWrite::Append);
        }
        downstream_header(ctx, self.downstream, seconds_left);
        ctx.set_response_body(body);
        Flow::Respond
    }

    /// The external cache's answer.
    pub(crate) fn complete(
        &self,
        r: CacheResult,
        ctx: &mut dyn RequestContext,
        o: &super::Origin,
    ) -> Result<Flow, Fail> {
        let found = r.map_err(|why| super::cache_value::unavailable(o, &why))?;
        Ok(self.answer(found, ctx))
    }
}

/// `Cache-Control` for downstream caches.
fn downstream_header(ctx: &mut dyn RequestContext, d: Downstream, seconds: u64) {
    let (kind, must) = match d {
        Downstream::None => return,
        Downstream::Private { must_revalidate } => ("private", must_revalidate),
        Downstream::Public { must_revalidate } => ("public", must_revalidate),
    };
    let v = if must {
        format!("{kind}, max-age={seconds}, must-revalidate")
    } else {
        format!("{kind}, max-age={seconds}")
    };
    ctx.write_response_header("Cache-Control", &v, HeaderWrite::Set);
}

/// A stored response: status, reason, headers, body and when it was stored with its duration.
fn encode(
    status: u16,
    reason: &str,
    headers: &[(String, String)],
    body: &[u8],
    duration: u64,
) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "status": status,
        "reason": reason,
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "expires": now + duration as i64,
    })
    .to_string()
    .into_bytes()
}

type Stored = (u16, String, Vec<(String, String)>, Vec<u8>, u64);

fn decode(b: &[u8]) -> Option<Stored> {
    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
    let headers = v
        .get("headers")?
        .as_array()?
        .iter()
        .filter_map(|p| {
            Some((
                p.get(0)?.as_str()?.to_string(),
                p.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(v.get("body")?.as_str()?)
        .ok()?;
    let left = v.get("expires")?.as_i64()? - chrono::Utc::now().timestamp();
    Some((
        u16::try_from(v.get("status")?.as_u64()?).ok()?,
        v.get("reason")?.as_str()?.to_string(),
        headers,
        body,
        u64::try_from(left.max(0)).unwrap_or(0),
    ))
}

impl PolicyStep for CacheStore {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["duration", "cache-response"])?;
        el.only_children(&[], false)?;
        // The response is stored whole: the gateway receives the backend's body first.
        r.route
            .reads_response_body
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(CacheStore {
            duration: el.u64_attr(el.req("duration")?, 1, MAX_DURATION)?,
            any_status: el.bool_attr("cache-response", false)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, _: &Site) -> Result<Flow, Fail> {
        let Some((key, downstream, external)) = ctx.state_mut().response_cache.take() else {
            return Ok(Flow::Next);
        };
        let (status, reason) = {
            let (s, r) = ctx.response_status();
            (s, r.to_string())
        };
        if status != 200 && !self.any_status {
            return Ok(Flow::Next);
        }
        let headers: Vec<(String, String)> = ctx
            .response_headers()
            .into_iter()
            .filter(|(k, _)| {
                !crate::http::is_framing(k) && !NOT_STORED.iter().any(|n| k.eq_ignore_ascii_case(n))
            })
            .collect();
        let body = ctx.response_body().unwrap_or_default().to_vec();
        let stored = encode(status, &reason, &headers, &body, self.duration);
        downstream_header(ctx, downstream, self.duration);
        let ttl = Duration::from_secs(self.duration);
        if let Some(v) = CachedValue::new(Value::Bytes(stored.into())) {
            if external {
                return Ok(Flow::Cache(Box::new(CacheOp::Set(key, v, ttl))));
            }
            ctx.cache().set(&key, v, ttl);
        }
        Ok(Flow::Next)
    }
}

impl CacheStore {
    /// The external cache's answer: the response goes out either way (a store that failed
    /// is counted by the gateway, not turned into an error for a good response).
    pub(crate) fn complete(&self, _: CacheResult) -> Result<Flow, Fail> {
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::cache::LocalCache;
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    /// Runs lookup, then (on a miss) a "backend" answer and store; whether it was a hit.
    fn request(
        cache: &Arc<LocalCache>,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (bool, SimpleContext) {
        let lookup = read(r#"<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="public"><vary-by-header>Accept</vary-by-header><vary-by-query-parameter>units;days</vary-by-query-parameter></cache-lookup>"#).unwrap();
        let store = read(r#"<cache-store duration="60"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", url).with_cache(cache.clone());
        for (k, v) in headers {
            ctx = ctx.with_header(k, v);
        }
        if run(&lookup, &mut ctx).unwrap() {
            return (true, ctx);
        }
        ctx.set_response_status(200, None);
        ctx.write_response_header(
            "Content-Type",
            "application/json",
            crate::context::HeaderWrite::Set,
        );
        ctx.write_response_header("Content-Length", "99", crate::context::HeaderWrite::Set);
        ctx.set_response_body(body.as_bytes().to_vec());
        run(&store, &mut ctx).unwrap();
        (false, ctx)
    }

    #[test]
    fn a_stored_get_is_served_from_the_cache_by_its_varying_parts() {
        let cache = Arc::new(LocalCache::new(1 << 20));
        let (hit, first) = request(&cache, "/w?units=metric&x=1", &[("Accept", "json")], "one");
        assert!(!hit);
        assert_eq!(
            first.response_header("Cache-Control").as_deref(),
            Some("public, max-age=60, must-revalidate")
        );
        let (hit, again) = request(&cache, "/w?x=2&units=metric", &[("Accept", "json")], "two");
        assert!(hit, "an unvaried query parameter does not matter");
        assert_eq!(again.body_text(), Some("one"));
        assert_eq!(
            again.response_header("Content-Type").as_deref(),
            Some("application/json")
        );
        assert!(
            again.response_header("Content-Length").is_none(),
            "framing is not stored"
        );
        assert!(!request(&cache, "/w?units=imperial", &[("Accept", "json")], "").0);
        assert!(!request(&cache, "/w?units=metric", &[("Accept", "xml")], "").0);
        // Authorization: not cached without allow-private-response-caching.
        assert!(
            !request(
                &cache,
                "/w?units=metric",
                &[("Accept", "json"), ("Authorization", "Bearer a")],
                ""
            )
            .0
        );
        assert!(
            !request(
                &cache,
                "/w?units=metric",
                &[("Accept", "json"), ("Authorization", "Bearer a")],
                ""
            )
            .0
        );
        // Not a GET: neither looked up nor stored.
        let lookup =
            read(r#"<cache-lookup vary-by-developer="false" vary-by-developer-groups="false"/>"#)
                .unwrap();
        let mut post = SimpleContext::new("POST", "/w?units=metric").with_cache(cache.clone());
        assert_eq!(run(&lookup, &mut post), Ok(false));
        assert!(post.state().response_cache.is_none());
        // Only 200 OK is stored unless cache-response.
        let store = read(r#"<cache-store duration="60"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/err").with_cache(cache.clone());
        run(&lookup, &mut ctx).unwrap();
        ctx.set_response_status(500, None);
        run(&store, &mut ctx).unwrap();
        let mut ctx = SimpleContext::new("GET", "/err").with_cache(cache.clone());
        assert_eq!(run(&lookup, &mut ctx), Ok(false), "a 500 was not stored");
    }

    #[test]
    fn cache_documents_are_checked() {
        for (xml, needle) in [
            (
                r#"<cache-lookup vary-by-developer="false" vary-by-developer-groups="true"/>"#,
                "developer groups",
            ),
            (
                r#"<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="shared"/>"#,
                "expected none, private or public",
            ),
            (
                r#"<cache-lookup vary-by-developer="false" vary-by-developer-groups="false" caching-type="external"/>"#,
                "needs an external cache: configure `redis`",
            ),
            (r#"<cache-store/>"#, "'duration'"),
            (r#"<cache-store duration="0"/>"#, "duration"),
        ] {
            assert!(refused(xml).contains(needle), "{xml}: {}", refused(xml));
        }
    }
}
