//! The running gateway: a Pingora server with one proxy service for all listeners and an
//! admin service on loopback ([`admin`]); the snapshot lives behind an [`ArcSwap`] and is
//! replaced whole by [`reload`]. Requests in flight finish on the snapshot they started with, and
//! new TLS handshakes pick up rotated certificates.
//!
//! Must not: decide anything about a request (that is `crate::proxy`) or read configuration
//! files itself (that is `crate::config`).

mod admin;
mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use certgate_policy::{CounterStore, LocalCounters};
use pingora::apps::http_app::HttpServer;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::listening::Service;

use crate::config::{load, LoadOptions};
use crate::proxy::Gateway;
use admin::Admin;
use reload::{install_sighup, watch_files};
pub(crate) use reload::{Control, ReloadError};

/// How `certgate run` serves (its command-line flags).
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
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
pub(crate) fn run(config: &Path, opts: &RunOptions) -> Result<(), String> {
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
            value_cache: None,
            generation: 1,
            external_cache: false,
            redis: None,
        },
    )
    .map_err(|errors| ReloadError::Invalid(errors).to_string())?;
    let state = Arc::new(ArcSwap::from_pointee(snap));
    // Make both reload series visible from the start (0), as dashboards expect.
    for r in ["success", "failure"] {
        crate::metrics::METRICS.reloads.with_label_values(&[r]);
    }
    let control = Arc::new(Control::new(config.to_path_buf(), state.clone(), counters));

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

    let mut proxy =
        pingora::proxy::http_proxy_service(&server.configuration, Gateway::new(state.clone()));
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
    // What the gateway fetches for itself, each second and at once when woken.
    server.add_service(pingora::services::background::background_service(
        "crl-distribution-points",
        Fetcher {
            state: state.clone(),
            wake: &crate::proxy::crl::WAKE,
            run: |snap| Box::pin(crate::proxy::crl::refresh_due(snap)),
        },
    ));
    server.add_service(pingora::services::background::background_service(
        "ocsp",
        Fetcher {
            state: state.clone(),
            wake: &crate::proxy::ocsp::WAKE,
            run: |snap| Box::pin(crate::proxy::ocsp::refresh_due(snap)),
        },
    ));
    server.add_service(pingora::services::background::background_service(
        "openid-config",
        Fetcher {
            state: state.clone(),
            wake: &crate::proxy::openid::WAKE,
            run: |snap| Box::pin(crate::proxy::openid::refresh_due(snap)),
        },
    ));
    install_sighup(control.clone());
    watch_files(control);
    server.run_forever()
}

/// A background fetch that runs every second over the current snapshot, and at once when
/// `wake` is notified: the CRLs at distribution points (`proxy::crl`), `validate-jwt`'s OpenID
/// configurations (`proxy::openid`).
struct Fetcher {
    state: Arc<ArcSwap<crate::snapshot::Snapshot>>,
    wake: &'static tokio::sync::Notify,
    run: for<'a> fn(
        &'a crate::snapshot::Snapshot,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>,
}

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Fetcher {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        loop {
            let snap = self.state.load_full();
            (self.run)(&snap).await;
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}
