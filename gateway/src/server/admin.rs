//! The admin service on loopback: `/healthz`, `/readyz` (with the serving generation; 503 while
//! a listener is not bound yet or a first `openid-config` fetch is under way), `/metrics` (Prometheus text) and `POST /admin/reload`.
//!
//! Must not: be reachable from the proxy listeners (it has its own loopback address).

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use super::reload::Control;

pub(super) struct Admin {
    pub(super) control: Arc<Control>,
}

fn reply(status: u16, content_type: &str, body: String) -> http::Response<Vec<u8>> {
    let body = body.into_bytes();
    http::Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Content-Length", body.len().to_string())
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Vec::new()))
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let method = session.req_header().method.as_str().to_string();
        let path = session.req_header().uri.path().to_string();
        let c = &self.control;
        match (method.as_str(), path.as_str()) {
            ("GET", "/healthz") => reply(200, "text/plain", "ok\n".into()),
            ("GET", "/readyz") => {
                let waiting = crate::proxy::openid::unsettled();
                if pingora::services::listening::listeners_pending() > 0 {
                    // A listener still waits for its address (third_party patch 0028).
                    reply(
                        503,
                        "text/plain",
                        "not ready: a listener is not bound yet\n".into(),
                    )
                } else if waiting.is_empty() {
                    reply(
                        200,
                        "text/plain",
                        format!("ready generation {}\n", c.state.load().generation),
                    )
                } else {
                    // validate-jwt would refuse every token until its keys are fetched.
                    let urls: Vec<&str> = waiting.iter().map(|u| &**u).collect();
                    reply(
                        503,
                        "text/plain",
                        format!("not ready: fetching openid-config {}\n", urls.join(", ")),
                    )
                }
            }
            ("POST", "/admin/reload") => match c.reload() {
                Ok(g) => reply(
                    200,
                    "application/json",
                    format!("{{\"result\":\"ok\",\"generation\":{g}}}\n"),
                ),
                Err(e) => reply(
                    500,
                    "text/plain",
                    format!("reload failed; the previous configuration keeps serving\n{e}\n"),
                ),
            },
            ("GET", "/metrics") => {
                let s = c.state.load();
                let cache = s.trust.cache();
                let m = &crate::metrics::METRICS;
                m.generation.set(s.generation as i64);
                m.cache_hits.set(cache.hits() as i64);
                m.cache_misses.set(cache.misses() as i64);
                m.cache_size.set(cache.len() as i64);
                let v = certgate_policy::CacheStore::stats(&*s.value_cache);
                for (k, n) in [
                    ("hits", v.hits),
                    ("misses", v.misses),
                    ("stores", v.stores),
                    ("evictions", v.evictions),
                    ("entries", v.entries),
                    ("bytes", v.bytes),
                ] {
                    m.value_cache.with_label_values(&[k]).set(n as i64);
                }
                m.expression_budget_exceeded.set(
                    certgate_policy::BUDGET_EXCEEDED.load(std::sync::atomic::Ordering::Relaxed)
                        as i64,
                );
                reply(200, "text/plain; version=0.0.4", crate::metrics::render())
            }
            _ => reply(404, "text/plain", "not found\n".into()),
        }
    }
}
