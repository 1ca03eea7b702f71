//! Asks the OCSP responders client certificates name (Authority Information Access), for the
//! CA stores that opt in (`ca-certificates[].ocsp`): a background service (`server`) looks
//! every second, and at once when the trust store names a new certificate, for answers that
//! are due (never asked, a minute before `nextUpdate`, after `trust.crl-refresh` at most, or
//! `trust.crl-retry` after a failure) and POSTs each certificate's request, within
//! `OCSP_TIMEOUT` and at most `MAX_OCSP_BYTES`. A response not signed by the issuer or a
//! responder it delegated is refused; a failure keeps the last answer. Every request is counted
//! in `certgate_ocsp_requests_total{result}`.
//!
//! Must not: verify certificates (the trust store does, with the answers).

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use certgate_policy::{OcspStatus, OnlineOcsp};

use super::outcall;
use crate::snapshot::Snapshot;

/// Every certificate the trust store asked about, across reloads.
pub(crate) static REGISTRY: LazyLock<Arc<OnlineOcsp>> = LazyLock::new(|| {
    let r = Arc::new(OnlineOcsp::default());
    r.set_waker(Box::new(|| WAKE.notify_one()));
    r
});

/// Wakes the fetcher at once.
pub(crate) static WAKE: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

/// How long one request may take.
const OCSP_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response taken.
const MAX_OCSP_BYTES: usize = 64 * 1024;

/// Asks for every answer that is due.
pub(crate) async fn refresh_due(snap: &Snapshot) {
    let now = Instant::now();
    for entry in REGISTRY.all() {
        if !entry.due(now, snap.crl_refresh) {
            continue;
        }
        entry.tried(now);
        let headers = vec![
            ("Content-Type".into(), "application/ocsp-request".into()),
            ("Accept".into(), "application/ocsp-response".into()),
        ];
        let body = entry.request.clone();
        let sent = outcall::fetch(
            snap,
            "POST",
            &entry.url,
            headers,
            body,
            OCSP_TIMEOUT,
            MAX_OCSP_BYTES,
        )
        .await;
        let result = match sent {
            Err(why) => {
                eprintln!("certgate: OCSP {}: {why}; the last answer stays", entry.url);
                entry.failed();
                "failed"
            }
            Ok(body) => match entry.take(&body, snap.crl_refresh) {
                Ok(answer) => {
                    REGISTRY.changed();
                    match answer.status {
                        OcspStatus::Good => "good",
                        OcspStatus::Revoked => "revoked",
                        OcspStatus::Unknown => "unknown",
                    }
                }
                Err(why) => {
                    eprintln!(
                        "certgate: OCSP {}: {why}; refused, the last answer stays",
                        entry.url
                    );
                    entry.failed();
                    "refused"
                }
            },
        };
        super::revocation_wait::fetch_ended();
        crate::metrics::METRICS
            .ocsp_requests
            .with_label_values(&[result])
            .inc();
    }
}
