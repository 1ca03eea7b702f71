//! Fetches the OpenID Connect configurations `validate-jwt` names (`<openid-config>`): the
//! discovery document, then its JWKS, through the same pooled connector and backend TLS as
//! `send-request`. A background service (`server`) looks every second for configurations that
//! are due (never fetched, hourly, or early after a token's `kid` was not found, at most every
//! five minutes) and fetches them, woken at once by a reload; a failure keeps the last good
//! keys and is counted. `/readyz` waits for the first fetch of each configuration to end.
//!
//! Must not: run policy.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use certgate_policy::{OpenIdConfig, OpenIdRegistry, Outcall};

use super::outcall;
use crate::snapshot::Snapshot;

/// Every configuration plans name, across reloads (compilation registers them here).
pub(crate) static REGISTRY: LazyLock<Arc<OpenIdRegistry>> = LazyLock::new(Arc::default);

/// How long one document may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches every configuration that is due.
pub(crate) async fn refresh_due(snap: &Snapshot) {
    let now = Instant::now();
    for config in REGISTRY.all() {
        if config.due(now) {
            config.tried(now);
            let result = match fetch(snap, &config).await {
                Ok(_) => "ok",
                Err(why) => {
                    eprintln!(
                        "certgate: openid-config {}: {why}; the last good keys stay",
                        config.url
                    );
                    "failed"
                }
            };
            config.settle();
            crate::metrics::METRICS
                .openid_fetches
                .with_label_values(&[result])
                .inc();
        }
    }
}

/// Wakes the fetcher at once (a reload named a configuration it has not fetched).
pub(crate) static WAKE: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

/// The configurations whose first fetch has not ended: until it has, `validate-jwt` on them
/// knows no keys, so `/readyz` says the gateway is not ready.
pub(crate) fn unsettled() -> Vec<Arc<str>> {
    REGISTRY
        .all()
        .into_iter()
        .filter(|c| !c.settled())
        .map(|c| c.url.clone())
        .collect()
}

async fn get(snap: &Snapshot, url: &str) -> Result<Vec<u8>, String> {
    let call = Outcall {
        method: "GET".into(),
        url: url.to_string(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: Vec::new(),
        timeout: TIMEOUT,
        certificate: None,
        identity: None,
    };
    let r = outcall::send(snap, &call, "openid-config")
        .await
        .map_err(|e| format!("{url}: {}", e.message()))?;
    if r.status != 200 {
        return Err(format!("{url} answered {}", r.status));
    }
    Ok(r.body.to_vec())
}

/// The discovery document, then its JWKS; the number of keys taken.
async fn fetch(snap: &Snapshot, config: &OpenIdConfig) -> Result<usize, String> {
    let (jwks_uri, issuer) = OpenIdConfig::discovery(&get(snap, &config.url).await?)?;
    config.update(issuer, &get(snap, &jwks_uri).await?)
}
