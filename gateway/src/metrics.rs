//! Prometheus metrics (SPEC §7). The registry is the one piece of global state besides the
//! snapshot; everything here is a counter, gauge or histogram updated with atomics.
//!
//! Names (all prefixed `certgate_`): `requests_total{api,operation,status}`,
//! `request_duration_seconds{api}`, `client_certificate_validations_total{reason}`,
//! `tls_handshakes_total{client_certificate}` (completed), `tls_handshakes_started_total`,
//! `tls_handshake_failures_total{reason}`, `verification_cache_{hits_total,misses_total,size}`,
//! `config_reloads_total{result}`, `config_generation`, `backend_errors_total{reason}`,
//! `forwarded_certificates_total{result}`, `request_refusals_total{reason}`,
//! `expression_budget_exceeded_total`, `sent_requests_total{policy,result}` (send-request,
//! send-one-way-request), `value_cache{count=hits|misses|stores|evictions|entries|bytes}`,
//! `managed_identity_tokens_total{result}`, `openid_fetches_total{result}`; and
//! `custom_<name>_total{namespace,<dimensions>}` for each `emit-metric` name, with
//! `custom_metrics_dropped_total{reason}`; `crl_fetches_total{result}`, `ocsp_requests_total{result}`, `revocation_waits_total{result}`; with Redis, `redis_connects_total{result}`,
//! `redis_commands_total{command,result}`, `redis_command_duration_seconds{command}` and
//! `redis_unavailable_total{family,choice}`.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub(crate) struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub validations: IntCounterVec,
    pub handshakes: IntCounterVec,
    pub handshakes_started: IntCounter,
    pub handshake_failures: IntCounterVec,
    pub cache_hits: IntGauge,
    pub cache_misses: IntGauge,
    pub cache_size: IntGauge,
    /// Mirrors the policy crate's process-wide count (set on each scrape).
    pub expression_budget_exceeded: IntGauge,
    pub reloads: IntCounterVec,
    pub generation: IntGauge,
    pub backend_errors: IntCounterVec,
    pub forwarded: IntCounterVec,
    pub refusals: IntCounterVec,
    pub trace_events: IntCounter,
    pub sent_requests: IntCounterVec,
    pub identity_tokens: IntCounterVec,
    pub openid_fetches: IntCounterVec,
    /// The value cache's counts (set on each scrape).
    pub value_cache: IntGaugeVec,
    pub crl_fetches: IntCounterVec,
    pub ocsp_requests: IntCounterVec,
    pub revocation_waits: IntCounterVec,
    pub redis_connects: IntCounterVec,
    pub redis_commands: IntCounterVec,
    pub redis_latency: HistogramVec,
    pub redis_unavailable: IntCounterVec,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|_| unreachable_metric(name));
    let _ = r.register(Box::new(c.clone()));
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
    let _ = r.register(Box::new(g.clone()));
    g
}

#[cold]
fn unreachable_metric(name: &str) -> ! {
    // Metric names and labels are constants of this module; an invalid one is a bug caught by
    // the first test that scrapes.
    panic!("invalid metric definition {name}")
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let m = metrics();
    // Series a dashboard plots are exported from the start, at zero, so that "nothing
    // happened" reads 0 rather than "no data" (Prometheus's advice for known label values).
    for r in ["ok", "failed", "refused"] {
        m.crl_fetches.with_label_values(&[r]);
    }
    for r in ["good", "revoked", "unknown", "failed", "refused"] {
        m.ocsp_requests.with_label_values(&[r]);
    }
    for r in ["answered", "timeout"] {
        m.revocation_waits.with_label_values(&[r]);
    }
    for r in ["ok", "failed"] {
        m.redis_connects.with_label_values(&[r]);
    }
    for c in ["count", "get", "set", "del"] {
        m.redis_latency.with_label_values(&[c]);
        for r in ["ok", "error", "timeout"] {
            m.redis_commands.with_label_values(&[c, r]);
        }
    }
    for f in ["rate-limit", "quota", "cache"] {
        for c in ["allow", "refuse"] {
            m.redis_unavailable.with_label_values(&[f, c]);
        }
    }
    m
});

fn metrics() -> Metrics {
    let r = Registry::new();
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "certgate_request_duration_seconds",
            "Request latency through the gateway",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["api"],
    )
    .unwrap_or_else(|_| unreachable_metric("certgate_request_duration_seconds"));
    let _ = r.register(Box::new(latency.clone()));
    let redis_latency = HistogramVec::new(
        HistogramOpts::new(
            "certgate_redis_command_duration_seconds",
            "Time for one Redis command, connecting included",
        )
        .buckets(vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        ]),
        &["command"],
    )
    .unwrap_or_else(|_| unreachable_metric("certgate_redis_command_duration_seconds"));
    let _ = r.register(Box::new(redis_latency.clone()));
    let trace_events = IntCounter::new(
        "certgate_trace_events_total",
        "Events logged by the trace policy",
    )
    .unwrap_or_else(|_| unreachable_metric("trace"));
    let _ = r.register(Box::new(trace_events.clone()));
    Metrics {
        requests: counter_vec(
            &r,
            "certgate_requests_total",
            "Requests by API, operation and status",
            &["api", "operation", "status"],
        ),
        latency,
        validations: counter_vec(
            &r,
            "certgate_client_certificate_validations_total",
            "validate-client-certificate outcomes by reason",
            &["reason"],
        ),
        handshakes: counter_vec(
            &r,
            "certgate_tls_handshakes_total",
            "Completed TLS handshakes, by whether a client certificate was presented",
            &["client_certificate"],
        ),
        handshakes_started: {
            let c = IntCounter::new(
                "certgate_tls_handshakes_started_total",
                "ClientHellos processed (started - completed = handshakes that failed)",
            )
            .unwrap_or_else(|_| unreachable_metric("handshakes_started"));
            let _ = r.register(Box::new(c.clone()));
            c
        },
        handshake_failures: counter_vec(
            &r,
            "certgate_tls_handshake_failures_total",
            "Handshakes the gateway refused, by reason (client aborts and protocol errors are \
             only visible as started - completed: Pingora has no hook for them)",
            &["reason"],
        ),
        cache_hits: gauge(
            &r,
            "certgate_verification_cache_hits_total",
            "Chain verifications answered from the cache",
        ),
        cache_misses: gauge(
            &r,
            "certgate_verification_cache_misses_total",
            "Chain verifications computed",
        ),
        cache_size: gauge(
            &r,
            "certgate_verification_cache_size",
            "Entries in the verification cache",
        ),
        expression_budget_exceeded: gauge(
            &r,
            "certgate_expression_budget_exceeded_total",
            "Policy expression evaluations stopped by their memory budget",
        ),
        reloads: counter_vec(
            &r,
            "certgate_config_reloads_total",
            "Configuration reloads by result",
            &["result"],
        ),
        generation: gauge(
            &r,
            "certgate_config_generation",
            "Generation of the configuration being served",
        ),
        backend_errors: counter_vec(
            &r,
            "certgate_backend_errors_total",
            "Backend failures by reason",
            &["reason"],
        ),
        forwarded: counter_vec(
            &r,
            "certgate_forwarded_certificates_total",
            "Forwarded-certificate headers by result",
            &["result"],
        ),
        refusals: counter_vec(
            &r,
            "certgate_request_refusals_total",
            "Requests refused at the authentication boundary before routing, by reason",
            &["reason"],
        ),
        trace_events,
        sent_requests: counter_vec(
            &r,
            "certgate_sent_requests_total",
            "Requests policies sent (send-request, send-one-way-request), by result: ok or the \
             failure's LastError reason",
            &["policy", "result"],
        ),
        identity_tokens: counter_vec(
            &r,
            "certgate_managed_identity_tokens_total",
            "Access tokens authentication-managed-identity used, by result: cached, fetched or \
             failed",
            &["result"],
        ),
        openid_fetches: counter_vec(
            &r,
            "certgate_openid_fetches_total",
            "validate-jwt openid-config fetches (discovery and JWKS), by result",
            &["result"],
        ),
        value_cache: {
            let g = IntGaugeVec::new(
                Opts::new(
                    "certgate_value_cache",
                    "The value cache of cache-store-value/cache-lookup-value: hits, misses, \
                     stores and evictions since start (counters), entries and bytes now",
                ),
                &["count"],
            )
            .unwrap_or_else(|_| unreachable_metric("certgate_value_cache"));
            let _ = r.register(Box::new(g.clone()));
            g
        },
        crl_fetches: counter_vec(
            &r,
            "certgate_crl_fetches_total",
            "CRLs fetched from distribution points, by result (ok, failed, refused: not the \
             issuer's or not signed by it)",
            &["result"],
        ),
        ocsp_requests: counter_vec(
            &r,
            "certgate_ocsp_requests_total",
            "OCSP requests for client certificates, by result (good, revoked, unknown: the \
             answer; failed; refused: not signed by the issuer or a delegated responder)",
            &["result"],
        ),
        revocation_waits: counter_vec(
            &r,
            "certgate_revocation_waits_total",
            "Requests that waited for the first CRL or OCSP answer their client certificate \
             needs (trust.revocation-wait), by result (answered: the fetch ended in time; \
             timeout: the status stayed unknown)",
            &["result"],
        ),
        redis_connects: counter_vec(
            &r,
            "certgate_redis_connects_total",
            "Connections opened to Redis, by result (ok, failed)",
            &["result"],
        ),
        redis_commands: counter_vec(
            &r,
            "certgate_redis_commands_total",
            "Redis commands, by command and result (ok, error, timeout)",
            &["command", "result"],
        ),
        redis_latency,
        redis_unavailable: counter_vec(
            &r,
            "certgate_redis_unavailable_total",
            "Policy decisions taken without Redis because it did not answer, by policy family \
             (rate-limit, quota) and the configured choice (allow, refuse)",
            &["family", "choice"],
        ),
        registry: r,
    }
}

/// The text exposition of every metric.
pub(crate) fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Most custom metrics (`emit-metric` names) exported.
const MAX_CUSTOM_FAMILIES: usize = 100;
/// Most label sets (time series) per custom metric.
const MAX_CUSTOM_SERIES: usize = 1000;

/// One `emit-metric` name's counter.
struct CustomFamily {
    /// The label names it was created with: namespace, then its dimensions.
    labels: Vec<String>,
    counter: prometheus::CounterVec,
    series: std::collections::HashSet<Vec<String>>,
}

static CUSTOM: LazyLock<std::sync::Mutex<std::collections::HashMap<String, CustomFamily>>> =
    LazyLock::new(Default::default);

static CUSTOM_DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        &METRICS.registry,
        "certgate_custom_metrics_dropped_total",
        "emit-metric values not exported, by reason: labels (another dimension set than the \
         metric's first), cardinality (over 1000 series per metric), families (over 100 \
         metrics), value (negative)",
        &["reason"],
    )
});

/// A Prometheus name from an APIM one: letters, digits and `_`, lower case.
fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Adds an `emit-metric` value to `certgate_custom_<name>_total{namespace, <dimensions>}`.
/// Bounded: a metric keeps the dimension names it was first emitted with, holds at most 1000
/// series, and at most 100 metrics exist; what does not fit is counted as dropped.
pub(crate) fn emit_custom(m: &certgate_policy::MetricEvent) {
    let drop = |reason: &str| CUSTOM_DROPPED.with_label_values(&[reason]).inc();
    if !(m.value >= 0.0 && m.value.is_finite()) {
        return drop("value");
    }
    let metric = format!("certgate_custom_{}_total", sanitize(&m.name));
    let labels: Vec<String> = std::iter::once("namespace".to_string())
        .chain(m.dimensions.iter().map(|(k, _)| sanitize(k)))
        .collect();
    let values: Vec<String> = std::iter::once(m.namespace.to_string())
        .chain(m.dimensions.iter().map(|(_, v)| v.clone()))
        .collect();
    let Ok(mut families) = CUSTOM.lock() else {
        return;
    };
    if !families.contains_key(&metric) {
        if families.len() >= MAX_CUSTOM_FAMILIES {
            return drop("families");
        }
        let names: Vec<&str> = labels.iter().map(String::as_str).collect();
        let Ok(counter) = prometheus::CounterVec::new(
            Opts::new(metric.as_str(), format!("emit-metric {}", m.name)),
            &names,
        ) else {
            return drop("labels");
        };
        if METRICS
            .registry
            .register(Box::new(counter.clone()))
            .is_err()
        {
            return drop("labels");
        }
        families.insert(
            metric.clone(),
            CustomFamily {
                labels: labels.clone(),
                counter,
                series: Default::default(),
            },
        );
    }
    let Some(f) = families.get_mut(&metric) else {
        return;
    };
    if f.labels != labels {
        return drop("labels");
    }
    if !f.series.contains(&values) {
        if f.series.len() >= MAX_CUSTOM_SERIES {
            return drop("cardinality");
        }
        f.series.insert(values.clone());
    }
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    f.counter.with_label_values(&refs).inc_by(m.value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, dims: &[(&str, &str)], value: f64) -> certgate_policy::MetricEvent {
        certgate_policy::MetricEvent {
            namespace: "ns".into(),
            name: name.into(),
            value,
            dimensions: dims
                .iter()
                .map(|(k, v)| (std::sync::Arc::from(*k), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn custom_metrics_are_exported_and_bounded() {
        emit_custom(&event("Weather Calls", &[("API ID", "weather")], 2.0));
        emit_custom(&event("Weather Calls", &[("API ID", "weather")], 1.5));
        let text = render();
        assert!(
            text.contains(
                r#"certgate_custom_weather_calls_total{api_id="weather",namespace="ns"} 3.5"#
            ),
            "{text}"
        );
        let dropped = |r: &str| CUSTOM_DROPPED.with_label_values(&[r]).get();
        let before = dropped("labels");
        emit_custom(&event("Weather Calls", &[("Other", "x")], 1.0));
        assert_eq!(dropped("labels"), before + 1);
        let before = dropped("value");
        emit_custom(&event("Weather Calls", &[("API ID", "weather")], -1.0));
        assert_eq!(dropped("value"), before + 1);
        for i in 0..MAX_CUSTOM_SERIES + 5 {
            emit_custom(&event("many", &[("k", &i.to_string())], 1.0));
        }
        assert!(dropped("cardinality") >= 5);
        assert_eq!(sanitize("9 lives!"), "_9_lives_");
    }
}
