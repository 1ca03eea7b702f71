//! The YAML configuration schema (SPEC §2), as serde types. Unknown fields are errors.
//!
//! Values that the loader must check beyond their type (file paths, addresses, CIDRs, URLs)
//! are [`Spanned`] so that their errors carry the line and column where the operator wrote
//! them. This module only describes the file; turning it into a runtime model is
//! [`super::load`]'s job.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub admin: Option<Admin>,
    #[serde(default)]
    pub ca_certificates: Vec<CaCertificate>,
    #[serde(default)]
    pub trust: Option<TrustOptions>,
    #[serde(default)]
    pub certificates: Vec<CertificateEntry>,
    #[serde(default)]
    pub named_values: Vec<NamedValue>,
    #[serde(default)]
    pub backends: Vec<Backend>,
    #[serde(default)]
    pub policies: Option<Policies>,
    #[serde(default)]
    pub fragments: Vec<Fragment>,
    #[serde(default)]
    pub products: Vec<Product>,
    #[serde(default)]
    pub apis: Vec<Api>,
    #[serde(default)]
    pub trusted_proxies: Vec<S<String>>,
    #[serde(default)]
    pub forwarded_certificate: Option<ForwardedCertificate>,
    #[serde(default)]
    pub forward_client_certificate: Option<ForwardClientCertificate>,
    #[serde(default)]
    pub deployment: Option<DeploymentInfo>,
    /// The JSON access log on stdout (default on; trace events are logged either way).
    #[serde(default = "yes")]
    pub access_log: bool,
    /// How long an HTTP/1.1 connection may sit idle between requests (default 75s, nginx's
    /// `keepalive_timeout`); Pingora's own default is forever.
    #[serde(default)]
    pub keepalive_timeout: Option<S<String>>,
    /// Total time to read an HTTP/1 request head once its first byte arrived (default 10s,
    /// nginx's `client_header_timeout` is 60s); 408 after it. Fixed at start.
    #[serde(default)]
    pub request_head_timeout: Option<S<String>>,
    /// The memory budget of each policy expression evaluation.
    #[serde(default)]
    pub expression_limits: Option<ExpressionLimits>,
    /// The value cache of `cache-store-value` / `cache-lookup-value`.
    #[serde(default)]
    pub cache: Option<CacheSettings>,
    /// Where `authentication-managed-identity` gets its tokens.
    #[serde(default)]
    pub managed_identity: Option<ManagedIdentity>,
    /// State shared between nodes (rate-limit and quota counters, the external cache).
    #[serde(default)]
    pub redis: Option<RedisConfig>,
}

/// Redis, for state several nodes share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RedisConfig {
    /// `redis://[user[:password]@]host:port[/db]`.
    pub url: S<String>,
    /// Overrides the URL's user.
    pub username: Option<S<String>>,
    /// Overrides the URL's password: literal or `{{named-value}}`.
    pub password: Option<S<String>>,
    /// Overrides the URL's database.
    pub database: Option<S<u32>>,
    /// Put before every key (default `certgate:`).
    pub key_prefix: Option<S<String>>,
    /// Longest wait for a connection (default 1s).
    pub connect_timeout: Option<S<String>>,
    /// Longest wait for one command, connecting included (default 250ms).
    pub command_timeout: Option<S<String>>,
    /// Multiplexed connections per node, commands spread over them in turn (default 1, at
    /// most 64).
    pub connections: Option<S<usize>>,
    /// What each policy family does when Redis does not answer.
    pub on_failure: Option<RedisOnFailure>,
    /// TLS towards Redis (`rediss://`): trust anchors, client certificate, name.
    pub tls: Option<RedisTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RedisTls {
    /// PEM files of the CAs Redis's certificate chains to (default: the system's).
    #[serde(default)]
    pub ca_certificates: Vec<S<String>>,
    /// A `certificates[]` id with a key: the client certificate Redis asks for.
    pub certificate_id: Option<S<String>>,
    /// The name sent as SNI and checked in Redis's certificate (default: the URL's host).
    pub server_name: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RedisOnFailure {
    /// `allow` (default) or `refuse`.
    pub rate_limit: Option<S<String>>,
    /// `allow` (default) or `refuse`.
    pub quota: Option<S<String>>,
    /// `allow` (default: a lookup misses, a store is not made) or `refuse`.
    pub cache: Option<S<String>>,
}

/// How the gateway obtains Entra ID tokens, as Azure workloads do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ManagedIdentity {
    /// `auto` (default: from the environment, as Azure's SDKs decide), `imds`, `app-service`,
    /// `workload-identity` or `client-secret`.
    pub source: Option<S<String>>,
    /// The token endpoint, replacing the source's default (tests, sidecars, sovereign clouds).
    pub endpoint: Option<S<String>>,
    /// The identity's (or application's) client id.
    pub client_id: Option<S<String>>,
    /// The Entra tenant (`workload-identity`, `client-secret`).
    pub tenant_id: Option<S<String>>,
    /// The application's secret (`client-secret`): literal or `{{named-value}}`.
    pub client_secret: Option<S<String>>,
    /// The projected service-account token file (`workload-identity`).
    pub federated_token_file: Option<S<String>>,
    /// The App Service / Container Apps identity header's secret (`app-service`).
    pub identity_header: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CacheSettings {
    /// Most bytes of keys and values the in-process cache holds (default 64 MiB); the least
    /// useful entries are evicted past it.
    pub max_bytes: Option<S<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Listener {
    pub address: S<String>,
    /// TLS (default) or plain HTTP.
    #[serde(default = "yes")]
    pub tls: bool,
    /// HTTP/2 by ALPN (default off, as on APIM's client side: HTTP/2 has no reason phrase, and
    /// seed policies answer 401 with the failure reason as the phrase).
    #[serde(default)]
    pub http2: bool,
    /// Lowest TLS version accepted: "1.2" (default) or "1.3".
    #[serde(default)]
    pub min_tls_version: Option<S<String>>,
    /// TLS session resumption (tickets and the server-side cache; default on). Off forces a
    /// full handshake per connection, e.g. for handshake benchmarks.
    #[serde(default = "yes")]
    pub session_resumption: bool,
    /// Per-connection socket read buffer in bytes (default 16 384, one TLS record; Pingora's
    /// own default of 64 KiB costs ~60 KiB of RSS per idle kept-alive connection).
    #[serde(default)]
    pub read_buffer_bytes: Option<S<u64>>,
    /// TLS key-exchange groups in order of preference (nginx `ssl_ecdh_curve`), e.g.
    /// `[X25519MLKEM768, X25519, P-256]`; default: the TLS library's own list, which puts the
    /// hybrid post-quantum X25519MLKEM768 first.
    #[serde(default)]
    pub key_exchange_groups: Option<S<Vec<String>>>,
    /// TLS 1.3 cipher suites in the listener's order of preference (the listener chooses, as
    /// nginx's `ssl_prefer_server_ciphers on`), e.g. `[TLS_AES_128_GCM_SHA256,
    /// TLS_CHACHA20_POLY1305_SHA256]`; default: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
    /// (ChaCha20 first on a CPU without AES instructions).
    #[serde(default)]
    pub tls13_cipher_suites: Option<S<Vec<String>>>,
    #[serde(default)]
    pub hostnames: Vec<Hostname>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Hostname {
    pub host: S<String>,
    /// Serves clients that send no SNI (or an unknown one).
    #[serde(default)]
    pub default: bool,
    pub certificate: KeyPair,
    /// Request a client certificate in the handshake (APIM's default: false).
    #[serde(default)]
    pub negotiate_client_certificate: bool,
    /// Reject the handshake without a trusted client certificate (nginx `ssl_verify_client on`).
    #[serde(default)]
    pub strict: bool,
    /// Staple the certificate's OCSP response, fetched from the responder it names (nginx
    /// `ssl_stapling on`).
    #[serde(default)]
    pub ocsp_stapling: bool,
}

/// A certificate with its private key: PEM chain + key, or PFX + password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct KeyPair {
    #[serde(default)]
    pub pem: Option<S<String>>,
    #[serde(default)]
    pub key: Option<S<String>>,
    #[serde(default)]
    pub pfx: Option<S<String>>,
    /// Literal, or `{{named-value}}`.
    #[serde(default)]
    pub password: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Admin {
    pub address: S<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Root,
    CertificateAuthority,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CaCertificate {
    pub file: S<String>,
    pub store: Store,
    #[serde(default)]
    pub crls: Vec<S<String>>,
    /// Check the certificates this CA issued against the CRLs at their distribution points
    /// (fetched by the gateway), rather than only `crls`.
    #[serde(default)]
    pub crl_distribution_points: bool,
    /// Ask the OCSP responders the certificates this CA issued name (before any CRL).
    #[serde(default)]
    pub ocsp: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct TrustOptions {
    /// Use intermediates that clients send to build chains (APIM does not; default false).
    #[serde(default)]
    pub allow_client_intermediates: bool,
    /// Capacity of the verification cache, in certificates.
    #[serde(default)]
    pub cache_capacity: Option<usize>,
    /// Longest time between two fetches of a distribution point's CRL (default 1h).
    #[serde(default)]
    pub crl_refresh: Option<S<String>>,
    /// Wait after a failed CRL fetch before the next try (default 30s).
    #[serde(default)]
    pub crl_retry: Option<S<String>>,
    /// Longest a request waits for the first CRL or OCSP answer its client certificate needs
    /// (default 2s; `0s`: never wait, the status is unknown until the answer is in).
    #[serde(default)]
    pub revocation_wait: Option<S<String>>,
}

/// A certificate entity (`context.Deployment.Certificates`, `certificate-id`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CertificateEntry {
    pub id: S<String>,
    /// Public certificate only: PEM, DER, or `.cer` base64 without markers.
    #[serde(default)]
    pub file: Option<S<String>>,
    #[serde(default)]
    pub pem: Option<S<String>>,
    #[serde(default)]
    pub key: Option<S<String>>,
    #[serde(default)]
    pub pfx: Option<S<String>>,
    #[serde(default)]
    pub password: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct NamedValue {
    pub name: S<String>,
    #[serde(default)]
    pub value: Option<S<String>>,
    #[serde(default)]
    pub env: Option<S<String>>,
    #[serde(default)]
    pub file: Option<S<String>>,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Backend {
    pub id: S<String>,
    pub url: S<String>,
    #[serde(default)]
    pub credentials: Option<BackendCredentials>,
    #[serde(default)]
    pub tls: Option<BackendTls>,
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct BackendCredentials {
    #[serde(default)]
    pub certificate_ids: Vec<S<String>>,
    /// Headers added to every backend request: name → values.
    #[serde(default)]
    pub header: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct BackendTls {
    #[serde(default = "yes")]
    pub validate_certificate_chain: bool,
    #[serde(default = "yes")]
    pub validate_certificate_name: bool,
    #[serde(default)]
    pub ca_certificates: Vec<S<String>>,
    #[serde(default)]
    pub sni: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Timeouts {
    /// Durations such as `5s`, `250ms`.
    #[serde(default)]
    pub connect: Option<S<String>>,
    #[serde(default)]
    pub read: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Policies {
    pub global: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Fragment {
    pub id: S<String>,
    pub file: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Product {
    pub name: S<String>,
    #[serde(default)]
    pub policy: Option<S<String>>,
    /// Names of the APIs in the product.
    #[serde(default)]
    pub apis: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Api {
    pub name: S<String>,
    /// Path prefix, e.g. `/weather`.
    pub path: S<String>,
    #[serde(default)]
    pub hostnames: Vec<S<String>>,
    /// A backend id, or a service URL.
    #[serde(default)]
    pub backend: Option<S<String>>,
    #[serde(default)]
    pub policy: Option<S<String>>,
    #[serde(default)]
    pub operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Operation {
    pub name: S<String>,
    /// An HTTP method, or `*`.
    pub method: S<String>,
    pub url_template: S<String>,
    #[serde(default)]
    pub policy: Option<S<String>>,
}

/// The file's spelling of [`crate::forwarded::CertEncoding`].
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CertEncoding {
    UrlPem,
    Base64Der,
    Rfc9440,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ForwardedCertificate {
    pub header: S<String>,
    pub encoding: CertEncoding,
}

/// The file's spelling of [`crate::forwarded::ForwardFormat`].
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ForwardFormat {
    Rfc9440,
    Xfcc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ExpressionLimits {
    /// Longest string an expression may produce, bytes (default 4 MiB).
    pub max_string_bytes: Option<S<u64>>,
    /// Most items in a collection (default 100 000).
    pub max_collection_items: Option<S<u64>>,
    /// Most bytes of strings produced by one evaluation in all (default 32 MiB).
    pub max_bytes_per_evaluation: Option<S<u64>>,
    /// Largest request body the gateway buffers for a route whose policy reads
    /// `context.Request.Body` (default 1 MiB); a larger one is answered 413. Routes that do not
    /// read the body stream it.
    pub max_request_body_bytes: Option<S<u64>>,
    /// Largest response body a `send-request` reads (default 1 MiB); a larger one fails the
    /// policy with `ResponseTooLarge`.
    pub max_response_body_bytes: Option<S<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ForwardClientCertificate {
    pub format: ForwardFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct DeploymentInfo {
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}
