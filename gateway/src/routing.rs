//! Request routing (SPEC §2): APIs by hostname and path prefix (longest prefix wins),
//! operations by method and URL template (`{id}` one segment, `{*rest}` the remainder).
//!
//! A request that matches no API, or an API but none of its operations, is
//! `OperationNotFound` (404). An API declared without operations is a pass-through: it matches
//! every method and path under its prefix, with an empty operation name.
//!
//! Built once per snapshot; matching allocates only the captured parameters.

use std::sync::Arc;

use certgate_policy::Plan;

/// One segment of a URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    /// `{*name}`: the rest of the path (possibly empty); only last.
    Rest(String),
}

/// Why a URL template is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a URL template must start with '/'")]
    NoLeadingSlash,
    #[error("'{{*{0}}}' must be the last segment")]
    RestNotLast(String),
    #[error(
        "segment '{0}' mixes literal text and a parameter; use a whole segment such as {{id}}"
    )]
    Mixed(String),
    #[error("parameter '{0}' appears twice")]
    Duplicate(String),
    #[error("empty parameter name")]
    EmptyName,
}

/// A parsed URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate {
    pub segments: Vec<Segment>,
}

impl UrlTemplate {
    pub fn parse(t: &str) -> Result<UrlTemplate, TemplateError> {
        let path = t.split('?').next().unwrap_or("");
        let Some(rest) = path.strip_prefix('/') else {
            return Err(TemplateError::NoLeadingSlash);
        };
        let mut segments = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, p) in parts.iter().enumerate() {
            let seg = if let Some(inner) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (rest_param, name) = match inner.strip_prefix('*') {
                    Some(n) => (true, n),
                    None => (false, inner),
                };
                if name.is_empty() {
                    return Err(TemplateError::EmptyName);
                }
                if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    return Err(TemplateError::Duplicate(name.to_string()));
                }
                names.push(name.to_string());
                if rest_param {
                    if i + 1 != parts.len() {
                        return Err(TemplateError::RestNotLast(name.to_string()));
                    }
                    Segment::Rest(name.to_string())
                } else {
                    Segment::Param(name.to_string())
                }
            } else if p.contains(['{', '}']) {
                return Err(TemplateError::Mixed(p.to_string()));
            } else {
                Segment::Literal(p.to_string())
            };
            segments.push(seg);
        }
        Ok(UrlTemplate { segments })
    }

    /// Matches a path (relative to the API prefix, starting with '/' or empty); the captured
    /// parameters, percent-decoded, or None.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        // Walks the path's segments in place: a `{*rest}` takes the remaining text as it
        // stands, which is the remaining segments joined by '/' (no vector of segments, no
        // join).
        let path = path.strip_prefix('/').unwrap_or(path);
        // `None`: no segment left. A trailing slash is not a segment of its own.
        let mut left = (!path.is_empty()).then(|| path.strip_suffix('/').unwrap_or(path));
        let mut next = || {
            let l = left?;
            Some(match l.split_once('/') {
                Some((segment, after)) => {
                    left = Some(after);
                    segment
                }
                None => {
                    left = None;
                    l
                }
            })
        };
        let mut params = Vec::new();
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => {
                    if !next()?.eq_ignore_ascii_case(l) {
                        return None;
                    }
                }
                Segment::Param(n) => {
                    let p = next()?;
                    if p.is_empty() {
                        return None;
                    }
                    params.push((n.clone(), decode(p)));
                }
                Segment::Rest(n) => {
                    params.push((n.clone(), decode(left.unwrap_or(""))));
                    return Some(params);
                }
            }
        }
        next().is_none().then_some(params)
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where an API sends requests by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendRef {
    // Shared with every request routed here (a request holds its route's, without a copy).
    Id(Arc<str>),
    Url(Arc<str>),
}

#[derive(Debug)]
pub struct OperationRoute {
    /// Shared with the requests it matches (their metrics and access-log lines).
    pub name: Arc<str>,
    /// Upper-case method; None for `*`.
    pub method: Option<String>,
    pub template: UrlTemplate,
    pub template_text: String,
    pub plan: Arc<Plan>,
}

#[derive(Debug)]
pub struct ApiRoute {
    /// Shared with the requests it matches (their metrics and access-log lines).
    pub name: Arc<str>,
    /// Normalised: no trailing slash; "" for the root.
    pub prefix: String,
    /// Lower-case; empty means every hostname.
    pub hostnames: Vec<String>,
    pub backend: Option<BackendRef>,
    pub operations: Vec<OperationRoute>,
    /// The plan for an API without operations.
    pub pass_through: Option<Arc<Plan>>,
}

/// A matched route.
#[derive(Debug)]
pub struct RouteMatch<'a> {
    pub api: &'a ApiRoute,
    /// None for a pass-through API.
    pub operation: Option<&'a OperationRoute>,
    pub plan: &'a Arc<Plan>,
    pub params: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No API or no operation matched: `OperationNotFound`, 404.
    OperationNotFound,
}

#[derive(Debug, Default)]
pub struct Router {
    apis: Vec<ApiRoute>,
}

/// `/weather/` → `/weather`; `/` → ``.
pub(crate) fn normalise_prefix(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        String::new()
    } else if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/{t}")
    }
}

impl Router {
    pub fn new(mut apis: Vec<ApiRoute>) -> Router {
        // Longest prefix first; APIs bound to hostnames before hostname-less ones.
        apis.sort_by(|a, b| {
            b.prefix.len().cmp(&a.prefix.len()).then(
                b.hostnames
                    .is_empty()
                    .cmp(&a.hostnames.is_empty())
                    .reverse(),
            )
        });
        Router { apis }
    }

    pub fn apis(&self) -> &[ApiRoute] {
        &self.apis
    }

    /// Routes a request. `host` may carry a port; `path` has no query.
    pub fn route(
        &self,
        host: &str,
        method: &str,
        path: &str,
    ) -> Result<RouteMatch<'_>, RouteError> {
        // Without a port only when an API names hostnames (most name none).
        let mut bare = None;
        for api in &self.apis {
            if !api.hostnames.is_empty() {
                let host = *bare.get_or_insert_with(|| strip_port(host));
                if !api.hostnames.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                    continue;
                }
            }
            let Some(rest) = strip_prefix_ci(path, &api.prefix) else {
                continue;
            };
            if !(rest.is_empty() || rest.starts_with('/')) {
                continue; // "/weatherstation" is not under "/weather"
            }
            if let Some(plan) = &api.pass_through {
                return Ok(RouteMatch {
                    api,
                    operation: None,
                    plan,
                    params: Vec::new(),
                });
            }
            for op in &api.operations {
                if op
                    .method
                    .as_deref()
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                {
                    continue;
                }
                if let Some(params) = op.template.matches(rest) {
                    return Ok(RouteMatch {
                        api,
                        operation: Some(op),
                        plan: &op.plan,
                        params,
                    });
                }
            }
            // The longest matching prefix owns the path: no fall-through to shorter ones.
            return Err(RouteError::OperationNotFound);
        }
        Err(RouteError::OperationNotFound)
    }
}

/// A Host value without its port (`[v6]:port` → `v6`).
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map_or(host, |h| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn strip_prefix_ci<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if path.len() >= prefix.len()
        && path.is_char_boundary(prefix.len())
        && path[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&path[prefix.len()..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::Source;
    use certgate_policy::{compile_route, CompileOptions};
    use certgate_policy::{Fragments, Scope, ScopeDocument};

    fn plan() -> Arc<Plan> {
        let doc =
            ScopeDocument::parse(Scope::Operation, Source::plain("p", "<policies/>").unwrap())
                .unwrap();
        Arc::new(compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap())
    }

    fn op(name: &str, method: &str, t: &str) -> OperationRoute {
        OperationRoute {
            name: name.into(),
            method: (method != "*").then(|| method.to_string()),
            template: UrlTemplate::parse(t).unwrap(),
            template_text: t.into(),
            plan: plan(),
        }
    }

    fn router() -> Router {
        Router::new(vec![
            ApiRoute {
                name: "weather".into(),
                prefix: "/weather".into(),
                hostnames: vec![],
                backend: None,
                operations: vec![
                    op("today", "GET", "/today/{city}"),
                    op("files", "*", "/files/{*path}"),
                    op("root", "GET", "/"),
                ],
                pass_through: None,
            },
            ApiRoute {
                name: "partner-weather".into(),
                prefix: "/weather".into(),
                hostnames: vec!["partner.example.test".into()],
                backend: None,
                operations: vec![op("p", "GET", "/today/{city}")],
                pass_through: None,
            },
            ApiRoute {
                name: "proxy".into(),
                prefix: "".into(),
                hostnames: vec![],
                backend: None,
                operations: vec![],
                pass_through: Some(plan()),
            },
        ])
    }

    /// The matcher as it was first written (segments collected, `{*rest}` joined): what the
    /// in-place walk must agree with.
    fn matches_by_parts(t: &UrlTemplate, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut parts = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect::<Vec<_>>()
        };
        if parts.last() == Some(&"") {
            parts.pop();
        }
        let mut params = Vec::new();
        let mut i = 0;
        for seg in &t.segments {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i).is_none_or(|p| !p.eq_ignore_ascii_case(l)) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Param(n) => {
                    let p = parts.get(i)?;
                    if p.is_empty() {
                        return None;
                    }
                    params.push((n.clone(), decode(p)));
                    i += 1;
                }
                Segment::Rest(n) => {
                    let rest = parts.get(i..).map(|r| r.join("/")).unwrap_or_default();
                    params.push((n.clone(), decode(&rest)));
                    return Some(params);
                }
            }
        }
        (i == parts.len()).then_some(params)
    }

    #[test]
    fn the_in_place_walk_matches_as_the_segment_list_did() {
        let templates = [
            "/",
            "/a",
            "/a/b",
            "/{x}",
            "/a/{x}",
            "/{*r}",
            "/a/{*r}",
            "/{x}/{*r}",
            "/a/{x}/b",
        ];
        // Every path of up to four segments drawn from these, with and without the leading
        // and a trailing slash.
        let pieces = ["", "a", "A", "b", "x%20y", "%zz"];
        let mut paths = vec![String::new(), "/".into(), "//".into()];
        for n in 1..=4u32 {
            for k in 0..pieces.len().pow(n) {
                let mut k = k;
                let mut segs = Vec::new();
                for _ in 0..n {
                    segs.push(pieces[k % pieces.len()]);
                    k /= pieces.len();
                }
                let joined = segs.join("/");
                for p in [
                    joined.clone(),
                    format!("/{joined}"),
                    format!("{joined}/"),
                    format!("/{joined}/"),
                ] {
                    paths.push(p);
                }
            }
        }
        for t in templates {
            let t = UrlTemplate::parse(t).unwrap();
            for p in &paths {
                assert_eq!(t.matches(p), matches_by_parts(&t, p), "{t:?} {p:?}");
            }
        }
    }

    #[test]
    fn templates() {
        let t = UrlTemplate::parse("/orders/{id}/lines/{*rest}").unwrap();
        assert_eq!(
            t.matches("/orders/42/lines/a/b"),
            Some(vec![
                ("id".into(), "42".into()),
                ("rest".into(), "a/b".into())
            ])
        );
        assert_eq!(
            t.matches("/orders/42/lines"),
            Some(vec![("id".into(), "42".into()), ("rest".into(), "".into())])
        );
        assert_eq!(t.matches("/orders//lines/x"), None);
        assert_eq!(
            UrlTemplate::parse("/a/{x}").unwrap().matches("/a/b%20c/"),
            Some(vec![("x".into(), "b c".into())])
        );
        assert_eq!(
            UrlTemplate::parse("orders"),
            Err(TemplateError::NoLeadingSlash)
        );
        assert_eq!(
            UrlTemplate::parse("/{*a}/b"),
            Err(TemplateError::RestNotLast("a".into()))
        );
        assert_eq!(
            UrlTemplate::parse("/x{id}"),
            Err(TemplateError::Mixed("x{id}".into()))
        );
        assert_eq!(
            UrlTemplate::parse("/{a}/{A}"),
            Err(TemplateError::Duplicate("A".into()))
        );
        assert_eq!(UrlTemplate::parse("/{}"), Err(TemplateError::EmptyName));
    }

    #[test]
    fn routing() {
        let r = router();
        let m = r
            .route("api.example.test:8443", "GET", "/weather/today/Oslo")
            .unwrap();
        assert_eq!(
            (&*m.api.name, &*m.operation.unwrap().name),
            ("weather", "today")
        );
        assert_eq!(m.params, vec![("city".to_string(), "Oslo".to_string())]);
        let m = r
            .route("PARTNER.example.test", "GET", "/weather/today/Oslo")
            .unwrap();
        assert_eq!(&*m.api.name, "partner-weather");
        assert_eq!(
            r.route("api.example.test", "POST", "/weather/today/Oslo")
                .unwrap_err(),
            RouteError::OperationNotFound
        );
        assert_eq!(
            r.route("api.example.test", "GET", "/weather/unknown")
                .unwrap_err(),
            RouteError::OperationNotFound
        );
        assert_eq!(
            r.route("x", "DELETE", "/weather/files/a/b").unwrap().params,
            vec![("path".to_string(), "a/b".to_string())]
        );
        assert_eq!(
            &*r.route("x", "GET", "/weather")
                .unwrap()
                .operation
                .unwrap()
                .name,
            "root"
        );
        // Not under /weather: goes to the pass-through API.
        let m = r.route("x", "GET", "/weatherstation").unwrap();
        assert_eq!((&*m.api.name, m.operation.is_none()), ("proxy", true));
        assert_eq!(normalise_prefix("weather/"), "/weather");
        assert_eq!(normalise_prefix("/"), "");
        assert_eq!(strip_port("[::1]:443"), "::1");
    }
}
