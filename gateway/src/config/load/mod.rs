//! Builds a `Snapshot` from a configuration file: reads every referenced file (paths are
//! relative to the configuration file's folder), resolves named values, loads certificates and
//! keys, builds the trust store, compiles each route's policy through the scope chain
//! global → product → API → operation, and validates addresses, URLs and references.
//!
//! It does not stop at the first problem: it collects every error it can find, each with the
//! file, line and column, so one `certgate check` run shows them all. Secret named values and
//! passwords never appear in an error.

mod backends;
mod identity;
mod listeners;
mod material;
mod redis;
mod routes;
mod trust;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certgate_policy::crypto::pkcs12::Pkcs12;
use certgate_policy::crypto::pkey::PKey;
use certgate_policy::crypto::x509::X509;
use certgate_policy::Certificate;
use certgate_policy::Crl;
use certgate_policy::Deployment;
use certgate_policy::RouteInfo;
use certgate_policy::Source;
use certgate_policy::{compile_route, CompileError, CompileOptions, NamedValues, Plan};
use certgate_policy::{CounterStore, LocalCache, LocalCounters};
use certgate_policy::{Fragments, Scope, ScopeDocument};
use certgate_policy::{TrustStore, VerificationCache};
use ipnet::IpNet;

use super::schema::{self, ConfigFile, KeyPair, Store, S};
use super::ConfigError;
use crate::forwarded::{CertEncoding, ForwardFormat};
use crate::routing::{normalise_prefix, ApiRoute, BackendRef, OperationRoute, Router, UrlTemplate};
use crate::snapshot::*;

/// Socket read buffer per connection: one TLS record (16 KiB) plus its header.
const DEFAULT_READ_BUFFER: usize = 16 * 1024 + 5;

/// What survives from one configuration generation to the next.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Shared so that cached verifications age out instead of vanishing, and memory stays
    /// bounded across reloads.
    pub verification_cache: Option<Arc<VerificationCache>>,
    /// Rate-limit and quota counters keep counting across reloads.
    pub counters: Arc<dyn CounterStore>,
    /// Cached values survive reloads (unless `cache.max-bytes` changes: a new, empty cache).
    pub value_cache: Option<Arc<LocalCache>>,
    /// The snapshot's generation, given by whoever owns the series (`server::Control`).
    pub generation: u64,
    /// Set by the loader itself: the configuration names Redis, the external cache.
    pub external_cache: bool,
    /// The running Redis: its connections are kept when the new one connects the same way.
    pub redis: Option<Arc<crate::shared::Redis>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            verification_cache: None,
            counters: Arc::new(LocalCounters::default()),
            value_cache: None,
            generation: 0,
            external_cache: false,
            redis: None,
        }
    }
}

/// Largest file the configuration may reference (certificates, policies, CRLs).
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Snapshot, Vec<ConfigError>> {
    let mut l = Loader {
        file: path.to_path_buf(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        errors: Vec::new(),
        files: vec![path.to_path_buf()],
        named: NamedValues::new(),
    };
    let snapshot = l.run(opts);
    let secrets: Vec<String> = l.named.secrets().into_iter().map(str::to_string).collect();
    match snapshot {
        Some(s) if l.errors.is_empty() => Ok(s),
        _ => {
            let mut errors = l.errors;
            if errors.is_empty() {
                errors.push(ConfigError {
                    file: path.to_path_buf(),
                    line: 0,
                    column: 0,
                    message: "configuration is not valid".into(),
                });
            }
            for e in &mut errors {
                for s in &secrets {
                    if !s.is_empty() && e.message.contains(s.as_str()) {
                        e.message = e.message.replace(s.as_str(), "***");
                    }
                }
            }
            Err(errors)
        }
    }
}

struct Loader {
    file: PathBuf,
    dir: PathBuf,
    errors: Vec<ConfigError>,
    files: Vec<PathBuf>,
    named: NamedValues,
}

impl Loader {
    pub(super) fn at<T>(&mut self, s: &S<T>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: s.referenced.line(),
            column: s.referenced.column(),
            message: message.into(),
        });
    }

    pub(super) fn whole(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message: message.into(),
        });
    }

    /// Secrets in the message are redacted by `load` for every error at once.
    pub(super) fn compile_error(&mut self, e: CompileError) {
        self.errors.push(ConfigError {
            file: PathBuf::from(&*e.file),
            line: e.pos.line as u64,
            column: e.pos.col as u64,
            message: format!("{} error: {}", e.kind.as_str(), e.message),
        });
    }

    pub(super) fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    /// Reads a referenced file; the error points at the reference.
    pub(super) fn read(&mut self, p: &S<String>) -> Option<Vec<u8>> {
        let path = self.path(&p.value);
        let meta = std::fs::metadata(&path);
        let r = match meta {
            Ok(m) if m.len() > MAX_FILE => {
                Err(format!("is larger than {} MiB", MAX_FILE / 1024 / 1024))
            }
            Ok(_) => std::fs::read(&path).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match r {
            Ok(b) => {
                self.files.push(path);
                Some(b)
            }
            Err(e) => {
                self.at(p, format!("cannot read '{}': {e}", path.display()));
                None
            }
        }
    }

    pub(super) fn read_text(&mut self, p: &S<String>) -> Option<String> {
        let b = self.read(p)?;
        match String::from_utf8(b) {
            Ok(s) => Some(s),
            Err(_) => {
                self.at(p, format!("'{}' is not UTF-8 text", p.value));
                None
            }
        }
    }

    fn run(&mut self, opts: &LoadOptions) -> Option<Snapshot> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) => {
                self.whole(format!("cannot read the configuration: {e}"));
                return None;
            }
        };
        let cfg: ConfigFile = match serde_saphyr::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                let first = e
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("invalid YAML")
                    .to_string();
                // The library repeats the location in its message; ours is in front already.
                let message = match first
                    .strip_prefix("error: line ")
                    .and_then(|r| r.split_once(": "))
                {
                    Some((_, m)) => m.to_string(),
                    None => first,
                };
                self.errors.push(ConfigError {
                    file: self.file.clone(),
                    line,
                    column,
                    message,
                });
                return None;
            }
        };
        self.named_values(&cfg.named_values);
        let certificates = self.certificates(&cfg.certificates);
        let trust = self.trust(&cfg, opts);
        let mut deployment = match &cfg.deployment {
            Some(d) => Deployment::new(
                d.service_name.as_deref().unwrap_or("certgate"),
                d.gateway_id.as_deref().unwrap_or("certgate"),
                d.region.as_deref().unwrap_or("local"),
            ),
            None => Deployment::new("certgate", "certgate", "local"),
        };
        for (id, m) in &certificates {
            deployment.add_certificate(id.clone(), m.cert.clone());
        }
        let backends = self.backends(&cfg.backends, &certificates);
        // With Redis, the plans count in it (every node sees one counter); without, in this
        // process, across reloads.
        let redis = self.redis(cfg.redis.as_ref(), &certificates, opts.redis.as_deref());
        let counters: Arc<dyn CounterStore> = match &redis {
            Some(_) => Arc::new(crate::shared::RedisCounters::default()),
            None => opts.counters.clone(),
        };
        let router = self.routes(
            &cfg,
            &backends,
            &LoadOptions {
                counters,
                external_cache: redis.is_some(),
                ..opts.clone()
            },
        );
        let listeners = self.listeners(&cfg.listeners);
        if cfg.listeners.is_empty() {
            // An empty file parses as a configuration with nothing in it; serving it would
            // refuse every connection.
            self.errors.push(ConfigError {
                file: self.file.clone(),
                line: 1,
                column: 1,
                message: "no listeners: the configuration needs at least one entry in `listeners`"
                    .into(),
            });
        }
        let admin = match &cfg.admin {
            Some(a) => self.address(&a.address),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9901))),
        };
        // The admin server on a listener's socket would share it (see `same_socket`).
        let clash = admin.and_then(|admin| {
            let on = |s: &schema::Listener| s.address.value.parse().ok();
            let l = cfg
                .listeners
                .iter()
                .find(|s| on(s).is_some_and(|a| listeners::same_socket(a, admin)))?;
            Some((admin, l))
        });
        if let Some((address, l)) = clash {
            let message = format!(
                "the admin address {address} takes the socket of the listener on {}",
                l.address.value
            );
            match &cfg.admin {
                Some(a) => self.at(&a.address, message),
                None => self.at(
                    &l.address,
                    format!(
                        "{message} (127.0.0.1:9901 is the admin address when `admin` is not set)"
                    ),
                ),
            }
        }
        let trusted_proxies = self.trusted_proxies(&cfg.trusted_proxies);
        let forwarded_certificate = cfg.forwarded_certificate.as_ref().and_then(|f| {
            // `HeaderName` accepts exactly the RFC 9110 token characters (lower-casing them).
            if let Ok(header) = http::HeaderName::from_bytes(f.header.value.as_bytes()) {
                Some(ForwardedCertificateSpec {
                    header,
                    encoding: match f.encoding {
                        schema::CertEncoding::UrlPem => CertEncoding::UrlPem,
                        schema::CertEncoding::Base64Der => CertEncoding::Base64Der,
                        schema::CertEncoding::Rfc9440 => CertEncoding::Rfc9440,
                    },
                })
            } else {
                self.at(
                    &f.header,
                    format!("'{}' is not a valid header name", f.header.value),
                );
                None
            }
        });
        if cfg.forwarded_certificate.is_some() && cfg.trusted_proxies.is_empty() {
            self.whole("forwarded-certificate is set but trusted-proxies is empty: the header would never be honoured");
        }
        let keepalive_timeout = self
            .duration(&cfg.keepalive_timeout, Duration::from_secs(75))
            .as_secs()
            .max(1);
        let (expression_budget, max_request_body, max_send_response) =
            self.expression_budget(cfg.expression_limits.as_ref());
        let value_cache = self.value_cache(cfg.cache.as_ref(), opts.value_cache.as_ref());
        let managed_identity = self.managed_identity(cfg.managed_identity.as_ref());
        let crl_refresh = {
            let t = cfg.trust.as_ref();
            certgate_policy::Refresh {
                max_age: self.duration(
                    &t.and_then(|t| t.crl_refresh.clone()),
                    Duration::from_secs(3600),
                ),
                retry_after: self.duration(
                    &t.and_then(|t| t.crl_retry.clone()),
                    Duration::from_secs(30),
                ),
            }
        };
        let revocation_wait = self.revocation_wait(cfg.trust.as_ref());
        let request_head_timeout =
            self.duration(&cfg.request_head_timeout, Duration::from_secs(10));
        let (trust, admin) = (trust?, admin?);
        if !self.errors.is_empty() {
            return None;
        }
        Some(Snapshot {
            generation: opts.generation,
            config_file: self.file.clone(),
            files: std::mem::take(&mut self.files),
            host_rules: Snapshot::host_rules(&listeners),
            listeners,
            admin,
            trust,
            deployment: Arc::new(deployment),
            certificates,
            backends,
            router,
            trusted_proxies,
            forwarded_certificate,
            forward_client_certificate: cfg.forward_client_certificate.as_ref().map(|f| {
                match f.format {
                    schema::ForwardFormat::Rfc9440 => ForwardFormat::Rfc9440,
                    schema::ForwardFormat::Xfcc => ForwardFormat::Xfcc,
                }
            }),
            access_log: cfg.access_log,
            keepalive_timeout,
            request_head_timeout,
            expression_budget,
            max_request_body,
            max_send_response,
            value_cache,
            managed_identity: Arc::new(managed_identity?),
            redis,
            crl_refresh,
            revocation_wait,
            named_values: self.named.clone(),
        })
    }

    /// `trust.revocation-wait`: 0 (never wait) up to 30 s, default 2 s. Longer would hold
    /// requests past what clients wait for an answer.
    fn revocation_wait(&mut self, t: Option<&schema::TrustOptions>) -> Duration {
        let Some(s) = t.and_then(|t| t.revocation_wait.as_ref()) else {
            return Duration::from_secs(2);
        };
        match humantime::parse_duration(&s.value) {
            Ok(v) if v <= Duration::from_secs(30) => v,
            _ => {
                self.at(
                    s,
                    format!(
                        "'{}' is not a duration between 0s and 30s (e.g. 2s, 500ms)",
                        s.value
                    ),
                );
                Duration::from_secs(2)
            }
        }
    }

    pub(super) fn duration(&mut self, d: &Option<S<String>>, default: Duration) -> Duration {
        match d {
            None => default,
            Some(s) => match humantime::parse_duration(&s.value) {
                Ok(v) if v > Duration::ZERO && v <= Duration::from_secs(3600) => v,
                _ => {
                    self.at(
                        s,
                        format!(
                            "'{}' is not a duration between 1ms and 1h (e.g. 5s, 250ms)",
                            s.value
                        ),
                    );
                    default
                }
            },
        }
    }

    pub(super) fn address(&mut self, a: &S<String>) -> Option<SocketAddr> {
        match a.value.parse::<SocketAddr>() {
            Ok(s) => Some(s),
            Err(_) => {
                self.at(
                    a,
                    format!(
                        "'{}' is not an address such as 127.0.0.1:8443 or [::1]:8443",
                        a.value
                    ),
                );
                None
            }
        }
    }
}

fn valid_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
