//! Fetches the CRLs at the distribution points of client certificates, for the CA stores that
//! opt in (`ca-certificates[].crl-distribution-points`): a background service (`server`) looks
//! every second, and at once when the trust store names a new URL, for CRLs that are due (never
//! fetched, a minute before `nextUpdate`, after `trust.crl-refresh` at most, or
//! `trust.crl-retry` after a failure) and fetches them one at a time, each within
//! `CRL_TIMEOUT` and at most `MAX_CRL_BYTES`, through the same connector as `send-request`.
//! A CRL not from the certificate's issuer, or not signed by it, is refused; a failure keeps
//! the last good CRL. Every fetch is counted in `certgate_crl_fetches_total{result}`.
//!
//! Must not: verify certificates (the trust store does, with what was fetched).

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use certgate_policy::OnlineCrls;

use super::outcall;
use crate::snapshot::Snapshot;

/// Every distribution point the trust store asked for, across reloads.
pub(crate) static REGISTRY: LazyLock<Arc<OnlineCrls>> = LazyLock::new(|| {
    let r = Arc::new(OnlineCrls::default());
    r.set_waker(Box::new(|| WAKE.notify_one()));
    r
});

/// Wakes the fetcher at once.
pub(crate) static WAKE: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

/// How long one CRL may take.
const CRL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest CRL taken (the configuration's CRL files have the same bound).
const MAX_CRL_BYTES: usize = 16 * 1024 * 1024;

/// Fetches every CRL that is due.
pub(crate) async fn refresh_due(snap: &Snapshot) {
    let now = Instant::now();
    for crl in REGISTRY.all() {
        if !crl.due(now, snap.crl_refresh) {
            continue;
        }
        crl.tried(now);
        let result = match outcall::get(snap, &crl.url, CRL_TIMEOUT, MAX_CRL_BYTES).await {
            Err(why) => {
                eprintln!("certgate: CRL {}: {why}; the last good CRL stays", crl.url);
                crl.failed();
                "failed"
            }
            Ok(body) => match crl.take(&body, snap.crl_refresh) {
                Ok(_) => {
                    REGISTRY.changed();
                    "ok"
                }
                Err(why) => {
                    eprintln!(
                        "certgate: CRL {}: {why}; refused, the last good CRL stays",
                        crl.url
                    );
                    crl.failed();
                    "refused"
                }
            },
        };
        super::revocation_wait::fetch_ended();
        crate::metrics::METRICS
            .crl_fetches
            .with_label_values(&[result])
            .inc();
    }
}
