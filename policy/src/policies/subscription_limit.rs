//! `rate-limit` (429) and `quota` (403): APIM's per-subscription limits. certgate has no
//! subscriptions; it counts by the caller's client certificate (its thumbprint), the identity
//! this gateway authenticates, and, as APIM skips calls without a subscription key, does not
//! count a request without one. The policy's own limit and those of its `<api>` and nested
//! `<operation>` children that name this route (by `id`, else `name`) apply independently, each
//! with its own counter; the counting is `rate-limit-by-key`'s (`rate_limit.rs`).

use std::time::Duration;

use super::rate_limit::{CounterKey, RateLimit};
use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::counters::{CountRequest, CountResult};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};

/// `rate-limit`'s longest renewal period (APIM: 300 seconds).
const MAX_RATE_PERIOD: u64 = 300;
/// `quota renewal-period="0"`: a lifetime quota, counted over a hundred years.
const LIFETIME: u64 = 100 * 365 * 86_400;

#[derive(Clone, Debug)]
pub struct SubscriptionLimit {
    levels: Vec<RateLimit>,
}

/// One level's `calls` and `renewal-period`; `bandwidth` is refused by name.
fn limits(el: &El, quota: bool) -> Result<(u64, Duration), CompileError> {
    if let Some(a) = el.opt("bandwidth") {
        return Err(el.attr_err(
            a,
            ErrorKind::InvalidValue,
            "quota bandwidth is not supported by certgate; use calls",
        ));
    }
    let calls = el.u64_attr(el.req("calls")?, 1, u64::MAX / 2)?;
    let a = el.req("renewal-period")?;
    let period = if quota {
        match el.u64_attr(a, 0, LIFETIME)? {
            0 => LIFETIME,
            s => s,
        }
    } else {
        el.u64_attr(a, 1, MAX_RATE_PERIOD)?
    };
    Ok((calls, Duration::from_secs(period)))
}

/// Whether an `<api>`/`<operation>` child names this route: by `id` if it has one, else by
/// `name`.
fn names(el: &El, id: &str, name: &str) -> Result<bool, CompileError> {
    match (el.opt("id"), el.opt("name")) {
        (Some(i), _) => Ok(el.literal(i)? == id),
        (None, Some(n)) => Ok(el.literal(n)? == name),
        (None, None) => Err(el.err(
            ErrorKind::MissingAttribute,
            format!("<{}> needs a name or an id", el.e.name),
        )),
    }
}

impl PolicyStep for SubscriptionLimit {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        let quota = r.name == "quota";
        let headers = [
            "retry-after-header-name",
            "retry-after-variable-name",
            "remaining-calls-header-name",
            "remaining-calls-variable-name",
            "total-calls-header-name",
        ];
        let mut allowed = vec!["calls", "renewal-period", "bandwidth"];
        if !quota {
            allowed.extend(headers);
        }
        el.only_attrs(&allowed)?;
        el.only_children(&["api"], false)?;
        let lit = |n: &str| el.opt(n).map(|a| el.literal(a).map(Into::into)).transpose();
        let level = |calls: u64, period: Duration, at: &str| -> Result<RateLimit, CompileError> {
            Ok(RateLimit {
                quota,
                calls,
                period,
                key: CounterKey::ClientCertificate,
                increment_condition: None,
                increment_count: 1,
                counter_scope: format!(
                    "{}:{}:{}:{at}:{}",
                    r.name,
                    r.route.api_id,
                    r.route.operation_id,
                    el.src.pos(el.e.offset)
                )
                .into(),
                retry_after_header: lit("retry-after-header-name")?,
                retry_after_variable: lit("retry-after-variable-name")?,
                remaining_header: lit("remaining-calls-header-name")?,
                remaining_variable: lit("remaining-calls-variable-name")?,
                total_header: lit("total-calls-header-name")?,
                // APIM: rate limits slide; quotas renew in fixed periods from year one.
                window: if quota {
                    crate::counters::Window::Fixed {
                        origin_ms: crate::counters::YEAR_ONE_MS,
                    }
                } else {
                    crate::counters::Window::Sliding
                },
            })
        };
        let (calls, period) = limits(el, quota)?;
        let mut levels = vec![level(calls, period, "policy")?];
        let route = r.route;
        for api in el.children("api") {
            api.only_attrs(&["name", "id", "calls", "renewal-period", "bandwidth"])?;
            api.only_children(&["operation"], false)?;
            let (calls, period) = limits(&api, quota)?;
            let this_api = names(&api, &route.api_id, &route.api_name)?;
            if this_api {
                levels.push(level(calls, period, "api")?);
            }
            for op in api.children("operation") {
                op.only_attrs(&["name", "id", "calls", "renewal-period", "bandwidth"])?;
                op.only_children(&[], false)?;
                let (calls, period) = limits(&op, quota)?;
                if this_api && names(&op, &route.operation_id, &route.operation_name)? {
                    levels.push(level(calls, period, "operation")?);
                }
            }
        }
        Ok(SubscriptionLimit { levels })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        if at.counters.shared() {
            // Every level in one request to the shared store, counted in order.
            let mut counts = Vec::with_capacity(self.levels.len());
            for l in &self.levels {
                match l.count(ctx, at.origin)? {
                    Some(c) => counts.push(c),
                    None => return Ok(Flow::Next),
                }
            }
            return Ok(Flow::Count(Box::new(CountRequest {
                counts,
                quota: self.levels.first().is_some_and(|l| l.quota),
            })));
        }
        for l in &self.levels {
            l.run(ctx, at)?;
        }
        Ok(Flow::Next)
    }
}

impl SubscriptionLimit {
    /// A shared store's decisions, level by level.
    pub(crate) fn complete(
        &self,
        result: CountResult,
        ctx: &mut dyn RequestContext,
        o: &super::Origin,
    ) -> Result<Flow, Fail> {
        let decisions = result.map_err(|why| super::rate_limit::unavailable(o, &why))?;
        for (l, d) in self.levels.iter().zip(decisions) {
            l.apply(d, ctx, o)?;
        }
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::cert::Certificate;
    use crate::context::{RouteInfo, SimpleContext};
    use crate::counters::LocalCounters;
    use crate::pki::{DemoPki, KeyKind};
    use crate::policies::testing::{read_for, run_counted};

    fn route(api: &str, op: &str) -> RouteInfo {
        RouteInfo {
            api_name: api.into(),
            api_id: format!("{api}-id").into(),
            operation_name: op.into(),
            operation_id: format!("{op}-id").into(),
            ..RouteInfo::default()
        }
    }

    #[test]
    fn callers_are_counted_by_client_certificate_at_every_level_that_names_the_route() {
        let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let cert =
            |i: &crate::pki::Issued| Arc::new(Certificate::from_x509(i.cert.clone()).unwrap());
        let (alice, bob) = (cert(&pki.valid), cert(&pki.multi_rdn));
        let xml = r#"<rate-limit calls="10" renewal-period="60" remaining-calls-header-name="X-Left">
            <api name="weather" calls="5" renewal-period="60">
              <operation id="today-id" calls="2" renewal-period="60"/>
              <operation name="other" calls="1" renewal-period="60"/>
            </api>
            <api id="nope" calls="1" renewal-period="60"/>
          </rate-limit>"#;
        let p = read_for(xml, &route("weather", "today")).unwrap();
        let counters = LocalCounters::default();
        let ctx = |c: &Arc<Certificate>| {
            let mut x = SimpleContext::new("GET", "/");
            x.certificate = Some(c.clone());
            x
        };
        // The operation's 2 calls are the tightest limit here.
        for _ in 0..2 {
            assert_eq!(run_counted(&p, &mut ctx(&alice), &counters), Ok(false));
        }
        let e = run_counted(&p, &mut ctx(&alice), &counters).unwrap_err();
        assert_eq!((&*e.reason, e.status), ("RateLimitExceeded", 429));
        // Another certificate is another caller.
        assert_eq!(run_counted(&p, &mut ctx(&bob), &counters), Ok(false));
        // No certificate: not counted (APIM does not count calls without a subscription).
        for _ in 0..20 {
            assert_eq!(
                run_counted(&p, &mut SimpleContext::new("GET", "/"), &counters),
                Ok(false)
            );
        }
        // Another operation of the API: only the API's 5 and the policy's 10 apply.
        let p = read_for(xml, &route("weather", "tomorrow")).unwrap();
        for _ in 0..5 {
            assert_eq!(run_counted(&p, &mut ctx(&bob), &counters), Ok(false));
        }
        assert!(run_counted(&p, &mut ctx(&bob), &counters).is_err());
    }

    #[test]
    fn quotas_answer_403_and_periods_are_bounded() {
        let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let cert = Arc::new(Certificate::from_x509(pki.valid.cert.clone()).unwrap());
        let p = read_for(r#"<quota calls="1" renewal-period="0"/>"#, &route("a", "b")).unwrap();
        let counters = LocalCounters::default();
        let mut ctx = SimpleContext::new("GET", "/");
        ctx.certificate = Some(cert);
        assert_eq!(run_counted(&p, &mut ctx, &counters), Ok(false));
        let e = run_counted(&p, &mut ctx, &counters).unwrap_err();
        assert_eq!((&*e.reason, e.status), ("QuotaExceeded", 403));
        let refused = |xml: &str| read_for(xml, &route("a", "b")).unwrap_err().to_string();
        assert!(
            refused(r#"<rate-limit calls="1" renewal-period="301"/>"#).contains("renewal-period")
        );
        assert!(
            refused(r#"<quota calls="1" bandwidth="10" renewal-period="60"/>"#)
                .contains("bandwidth is not supported")
        );
        assert!(refused(r#"<rate-limit calls="1" renewal-period="60"><api calls="1" renewal-period="60"/></rate-limit>"#).contains("needs a name or an id"));
        assert!(refused(
            r#"<quota calls="1" renewal-period="60" remaining-calls-header-name="X"/>"#
        )
        .contains("remaining-calls-header-name"));
    }
}
