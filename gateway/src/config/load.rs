//! Builds a [`Snapshot`] from a configuration file: reads every referenced file (paths are
//! relative to the configuration file's folder), resolves named values, loads certificates and
//! keys, builds the trust store, compiles each route's policy through the scope chain
//! global → product → API → operation, and validates addresses, URLs and references.
//!
//! It does not stop at the first problem: it collects every error it can find, each with the
//! file, line and column, so one `certgate check` run shows them all. Secret named values and
//! passwords never appear in an error.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use certgate_policy::cert::Certificate;
use certgate_policy::context::Deployment;
use certgate_policy::counters::{CounterStore, LocalCounters};
use certgate_policy::crl::Crl;
use certgate_policy::crypto::pkcs12::Pkcs12;
use certgate_policy::crypto::pkey::PKey;
use certgate_policy::crypto::x509::X509;
use certgate_policy::source::Source;
use certgate_policy::trust::{TrustStore, VerificationCache};
use certgate_policy::RouteInfo;
use certgate_policy::{compile_route, CompileError, CompileOptions, NamedValues, Plan};
use certgate_policy::{Fragments, Scope, ScopeDocument};
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
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            verification_cache: None,
            counters: Arc::new(LocalCounters::default()),
        }
    }
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

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
    fn at<T>(&mut self, s: &S<T>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: s.referenced.line(),
            column: s.referenced.column(),
            message: message.into(),
        });
    }

    fn whole(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message: message.into(),
        });
    }

    /// Secrets in the message are redacted by `load` for every error at once.
    fn compile_error(&mut self, e: CompileError) {
        self.errors.push(ConfigError {
            file: PathBuf::from(&*e.file),
            line: e.pos.line as u64,
            column: e.pos.col as u64,
            message: format!("{} error: {}", e.kind.as_str(), e.message),
        });
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    /// Reads a referenced file; the error points at the reference.
    fn read(&mut self, p: &S<String>) -> Option<Vec<u8>> {
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

    fn read_text(&mut self, p: &S<String>) -> Option<String> {
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
        let router = self.routes(&cfg, &backends, opts);
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
        let expression_budget = self.expression_budget(cfg.expression_limits.as_ref());
        let request_head_timeout =
            self.duration(&cfg.request_head_timeout, Duration::from_secs(10));
        let (trust, admin) = (trust?, admin?);
        if !self.errors.is_empty() {
            return None;
        }
        Some(Snapshot {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
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
            named_values: self.named.clone(),
        })
    }

    fn named_values(&mut self, list: &[schema::NamedValue]) {
        let mut seen = HashSet::new();
        for nv in list {
            let name = &nv.name.value;
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                self.at(
                    &nv.name,
                    format!(
                        "named value name '{name}' may only hold letters, digits, '.', '-' and '_'"
                    ),
                );
                continue;
            }
            if !seen.insert(name.clone()) {
                self.at(&nv.name, format!("named value '{name}' is defined twice"));
                continue;
            }
            let value = match (&nv.value, &nv.env, &nv.file) {
                (Some(v), None, None) => Some(v.value.clone()),
                (None, Some(e), None) => match std::env::var(&e.value) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.at(
                            e,
                            format!(
                                "environment variable '{}' (named value '{name}') is not set",
                                e.value
                            ),
                        );
                        None
                    }
                },
                (None, None, Some(f)) => self
                    .read_text(f)
                    .map(|t| t.trim_end_matches(['\n', '\r']).to_string()),
                _ => {
                    self.at(
                        &nv.name,
                        format!("named value '{name}' needs exactly one of value, env and file"),
                    );
                    None
                }
            };
            if let Some(v) = value {
                self.named.insert(name.clone(), v, nv.secret);
            }
        }
    }

    /// A password: literal, or `{{name}}` of a named value.
    fn password(&mut self, p: &Option<S<String>>) -> Option<String> {
        let p = p.as_ref()?;
        let t = p.value.trim();
        if let Some(name) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
            let name = name.trim();
            return match self.named.get(name) {
                Some(v) => Some(v.to_string()),
                None => {
                    self.at(p, format!("unknown named value '{name}'"));
                    None
                }
            };
        }
        Some(p.value.clone())
    }

    /// Certificates from PEM (one or more), DER, or `.cer` base64 without markers.
    fn parse_certs(&mut self, at: &S<String>, bytes: &[u8]) -> Vec<X509> {
        let text = std::str::from_utf8(bytes).ok();
        let r = if text.is_some_and(|t| t.contains("-----BEGIN")) {
            X509::stack_from_pem(bytes).map_err(|e| e.to_string())
        } else if let Ok(c) = X509::from_der(bytes) {
            Ok(vec![c])
        } else if let Some(t) = text {
            use base64::Engine;
            let clean: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|_| "not PEM, DER or base64 DER".to_string())
                .and_then(|der| {
                    X509::from_der(&der)
                        .map(|c| vec![c])
                        .map_err(|e| e.to_string())
                })
        } else {
            Err("not PEM, DER or base64 DER".to_string())
        };
        match r {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                self.at(at, format!("'{}' holds no certificate", at.value));
                Vec::new()
            }
            Err(e) => {
                self.at(at, format!("'{}' is not a certificate: {e}", at.value));
                Vec::new()
            }
        }
    }

    fn material(
        &mut self,
        leaf_chain: Vec<X509>,
        key: Option<PKey<certgate_policy::crypto::pkey::Private>>,
        at: &S<String>,
    ) -> Option<CertMaterial> {
        let mut it = leaf_chain.into_iter();
        let leaf = it.next()?;
        if let Some(k) = &key {
            let matches = leaf.public_key().ok().is_some_and(|p| p.public_eq(k));
            if !matches {
                self.at(at, "the private key does not belong to the certificate");
                return None;
            }
        }
        match Certificate::from_x509(leaf) {
            Ok(c) => Some(CertMaterial {
                cert: Arc::new(c),
                chain: it.collect(),
                key,
            }),
            Err(e) => {
                self.at(at, format!("'{}': {e}", at.value));
                None
            }
        }
    }

    fn key_pair(&mut self, kp: &KeyPair, what: &str) -> Option<CertMaterial> {
        match (&kp.pem, &kp.key, &kp.pfx) {
            (Some(pem), Some(key), None) => {
                let certs = self.read(pem).map(|b| self.parse_certs(pem, &b))?;
                let kb = self.read(key)?;
                let k = match PKey::private_key_from_pem(&kb) {
                    Ok(k) => k,
                    Err(_) => {
                        self.at(key, format!("'{}' is not a PEM private key (encrypted keys: use pfx + password)", key.value));
                        return None;
                    }
                };
                self.material(certs, Some(k), pem)
            }
            (None, None, Some(pfx)) => self.pfx(pfx, &kp.password),
            _ => {
                self.whole(format!(
                    "{what}: a certificate needs pem + key, or pfx (+ password)"
                ));
                None
            }
        }
    }

    fn pfx(&mut self, pfx: &S<String>, password: &Option<S<String>>) -> Option<CertMaterial> {
        let b = self.read(pfx)?;
        let pw = self.password(password).unwrap_or_default();
        let parsed = Pkcs12::from_der(&b).and_then(|p| p.parse2(&pw));
        match parsed {
            Ok(p) => {
                let Some(cert) = p.cert else {
                    self.at(pfx, format!("'{}' holds no certificate", pfx.value));
                    return None;
                };
                let mut chain = vec![cert];
                if let Some(ca) = p.ca {
                    chain.extend(ca);
                }
                self.material(chain, p.pkey, pfx)
            }
            Err(_) => {
                self.at(
                    pfx,
                    format!(
                        "cannot open '{}': wrong password or not a PFX file",
                        pfx.value
                    ),
                );
                None
            }
        }
    }

    fn certificates(&mut self, list: &[schema::CertificateEntry]) -> HashMap<String, CertMaterial> {
        let mut out = HashMap::new();
        for c in list {
            if out.contains_key(&c.id.value) {
                self.at(
                    &c.id,
                    format!("certificate id '{}' is defined twice", c.id.value),
                );
                continue;
            }
            let m = match (&c.file, &c.pem, &c.key, &c.pfx) {
                (Some(f), None, None, None) => self
                    .read(f)
                    .map(|b| self.parse_certs(f, &b))
                    .and_then(|v| self.material(v, None, f)),
                (None, Some(pem), Some(key), None) => self.key_pair(
                    &KeyPair {
                        pem: Some(pem.clone()),
                        key: Some(key.clone()),
                        pfx: None,
                        password: None,
                    },
                    &c.id.value,
                ),
                (None, None, None, Some(pfx)) => self.pfx(pfx, &c.password),
                _ => {
                    self.at(&c.id, format!("certificate '{}' needs exactly one of: file; pem + key; pfx (+ password)", c.id.value));
                    None
                }
            };
            if let Some(m) = m {
                out.insert(c.id.value.clone(), m);
            }
        }
        out
    }

    fn trust(&mut self, cfg: &ConfigFile, opts: &LoadOptions) -> Option<Arc<TrustStore>> {
        let (mut roots, mut inter, mut crls) = (Vec::new(), Vec::new(), Vec::new());
        for ca in &cfg.ca_certificates {
            let Some(b) = self.read(&ca.file) else {
                continue;
            };
            let certs = self.parse_certs(&ca.file, &b);
            match ca.store {
                Store::Root => roots.extend(certs),
                Store::CertificateAuthority => inter.extend(certs),
            }
            for crl in &ca.crls {
                let Some(b) = self.read(crl) else { continue };
                match Crl::from_pem_or_der(&b) {
                    Ok(c) => crls.push(c),
                    Err(e) => self.at(
                        crl,
                        format!("'{}' is not a CRL (PEM or DER): {e}", crl.value),
                    ),
                }
            }
        }
        let capacity = cfg
            .trust
            .as_ref()
            .and_then(|t| t.cache_capacity)
            .unwrap_or(100_000);
        let cache = opts
            .verification_cache
            .clone()
            .unwrap_or_else(|| Arc::new(VerificationCache::new(capacity)));
        match TrustStore::with_cache(roots, inter, crls, cache) {
            Ok(mut t) => {
                t.allow_sent_intermediates = cfg
                    .trust
                    .as_ref()
                    .is_some_and(|t| t.allow_client_intermediates);
                Some(Arc::new(t))
            }
            Err(e) => {
                self.whole(format!("cannot build the trust store: {e}"));
                None
            }
        }
    }

    fn duration(&mut self, d: &Option<S<String>>, default: Duration) -> Duration {
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

    fn backends(
        &mut self,
        list: &[schema::Backend],
        certs: &HashMap<String, CertMaterial>,
    ) -> HashMap<String, Arc<BackendSpec>> {
        let mut out = HashMap::new();
        for b in list {
            if out.contains_key(&b.id.value) {
                self.at(
                    &b.id,
                    format!("backend id '{}' is defined twice", b.id.value),
                );
                continue;
            }
            let url = match BackendUrl::parse(&b.url.value) {
                Ok(u) => u,
                Err(e) => {
                    self.at(&b.url, e);
                    continue;
                }
            };
            let mut client_certificate = None;
            let mut headers = Vec::new();
            if let Some(c) = &b.credentials {
                for id in &c.certificate_ids {
                    match certs.get(&id.value) {
                        None => self.at(id, format!("unknown certificate id '{}'", id.value)),
                        Some(m) if m.key.is_none() => self.at(id, format!("certificate '{}' has no private key; a client certificate needs pem + key or pfx", id.value)),
                        Some(_) => {
                            client_certificate.get_or_insert_with(|| id.value.clone());
                        }
                    }
                }
                for (name, values) in &c.header {
                    if !valid_header_name(name) {
                        self.whole(format!(
                            "backend '{}': '{name}' is not a valid header name",
                            b.id.value
                        ));
                    }
                    for v in values {
                        headers.push((name.clone(), v.clone()));
                    }
                }
            }
            let (validate_chain, validate_name, mut cas, sni) = match &b.tls {
                Some(t) => (
                    t.validate_certificate_chain,
                    t.validate_certificate_name,
                    Vec::new(),
                    t.sni.clone(),
                ),
                None => (true, true, Vec::new(), None),
            };
            if let Some(t) = &b.tls {
                for f in &t.ca_certificates {
                    if let Some(bytes) = self.read(f) {
                        cas.extend(self.parse_certs(f, &bytes));
                    }
                }
            }
            let (connect, read) = match &b.timeouts {
                Some(t) => (
                    self.duration(&t.connect, Duration::from_secs(5)),
                    self.duration(&t.read, Duration::from_secs(60)),
                ),
                None => (Duration::from_secs(5), Duration::from_secs(60)),
            };
            out.insert(
                b.id.value.clone(),
                Arc::new(BackendSpec {
                    id: b.id.value.clone(),
                    url: Arc::new(url),
                    client_certificate,
                    headers,
                    validate_chain,
                    validate_name,
                    ca_certificates: (!cas.is_empty()).then(|| Arc::new(cas.into_boxed_slice())),
                    sni,
                    connect_timeout: connect,
                    read_timeout: read,
                }),
            );
        }
        out
    }

    /// Parses a policy document; None (with the error recorded) if it does not parse.
    fn policy(&mut self, p: &S<String>, scope: Scope) -> Option<ScopeDocument> {
        let text = self.read_text(p)?;
        let name = self.path(&p.value).display().to_string();
        let r = Source::new(name, text, &self.named)
            .map_err(CompileError::from)
            .and_then(|src| ScopeDocument::parse(scope, src));
        match r {
            Ok(d) => Some(d),
            Err(e) => {
                self.compile_error(e);
                None
            }
        }
    }

    fn routes(
        &mut self,
        cfg: &ConfigFile,
        backends: &HashMap<String, Arc<BackendSpec>>,
        opts: &LoadOptions,
    ) -> Router {
        let global = cfg
            .policies
            .as_ref()
            .and_then(|p| self.policy(&p.global, Scope::Global));
        let mut fragments = Fragments::new();
        let mut fragment_ids = HashSet::new();
        for f in &cfg.fragments {
            if !fragment_ids.insert(f.id.value.clone()) {
                self.at(
                    &f.id,
                    format!("fragment id '{}' is defined twice", f.id.value),
                );
                continue;
            }
            let Some(text) = self.read_text(&f.file) else {
                continue;
            };
            let name = self.path(&f.file.value).display().to_string();
            if let Err(e) = Source::new(name, text, &self.named)
                .map_err(CompileError::from)
                .and_then(|src| fragments.add(f.id.value.clone(), src))
            {
                self.compile_error(e);
            }
        }
        // Product scope per API (an API may be in one product: without subscriptions there is
        // nothing to choose between several).
        let mut product_of: HashMap<String, usize> = HashMap::new();
        let mut products = Vec::new();
        for (i, p) in cfg.products.iter().enumerate() {
            products.push(
                p.policy
                    .as_ref()
                    .and_then(|f| self.policy(f, Scope::Product)),
            );
            for a in &p.apis {
                if !cfg.apis.iter().any(|x| x.name.value == a.value) {
                    self.at(
                        a,
                        format!("product '{}' lists unknown API '{}'", p.name.value, a.value),
                    );
                } else if product_of.insert(a.value.clone(), i).is_some() {
                    self.at(a, format!("API '{}' is in more than one product", a.value));
                }
            }
        }
        let secrets: Vec<String> = self
            .named
            .secrets()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut apis = Vec::new();
        let mut names = HashSet::new();
        for api in &cfg.apis {
            if !names.insert(api.name.value.clone()) {
                self.at(
                    &api.name,
                    format!("API name '{}' is defined twice", api.name.value),
                );
                continue;
            }
            if !api.path.value.is_empty() && !api.path.value.starts_with('/') {
                self.at(
                    &api.path,
                    format!("API path '{}' must start with '/'", api.path.value),
                );
            }
            let prefix = normalise_prefix(&api.path.value);
            let backend = api.backend.as_ref().and_then(|b| {
                if b.value.starts_with("http://") || b.value.starts_with("https://") {
                    match BackendUrl::parse(&b.value) {
                        Ok(_) => Some(BackendRef::Url(b.value.clone())),
                        Err(e) => {
                            self.at(b, e);
                            None
                        }
                    }
                } else if backends.contains_key(&b.value) {
                    Some(BackendRef::Id(b.value.clone()))
                } else {
                    self.at(
                        b,
                        format!(
                            "unknown backend '{}'; expected a backend id or an http(s) URL",
                            b.value
                        ),
                    );
                    None
                }
            });
            let api_doc = api.policy.as_ref().and_then(|p| self.policy(p, Scope::Api));
            let product_doc = product_of
                .get(&api.name.value)
                .and_then(|&i| products[i].as_ref());
            let mut docs: Vec<&ScopeDocument> = Vec::new();
            docs.extend(global.as_ref());
            docs.extend(product_doc);
            docs.extend(api_doc.as_ref());
            let compile =
                |route: RouteInfo, op_doc: Option<&ScopeDocument>| -> Result<Plan, CompileError> {
                    let mut all = docs.clone();
                    all.extend(op_doc);
                    compile_route(
                        &all,
                        &fragments,
                        &CompileOptions {
                            route,
                            counters: opts.counters.clone(),
                            secrets: secrets.clone(),
                        },
                    )
                };
            let base = RouteInfo {
                api_name: api.name.value.as_str().into(),
                api_id: api.name.value.as_str().into(),
                api_path: prefix.as_str().into(),
                ..Default::default()
            };
            let mut operations = Vec::new();
            let mut pass_through = None;
            if api.operations.is_empty() {
                match compile(base.clone(), None) {
                    Ok(p) => pass_through = Some(Arc::new(p)),
                    Err(e) => self.compile_error(e),
                }
            }
            let mut op_names = HashSet::new();
            for op in &api.operations {
                if !op_names.insert(op.name.value.clone()) {
                    self.at(
                        &op.name,
                        format!(
                            "operation '{}' is defined twice in API '{}'",
                            op.name.value, api.name.value
                        ),
                    );
                    continue;
                }
                let method = op.method.value.trim().to_ascii_uppercase();
                if method != "*"
                    && (method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    self.at(
                        &op.method,
                        format!("'{}' is not an HTTP method (or *)", op.method.value),
                    );
                    continue;
                }
                let template = match UrlTemplate::parse(&op.url_template.value) {
                    Ok(t) => t,
                    Err(e) => {
                        self.at(
                            &op.url_template,
                            format!("URL template '{}': {e}", op.url_template.value),
                        );
                        continue;
                    }
                };
                let op_doc = op
                    .policy
                    .as_ref()
                    .and_then(|p| self.policy(p, Scope::Operation));
                if op.policy.is_some() && op_doc.is_none() {
                    continue;
                }
                let route = RouteInfo {
                    operation_name: op.name.value.as_str().into(),
                    operation_id: op.name.value.as_str().into(),
                    operation_method: method.as_str().into(),
                    operation_url_template: op.url_template.value.as_str().into(),
                    ..base.clone()
                };
                match compile(route, op_doc.as_ref()) {
                    Ok(p) => operations.push(OperationRoute {
                        name: op.name.value.clone(),
                        method: (method != "*").then_some(method),
                        template,
                        template_text: op.url_template.value.clone(),
                        plan: Arc::new(p),
                    }),
                    Err(e) => self.compile_error(e),
                }
            }
            let hostnames = api
                .hostnames
                .iter()
                .map(|h| h.value.to_ascii_lowercase())
                .collect();
            apis.push(ApiRoute {
                name: api.name.value.clone(),
                prefix,
                hostnames,
                backend,
                operations,
                pass_through,
            });
        }
        Router::new(apis)
    }

    fn address(&mut self, a: &S<String>) -> Option<SocketAddr> {
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

    fn listeners(&mut self, list: &[schema::Listener]) -> Vec<ListenerSpec> {
        let mut out = Vec::new();
        let mut addresses = HashSet::new();
        for l in list {
            let Some(address) = self.address(&l.address) else {
                continue;
            };
            if !addresses.insert(address) {
                self.at(&l.address, format!("two listeners on {address}"));
            }
            if l.tls && l.hostnames.is_empty() {
                self.at(
                    &l.address,
                    "a TLS listener needs at least one hostname with a server certificate",
                );
            }
            if !l.tls && !l.hostnames.is_empty() {
                self.at(
                    &l.address,
                    "a plain listener has no hostnames (they configure TLS)",
                );
            }
            let mut hostnames: Vec<HostnameSpec> = Vec::new();
            let mut defaults = 0;
            for h in &l.hostnames {
                let host = h.host.value.trim().to_ascii_lowercase();
                if host.is_empty() || host.contains(['/', ' ', ':']) {
                    self.at(&h.host, format!("'{}' is not a host name", h.host.value));
                    continue;
                }
                if hostnames.iter().any(|x| x.host == host) {
                    self.at(
                        &h.host,
                        format!("hostname '{host}' appears twice on this listener"),
                    );
                    continue;
                }
                if h.default {
                    defaults += 1;
                    if defaults > 1 {
                        self.at(&h.host, "more than one default hostname on this listener");
                    }
                }
                let Some(certificate) = self.key_pair(&h.certificate, &host) else {
                    continue;
                };
                hostnames.push(HostnameSpec {
                    host,
                    default: h.default,
                    certificate,
                    negotiate_client_certificate: h.negotiate_client_certificate,
                    strict: h.strict,
                });
            }
            if defaults == 0 {
                if let Some(first) = hostnames.first_mut() {
                    first.default = true;
                }
            }
            let min_tls_version = match l.min_tls_version.as_ref().map(|v| v.value.as_str()) {
                None | Some("1.2") => MinTlsVersion::Tls12,
                Some("1.3") => MinTlsVersion::Tls13,
                Some(other) => {
                    if let Some(v) = &l.min_tls_version {
                        self.at(
                            v,
                            format!("min-tls-version '{other}': expected \"1.2\" or \"1.3\""),
                        );
                    }
                    MinTlsVersion::Tls12
                }
            };
            let read_buffer = match &l.read_buffer_bytes {
                None => DEFAULT_READ_BUFFER,
                Some(v) if (1024..=1 << 20).contains(&v.value) => v.value as usize,
                Some(v) => {
                    self.at(
                        v,
                        format!("read-buffer-bytes {}: expected 1024 to 1048576", v.value),
                    );
                    DEFAULT_READ_BUFFER
                }
            };
            out.push(ListenerSpec {
                address,
                read_buffer,
                tls: l.tls,
                http2: l.http2,
                min_tls_version,
                session_resumption: l.session_resumption,
                hostnames,
            });
        }
        out
    }

    fn expression_budget(
        &mut self,
        limits: Option<&schema::ExpressionLimits>,
    ) -> certgate_policy::context::ExpressionBudget {
        let mut b = certgate_policy::context::ExpressionBudget::default();
        let Some(l) = limits else {
            return b;
        };
        for (v, slot) in [
            (&l.max_string_bytes, &mut b.max_string),
            (&l.max_collection_items, &mut b.max_items),
            (&l.max_bytes_per_evaluation, &mut b.max_produced),
        ] {
            if let Some(v) = v {
                if (1..=1 << 32).contains(&v.value) {
                    *slot = v.value as usize;
                } else {
                    self.at(v, format!("{}: expected 1 to 4294967296", v.value));
                }
            }
        }
        b
    }

    fn trusted_proxies(&mut self, list: &[S<String>]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for p in list {
            let v = p.value.trim();
            let net = v
                .parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from));
            match net {
                Ok(n) => out.push(n),
                Err(_) => self.at(
                    p,
                    format!("'{v}' is not an IP address or CIDR such as 10.0.0.0/8"),
                ),
            }
        }
        out
    }
}

fn valid_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
