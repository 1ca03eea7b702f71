//! Verification-cache memory with N distinct client certificates (issue: 1 000 000).
//!
//!   cargo run --release -p certgate-bench --example cache_memory -- [N] [THREADS]
//!
//! Issues N distinct ECDSA P-256 client certificates under the demo DEV intermediate, verifies
//! each once through one `TrustStore` (so every verification is a real chain build that fills
//! the cache), in batches that are dropped after use, and reports the process RSS the cache
//! added, per entry. The certificates themselves are not kept: only what the cache holds counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use certgate_policy::crypto::x509::X509NameBuilder;
use certgate_policy::pki::{issue, DemoPki, KeyKind, Profile, Spec};
use certgate_policy::Certificate;
use certgate_policy::{SentChain, TrustStore, VerificationCache};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let pki = Arc::new(DemoPki::generate(KeyKind::EcdsaP256).expect("demo PKI"));
    let cache = Arc::new(VerificationCache::new(n + 1));
    let trust = Arc::new(
        TrustStore::with_cache(
            vec![pki.root.cert.clone()],
            vec![pki.dev_ca.cert.clone()],
            vec![],
            cache.clone(),
        )
        .expect("trust store"),
    );
    let before = rss_kib();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (pki, trust, next) = (pki.clone(), trust.clone(), next.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let mut name = X509NameBuilder::new().expect("name");
                name.append_entry_by_text("CN", &format!("client {i}"))
                    .expect("CN");
                let spec = Spec::new(name.build(), Profile::Client);
                let leaf = issue(KeyKind::EcdsaP256, &spec, Some(&pki.dev_ca)).expect("issue");
                let cert = Certificate::from_x509(leaf.cert).expect("parse");
                assert!(trust.verify(&cert, &SentChain::default(), false).is_ok());
                if i % 100_000 == 99_999 {
                    eprintln!(
                        "{} verified, {:.0} s",
                        i + 1,
                        started.elapsed().as_secs_f64()
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let after = rss_kib();
    let added = after.saturating_sub(before);
    println!(
        "entries: {}  RSS before: {} MiB  after: {} MiB  added: {} MiB  per entry: {:.0} bytes  ({:.0} s)",
        cache.len(),
        before / 1024,
        after / 1024,
        added / 1024,
        added as f64 * 1024.0 / cache.len().max(1) as f64,
        started.elapsed().as_secs_f64()
    );
}
