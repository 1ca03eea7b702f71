//! `cors`: cross-origin resource sharing as APIM does it. A preflight (`OPTIONS` with `Origin`
//! and `Access-Control-Request-Method`) is answered by the first `cors` of the inbound section
//! alone, before any other policy runs ([`crate::Plan::preflight`]); an actual request from an
//! allowed origin gets `Access-Control-Allow-Origin` (and `-Credentials`, `-Expose-Headers`,
//! `Vary: Origin`) on its response. A request from another origin ends with an empty `200 OK`
//! when `terminate-unmatched-request` is true (certgate's default: APIM's pages disagree, and
//! its troubleshooting text calls true the default), or goes on without CORS headers.

use std::sync::Arc;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};

/// A list from the document: `*`, or the items.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    Any,
    These(Vec<Arc<str>>),
}

impl Allowed {
    fn allows(&self, item: &str, case_insensitive: bool) -> bool {
        match self {
            Allowed::Any => true,
            Allowed::These(v) => v.iter().any(|a| {
                if case_insensitive {
                    a.eq_ignore_ascii_case(item)
                } else {
                    **a == *item
                }
            }),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cors {
    allow_credentials: bool,
    terminate_unmatched: bool,
    origins: Allowed,
    methods: Allowed,
    max_age: Option<u64>,
    headers: Allowed,
    expose: Option<Allowed>,
}

/// Reads `<parent><child>..</child>..</parent>` as `*` or a list.
fn allowed(el: &El, parent: &str, child: &str) -> Result<Option<Allowed>, CompileError> {
    let Some(p) = el.child(parent)? else {
        return Ok(None);
    };
    let items = p.texts_of(child)?;
    Ok(Some(if items.iter().any(|i| &**i == "*") {
        Allowed::Any
    } else {
        Allowed::These(items)
    }))
}

/// An origin as browsers send it: scheme, host and port, the port left out when it is the
/// scheme's default (so `https://a.example:443` in a policy matches `https://a.example`).
fn normalise_origin(o: &str) -> String {
    let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if o.starts_with(scheme) {
            if let Some(stripped) = o.strip_suffix(port) {
                return stripped.to_string();
            }
        }
    }
    o
}

impl PolicyStep for Cors {
    fn read(el: &El, _: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["allow-credentials", "terminate-unmatched-request"])?;
        el.only_children(
            &[
                "allowed-origins",
                "allowed-methods",
                "allowed-headers",
                "expose-headers",
            ],
            false,
        )?;
        let Some(origins) = allowed(el, "allowed-origins", "origin")? else {
            return Err(el.err(ErrorKind::Structure, "<cors> needs <allowed-origins>"));
        };
        let origins = match origins {
            Allowed::These(v) => {
                Allowed::These(v.iter().map(|o| Arc::from(normalise_origin(o))).collect())
            }
            any => any,
        };
        let allow_credentials = el.bool_attr("allow-credentials", false)?;
        if allow_credentials && origins == Allowed::Any {
            return Err(el.err(
                ErrorKind::InvalidValue,
                "allow-credentials=\"true\" with the origin '*': browsers refuse credentials for any origin; list the origins",
            ));
        }
        let max_age = match el.child("allowed-methods")? {
            Some(m) => {
                m.only_attrs(&["preflight-result-max-age"])?;
                m.opt("preflight-result-max-age")
                    .map(|a| m.u64_attr(a, 0, 86_400))
                    .transpose()?
            }
            None => None,
        };
        let methods = allowed(el, "allowed-methods", "method")?
            .unwrap_or_else(|| Allowed::These(vec!["GET".into(), "POST".into()]));
        let headers =
            allowed(el, "allowed-headers", "header")?.unwrap_or(Allowed::These(Vec::new()));
        Ok(Cors {
            allow_credentials,
            terminate_unmatched: el.bool_attr("terminate-unmatched-request", true)?,
            origins,
            methods,
            max_age,
            headers,
            expose: allowed(el, "expose-headers", "header")?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, _: &Site) -> Result<Flow, Fail> {
        let Some(origin) = ctx.request_header("Origin").map(|o| o.to_string()) else {
            return Ok(Flow::Next);
        };
        if !self.origin_allowed(&origin) {
            return Ok(if self.terminate_unmatched {
                empty_ok(ctx);
                Flow::Respond
            } else {
                Flow::Next
            });
        }
        self.allow_origin(ctx, &origin);
        if let Some(e) = &self.expose {
            let v = match e {
                Allowed::Any => "*".to_string(),
                Allowed::These(h) => h.join(", "),
            };
            ctx.write_response_header("Access-Control-Expose-Headers", &v, HeaderWrite::Set);
        }
        Ok(Flow::Next)
    }
}

/// APIM's empty `200 OK`.
fn empty_ok(ctx: &mut dyn RequestContext) {
    ctx.clear_response();
    ctx.set_response_status(200, None);
    ctx.set_response_body(Vec::new());
}

impl Cors {
    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.allows(&normalise_origin(origin), false)
    }

    fn allow_origin(&self, ctx: &mut dyn RequestContext, origin: &str) {
        let value = if self.origins == Allowed::Any {
            "*"
        } else {
            origin
        };
        ctx.write_response_header("Access-Control-Allow-Origin", value, HeaderWrite::Set);
        if self.allow_credentials {
            ctx.write_response_header("Access-Control-Allow-Credentials", "true", HeaderWrite::Set);
        }
        if value != "*" {
            ctx.write_response_header("Vary", "Origin", HeaderWrite::Append);
        }
    }

    /// Answers a preflight: `200 OK`, with the CORS grant when the origin, method and headers
    /// are allowed, empty otherwise.
    pub(crate) fn preflight(&self, ctx: &mut dyn RequestContext) {
        let origin = ctx
            .request_header("Origin")
            .map(|o| o.to_string())
            .unwrap_or_default();
        let method = ctx
            .request_header("Access-Control-Request-Method")
            .map(|m| m.trim().to_string())
            .unwrap_or_default();
        let wanted: Vec<String> = ctx
            .request_header("Access-Control-Request-Headers")
            .map(|h| {
                h.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        empty_ok(ctx);
        let granted = self.origin_allowed(&origin)
            && self.methods.allows(&method, false)
            && wanted.iter().all(|h| self.headers.allows(h, true));
        if !granted {
            return;
        }
        self.allow_origin(ctx, &origin);
        ctx.write_response_header("Access-Control-Allow-Methods", &method, HeaderWrite::Set);
        if !wanted.is_empty() {
            ctx.write_response_header(
                "Access-Control-Allow-Headers",
                &wanted.join(", "),
                HeaderWrite::Set,
            );
        }
        if let Some(age) = self.max_age {
            ctx.write_response_header("Access-Control-Max-Age", &age.to_string(), HeaderWrite::Set);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};
    use crate::policies::Policy;

    const POLICY: &str = r#"<cors allow-credentials="true">
        <allowed-origins><origin>https://app.example</origin><origin>http://localhost:8080</origin></allowed-origins>
        <allowed-methods preflight-result-max-age="300"><method>GET</method><method>PUT</method></allowed-methods>
        <allowed-headers><header>Content-Type</header><header>Authorization</header></allowed-headers>
        <expose-headers><header>X-Request-Id</header></expose-headers>
      </cors>"#;

    fn preflight(p: &Policy, origin: &str, method: &str, headers: &str) -> SimpleContext {
        let Policy::Cors(c) = p else { panic!() };
        let mut ctx = SimpleContext::new("OPTIONS", "/")
            .with_header("Origin", origin)
            .with_header("Access-Control-Request-Method", method)
            .with_header("Access-Control-Request-Headers", headers);
        c.preflight(&mut ctx);
        ctx
    }

    #[test]
    fn preflights_are_granted_only_for_what_is_allowed() {
        let p = read(POLICY).unwrap();
        let ok = preflight(
            &p,
            "https://APP.example:443",
            "PUT",
            "content-type, authorization",
        );
        assert_eq!(ok.status, 200);
        assert_eq!(
            ok.response_header("Access-Control-Allow-Origin").as_deref(),
            Some("https://APP.example:443")
        );
        assert_eq!(
            ok.response_header("Access-Control-Allow-Methods")
                .as_deref(),
            Some("PUT")
        );
        assert_eq!(
            ok.response_header("Access-Control-Allow-Headers")
                .as_deref(),
            Some("content-type, authorization")
        );
        assert_eq!(
            ok.response_header("Access-Control-Max-Age").as_deref(),
            Some("300")
        );
        assert_eq!(
            ok.response_header("Access-Control-Allow-Credentials")
                .as_deref(),
            Some("true")
        );
        for (origin, method, headers) in [
            ("https://evil.example", "PUT", ""),
            ("https://app.example", "DELETE", ""),
            ("https://app.example", "GET", "X-Custom"),
        ] {
            let no = preflight(&p, origin, method, headers);
            assert_eq!(no.status, 200, "APIM answers an empty 200");
            assert!(
                no.response_header("Access-Control-Allow-Origin").is_none(),
                "{origin} {method} {headers}"
            );
        }
    }

    #[test]
    fn actual_requests_get_the_grant_or_end_when_unmatched() {
        let p = read(POLICY).unwrap();
        let mut ctx = SimpleContext::new("GET", "/").with_header("Origin", "http://localhost:8080");
        assert_eq!(run(&p, &mut ctx), Ok(false));
        assert_eq!(
            ctx.response_header("Access-Control-Allow-Origin")
                .as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            ctx.response_header("Access-Control-Expose-Headers")
                .as_deref(),
            Some("X-Request-Id")
        );
        assert_eq!(ctx.response_header("Vary").as_deref(), Some("Origin"));
        let mut ctx = SimpleContext::new("GET", "/").with_header("Origin", "https://evil.example");
        assert_eq!(run(&p, &mut ctx), Ok(true), "terminated with an empty 200");
        let lenient = read(r#"<cors terminate-unmatched-request="false"><allowed-origins><origin>*</origin></allowed-origins><allowed-headers><header>*</header></allowed-headers></cors>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/").with_header("Origin", "https://any.example");
        assert_eq!(run(&lenient, &mut ctx), Ok(false));
        assert_eq!(
            ctx.response_header("Access-Control-Allow-Origin")
                .as_deref(),
            Some("*")
        );
        // Without Origin it is not a CORS request.
        let mut ctx = SimpleContext::new("GET", "/");
        assert_eq!(run(&p, &mut ctx), Ok(false));
        assert!(ctx.response_header("Access-Control-Allow-Origin").is_none());
    }

    #[test]
    fn cors_documents_are_checked() {
        for (xml, needle) in [
            ("<cors/>", "needs <allowed-origins>"),
            ("<cors><allowed-origins/></cors>", "at least one <origin>"),
            (
                r#"<cors allow-credentials="true"><allowed-origins><origin>*</origin></allowed-origins></cors>"#,
                "list the origins",
            ),
            (
                r#"<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-methods preflight-result-max-age="x"><method>GET</method></allowed-methods></cors>"#,
                "preflight-result-max-age",
            ),
        ] {
            assert!(refused(xml).contains(needle), "{xml}: {}", refused(xml));
        }
    }
}
