//! Loading, section by section: `redis`, the state nodes share. The URL is read by the `redis`
//! crate; `rediss://` takes `tls` (trust anchors, a client certificate from `certificates[]`,
//! the server name); Unix sockets are refused. Must not: connect (the first request that needs
//! Redis does).

use super::*;
use crate::shared::{OnFailure, Redis, RedisSettings, RedisTls};

const NOT_TCP: &str = "redis url: certgate connects to Redis over TCP (redis://host:port, or \
                       rediss://host:port with TLS); Unix sockets are not supported";

impl Loader {
    pub(super) fn redis(
        &mut self,
        r: Option<&schema::RedisConfig>,
        certs: &HashMap<String, CertMaterial>,
        previous: Option<&Redis>,
    ) -> Option<Arc<Redis>> {
        let r = r?;
        let scheme = r.url.value.split("://").next().unwrap_or("");
        if ["unix", "redis+unix"].contains(&scheme) {
            self.at(&r.url, NOT_TCP);
            return None;
        }
        let tls = scheme == "rediss";
        if !tls && r.tls.is_some() {
            self.at(&r.url, "redis: a `tls` section needs a rediss:// url");
        }
        // The crate parses rediss:// only with its own TLS features: certgate does TLS
        // itself, so the URL is read as redis:// and TLS added after.
        let plain = match r.url.value.strip_prefix("rediss://") {
            Some(rest) => format!("redis://{rest}"),
            None => r.url.value.clone(),
        };
        let info = match ::redis::IntoConnectionInfo::into_connection_info(plain.as_str()) {
            Ok(i) => i,
            Err(e) => {
                // The crate's message never includes the password it did not parse.
                self.at(&r.url, format!("redis url: {e}"));
                return None;
            }
        };
        let (address, host) = match info.addr() {
            ::redis::ConnectionAddr::Tcp(host, port) => (format!("{host}:{port}"), host.clone()),
            _ => {
                self.at(&r.url, NOT_TCP);
                return None;
            }
        };
        let on_failure = |l: &mut Loader, v: Option<&S<String>>| match v {
            None => Some(OnFailure::Allow),
            Some(s) => match s.value.as_str() {
                "allow" => Some(OnFailure::Allow),
                "refuse" => Some(OnFailure::Refuse),
                other => {
                    l.at(s, format!("on-failure '{other}': expected allow or refuse"));
                    None
                }
            },
        };
        let f = r.on_failure.as_ref();
        let rate_limit = on_failure(self, f.and_then(|f| f.rate_limit.as_ref()));
        let quota = on_failure(self, f.and_then(|f| f.quota.as_ref()));
        let cache = on_failure(self, f.and_then(|f| f.cache.as_ref()));
        let password = match &r.password {
            Some(_) => self.password(&r.password),
            None => info.redis_settings().password().map(str::to_string),
        };
        let username = r
            .username
            .as_ref()
            .map(|u| u.value.clone())
            .or_else(|| info.redis_settings().username().map(str::to_string));
        let connections = match &r.connections {
            None => 1,
            Some(n) if (1..=64).contains(&n.value) => n.value,
            Some(n) => {
                self.at(
                    n,
                    format!("connections: {} is not between 1 and 64", n.value),
                );
                1
            }
        };
        let settings = RedisSettings {
            address,
            connections,
            db: r
                .database
                .as_ref()
                .map_or(info.redis_settings().db(), |d| i64::from(d.value)),
            username,
            password,
            key_prefix: r
                .key_prefix
                .as_ref()
                .map_or_else(|| "certgate:".to_string(), |p| p.value.clone()),
            connect_timeout: self.duration(&r.connect_timeout, Duration::from_secs(1)),
            command_timeout: self.duration(&r.command_timeout, Duration::from_millis(250)),
            tls: if tls {
                Some(self.redis_tls(r.tls.as_ref(), host, certs)?)
            } else {
                None
            },
            rate_limit: rate_limit?,
            quota: quota?,
            cache: cache?,
        };
        Some(Redis::new(settings, previous))
    }

    fn redis_tls(
        &mut self,
        t: Option<&schema::RedisTls>,
        host: String,
        certs: &HashMap<String, CertMaterial>,
    ) -> Option<RedisTls> {
        let mut cas = Vec::new();
        let mut client = None;
        let mut client_der = Vec::new();
        let mut server_name = host;
        if let Some(t) = t {
            for f in &t.ca_certificates {
                if let Some(bytes) = self.read(f) {
                    cas.extend(self.parse_certs(f, &bytes));
                }
            }
            if let Some(id) = &t.certificate_id {
                match certs.get(&id.value) {
                    None => self.at(id, format!("unknown certificate id '{}'", id.value)),
                    Some(CertMaterial { key: None, .. }) => self.at(
                        id,
                        format!(
                            "certificate '{}' has no private key; a client certificate needs pem + key or pfx",
                            id.value
                        ),
                    ),
                    Some(m) => {
                        client_der.extend(m.cert.x509().to_der().unwrap_or_default());
                        if let Some(k) = &m.key {
                            client_der.extend(k.private_key_to_der().unwrap_or_default());
                        }
                        client = m.client.clone();
                    }
                }
            }
            if let Some(n) = &t.server_name {
                server_name = n.value.clone();
            }
        }
        Some(RedisTls {
            ca: (!cas.is_empty()).then(|| Arc::new(cas.into_boxed_slice())),
            client,
            server_name,
            client_der,
        })
    }
}
