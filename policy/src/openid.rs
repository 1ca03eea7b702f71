//! OpenID Connect configurations `validate-jwt` reads its signing keys and issuer from
//! (`<openid-config url="..."/>`): what was last fetched for each URL, shared by every plan that
//! names it and kept across reloads.
//!
//! The plan never fetches: compiling registers the URL ([`OpenIdRegistry::config`]) and the
//! gateway fetches the discovery document and its JWKS at load and in the background, handing
//! the bodies to [`OpenIdConfig::update`]. A failed fetch keeps the last good keys.
//!
//! Must not: do I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

/// A key a token may be signed with.
#[derive(Clone)]
pub struct SigningKey {
    /// `kid` it answers to (none: tried for every token).
    pub id: Option<Arc<str>>,
    /// The key.
    pub key: Arc<DecodingKey>,
    /// The algorithms it verifies.
    pub algorithms: Arc<[Algorithm]>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Symmetric keys are secrets: only the id and algorithms are shown.
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// What one discovery gave: the issuer and the signing keys.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    /// `issuer` of the discovery document.
    pub issuer: Option<Arc<str>>,
    /// The JWKS's keys that certgate can verify with.
    pub keys: Vec<SigningKey>,
}

/// One `openid-config` URL and what was last fetched from it.
#[derive(Debug)]
pub struct OpenIdConfig {
    /// The discovery document's URL.
    pub url: Arc<str>,
    state: RwLock<Option<Arc<Discovered>>>,
    /// When a fetch was last tried and when a refresh was last asked for (a `kid` not found).
    times: Mutex<Times>,
}

#[derive(Debug, Default)]
struct Times {
    tried: Option<Instant>,
    asked: Option<Instant>,
    /// A first fetch has ended (well or not): the gateway is ready as far as this URL goes.
    settled: bool,
}

/// How often a configuration is fetched again (APIM: every hour).
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(3600);
/// Earliest re-fetch after a `kid` was not found or a fetch failed (APIM: at most every 5 minutes).
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(300);

impl OpenIdConfig {
    fn new(url: &str) -> OpenIdConfig {
        OpenIdConfig {
            url: url.into(),
            state: RwLock::new(None),
            times: Mutex::new(Times::default()),
        }
    }

    /// What was last fetched; `None` before the first success.
    pub fn current(&self) -> Option<Arc<Discovered>> {
        self.state.read().ok().and_then(|s| s.clone())
    }

    /// The JWKS URL of a discovery document (`jwks_uri`), and its issuer.
    pub fn discovery(body: &[u8]) -> Result<(String, Option<String>), String> {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("the discovery document is not JSON: {e}"))?;
        let jwks = v
            .get("jwks_uri")
            .and_then(|u| u.as_str())
            .ok_or("the discovery document has no jwks_uri")?;
        let issuer = v.get("issuer").and_then(|i| i.as_str()).map(str::to_string);
        Ok((jwks.to_string(), issuer))
    }

    /// Takes a fetched JWKS (and the discovery's issuer): the keys certgate can use replace the
    /// last ones. A JWKS without one usable key is refused and the last keys stay.
    pub fn update(&self, issuer: Option<String>, jwks: &[u8]) -> Result<usize, String> {
        let set: JwkSet =
            serde_json::from_slice(jwks).map_err(|e| format!("the JWKS is not valid: {e}"))?;
        let keys: Vec<SigningKey> = set
            .keys
            .iter()
            .filter_map(|k| {
                let key = DecodingKey::from_jwk(k).ok()?;
                let algorithms = match k.common.key_algorithm {
                    Some(a) => vec![a.to_string().parse::<Algorithm>().ok()?],
                    None => key.family().algorithms().to_vec(),
                };
                Some(SigningKey {
                    id: k.common.key_id.as_deref().map(Arc::from),
                    key: Arc::new(key),
                    algorithms: algorithms.into(),
                })
            })
            .collect();
        if keys.is_empty() {
            return Err("the JWKS has no key certgate can verify with".into());
        }
        let n = keys.len();
        if let Ok(mut s) = self.state.write() {
            *s = Some(Arc::new(Discovered {
                issuer: issuer.map(Arc::from),
                keys,
            }));
        }
        Ok(n)
    }

    /// Whether the gateway should fetch it now: never fetched, due for its hourly refresh, or
    /// asked for (a `kid` not found) and not tried in the last five minutes.
    pub fn due(&self, now: Instant) -> bool {
        let Ok(t) = self.times.lock() else {
            return false;
        };
        let since_tried = t.tried.map(|at| now.saturating_duration_since(at));
        match since_tried {
            None => true,
            Some(d) if self.current().is_none() || t.asked.is_some_and(|a| t.tried < Some(a)) => {
                d >= RETRY_AFTER
            }
            Some(d) => d >= REFRESH_EVERY,
        }
    }

    /// Records that a fetch was tried now.
    pub fn tried(&self, now: Instant) {
        if let Ok(mut t) = self.times.lock() {
            t.tried = Some(now);
        }
    }

    /// A fetch has ended, well or not.
    pub fn settle(&self) {
        if let Ok(mut t) = self.times.lock() {
            t.settled = true;
        }
    }

    /// Whether a first fetch has ended (`/readyz` waits for every configuration's).
    pub fn settled(&self) -> bool {
        self.times.lock().map(|t| t.settled).unwrap_or(true)
    }

    /// Asks for an early refresh (a token's `kid` is not among the keys).
    pub fn ask_refresh(&self) {
        if let Ok(mut t) = self.times.lock() {
            t.asked = Some(Instant::now());
        }
    }
}

/// Every `openid-config` URL plans name, for the gateway's fetcher.
#[derive(Debug, Default)]
pub struct OpenIdRegistry {
    configs: Mutex<HashMap<String, Arc<OpenIdConfig>>>,
}

impl OpenIdRegistry {
    /// The configuration for `url`, registered on first use.
    pub fn config(&self, url: &str) -> Arc<OpenIdConfig> {
        let Ok(mut m) = self.configs.lock() else {
            return Arc::new(OpenIdConfig::new(url));
        };
        m.entry(url.to_string())
            .or_insert_with(|| Arc::new(OpenIdConfig::new(url)))
            .clone()
    }

    /// Every registered configuration.
    pub fn all(&self) -> Vec<Arc<OpenIdConfig>> {
        self.configs
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys":[
        {"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB"},
        {"kty":"oct","kid":"ignored-symmetric","k":"c2VjcmV0"},
        {"kty":"EC","kid":"k2","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    ]}"#;

    #[test]
    fn a_jwks_replaces_the_keys_and_a_bad_one_keeps_them() {
        let r = OpenIdRegistry::default();
        let c = r.config("https://idp/.well-known/openid-configuration");
        assert!(Arc::ptr_eq(
            &c,
            &r.config("https://idp/.well-known/openid-configuration")
        ));
        assert!(c.current().is_none());
        assert_eq!(
            c.update(Some("https://idp/".into()), JWKS.as_bytes()),
            Ok(3)
        );
        let d = c.current().unwrap();
        assert_eq!(d.issuer.as_deref(), Some("https://idp/"));
        assert_eq!(d.keys[0].id.as_deref(), Some("k1"));
        assert_eq!(&*d.keys[0].algorithms, &[Algorithm::RS256]);
        assert!(c.update(None, b"{\"keys\":[]}").is_err());
        assert!(c.update(None, b"not json").is_err());
        assert_eq!(
            c.current().unwrap().keys.len(),
            3,
            "the last good keys stay"
        );
        let (jwks, iss) =
            OpenIdConfig::discovery(br#"{"issuer":"https://idp/","jwks_uri":"https://idp/keys"}"#)
                .unwrap();
        assert_eq!(
            (jwks.as_str(), iss.as_deref()),
            ("https://idp/keys", Some("https://idp/"))
        );
        assert!(OpenIdConfig::discovery(b"{}").is_err());
    }

    #[test]
    fn fetches_are_due_first_hourly_and_early_when_asked_at_most_every_five_minutes() {
        let c = OpenIdConfig::new("u");
        let t0 = Instant::now();
        assert!(c.due(t0), "never fetched");
        c.tried(t0);
        assert!(!c.due(t0 + Duration::from_secs(10)));
        assert!(
            c.due(t0 + RETRY_AFTER),
            "no keys yet: retried after five minutes"
        );
        c.update(None, JWKS.as_bytes()).unwrap();
        assert!(!c.due(t0 + RETRY_AFTER));
        assert!(c.due(t0 + REFRESH_EVERY));
        c.ask_refresh();
        assert!(c.due(t0 + RETRY_AFTER + Duration::from_secs(1)));
    }
}
