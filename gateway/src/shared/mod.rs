//! State shared between gateway nodes, in Redis (`redis:` in the configuration): the
//! rate-limit and quota counters (`counters`) and the external cache (`cache`). One multiplexed
//! connection per node (or `connections` of them, used in turn), each opened on first use and
//! opened again after it broke (at most once a second while Redis is away);
//! every command is bounded by `command-timeout`, so a request never hangs on Redis. When
//! Redis cannot answer, each policy family does what `on-failure` says: go on without it
//! (counted) or refuse with 503 through on-error.
//!
//! The `redis` crate speaks the protocol and multiplexes; the socket is the gateway's own: a
//! TCP connection, or for `rediss://` a TLS one from Pingora's connector (trust anchors, client
//! certificate and name as for backends), so the binary links no second TLS library.
//!
//! Must not: run policy, or block a request thread.

mod cache;
mod counters;

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use certgate_policy::crypto::x509::X509;
use pingora::connectors::TransportConnector;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::CertKey;
use redis::aio::MultiplexedConnection;
use redis::RedisConnectionInfo;

pub(crate) use counters::RedisCounters;

/// What a policy family does when Redis cannot answer within `command-timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnFailure {
    /// Go on as if the shared state allowed it (counted in
    /// `certgate_redis_unavailable_total{family, choice="allow"}`).
    Allow,
    /// Fail the policy: 503 through on-error.
    Refuse,
}

impl OnFailure {
    pub(crate) fn label(self) -> &'static str {
        match self {
            OnFailure::Allow => "allow",
            OnFailure::Refuse => "refuse",
        }
    }
}

/// TLS towards Redis, ready for Pingora's connector.
#[derive(Clone)]
pub(crate) struct RedisTls {
    /// Trust anchors; `None`: the system's.
    pub ca: Option<Arc<Box<[X509]>>>,
    /// The client certificate and key.
    pub client: Option<Arc<CertKey>>,
    /// SNI and the name checked in Redis's certificate.
    pub server_name: String,
    /// The client certificate and key as the configuration gave them (DER, concatenated), to
    /// tell whether a reload changed them.
    pub client_der: Vec<u8>,
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("RedisTls")
            .field("server_name", &self.server_name)
            .field("client_certificate", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

/// The `redis:` section, checked.
#[derive(Clone, Debug)]
pub(crate) struct RedisSettings {
    /// `host:port`.
    pub address: String,
    /// Multiplexed connections (`connections`), used in turn.
    pub connections: usize,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Put before every key certgate writes (default `certgate:`).
    pub key_prefix: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub rate_limit: OnFailure,
    pub quota: OnFailure,
    /// `allow`: a lookup misses, a store is not made.
    pub cache: OnFailure,
    /// `rediss://`.
    pub tls: Option<RedisTls>,
}

impl RedisSettings {
    /// A digest of what a connection is opened with: equal digests, interchangeable
    /// connections. (A digest, so that the password is not kept twice.)
    fn identity(&self) -> [u8; 32] {
        use certgate_policy::crypto::hash::{hash, MessageDigest};
        let mut parts: Vec<u8> = Vec::new();
        let mut add = |b: &[u8]| {
            parts.extend((b.len() as u64).to_be_bytes());
            parts.extend(b);
        };
        add(self.address.as_bytes());
        add(&self.db.to_be_bytes());
        add(self.username.as_deref().unwrap_or("\0").as_bytes());
        add(self.password.as_deref().unwrap_or("\0").as_bytes());
        add(&self.connections.to_be_bytes());
        add(&self.connect_timeout.as_nanos().to_be_bytes());
        if let Some(t) = &self.tls {
            add(t.server_name.as_bytes());
            for c in t.ca.iter().flat_map(|c| c.iter()) {
                add(&c.to_der().unwrap_or_default());
            }
            add(&t.client_der);
        }
        let mut out = [0u8; 32];
        if let Ok(d) = hash(MessageDigest::sha256(), &parts) {
            out.copy_from_slice(&d[..32]);
        }
        out
    }
}

/// Pingora's connector: TLS to Redis the way backends get it, with the one TLS library.
static CONNECTOR: LazyLock<TransportConnector> = LazyLock::new(|| TransportConnector::new(None));

/// How long a failed connection attempt keeps the next one away.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The node's Redis: its settings and its connections.
pub struct Redis {
    pub(crate) settings: RedisSettings,
    pool: Arc<Pool>,
}

/// The connections, kept across reloads that do not change how they connect (address,
/// database, credentials, TLS, how many): a reload does not reconnect.
struct Pool {
    /// What makes a connection: a digest of everything it was opened with.
    identity: [u8; 32],
    info: RedisConnectionInfo,
    /// One multiplexed connection pipelines every command a node sends; more than one spreads
    /// the work of reading replies over more driver tasks (and Redis I/O threads).
    conns: Box<[tokio::sync::Mutex<Conn>]>,
    /// The next connection to use.
    turn: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Conn {
    live: Option<MultiplexedConnection>,
    failed_at: Option<Instant>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Redis")
            .field("address", &self.settings.address)
            .field("db", &self.settings.db)
            .finish_non_exhaustive()
    }
}

/// Why Redis did not answer.
#[derive(Debug)]
pub(crate) enum RedisFailure {
    /// No answer within `command-timeout` (or no connection within `connect-timeout`).
    Timeout,
    /// No connection, or Redis answered with an error.
    Error(String),
}

impl RedisFailure {
    fn label(&self) -> &'static str {
        match self {
            RedisFailure::Timeout => "timeout",
            RedisFailure::Error(_) => "error",
        }
    }
}

impl std::fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisFailure::Timeout => f.write_str("Redis did not answer in time"),
            RedisFailure::Error(e) => write!(f, "Redis failed: {e}"),
        }
    }
}

impl Redis {
    /// The Redis `settings` describe, with `previous`'s connections when they connect the
    /// same way.
    pub(crate) fn new(settings: RedisSettings, previous: Option<&Redis>) -> Arc<Redis> {
        let identity = settings.identity();
        if let Some(p) = previous.filter(|p| p.pool.identity == identity) {
            return Arc::new(Redis {
                settings,
                pool: p.pool.clone(),
            });
        }
        let mut info = RedisConnectionInfo::default()
            .set_db(settings.db)
            .set_skip_set_lib_name();
        if let Some(u) = &settings.username {
            info = info.set_username(u);
        }
        if let Some(p) = &settings.password {
            info = info.set_password(p);
        }
        let conns = (0..settings.connections.max(1))
            .map(|_| tokio::sync::Mutex::new(Conn::default()))
            .collect();
        Arc::new(Redis {
            settings,
            pool: Arc::new(Pool {
                identity,
                info,
                conns,
                turn: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// A Redis at `address` (`host:port`, plain TCP) with the defaults of a `redis:` section
    /// that sets nothing else: for benchmarks and tools (`bench/examples/redis_count.rs`); the
    /// gateway builds its own from the configuration.
    pub fn at_address(address: &str) -> Arc<Redis> {
        Redis::new(
            RedisSettings {
                address: address.to_string(),
                connections: 1,
                db: 0,
                username: None,
                password: None,
                key_prefix: "certgate:".into(),
                connect_timeout: Duration::from_secs(1),
                command_timeout: Duration::from_millis(250),
                rate_limit: OnFailure::Refuse,
                quota: OnFailure::Refuse,
                cache: OnFailure::Refuse,
                tls: None,
            },
            None,
        )
    }

    /// Connection `slot`'s live connection, or a new one.
    async fn connection(&self, slot: usize) -> Result<MultiplexedConnection, RedisFailure> {
        let Some(c) = self.pool.conns.get(slot) else {
            return Err(RedisFailure::Error("no such connection".into()));
        };
        let mut c = c.lock().await;
        if let Some(live) = &c.live {
            return Ok(live.clone());
        }
        if c.failed_at.is_some_and(|t| t.elapsed() < RECONNECT_AFTER) {
            return Err(RedisFailure::Error(format!(
                "{} is unreachable (trying again within a second)",
                self.settings.address
            )));
        }
        let connect = async {
            let at = |e: &dyn std::fmt::Display| {
                RedisFailure::Error(format!("{}: {e}", self.settings.address))
            };
            let config = redis::AsyncConnectionConfig::new();
            // The driver owns the socket; it ends when the connection breaks.
            let failed = |e: redis::RedisError| RedisFailure::Error(e.to_string());
            let conn = match &self.settings.tls {
                None => {
                    let tcp = tokio::net::TcpStream::connect(&self.settings.address)
                        .await
                        .map_err(|e| at(&e))?;
                    let _ = tcp.set_nodelay(true);
                    let (conn, driver) =
                        MultiplexedConnection::new_with_config(&self.pool.info, tcp, config)
                            .await
                            .map_err(failed)?;
                    tokio::spawn(driver);
                    conn
                }
                Some(tls) => {
                    let addr = tokio::net::lookup_host(&self.settings.address)
                        .await
                        .map_err(|e| at(&e))?
                        .next()
                        .ok_or_else(|| at(&"the name does not resolve"))?;
                    let mut peer = HttpPeer::new(addr, true, tls.server_name.clone());
                    peer.options.connection_timeout = Some(self.settings.connect_timeout);
                    peer.options.ca = tls.ca.clone();
                    peer.client_cert_key = tls.client.clone();
                    let stream = CONNECTOR.new_stream(&peer).await.map_err(|e| at(&e))?;
                    let (conn, driver) =
                        MultiplexedConnection::new_with_config(&self.pool.info, stream, config)
                            .await
                            .map_err(failed)?;
                    tokio::spawn(driver);
                    conn
                }
            };
            Ok(conn)
        };
        let r = match tokio::time::timeout(self.settings.connect_timeout, connect).await {
            Ok(r) => r,
            Err(_) => Err(RedisFailure::Timeout),
        };
        match &r {
            Ok(conn) => {
                c.live = Some(conn.clone());
                c.failed_at = None;
            }
            Err(_) => c.failed_at = Some(Instant::now()),
        }
        crate::metrics::METRICS
            .redis_connects
            .with_label_values(&[if r.is_ok() { "ok" } else { "failed" }])
            .inc();
        r
    }

    /// Forgets a connection that failed, so the next command opens a new one (at once: only a
    /// failed attempt to connect keeps the next one away).
    async fn broken(&self, slot: usize) {
        if let Some(c) = self.pool.conns.get(slot) {
            c.lock().await.live = None;
        }
    }

    /// Runs `command` (named `name` in the metrics) over the connection, within
    /// `command-timeout`, counting its result and latency.
    pub(crate) async fn run<T, F, Fut>(&self, name: &str, command: F) -> Result<T, RedisFailure>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let started = Instant::now();
        let slot = self
            .pool
            .turn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.pool.conns.len().max(1);
        let result = match tokio::time::timeout(self.settings.command_timeout, async {
            let conn = self.connection(slot).await?;
            command(conn)
                .await
                .map_err(|e| RedisFailure::Error(e.to_string()))
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(RedisFailure::Timeout),
        };
        if let Err(e) = &result {
            // A connection that timed out or failed may be dead (Redis restarted, a network
            // partition): the next command starts from a new one.
            if matches!(e, RedisFailure::Timeout)
                || matches!(e, RedisFailure::Error(m) if is_connection_error(m))
            {
                self.broken(slot).await;
            }
        }
        let m = &crate::metrics::METRICS;
        m.redis_commands
            .with_label_values(&[name, result.as_ref().map_or_else(|e| e.label(), |_| "ok")])
            .inc();
        m.redis_latency
            .with_label_values(&[name])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// A key of certgate's: the prefix, the kind, and a digest of the policy's key (a counter
    /// key is the caller's input: hashed, it has a fixed size whatever the caller sent).
    pub(crate) fn key(&self, kind: &str, key: &str) -> String {
        use certgate_policy::crypto::hash::{hash, MessageDigest};
        let digest = hash(MessageDigest::sha256(), key.as_bytes())
            .map(|d| d.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .unwrap_or_else(|_| key.to_string());
        format!("{}{kind}:{digest}", self.settings.key_prefix)
    }
}

/// Whether an error from the `redis` crate means the connection is gone.
fn is_connection_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "broken pipe",
        "connection",
        "closed",
        "reset",
        "eof",
        "io error",
        "terminated",
    ]
    .iter()
    .any(|w| m.contains(w))
}
