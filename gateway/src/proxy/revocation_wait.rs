//! The bounded wait for a first revocation answer (`trust.revocation-wait`): a client
//! certificate seen for the first time names a CRL distribution point or an OCSP responder the
//! gateway has not heard from yet, so its status is unknown for the moment the background
//! fetch takes. Rather than refuse the first request of every new client, a request waits for
//! that first fetch to end, at most `revocation-wait`, before any policy or strict check reads
//! the status; a status still unknown then is refused as unknown. Every wait is counted in
//! `certgate_revocation_waits_total{result}`.
//!
//! Only a first fetch is waited for: after a failure the status is plainly unknown (nothing
//! is on its way), and a later refresh never delays a request (the last good answer decides
//! until it runs out).
//!
//! Must not: fetch (the `crl` and `ocsp` fetchers do), or decide a status (the trust store does).

use std::sync::LazyLock;
use std::time::Duration;

use certgate_policy::{Certificate, SentChain, TrustFailure, TrustStore};
use tokio::sync::watch;

/// Moves each time a CRL fetch or an OCSP request ends, whatever its result.
static ENDED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// A fetch ended: whoever waits looks again.
pub(crate) fn fetch_ended() {
    ENDED.send_modify(|n| *n = n.wrapping_add(1));
}

/// Waits, at most `bound`, until the revocation status of `cert` no longer waits on a first
/// fetch. Returns at once when nothing is pending (the common case: one cached verification).
pub(crate) async fn settle(
    trust: &TrustStore,
    cert: &Certificate,
    sent: &SentChain,
    bound: Duration,
) {
    let pending = || {
        matches!(
            trust.verify(cert, sent, true),
            Err(TrustFailure::RevocationPending(_))
        )
    };
    // Subscribed before the first look, so a fetch that ends in between is not missed.
    let mut ended = ENDED.subscribe();
    if !pending() {
        return;
    }
    let deadline = tokio::time::Instant::now() + bound;
    let result = loop {
        match tokio::time::timeout_at(deadline, ended.changed()).await {
            Ok(Ok(())) if pending() => continue,
            Ok(Ok(())) => break "answered",
            // The sender is a static: it is never dropped.
            Ok(Err(_)) | Err(_) => break "timeout",
        }
    };
    crate::metrics::METRICS
        .revocation_waits
        .with_label_values(&[result])
        .inc();
}
