//! Reloading: [`Control`] builds a complete new snapshot off the request path and swaps it in
//! one step, on `POST /admin/reload`, SIGHUP or a changed file; a failed reload leaves the old
//! snapshot serving and says why ([`ReloadError`]). Control owns the generation counter.
//!
//! Must not: serve requests or bind sockets.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use certgate_policy::CounterStore;

use crate::config::{load, ConfigError, LoadOptions};
use crate::snapshot::Snapshot;

/// What reloads share with the running server.
pub(crate) struct Control {
    pub config: PathBuf,
    /// The listeners' socket settings at start: a reload cannot change them.
    pub sockets: Vec<String>,
    pub state: Arc<ArcSwap<Snapshot>>,
    pub counters: Arc<dyn CounterStore>,
    /// The generation the next snapshot gets (`/readyz`, `config_generation`): owned here,
    /// where snapshots are made.
    next_generation: AtomicU64,
}

/// Why a reload was refused; the previous configuration keeps serving.
#[derive(Debug)]
pub(crate) enum ReloadError {
    /// The configuration has errors, each located at file:line:column.
    Invalid(Vec<ConfigError>),
    /// The configuration moves or re-sets listening sockets, which only a restart or an
    /// upgrade can do.
    ListenersChanged {
        config: PathBuf,
        gone: Vec<String>,
        new: Vec<String>,
    },
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Invalid(errors) => {
                let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                f.write_str(&lines.join("\n"))
            }
            ReloadError::ListenersChanged { config, gone, new } => write!(
                f,
                "{}: listeners changed (running: {gone:?}; configured: {new:?}); a reload cannot \
                 rebind sockets: restart or upgrade (`certgate run -u`) to apply",
                config.display()
            ),
        }
    }
}

impl std::error::Error for ReloadError {}

impl Control {
    /// Builds a new snapshot from the configuration and swaps it in; on failure the old one
    /// keeps serving and the errors are returned.
    pub(crate) fn new(
        config: PathBuf,
        state: Arc<ArcSwap<Snapshot>>,
        counters: Arc<dyn CounterStore>,
    ) -> Control {
        let current = state.load().generation;
        Control {
            config,
            sockets: state.load().socket_settings(),
            state,
            counters,
            next_generation: AtomicU64::new(current + 1),
        }
    }

    pub(crate) fn reload(&self) -> Result<u64, ReloadError> {
        let opts = LoadOptions {
            verification_cache: Some(self.state.load().trust.cache().clone()),
            counters: self.counters.clone(),
            value_cache: Some(self.state.load().value_cache.clone()),
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
            external_cache: false,
            redis: self.state.load().redis.clone(),
        };
        let loaded = load(&self.config, &opts).map_err(ReloadError::Invalid);
        // Listening sockets are bound once; a reload that moved or re-set one would leave the
        // old socket serving a configuration that no longer names it. Refuse it instead.
        let loaded = loaded.and_then(|s| {
            let want = s.socket_settings();
            if want == self.sockets {
                return Ok(s);
            }
            Err(ReloadError::ListenersChanged {
                config: self.config.clone(),
                gone: self
                    .sockets
                    .iter()
                    .filter(|l| !want.contains(l))
                    .cloned()
                    .collect(),
                new: want
                    .iter()
                    .filter(|l| !self.sockets.contains(l))
                    .cloned()
                    .collect(),
            })
        });
        match loaded {
            Ok(s) => {
                let g = s.generation;
                self.state.store(Arc::new(s));
                // Configurations the new plans name are fetched now, not at the next tick.
                crate::proxy::openid::WAKE.notify_one();
                crate::metrics::METRICS
                    .reloads
                    .with_label_values(&["success"])
                    .inc();
                Ok(g)
            }
            Err(e) => {
                crate::metrics::METRICS
                    .reloads
                    .with_label_values(&["failure"])
                    .inc();
                Err(e)
            }
        }
    }
}

/// SIGHUP reloads the configuration (Pingora uses SIGQUIT/SIGTERM for upgrade and shutdown).
pub(super) fn install_sighup(control: Arc<Control>) {
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(_) => return,
        };
        rt.block_on(async move {
            let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
            while hup.recv().await.is_some() {
                if let Err(e) = control.reload() {
                    eprintln!("certgate: reload after SIGHUP failed; the previous configuration keeps serving\n{e}");
                }
            }
        });
    });
}

/// Reloads when the configuration file or any file it references changes (SPEC §7). Polls
/// modification times once a second: portable, bounded work, and editors that replace files
/// (rename over) are seen too. A failed reload keeps the old snapshot; the file set to watch is
/// the current snapshot's, so a new reference is watched after the next successful load.
pub(super) fn watch_files(control: Arc<Control>) {
    std::thread::spawn(move || {
        let stamp = |files: &[PathBuf]| -> Vec<Option<std::time::SystemTime>> {
            files
                .iter()
                .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .collect()
        };
        let mut files = control.state.load().files.clone();
        let mut last = stamp(&files);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let now = stamp(&files);
            if now == last {
                continue;
            }
            // Let a writer finish (several files are often updated together).
            std::thread::sleep(std::time::Duration::from_millis(200));
            if let Err(e) = control.reload() {
                eprintln!("certgate: reload after a file change failed; the previous configuration keeps serving\n{e}");
            }
            files = control.state.load().files.clone();
            last = stamp(&files);
        }
    });
}
