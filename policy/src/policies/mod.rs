//! The catalogue of APIM policies: one file per policy (or per small family), each holding its
//! plan data, its reader from XML and its run-time behaviour, like River's request filters.
//! The table at the end of this file is the only place that lists them: adding a policy is one
//! new file here plus one line in [`catalogue!`]'s invocation.
//!
//! The control-flow elements (`choose`, `forward-request`, `include-fragment`) are not
//! policies of this catalogue: they shape the plan, so `crate::compile` and `crate::exec` own
//! them.
//!
//! Must not: sequence sections or steps (that is `crate::exec` and `crate::pipeline`), or do
//! I/O (the request context is the only way out).

mod authentication_basic;
mod authentication_managed_identity;
mod backend;
mod cache_response;
mod cache_value;
mod cors;
mod emit_metric;
mod find_and_replace;
mod headers;
mod ip_filter;
mod jsonp;
mod rate_limit;
mod refused;
mod response;
mod rewrite_uri;
mod send_request;
mod set_method;
mod set_query_parameter;
mod subscription_limit;
mod trace;
mod validate_client_certificate;
mod validate_jwt;
mod variables;
mod xml_json;

use std::sync::Arc;

use crate::context::{RequestContext, RouteInfo};
use crate::counters::CounterStore;
use crate::element::El;
use crate::error::CompileError;
use crate::expr::{EvalError, Expression, Template};
use crate::last_error::LastError;
use crate::sections::{Scope, Section};
use crate::value::Value;

pub(crate) use authentication_basic::AuthenticationBasic;
pub(crate) use authentication_managed_identity::AuthenticationManagedIdentity;
pub(crate) use backend::{AuthenticationCertificate, SetBackendService};
pub(crate) use cache_response::{CacheLookup, CacheStore};
pub(crate) use cache_value::{CacheLookupValue, CacheRemoveValue, CacheStoreValue};
pub(crate) use cors::Cors;
pub(crate) use emit_metric::EmitMetric;
pub(crate) use find_and_replace::FindAndReplace;
pub(crate) use headers::{CheckHeader, HeaderTarget, SetHeader};
pub(crate) use ip_filter::IpFilter;
pub(crate) use jsonp::Jsonp;
pub(crate) use rate_limit::RateLimit;
pub(crate) use refused::why as refused_why;
pub(crate) use response::{MockResponse, ReturnResponse, SetBody, SetStatus};
pub(crate) use rewrite_uri::RewriteUri;
pub(crate) use send_request::SendRequest;
pub(crate) use set_method::SetMethod;
pub(crate) use set_query_parameter::SetQueryParameter;
pub(crate) use subscription_limit::SubscriptionLimit;
pub(crate) use trace::Trace;
pub(crate) use validate_client_certificate::ValidateClientCertificate;
pub(crate) use validate_jwt::{ValidateAzureAdToken, ValidateJwt};
pub(crate) use variables::SetVariable;
pub(crate) use xml_json::{JsonToXml, XmlToJson};

/// The body a policy works on: the request's before the backend call (as inbound `set-body`
/// left it), the response's after it (the gateway holds it whole for such routes); `None`
/// when there is none.
pub(crate) fn body_of(ctx: &dyn RequestContext, response: bool) -> Option<Vec<u8>> {
    if response {
        return ctx.response_body().map(<[u8]>::to_vec);
    }
    match &ctx.state().request_body {
        Some(b) => Some(b.clone()),
        None => ctx.request_body().map(<[u8]>::to_vec),
    }
}

/// Marks the body a policy works on as one the gateway holds whole for this route (the
/// request's before the backend call, the backend's after it); whether it is the backend's.
pub(crate) fn holds_body(r: &Reader) -> bool {
    let response = r.target == HeaderTarget::Response;
    let flag = if response {
        &r.route.reads_response_body
    } else {
        &r.route.reads_request_body
    };
    flag.store(true, std::sync::atomic::Ordering::Relaxed);
    response
}

/// Replaces the body [`body_of`] gave.
pub(crate) fn set_body_of(ctx: &mut dyn RequestContext, response: bool, body: Vec<u8>) {
    if response {
        ctx.set_response_body(body);
    } else {
        ctx.state_mut().request_body = Some(body);
    }
}

/// Where a step came from, for `context.LastError`.
#[derive(Clone, Debug)]
pub struct Origin {
    pub policy: &'static str,
    pub scope: Scope,
    pub section: Section,
    pub path: Arc<str>,
    pub id: Arc<str>,
}

impl Origin {
    /// An error raised by the step from here.
    pub fn error(
        &self,
        reason: &str,
        message: &str,
        status: u16,
        response_message: &str,
    ) -> LastError {
        LastError {
            source: self.policy.into(),
            reason: reason.into(),
            message: message.into(),
            scope: self.scope.as_str().into(),
            section: self.section.as_str().into(),
            path: self.path.clone(),
            policy_id: self.id.clone(),
            status,
            response_message: response_message.into(),
            certificate: None,
        }
    }

    /// [`Origin::error`] as a step's failure.
    pub(crate) fn fail(
        &self,
        reason: &str,
        message: &str,
        status: u16,
        response_message: &str,
    ) -> Fail {
        Box::new(self.error(reason, message, status, response_message))
    }

    /// A template's text for this step; if an expression in it throws, the step fails with
    /// [`Origin::expr_failed`].
    pub(crate) fn text(&self, t: &Template, ctx: &dyn RequestContext) -> Result<Arc<str>, Fail> {
        t.eval_str(ctx).map_err(|e| self.expr_failed(&e))
    }

    /// An expression's value for this step, failing as [`Origin::text`] does.
    pub(crate) fn value(&self, e: &Expression, ctx: &dyn RequestContext) -> Result<Value, Fail> {
        e.eval(ctx).map_err(|e| self.expr_failed(&e))
    }

    /// An expression that threw: `ExpressionValueEvaluationFailure` (500).
    pub(crate) fn expr_failed(&self, e: &EvalError) -> Fail {
        let msg = format!("Expression evaluation failed. {}", e.message);
        self.fail(
            "ExpressionValueEvaluationFailure",
            &msg,
            500,
            "Internal server error",
        )
    }
}

/// A step's failure: boxed, because failures are rare and `Result`s on the request path should
/// stay small.
pub(crate) type Fail = Box<LastError>;

/// What a policy asks of the section after it ran.
pub(crate) enum Flow {
    /// Go on with the next step.
    Next,
    /// The response is complete (`return-response`, `mock-response`): end the pipeline.
    Respond,
    /// Send this request and hand its result to the step (`send-request`): the section
    /// suspends until then.
    Send(Box<crate::outcall::Outcall>),
    /// Obtain this access token and hand it to the step (`authentication-managed-identity`).
    Token(Box<crate::outcall::TokenRequest>),
    /// Ask the external cache and hand the answer to the step (`cache-*` policies whose
    /// `caching-type` chose the external cache).
    Cache(Box<crate::cache::CacheOp>),
    /// Count in the shared store and hand the decisions to the step (`rate-limit`, `quota`
    /// and their by-key forms, when the counters are shared between nodes).
    Count(Box<crate::counters::CountRequest>),
}

/// What a policy's reader knows besides its element.
pub(crate) struct Reader<'r> {
    /// The element's name (one reader may serve two policies, as `RateLimit` does).
    pub name: &'r str,
    pub route: &'r RouteInfo,
    /// Where header writes go: the request before the backend call, the response after.
    pub target: HeaderTarget,
    /// Where `openid-config` URLs are registered for the gateway to fetch.
    pub openid: &'r crate::openid::OpenIdRegistry,
    /// Whether the gateway has an external cache (`caching-type`).
    pub external_cache: bool,
}

/// What a running policy gets besides the request.
pub(crate) struct Site<'p> {
    pub origin: &'p Origin,
    pub counters: &'p dyn CounterStore,
}

/// One APIM policy: read once from XML, run per request.
pub(crate) trait PolicyStep: Sized {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError>;
    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail>;
}

/// Large, rare policies are boxed so that every plan step stays small.
impl<T: PolicyStep> PolicyStep for Box<T> {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        T::read(el, r).map(Box::new)
    }
    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        (**self).run(ctx, at)
    }
}

/// Generates [`Policy`] (one variant per catalogue entry, static dispatch), the name → sections
/// table, and the read/run dispatch from one list.
macro_rules! catalogue {
    ($($name:literal [$($section:ident),+] => $variant:ident($ty:ty),)+) => {
        /// A catalogue policy compiled into a plan step.
        #[derive(Clone, Debug)]
        pub enum Policy {
            $($variant($ty),)+
        }

        /// Every catalogue policy and the sections where APIM allows it.
        pub(crate) const CATALOGUE: &[(&str, &[Section])] = &[
            $(($name, &[$(Section::$section),+]),)+
        ];

        impl Policy {
            /// Reads the catalogue policy `r.name`; `None` when the name is not one.
            pub(crate) fn read(el: &El, r: &Reader) -> Option<Result<Policy, CompileError>> {
                match r.name {
                    $($name => Some(<$ty as PolicyStep>::read(el, r).map(Policy::$variant)),)+
                    _ => None,
                }
            }

            pub(crate) fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
                match self {
                    $(Policy::$variant(p) => p.run(ctx, at),)+
                }
            }
        }
    };
}

catalogue! {
    "return-response" [Inbound, Backend, Outbound, OnError] => ReturnResponse(Box<ReturnResponse>),
    "set-status" [Inbound, Backend, Outbound, OnError] => SetStatus(SetStatus),
    "set-header" [Inbound, Backend, Outbound, OnError] => SetHeader(SetHeader),
    "set-body" [Inbound, Backend, Outbound, OnError] => SetBody(SetBody),
    "find-and-replace" [Inbound, Backend, Outbound, OnError] => FindAndReplace(Box<FindAndReplace>),
    "json-to-xml" [Inbound, Outbound, OnError] => JsonToXml(Box<JsonToXml>),
    "jsonp" [Outbound] => Jsonp(Jsonp),
    "xml-to-json" [Inbound, Outbound, OnError] => XmlToJson(Box<XmlToJson>),
    "set-variable" [Inbound, Backend, Outbound, OnError] => SetVariable(SetVariable),
    "trace" [Inbound, Backend, Outbound, OnError] => Trace(Trace),
    "emit-metric" [Inbound, Backend, Outbound, OnError] => EmitMetric(Box<EmitMetric>),
    "set-backend-service" [Inbound, Backend] => SetBackendService(SetBackendService),
    "authentication-certificate" [Inbound] => AuthenticationCertificate(AuthenticationCertificate),
    "check-header" [Inbound] => CheckHeader(CheckHeader),
    "ip-filter" [Inbound] => IpFilter(IpFilter),
    "cors" [Inbound] => Cors(Box<Cors>),
    "rewrite-uri" [Inbound] => RewriteUri(RewriteUri),
    "set-query-parameter" [Inbound, Backend] => SetQueryParameter(Box<SetQueryParameter>),
    "set-method" [Inbound, OnError] => SetMethod(SetMethod),
    "authentication-basic" [Inbound] => AuthenticationBasic(Box<AuthenticationBasic>),
    "authentication-managed-identity" [Inbound] => AuthenticationManagedIdentity(Box<AuthenticationManagedIdentity>),
    "mock-response" [Inbound, Outbound, OnError] => MockResponse(MockResponse),
    "rate-limit-by-key" [Inbound] => RateLimitByKey(Box<RateLimit>),
    "quota-by-key" [Inbound] => QuotaByKey(Box<RateLimit>),
    "rate-limit" [Inbound] => RateLimitBySubscription(Box<SubscriptionLimit>),
    "quota" [Inbound] => QuotaBySubscription(Box<SubscriptionLimit>),
    "validate-client-certificate" [Inbound] => ValidateClientCertificate(Box<ValidateClientCertificate>),
    "validate-jwt" [Inbound] => ValidateJwt(Box<ValidateJwt>),
    "validate-azure-ad-token" [Inbound] => ValidateAzureAdToken(Box<ValidateAzureAdToken>),
    "send-request" [Inbound, Backend, Outbound, OnError] => SendRequest(Box<SendRequest>),
    "send-one-way-request" [Inbound, Backend, Outbound, OnError] => SendOneWayRequest(Box<SendRequest>),
    "cache-lookup-value" [Inbound, Backend, Outbound, OnError] => CacheLookupValue(Box<CacheLookupValue>),
    "cache-store-value" [Inbound, Backend, Outbound, OnError] => CacheStoreValue(Box<CacheStoreValue>),
    "cache-remove-value" [Inbound, Backend, Outbound, OnError] => CacheRemoveValue(CacheRemoveValue),
    "cache-lookup" [Inbound] => CacheLookup(Box<CacheLookup>),
    "cache-store" [Outbound] => CacheStore(Box<CacheStore>),
}

/// Reading and running one policy element in isolation, for the tests beside each policy.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::context::SimpleContext;
    use crate::counters::LocalCounters;
    use crate::source::Source;

    /// Reads `xml` (one catalogue element) as the compiler would before the backend call.
    pub(crate) fn read(xml: &str) -> Result<Policy, CompileError> {
        read_for(xml, &RouteInfo::default())
    }

    /// [`read`] for a route with these names and ids.
    pub(crate) fn read_for(xml: &str, route: &RouteInfo) -> Result<Policy, CompileError> {
        let src = Source::plain("t.xml", xml)?;
        let root = crate::xml::parse_document(&src)?;
        let el = El {
            e: &root,
            src: &src,
        };
        let openid = crate::openid::OpenIdRegistry::default();
        let reader = Reader {
            name: &root.name,
            route,
            openid: &openid,
            target: HeaderTarget::Request,
            external_cache: false,
        };
        Policy::read(&el, &reader)
            .unwrap_or_else(|| panic!("<{}> is not in the catalogue", root.name))
    }

    /// The compile error `xml` gives, as text (`file:line:col: kind error: message`).
    pub(crate) fn refused(xml: &str) -> String {
        match read(xml) {
            Ok(p) => panic!("{xml} compiled: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Runs `p` as an inbound step with fresh counters; `Ok(true)` when it answered, `Err` the
    /// `context.LastError` it raised.
    pub(crate) fn run(p: &Policy, ctx: &mut SimpleContext) -> Result<bool, Fail> {
        run_counted(p, ctx, &LocalCounters::default())
    }

    /// Where the steps run by these helpers come from.
    pub(crate) fn origin() -> Origin {
        Origin {
            policy: "test",
            scope: Scope::Api,
            section: Section::Inbound,
            path: "inbound/test[1]".into(),
            id: "".into(),
        }
    }

    /// Runs `p` as an inbound step and returns what it asks of the section.
    pub(crate) fn run_step(p: &Policy, ctx: &mut SimpleContext) -> Result<Flow, Fail> {
        p.run(
            ctx,
            &Site {
                origin: &origin(),
                counters: &LocalCounters::default(),
            },
        )
    }

    /// [`run`] with the counters of earlier calls.
    pub(crate) fn run_counted(
        p: &Policy,
        ctx: &mut SimpleContext,
        counters: &LocalCounters,
    ) -> Result<bool, Fail> {
        let origin = origin();
        match p.run(
            ctx,
            &Site {
                origin: &origin,
                counters,
            },
        ) {
            Ok(Flow::Next) => Ok(false),
            Ok(Flow::Respond) => Ok(true),
            Ok(Flow::Send(c)) => panic!("the step sends {c:?}: use run_step"),
            Ok(Flow::Token(t)) => panic!("the step needs a token {t:?}: use run_step"),
            Ok(Flow::Count(c)) => panic!("the step counts in a shared store {c:?}"),
            Ok(Flow::Cache(c)) => panic!("the step asks an external cache {c:?}"),
            Err(e) => Err(e),
        }
    }
}
