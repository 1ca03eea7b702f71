//! The running gateway: a Pingora server with one proxy service for all listeners and an
//! admin service (`/healthz`, `/readyz`, `/metrics`, `POST /admin/reload`) on loopback.
//!
//! The snapshot lives behind an [`ArcSwap`]: a reload builds and validates a complete new
//! snapshot off the request path and swaps it in one step; a failed reload leaves the old one
//! serving and reports why. Requests in flight finish on the snapshot they started with, and
//! new TLS handshakes pick up rotated certificates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use certgate_policy::counters::{CounterStore, LocalCounters};
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::protocols::http::ServerSession;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::listening::Service;

use crate::config::{load, LoadOptions};
use crate::proxy::Gateway;
use crate::snapshot::Snapshot;

/// What reloads share with the running server.
pub struct Control {
    pub config: PathBuf,
    /// The listeners' socket settings at start: a reload cannot change them.
    pub sockets: Vec<String>,
    pub state: Arc<ArcSwap<Snapshot>>,
    pub counters: Arc<dyn CounterStore>,
}

impl Control {
    /// Builds a new snapshot from the configuration and swaps it in; on failure the old one
    /// keeps serving and the errors are returned.
    pub fn reload(&self) -> Result<u64, String> {
        let opts = LoadOptions {
            verification_cache: Some(self.state.load().trust.cache().clone()),
            counters: self.counters.clone(),
        };
        let loaded = load(&self.config, &opts).map_err(|errors| {
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        });
        // Listening sockets are bound once; a reload that moved or re-set one would leave the
        // old socket serving a configuration that no longer names it. Refuse it instead.
        let loaded = loaded.and_then(|s| {
            let want = s.socket_settings();
            if want == self.sockets {
                return Ok(s);
            }
            let gone: Vec<&String> = self.sockets.iter().filter(|l| !want.contains(l)).collect();
            let new: Vec<&String> = want.iter().filter(|l| !self.sockets.contains(l)).collect();
            Err(format!(
                "{}: listeners changed (running: {gone:?}; configured: {new:?}); a reload cannot \
                 rebind sockets: restart or upgrade (`certgate run -u`) to apply",
                self.config.display()
            ))
        });
        match loaded {
            Ok(s) => {
                let g = s.generation;
                self.state.store(Arc::new(s));
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

struct Admin {
    control: Arc<Control>,
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
            ("GET", "/readyz") => reply(
                200,
                "text/plain",
                format!("ready generation {}\n", c.state.load().generation),
            ),
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
                m.expression_budget_exceeded.set(
                    certgate_policy::expr::BUDGET_EXCEEDED
                        .load(std::sync::atomic::Ordering::Relaxed) as i64,
                );
                reply(200, "text/plain; version=0.0.4", crate::metrics::render())
            }
            _ => reply(404, "text/plain", "not found\n".into()),
        }
    }
}

/// How `certgate run` serves (its command-line flags).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Take over the sockets of a running instance (Pingora's upgrade).
    pub upgrade: bool,
    pub threads: usize,
    /// After SIGTERM (or an upgrade hand-over), how long requests in flight may take to finish
    /// before the process exits.
    pub drain_seconds: u64,
    /// Pid file and upgrade socket; `None`: the configuration's directory (which is read-only
    /// under systemd's `ProtectSystem=strict` or a Kubernetes ConfigMap, hence the option).
    pub runtime_dir: Option<PathBuf>,
}

/// `certgate run -c FILE`: loads the configuration and serves until stopped.
pub fn run(config: &Path, opts: &RunOptions) -> Result<(), String> {
    let RunOptions {
        upgrade,
        threads,
        drain_seconds,
        ..
    } = *opts;
    let counters: Arc<dyn CounterStore> = Arc::new(LocalCounters::default());
    let snap = load(
        config,
        &LoadOptions {
            verification_cache: None,
            counters: counters.clone(),
        },
    )
    .map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let state = Arc::new(ArcSwap::from_pointee(snap));
    // Make both reload series visible from the start (0), as dashboards expect.
    for r in ["success", "failure"] {
        crate::metrics::METRICS.reloads.with_label_values(&[r]);
    }
    let control = Arc::new(Control {
        config: config.to_path_buf(),
        sockets: state.load().socket_settings(),
        state: state.clone(),
        counters,
    });

    let dir = opts
        .runtime_dir
        .clone()
        .or_else(|| config.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let conf = ServerConf {
        threads: threads.max(1),
        pid_file: dir.join("certgate.pid").display().to_string(),
        upgrade_sock: dir.join("certgate-upgrade.sock").display().to_string(),
        // Pingora stops its runtimes (dropping unfinished requests) after the grace period.
        grace_period_seconds: Some(drain_seconds),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service(
        &server.configuration,
        Gateway {
            state: state.clone(),
            forwarded: crate::forwarded::DecodeCache::new(4096),
        },
    );
    let snap = state.load();
    if let Some(app) = proxy.app_logic_mut() {
        // third_party patch 0001: a request head must be complete this long after its first
        // byte (the read timeout alone is per read: a trickling client never hit it).
        let mut options = pingora::apps::HttpServerOptions::default();
        options.h1_request_head_deadline = Some(snap.request_head_timeout);
        app.server_options = Some(options);
    }
    for l in &snap.listeners {
        let addr = l.address.to_string();
        let mut endpoint = ListenerConfig::tcp(&addr).l4_buffer(L4BufferSettings {
            read: Some(l.read_buffer),
            write: None,
        });
        if l.tls {
            let settings = crate::tls::settings(l, state.clone())
                .map_err(|e| format!("listener {addr}: {e}"))?;
            endpoint = endpoint.tls(settings);
        }
        proxy.add_listener(endpoint);
    }
    server.add_service(proxy);
    let mut admin = Service::new(
        "certgate admin".to_string(),
        HttpServer::new_app(Admin {
            control: control.clone(),
        }),
    );
    admin.add_tcp(&snap.admin.to_string());
    server.add_service(admin);
    install_sighup(control.clone());
    watch_files(control);
    server.run_forever()
}

/// SIGHUP reloads the configuration (Pingora uses SIGQUIT/SIGTERM for upgrade and shutdown).
fn install_sighup(control: Arc<Control>) {
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
fn watch_files(control: Arc<Control>) {
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
