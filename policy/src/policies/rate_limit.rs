//! `rate-limit-by-key` (429 with Retry-After) and `quota-by-key` (403): calls per key per
//! renewal period, counted in the plan's counter store (local, or shared across nodes).

use std::sync::Arc;
use std::time::Duration;

use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::counters::{Count, CountRequest, CountResult, Decision, Window, YEAR_ONE_MS};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::{Expression, Template};
use crate::value::Value;

/// What a limit counts by.
#[derive(Clone, Debug)]
pub enum CounterKey {
    /// `counter-key` (the by-key forms).
    Template(Template),
    /// The caller's client certificate (its thumbprint): what certgate counts `rate-limit` and
    /// `quota` by, where APIM counts by subscription. A request without one is not counted, as
    /// APIM does not count calls without a subscription key.
    ClientCertificate,
}

#[derive(Clone, Debug)]
pub struct RateLimit {
    /// `quota-by-key` (403, quota wording) rather than `rate-limit-by-key` (429).
    pub quota: bool,
    pub calls: u64,
    pub period: Duration,
    pub key: CounterKey,
    pub increment_condition: Option<Expression>,
    pub increment_count: u64,
    /// Separates this policy's counters from every other policy's.
    pub counter_scope: Arc<str>,
    pub retry_after_header: Option<Arc<str>>,
    pub retry_after_variable: Option<Arc<str>>,
    pub remaining_header: Option<Arc<str>>,
    pub remaining_variable: Option<Arc<str>>,
    pub total_header: Option<Arc<str>>,
    /// Sliding for rate limits, fixed (from `first-period-start`) for quotas.
    pub window: Window,
}

impl PolicyStep for RateLimit {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        let quota = r.name == "quota-by-key";
        let mut allowed = vec![
            "calls",
            "renewal-period",
            "counter-key",
            "increment-condition",
            "increment-count",
        ];
        if quota {
            allowed.extend(["bandwidth", "first-period-start"]);
        } else {
            allowed.extend([
                "retry-after-header-name",
                "retry-after-variable-name",
                "remaining-calls-header-name",
                "remaining-calls-variable-name",
                "total-calls-header-name",
            ]);
        }
        el.only_attrs(&allowed)?;
        el.only_children(&[], false)?;
        if quota && el.opt("bandwidth").is_some() {
            return Err(el.err(
                ErrorKind::InvalidValue,
                "quota-by-key bandwidth is not supported; use calls",
            ));
        }
        let calls = el.u64_attr(el.req("calls")?, 1, u64::MAX / 2)?;
        let period =
            Duration::from_secs(el.u64_attr(el.req("renewal-period")?, 1, 365 * 86_400 * 10)?);
        let key = el.template(el.req("counter-key")?, r.route)?;
        let increment_condition = el
            .opt("increment-condition")
            .map(|a| el.bool_expr(a, r.route))
            .transpose()?;
        let increment_count = el
            .opt("increment-count")
            .map(|a| el.u64_attr(a, 0, u64::MAX / 2))
            .transpose()?
            .unwrap_or(1);
        let lit = |n: &str| el.opt(n).map(|a| el.literal(a).map(Arc::from)).transpose();
        let window = if quota {
            Window::Fixed {
                origin_ms: first_period_start(el)?,
            }
        } else {
            Window::Sliding
        };
        // Counters are per policy instance: the same key under two policies counts twice.
        let counter_scope = format!(
            "{}:{}:{}:{}",
            r.name,
            r.route.api_id,
            r.route.operation_id,
            el.src.pos(el.e.offset)
        );
        Ok(RateLimit {
            quota,
            calls,
            period,
            key: CounterKey::Template(key),
            increment_condition,
            increment_count,
            counter_scope: counter_scope.into(),
            retry_after_header: lit("retry-after-header-name")?,
            retry_after_variable: lit("retry-after-variable-name")?,
            remaining_header: lit("remaining-calls-header-name")?,
            remaining_variable: lit("remaining-calls-variable-name")?,
            total_header: lit("total-calls-header-name")?,
            window,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let Some(count) = self.count(ctx, at.origin)? else {
            return Ok(Flow::Next);
        };
        if at.counters.shared() {
            return Ok(Flow::Count(Box::new(CountRequest {
                counts: vec![count],
                quota: self.quota,
            })));
        }
        let d = at.counters.hit(&count);
        self.apply(d, ctx, at.origin).map(|()| Flow::Next)
    }
}

impl RateLimit {
    /// What this request counts, if it counts (a `rate-limit` without a client certificate
    /// does not).
    pub(crate) fn count(
        &self,
        ctx: &dyn RequestContext,
        o: &Origin,
    ) -> Result<Option<Count>, Fail> {
        let key = match &self.key {
            CounterKey::Template(t) => o.text(t, ctx)?,
            CounterKey::ClientCertificate => match ctx.certificate() {
                Some(c) => c.thumbprint().clone(),
                None => return Ok(None),
            },
        };
        let counts = match &self.increment_condition {
            None => true,
            Some(c) => matches!(o.value(c, ctx)?, Value::Bool(true)),
        };
        Ok(Some(Count {
            key: format!("{}\u{1f}{key}", self.counter_scope),
            amount: if counts { self.increment_count } else { 0 },
            limit: self.calls,
            period: self.period,
            window: self.window,
        }))
    }

    /// Acts on the store's decision: the headers and variables, and the refusal.
    pub(crate) fn apply(
        &self,
        d: Decision,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<(), Fail> {
        let retry = d.retry_after.as_secs().max(1);
        if let Some(v) = &self.remaining_variable {
            ctx.state_mut()
                .set_variable(v, Value::Int(d.remaining as i64));
        }
        if d.allowed {
            if let Some(h) = &self.remaining_header {
                ctx.write_response_header(h, &d.remaining.to_string(), HeaderWrite::Set);
            }
            if let Some(h) = &self.total_header {
                ctx.write_response_header(h, &self.calls.to_string(), HeaderWrite::Set);
            }
            return Ok(());
        }
        if let Some(v) = &self.retry_after_variable {
            ctx.state_mut().set_variable(v, Value::Int(retry as i64));
        }
        let header = self.retry_after_header.as_deref().unwrap_or("Retry-After");
        ctx.write_response_header(header, &retry.to_string(), HeaderWrite::Set);
        let (reason, status, msg) = if self.quota {
            // The message's "xx:xx:xx" is a .NET TimeSpan.
            (
                "QuotaExceeded",
                403,
                format!(
                    "Out of call volume quota. Quota will be replenished in {}.",
                    crate::dotnet::TimeSpan(d.retry_after.as_secs() as i64 * 10_000_000)
                ),
            )
        } else {
            (
                "RateLimitExceeded",
                429,
                format!("Rate limit is exceeded. Try again in {retry} seconds."),
            )
        };
        Err(o.fail(reason, &msg, status, &msg))
    }

    /// A shared store's answer: its decisions, or why it could not be asked (the gateway was
    /// told to refuse then: 503 `CounterStoreUnavailable`).
    pub(crate) fn complete(
        &self,
        result: CountResult,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<Flow, Fail> {
        match result {
            Ok(d) => match d.first() {
                Some(d) => self.apply(*d, ctx, o).map(|()| Flow::Next),
                None => Ok(Flow::Next),
            },
            Err(why) => Err(unavailable(o, &why)),
        }
    }
}

/// `first-period-start` (`yyyy-MM-ddTHH:mm:ssZ`), in Unix milliseconds; APIM's default is the
/// first day of year one, so periods of whole days renew at UTC midnight.
pub(crate) fn first_period_start(el: &El) -> Result<i64, CompileError> {
    let Some(a) = el.opt("first-period-start") else {
        return Ok(YEAR_ONE_MS);
    };
    let text = el.literal(a)?;
    crate::dotnet::DateTime::parse_json_date(text)
        .map(|d| d.to_universal().wall.and_utc().timestamp_millis())
        .ok_or_else(|| {
            el.attr_err(
                a,
                ErrorKind::InvalidValue,
                format!("first-period-start '{text}' is not a date-time (yyyy-MM-ddTHH:mm:ssZ)"),
            )
        })
}

/// The shared counters could not be asked and the configuration says to refuse.
pub(crate) fn unavailable(o: &Origin, why: &str) -> Fail {
    o.fail(
        "CounterStoreUnavailable",
        &format!("The shared rate-limit counters are unavailable: {why}."),
        503,
        "Service unavailable",
    )
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::counters::LocalCounters;
    use crate::policies::testing::{read, refused, run_counted};

    #[test]
    fn limits_per_key_with_retry_after() {
        let p = read(r#"<rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.Request.Headers.GetValueOrDefault("K", ""))" remaining-calls-header-name="X-Left"/>"#).unwrap();
        let counters = LocalCounters::default();
        let ctx = |k: &str| SimpleContext::new("GET", "/").with_header("K", k);
        for left in ["1", "0"] {
            let mut c = ctx("a");
            assert_eq!(run_counted(&p, &mut c, &counters), Ok(false));
            assert_eq!(c.response_header_values("X-Left"), vec![left]);
        }
        let mut c = ctx("a");
        let e = run_counted(&p, &mut c, &counters).unwrap_err();
        assert_eq!((&*e.reason, e.status), ("RateLimitExceeded", 429));
        assert_eq!(c.response_header_values("Retry-After").len(), 1);
        // Another key has its own counter.
        assert_eq!(run_counted(&p, &mut ctx("b"), &counters), Ok(false));
    }

    #[test]
    fn quota_by_key_answers_403_and_refuses_bandwidth() {
        let p = read(r#"<quota-by-key calls="1" renewal-period="3600" counter-key="k"/>"#).unwrap();
        let counters = LocalCounters::default();
        run_counted(&p, &mut SimpleContext::new("GET", "/"), &counters).unwrap();
        let e = run_counted(&p, &mut SimpleContext::new("GET", "/"), &counters).unwrap_err();
        assert_eq!((&*e.reason, e.status), ("QuotaExceeded", 403));
        assert!(e.message.contains("replenished in"), "{}", e.message);
        assert!(refused(
            r#"<quota-by-key calls="1" bandwidth="10" renewal-period="60" counter-key="k"/>"#
        )
        .contains("bandwidth is not supported"));
        assert!(
            refused(r#"<rate-limit-by-key calls="0" renewal-period="60" counter-key="k"/>"#)
                .contains("calls")
        );
        assert!(refused(
            r#"<quota-by-key calls="1" renewal-period="3600" counter-key="k" first-period-start="soon"/>"#
        )
        .contains("first-period-start 'soon' is not a date-time"));
    }

    #[test]
    fn quota_periods_start_at_first_period_start() {
        // Periods of an hour from 00:30 UTC: the current one ends at the next half hour.
        let p = read(r#"<quota-by-key calls="1" renewal-period="3600" counter-key="k" first-period-start="2020-01-01T00:30:00Z"/>"#).unwrap();
        let counters = LocalCounters::default();
        run_counted(&p, &mut SimpleContext::new("GET", "/"), &counters).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run_counted(&p, &mut ctx, &counters).unwrap_err();
        let retry: u64 = ctx.response_header_values("Retry-After")[0]
            .parse()
            .unwrap();
        let now = crate::counters::now_ms() / 1000;
        let half_hour = (now - 1800).rem_euclid(3600);
        assert!(
            (3600 - half_hour).abs_diff(retry as i64) <= 2,
            "{retry} vs {half_hour}"
        );
    }
}
