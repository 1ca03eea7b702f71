//! Entra ID access tokens for `authentication-managed-identity`, obtained as Azure workloads
//! obtain theirs (`IdentitySource`: IMDS, the App Service / Container Apps identity endpoint,
//! workload identity federation, a client secret) and cached until shortly before they expire.
//!
//! Why not the `azure_identity` crate: it sends with its own HTTP stack (reqwest with a second
//! TLS library beside the one Pingora is built with, which a binary here never links twice) and
//! caches per credential object; this module sends through the gateway's own pooled connector
//! (`outcall`), keeps one cache for the process, and lets the configuration point every source
//! at a local endpoint. The protocols are small: one GET or one form POST each, documented by
//! Microsoft (IMDS token API, App Service identity endpoint 2019-08-01, OAuth 2.0 client
//! credentials with a secret or a federated assertion).
//!
//! Never logs or returns a token service's answer: only the status and its `error` code.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use certgate_policy::{Outcall, TokenRequest, TokenResult};

use super::outcall;
use crate::snapshot::{IdentitySource, Snapshot};

/// How long a token request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A token is renewed this long before it expires (Azure's SDKs use 5 minutes).
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Most tokens cached (one per source, resource and identity: policies name few).
const MAX_CACHED: usize = 1024;

/// (source, resource, client id).
type Key = (String, String, Option<String>);
/// A token and when to stop using it.
type Cached = (Arc<str>, Instant);

/// Tokens by (source, resource, client id).
static CACHE: LazyLock<Mutex<HashMap<Key, Cached>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A token for `req`: from the cache, or from the token service.
pub(super) async fn token(snap: &Snapshot, req: &TokenRequest) -> TokenResult {
    let source = &*snap.managed_identity;
    let key: Key = (
        source.describe(),
        req.resource.clone(),
        req.client_id.clone(),
    );
    let now = Instant::now();
    if let Ok(cache) = CACHE.lock() {
        if let Some((t, until)) = cache.get(&key) {
            if *until > now {
                count("cached");
                return Ok(t.clone());
            }
        }
    }
    let fetched = fetch(snap, source, req).await;
    match &fetched {
        Ok((t, lifetime)) => {
            count("fetched");
            // Renew 5 minutes early, or at half its life if it lives shorter than 10.
            let keep = lifetime
                .checked_sub(RENEW_BEFORE)
                .filter(|k| *k >= *lifetime / 2)
                .unwrap_or(*lifetime / 2);
            if let Ok(mut cache) = CACHE.lock() {
                if cache.len() >= MAX_CACHED {
                    cache.retain(|_, (_, until)| *until > now);
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                }
                cache.insert(key, (t.clone(), now + keep));
            }
        }
        Err(_) => count("failed"),
    }
    fetched.map(|(t, _)| t)
}

fn count(result: &str) {
    crate::metrics::METRICS
        .identity_tokens
        .with_label_values(&[result])
        .inc();
}

/// Form encoding of `application/x-www-form-urlencoded` bodies and query strings.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The OAuth 2.0 v2 scope for a resource: its `/.default` scope.
fn scope(resource: &str) -> String {
    if resource.ends_with("/.default") {
        resource.to_string()
    } else {
        format!("{}/.default", resource.trim_end_matches('/'))
    }
}

/// The request the source's protocol asks for.
async fn request(source: &IdentitySource, req: &TokenRequest) -> Result<Outcall, String> {
    let get = |url: &str, params: Vec<(&str, &str)>, headers: Vec<(String, String)>| {
        let sep = if url.contains('?') { '&' } else { '?' };
        Outcall {
            method: "GET".into(),
            url: format!("{url}{sep}{}", form(&params)),
            headers,
            body: Vec::new(),
            timeout: TIMEOUT,
            certificate: None,
            identity: None,
        }
    };
    let post = |url: &str, params: Vec<(&str, &str)>| Outcall {
        method: "POST".into(),
        url: url.to_string(),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: form(&params).into_bytes(),
        timeout: TIMEOUT,
        certificate: None,
        identity: None,
    };
    Ok(match source {
        IdentitySource::Imds { url, client_id } => {
            let mut p = vec![
                ("api-version", "2018-02-01"),
                ("resource", req.resource.as_str()),
            ];
            if let Some(c) = req.client_id.as_ref().or(client_id.as_ref()) {
                p.push(("client_id", c));
            }
            get(url, p, vec![("Metadata".into(), "true".into())])
        }
        IdentitySource::AppService {
            url,
            header,
            client_id,
        } => {
            let mut p = vec![
                ("api-version", "2019-08-01"),
                ("resource", req.resource.as_str()),
            ];
            if let Some(c) = req.client_id.as_ref().or(client_id.as_ref()) {
                p.push(("client_id", c));
            }
            get(url, p, vec![("X-IDENTITY-HEADER".into(), header.clone())])
        }
        IdentitySource::Workload {
            token_url,
            client_id,
            token_file,
        } => {
            // Read on every fetch: the kubelet rotates the projected token.
            let assertion = tokio::fs::read_to_string(token_file)
                .await
                .map_err(|e| format!("the federated token file cannot be read: {}", e.kind()))?;
            let scope = scope(&req.resource);
            let client = req.client_id.as_deref().unwrap_or(client_id);
            post(
                token_url,
                vec![
                    ("client_id", client),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                ],
            )
        }
        IdentitySource::ClientSecret {
            token_url,
            client_id,
            secret,
        } => {
            let scope = scope(&req.resource);
            post(
                token_url,
                vec![
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                ],
            )
        }
    })
}

/// Asks the token service; the token and how long it lives.
async fn fetch(
    snap: &Snapshot,
    source: &IdentitySource,
    req: &TokenRequest,
) -> Result<(Arc<str>, Duration), String> {
    let call = request(source, req).await?;
    let r = outcall::send(snap, &call, "authentication-managed-identity")
        .await
        .map_err(|e| format!("the token service did not answer ({})", e.reason()))?;
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    if !(200..300).contains(&r.status) {
        let code = json
            .get("error")
            .and_then(|e| e.as_str().or_else(|| e.get("code")?.as_str()))
            .unwrap_or("");
        return Err(format!("the token service answered {} {code}", r.status));
    }
    let Some(token) = json.get("access_token").and_then(|t| t.as_str()) else {
        return Err("the token service's answer has no access_token".into());
    };
    Ok((Arc::from(token), lifetime(&json)))
}

/// A token's lifetime from `expires_in` (seconds, a number or a string: IMDS sends strings),
/// else `expires_on` (Unix seconds); five minutes if the answer says neither.
fn lifetime(json: &serde_json::Value) -> Duration {
    let number = |k: &str| {
        let v = json.get(k)?;
        v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
    };
    if let Some(s) = number("expires_in") {
        return Duration::from_secs(s);
    }
    if let Some(on) = number("expires_on") {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Duration::from_secs(on.saturating_sub(now));
    }
    RENEW_BEFORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_and_scopes_as_the_services_write_them() {
        let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(
            lifetime(&j(r#"{"expires_in":3599}"#)),
            Duration::from_secs(3599)
        );
        assert_eq!(
            lifetime(&j(r#"{"expires_in":"86399"}"#)),
            Duration::from_secs(86399)
        );
        let soon = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let l = lifetime(&j(&format!(r#"{{"expires_on":"{soon}"}}"#)));
        assert!((598..=600).contains(&l.as_secs()), "{l:?}");
        assert_eq!(lifetime(&j("{}")), RENEW_BEFORE);
        assert_eq!(
            scope("https://vault.azure.net"),
            "https://vault.azure.net/.default"
        );
        assert_eq!(scope("api://x/"), "api://x/.default");
        assert_eq!(scope("api://x/.default"), "api://x/.default");
        assert_eq!(form(&[("a b", "c&d")]), "a+b=c%26d");
    }
}
