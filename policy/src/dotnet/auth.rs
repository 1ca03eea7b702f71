//! APIM's helper types for credentials carried in header values (apim-reference.md §2.4.6–7):
//! `BasicAuthCredentials` (what `AsBasic` returns) and `Jwt` (what `AsJwt` returns), parsed the
//! way APIM's reference describes them. Parsing only: a token's signature, expiry and audience
//! are not checked here (that is `validate-jwt`'s job; `AsJwt` does not validate either).
//!
//! Must not: import anything else from this crate.

use std::sync::Arc;

use base64::Engine;

use super::datetime::DateTime;

/// The longest header value parsed as credentials: a JWT in a header stays well below it (most
/// servers cap a header at 8–16 KiB); anything longer is not parsed (null), bounding the work.
const MAX_CREDENTIAL_LEN: usize = 64 * 1024;

/// `BasicAuthCredentials`: the user and password of an HTTP Basic `Authorization` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    pub user_id: Arc<str>,
    pub password: Arc<str>,
}

/// `AsBasic`: `Basic <base64 of user:password>` (the scheme in any case), or `None` when the
/// value is not one (another scheme, bad base64, not UTF-8, no `:`).
pub(crate) fn parse_basic(value: &str) -> Option<BasicCredentials> {
    if value.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(BasicCredentials {
        user_id: user.into(),
        password: password.into(),
    })
}

/// `Jwt`: a JSON Web Token's header and claims (RFC 7519), read without validation.
#[derive(Clone, Debug, PartialEq)]
pub struct Jwt {
    header: serde_json::Map<String, serde_json::Value>,
    payload: serde_json::Map<String, serde_json::Value>,
    /// `Claims`: each claim's values as strings, in the token's order.
    claims: Vec<(Arc<str>, Vec<Arc<str>>)>,
}

/// `AsJwt`: a compact JWS (`header.payload.signature`, base64url), optionally after a `Bearer`
/// scheme as APIM's own example passes the whole `Authorization` value; `None` when it is not
/// one (wrong number of parts, bad base64url, a header or payload that is not a JSON object).
pub(crate) fn parse_jwt(value: &str) -> Option<Jwt> {
    if value.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    let mut token = value.trim();
    if let Some((scheme, rest)) = token.split_once(char::is_whitespace) {
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        token = rest.trim();
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        }
    };
    if !sig
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let header = object(h)?;
    let payload = object(p)?;
    let claims = payload
        .iter()
        .map(|(k, v)| {
            let values = match v {
                serde_json::Value::Array(items) => items.iter().map(claim_text).collect(),
                v => vec![claim_text(v)],
            };
            (Arc::from(k.as_str()), values)
        })
        .collect();
    Some(Jwt {
        header,
        payload,
        claims,
    })
}

/// A claim value as a string: text as it is, anything else as its JSON.
fn claim_text(v: &serde_json::Value) -> Arc<str> {
    match v {
        serde_json::Value::String(s) => s.as_str().into(),
        v => v.to_string().into(),
    }
}

impl Jwt {
    fn text(map: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<Arc<str>> {
        map.get(key).and_then(|v| v.as_str()).map(Arc::from)
    }

    /// `Algorithm`: the header's `alg`.
    pub fn algorithm(&self) -> Option<Arc<str>> {
        Self::text(&self.header, "alg")
    }

    /// `Type`: the header's `typ`.
    pub fn token_type(&self) -> Option<Arc<str>> {
        Self::text(&self.header, "typ")
    }

    /// `Id`, `Issuer`, `Subject`: the `jti`, `iss`, `sub` claims.
    pub fn string_claim(&self, name: &str) -> Option<Arc<str>> {
        Self::text(&self.payload, name)
    }

    /// `Audiences`: `aud`, one string or an array of them.
    pub fn audiences(&self) -> Vec<Arc<str>> {
        self.claim("aud").map(<[_]>::to_vec).unwrap_or_default()
    }

    /// `ExpirationTime`, `IssuedAt`, `NotBefore`: a NumericDate claim (`exp`, `iat`, `nbf`) as
    /// a UTC `DateTime`; `None` when absent or not a number.
    pub fn time_claim(&self, name: &str) -> Option<DateTime> {
        let secs = self.payload.get(name)?.as_f64()?;
        if !secs.is_finite() {
            return None;
        }
        DateTime::utc_from_unix(secs.floor() as i64)
    }

    /// `Claims[name]`: the claim's values.
    pub fn claim(&self, name: &str) -> Option<&[Arc<str>]> {
        self.claims
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// `Claims.Count`.
    pub fn claim_count(&self) -> usize {
        self.claims.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64url(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn basic_credentials() {
        let c = parse_basic("Basic YWxpY2U6czNjcjN0OjI=").unwrap();
        assert_eq!((&*c.user_id, &*c.password), ("alice", "s3cr3t:2"));
        assert!(parse_basic("basic   YWxpY2U6").is_some());
        for bad in [
            "Bearer YWxpY2U6czNjcjN0",
            "Basic",
            "Basic !!",
            "Basic YWxpY2U=",
            "YWxpY2U6czNjcjN0",
        ] {
            assert_eq!(parse_basic(bad), None, "{bad}");
        }
    }

    #[test]
    fn jwt_parts_and_claims() {
        let t = format!(
            "{}.{}.c2ln",
            b64url(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(r#"{"sub":"bob","aud":["a","b"],"exp":1700000000,"roles":["x",1,true],"n":2}"#)
        );
        let j = parse_jwt(&format!("Bearer {t}")).unwrap();
        assert_eq!(j.algorithm().as_deref(), Some("HS256"));
        assert_eq!(j.token_type().as_deref(), Some("JWT"));
        assert_eq!(j.string_claim("sub").as_deref(), Some("bob"));
        assert_eq!(j.audiences().len(), 2);
        assert_eq!(
            j.time_claim("exp").unwrap().format("s").as_deref(),
            Some("2023-11-14T22:13:20")
        );
        let roles: Vec<&str> = j.claim("roles").unwrap().iter().map(|s| &**s).collect();
        assert_eq!(roles, ["x", "1", "true"]);
        assert_eq!(j.claim_count(), 5);
        assert!(parse_jwt(&t).is_some());
        // An unsigned token (empty signature) is still a JWT to AsJwt.
        assert!(parse_jwt(&format!("{}.{}.", b64url("{}"), b64url("{}"))).is_some());
        for bad in [
            "Basic abc".to_string(),
            "a.b".to_string(),
            format!("{t}.x"),
            format!("{}.{}.s", b64url("[]"), b64url("{}")),
            format!("{}.!!.s", b64url("{}")),
            format!("{}.{}.s g", b64url("{}"), b64url("{}")),
            "x".repeat(MAX_CREDENTIAL_LEN + 1),
        ] {
            assert_eq!(parse_jwt(&bad), None, "{bad}");
        }
    }
}
