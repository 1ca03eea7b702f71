//! The runtime configuration: one immutable snapshot, built and validated completely by
//! [`crate::config::load`] before anything uses it, then shared (behind an `arc-swap` in the
//! server) by every request. A reload builds a new snapshot; requests in flight keep the one
//! they started with.
//!
//! Nothing here parses files or does I/O.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use certgate_policy::crypto::pkey::{PKey, Private};
use certgate_policy::crypto::x509::X509;
use certgate_policy::Certificate;
use certgate_policy::Deployment;
use certgate_policy::NamedValues;
use certgate_policy::TrustStore;
use ipnet::IpNet;

use crate::forwarded::{CertEncoding, ForwardFormat};
use crate::routing::Router;

/// A certificate with its chain and, when the configuration gave one, its private key.
#[derive(Clone)]
pub struct CertMaterial {
    pub cert: Arc<Certificate>,
    /// Intermediates sent after the certificate.
    pub chain: Vec<X509>,
    pub key: Option<PKey<Private>>,
    /// The certificate, chain and key as a TLS client presents them (with a key only), made
    /// once at load: a backend connection asks for it on every request.
    pub client: Option<Arc<pingora::utils::tls::CertKey>>,
}

impl CertMaterial {
    pub fn new(cert: Arc<Certificate>, chain: Vec<X509>, key: Option<PKey<Private>>) -> Self {
        let client = key.clone().map(|k| {
            let mut all = vec![cert.x509().clone()];
            all.extend(chain.iter().cloned());
            Arc::new(pingora::utils::tls::CertKey::new(all, k))
        });
        CertMaterial {
            cert,
            chain,
            key,
            client,
        }
    }
}

impl std::fmt::Debug for CertMaterial {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertMaterial")
            .field("subject", self.cert.subject())
            .field("has_key", &self.key.is_some())
            .finish()
    }
}

#[derive(Debug)]
pub struct HostnameSpec {
    /// Lower-case SNI name.
    pub host: String,
    pub default: bool,
    pub certificate: CertMaterial,
    pub negotiate_client_certificate: bool,
    pub strict: bool,
    /// `ocsp-stapling`: the certificate's OCSP answer, fetched in the background.
    pub staple: Option<Arc<certgate_policy::OcspEntry>>,
}

impl HostnameSpec {
    pub fn rule(&self) -> ClientCertRule {
        if self.strict {
            ClientCertRule::Strict
        } else if self.negotiate_client_certificate {
            ClientCertRule::Negotiate
        } else {
            ClientCertRule::NotRequested
        }
    }
}

/// What a hostname asks of clients' certificates, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientCertRule {
    NotRequested,
    /// Requested; policies decide.
    Negotiate,
    /// Required and trusted (valid, not revoked) before any request is read.
    Strict,
}

/// Lowest TLS version a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinTlsVersion {
    Tls12,
    Tls13,
}

#[derive(Debug)]
pub struct ListenerSpec {
    pub address: SocketAddr,
    pub tls: bool,
    pub http2: bool,
    pub min_tls_version: MinTlsVersion,
    pub session_resumption: bool,
    /// Socket read buffer per connection, bytes.
    pub read_buffer: usize,
    /// Key-exchange groups in order of preference, as the TLS library names them joined by
    /// `:`; None for the library's default list.
    pub key_exchange_groups: Option<String>,
    /// TLS 1.3 cipher suites, the listener's choice first.
    pub tls13_cipher_suites: Vec<Tls13Suite>,
    pub hostnames: Vec<HostnameSpec>,
}

impl ListenerSpec {
    /// The hostname entry for an SNI name, falling back to the default one.
    pub fn hostname(&self, sni: Option<&str>) -> Option<&HostnameSpec> {
        sni.and_then(|s| {
            self.hostnames
                .iter()
                .find(|h| h.host.eq_ignore_ascii_case(s))
        })
        .or_else(|| self.hostnames.iter().find(|h| h.default))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Base path without trailing slash ("" for none).
    pub base_path: String,
    /// `host:port` as sent in the Host header (IPv6 in brackets); built once, not per request.
    pub authority: String,
    /// `authority` as a header value: each request's Host takes a reference to it, no copy.
    pub host_header: http::HeaderValue,
    /// The socket address when the host is an IP literal: no resolution on the request path.
    pub ip: Option<std::net::SocketAddr>,
}

impl BackendUrl {
    pub fn parse(url: &str) -> Result<BackendUrl, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("'{url}' is not an http:// or https:// URL"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("'{url}' needs a host (and no user info)"));
        }
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| format!("'{url}': unclosed IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("'{url}': bad port"))?,
                None => default_port(https),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("'{url}': bad port '{p}'"))?,
                ),
                None => (authority.to_string(), default_port(https)),
            }
        };
        if path.contains(['?', '#']) {
            return Err(format!("'{url}': a backend URL has no query or fragment"));
        }
        let ip = host
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, port));
        let authority = match ip {
            Some(a) => a.to_string(),
            None => format!("{host}:{port}"),
        };
        let host_header = http::HeaderValue::from_str(&authority)
            .map_err(|_| format!("'{url}': the host cannot be sent in a Host header"))?;
        Ok(BackendUrl {
            https,
            host,
            port,
            base_path: path.trim_end_matches('/').to_string(),
            authority,
            host_header,
            ip,
        })
    }
}

fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

#[derive(Debug)]
pub struct BackendSpec {
    pub id: String,
    pub url: Arc<BackendUrl>,
    /// Client certificate for backend mTLS (first of `credentials.certificate-ids`).
    pub client_certificate: Option<String>,
    pub headers: Vec<(String, String)>,
    pub validate_chain: bool,
    pub validate_name: bool,
    /// Trust anchors for the backend's certificate; None: the system's. Shared with every
    /// request's peer as they are (Pingora takes them behind an `Arc`).
    pub ca_certificates: Option<Arc<Box<[X509]>>>,
    pub sni: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ForwardedCertificateSpec {
    pub header: http::HeaderName,
    pub encoding: CertEncoding,
}

/// Hostname → its strongest client-certificate rule (`Snapshot::host_rules`).
pub(crate) type HostRules = HashMap<String, ClientCertRule, ahash::RandomState>;

/// Everything the gateway serves from, for one configuration generation.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub config_file: PathBuf,
    /// Every file the configuration read: reload watches these.
    pub files: Vec<PathBuf>,
    pub listeners: Vec<ListenerSpec>,
    /// Every hostname of every TLS listener with its strongest client-certificate rule: what a
    /// request's Host is checked against (crate::boundary). Looked up on every request, so
    /// hashed with aHash (randomly keyed: a chosen name still cannot collide on purpose), which
    /// costs a fraction of SipHash's ~200 instructions.
    pub host_rules: HostRules,
    pub admin: SocketAddr,
    pub trust: Arc<TrustStore>,
    pub deployment: Arc<Deployment>,
    pub certificates: HashMap<String, CertMaterial>,
    pub backends: HashMap<String, Arc<BackendSpec>>,
    pub router: Router,
    pub trusted_proxies: Vec<IpNet>,
    pub forwarded_certificate: Option<ForwardedCertificateSpec>,
    pub forward_client_certificate: Option<ForwardFormat>,
    pub named_values: NamedValues,
    /// Write the JSON access log (`access-log`, default true).
    pub access_log: bool,
    /// Idle time allowed between requests on an HTTP/1.1 connection, whole seconds.
    pub keepalive_timeout: u64,
    /// Total time to read an HTTP/1 request head (Pingora server option: fixed at start).
    pub request_head_timeout: Duration,
    /// The memory budget of each policy expression evaluation (`expression-limits`).
    pub expression_budget: certgate_policy::ExpressionBudget,
    /// Largest request body buffered for a policy that reads it (`max-request-body-bytes`).
    pub max_request_body: usize,
    /// Largest response body a `send-request` reads (`max-response-body-bytes`).
    pub max_send_response: usize,
    /// The value cache (`cache-store-value`), kept across reloads.
    pub value_cache: Arc<certgate_policy::LocalCache>,
    /// Where `authentication-managed-identity` gets its tokens.
    pub managed_identity: Arc<IdentitySource>,
    /// How often CRLs at distribution points are fetched (`trust.crl-refresh`, `crl-retry`).
    pub crl_refresh: certgate_policy::Refresh,
    /// Longest a request waits for a first CRL or OCSP answer (`trust.revocation-wait`).
    pub revocation_wait: Duration,
    /// Redis, when the configuration shares state between nodes (`redis:`).
    pub redis: Option<Arc<crate::shared::Redis>>,
}

/// How the gateway obtains Entra ID access tokens (`managed-identity`), as Azure workloads do.
#[derive(Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// The instance metadata service (VMs, AKS node identities).
    Imds {
        url: String,
        client_id: Option<String>,
    },
    /// App Service / Container Apps / Functions: `IDENTITY_ENDPOINT` with `IDENTITY_HEADER`.
    AppService {
        url: String,
        header: String,
        client_id: Option<String>,
    },
    /// Workload identity federation: the projected token file as a client assertion.
    Workload {
        token_url: String,
        client_id: String,
        token_file: PathBuf,
    },
    /// An application's client secret.
    ClientSecret {
        token_url: String,
        client_id: String,
        secret: String,
    },
}

/// Never prints the identity header's or the client's secret.
impl std::fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl IdentitySource {
    /// The source without its secrets: logs, and the token cache's partition.
    pub fn describe(&self) -> String {
        match self {
            IdentitySource::Imds { url, client_id } => format!("imds {url} {client_id:?}"),
            IdentitySource::AppService { url, client_id, .. } => {
                format!("app-service {url} {client_id:?}")
            }
            IdentitySource::Workload {
                token_url,
                client_id,
                token_file,
            } => format!(
                "workload-identity {token_url} {client_id} {}",
                token_file.display()
            ),
            IdentitySource::ClientSecret {
                token_url,
                client_id,
                ..
            } => format!("client-secret {token_url} {client_id}"),
        }
    }
}

impl Snapshot {
    /// The hostname entry of the listener on `listener` for an SNI name (or its default).
    pub fn hostname_on(&self, listener: SocketAddr, sni: Option<&str>) -> Option<&HostnameSpec> {
        self.listeners
            .iter()
            .find(|l| l.address == listener)?
            .hostname(sni)
    }

    /// The host-rule table for a set of listeners.
    pub fn host_rules(listeners: &[ListenerSpec]) -> HostRules {
        let mut rules = HostRules::default();
        for h in listeners.iter().flat_map(|l| &l.hostnames) {
            let r = rules.entry(h.host.clone()).or_insert(h.rule());
            *r = (*r).max(h.rule());
        }
        rules
    }

    /// The settings of a listener that are fixed for the life of its socket (a reload cannot
    /// change them; `certgate run -u` can).
    pub fn socket_settings(&self) -> Vec<String> {
        self.listeners
            .iter()
            .map(|l| {
                format!(
                    "{} tls={} http2={} min-tls={:?} resumption={} read-buffer={} groups={} tls13-suites={}",
                    l.address,
                    l.tls,
                    l.http2,
                    l.min_tls_version,
                    l.session_resumption,
                    l.read_buffer,
                    l.key_exchange_groups.as_deref().unwrap_or("default"),
                    Tls13Suite::join(&l.tls13_cipher_suites)
                )
            })
            .chain(std::iter::once(format!(
                "request-head-timeout={:?}",
                self.request_head_timeout
            )))
            .collect()
    }

    /// What `certgate check` prints: routes, listeners, trust, with no secrets.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "configuration {} is valid (generation {})",
            self.config_file.display(),
            self.generation
        );
        for l in &self.listeners {
            let hosts: Vec<String> = l
                .hostnames
                .iter()
                .map(|h| {
                    format!(
                        "{}{}{}",
                        h.host,
                        if h.negotiate_client_certificate {
                            " (client certificate)"
                        } else {
                            ""
                        },
                        if h.strict { " (strict)" } else { "" }
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "listener {} {}{} {}",
                l.address,
                if l.tls { "tls" } else { "plain" },
                if l.http2 { " h2" } else { "" },
                hosts.join(", ")
            );
        }
        let _ = writeln!(s, "admin {}", self.admin);
        let _ = writeln!(
            s,
            "trust: {} root(s), verification cache {} entries",
            self.trust.roots().len(),
            self.trust.cache().capacity()
        );
        let _ = writeln!(
            s,
            "certificates: {}; backends: {}; named values: {}",
            self.certificates.len(),
            self.backends.len(),
            self.named_values.len()
        );
        for api in self.router.apis() {
            let hosts = if api.hostnames.is_empty() {
                "*".to_string()
            } else {
                api.hostnames.join(",")
            };
            if let Some(p) = &api.pass_through {
                let _ = writeln!(
                    s,
                    "route {hosts} {}/* -> api {} (pass-through, {} steps)",
                    api.prefix,
                    api.name,
                    p.step_count()
                );
            }
            for op in &api.operations {
                let _ = writeln!(
                    s,
                    "route {hosts} {} {}{} -> api {} operation {} ({} steps)",
                    op.method.as_deref().unwrap_or("*"),
                    api.prefix,
                    op.template_text,
                    api.name,
                    op.name,
                    op.plan.step_count()
                );
            }
        }
        s
    }
}

/// A TLS 1.3 cipher suite (RFC 8446, B.4): the three both TLS libraries implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls13Suite {
    /// `TLS_AES_128_GCM_SHA256`, the one every TLS 1.3 implementation has.
    Aes128GcmSha256,
    /// `TLS_AES_256_GCM_SHA384`.
    Aes256GcmSha384,
    /// `TLS_CHACHA20_POLY1305_SHA256`.
    Chacha20Poly1305Sha256,
}

impl Tls13Suite {
    const ALL: [Tls13Suite; 3] = [
        Tls13Suite::Aes128GcmSha256,
        Tls13Suite::Aes256GcmSha384,
        Tls13Suite::Chacha20Poly1305Sha256,
    ];

    /// The IANA name, which OpenSSL and BoringSSL both use.
    pub fn name(self) -> &'static str {
        match self {
            Tls13Suite::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            Tls13Suite::Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            Tls13Suite::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
        }
    }

    /// The listener's order when `tls13-cipher-suites` is not set. The listener chooses, not
    /// the client: the key exchange (X25519, P-256) and the signature give 128-bit security, so
    /// AES-256 and SHA-384, which many clients list first, add cost and no strength. Their key
    /// schedule's HMAC-SHA-384 is software on CPUs that hash SHA-256 in hardware (about 6 % of
    /// a full handshake's CPU, bench/RESULTS.md). Without AES instructions ChaCha20 is faster
    /// and resists timing attacks, so it comes first there.
    pub fn default_order() -> Vec<Tls13Suite> {
        use Tls13Suite::*;
        if aes_hardware() {
            vec![Aes128GcmSha256, Aes256GcmSha384, Chacha20Poly1305Sha256]
        } else {
            vec![Chacha20Poly1305Sha256, Aes128GcmSha256, Aes256GcmSha384]
        }
    }

    /// A listener's `tls13-cipher-suites`, in its order.
    pub(crate) fn parse_list(names: &[String]) -> Result<Vec<Tls13Suite>, String> {
        if names.is_empty() {
            return Err("the list is empty; leave the setting out for the default".into());
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let Some(suite) = Tls13Suite::ALL.into_iter().find(|s| s.name() == name) else {
                return Err(format!(
                    "'{name}' is not a TLS 1.3 cipher suite (TLS_AES_128_GCM_SHA256, \
                     TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)"
                ));
            };
            if out.contains(&suite) {
                return Err(format!("'{name}' is listed twice"));
            }
            out.push(suite);
        }
        Ok(out)
    }

    /// The suites as OpenSSL reads a list: `A:B:C`.
    pub fn join(suites: &[Tls13Suite]) -> String {
        suites
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Whether this CPU has AES instructions (AES-GCM is then both faster than ChaCha20 and
/// constant-time).
fn aes_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(target_arch = "aarch64")]
    return std::arch::is_aarch64_feature_detected!("aes");
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls() {
        assert_eq!(
            BackendUrl::parse("https://backend:9443/api/").unwrap(),
            BackendUrl {
                https: true,
                host: "backend".into(),
                port: 9443,
                base_path: "/api".into(),
                authority: "backend:9443".into(),
                host_header: http::HeaderValue::from_static("backend:9443"),
                ip: None,
            }
        );
        let v6 = BackendUrl::parse("http://[::1]").unwrap();
        assert_eq!((v6.port, v6.authority.as_str()), (80, "[::1]:80"));
        assert_eq!(v6.ip, Some("[::1]:80".parse().unwrap()));
        assert!(BackendUrl::parse("ftp://x").is_err());
        assert!(BackendUrl::parse("https://u@h").is_err());
        assert!(BackendUrl::parse("https://h:99999").is_err());
        assert!(BackendUrl::parse("https://h/a?b").is_err());
        // A host that no Host header can carry is refused when the URL is read, not on each
        // request.
        assert_eq!(
            BackendUrl::parse("http://a\u{1}b:80/"),
            Err("'http://a\u{1}b:80/': the host cannot be sent in a Host header".into())
        );
    }
}
