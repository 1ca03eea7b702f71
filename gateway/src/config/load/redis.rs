//! Loading, section by section: `redis`, the state nodes share. The URL is read by the `redis`
//! crate; `rediss://` (TLS) and Unix sockets are refused (certgate connects over plain TCP).
//! Must not: connect (the first request that needs Redis does).

use super::*;
use crate::shared::{OnFailure, Redis, RedisSettings};

const NOT_TCP: &str = "redis url: certgate connects to Redis over TCP (redis://host:port); TLS \
                       (rediss://) and Unix sockets are not supported yet";

impl Loader {
    pub(super) fn redis(&mut self, r: Option<&schema::RedisConfig>) -> Option<Arc<Redis>> {
        let r = r?;
        let scheme = r.url.value.split("://").next().unwrap_or("");
        if scheme != "redis" && ["rediss", "unix", "redis+unix"].contains(&scheme) {
            self.at(&r.url, NOT_TCP);
            return None;
        }
        let info = match ::redis::IntoConnectionInfo::into_connection_info(r.url.value.as_str()) {
            Ok(i) => i,
            Err(e) => {
                // The crate's message never includes the password it did not parse.
                self.at(&r.url, format!("redis url: {e}"));
                return None;
            }
        };
        let address = match info.addr() {
            ::redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
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
        let settings = RedisSettings {
            address,
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
            rate_limit: rate_limit?,
            quota: quota?,
            cache: cache?,
        };
        Some(Redis::new(settings))
    }
}
