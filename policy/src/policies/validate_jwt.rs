//! `validate-jwt`: a JWT from a header (optionally with a required scheme), a query parameter
//! or an expression must be signed by one of the issuer's keys (inline symmetric keys, RSA
//! `n`/`e`, a configured certificate's public key, or the JWKS of an `openid-config` the gateway
//! fetches), within its lifetime (`clock-skew`), for one of the `audiences`, from one of the
//! `issuers`, with the `required-claims`. Signatures and registered claims are checked by the
//! `jsonwebtoken` crate; the failures become APIM's reasons (`TokenNotPresent`,
//! `TokenSignatureInvalid`, `TokenSignatureKeyNotFound`, `TokenExpired`,
//! `TokenAudienceNotAllowed`, `TokenIssuerNotAllowed`, `TokenClaimNotFound`,
//! `TokenClaimValueNotAllowed`, `JwtInvalid`) with `failed-validation-httpcode` (401) and the
//! body's message `failed-validation-error-message` (default "JWT not present." or
//! "Invalid JWT.").
//!
//! Refused by name: `decryption-keys` (encrypted tokens) and `require-signed-tokens="false"`
//! (certgate accepts only signed tokens).

use std::sync::{Arc, OnceLock};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::RequestContext;
use crate::dotnet::parse_jwt;
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;
use crate::openid::{OpenIdConfig, SigningKey};
use crate::value::{Obj, Value};

/// Where the token is.
#[derive(Clone, Debug)]
enum TokenSource {
    Header {
        name: Template,
        scheme: Option<Template>,
    },
    Query(Template),
    Value(Template),
}

/// A signing key as the policy names it.
#[derive(Clone, Debug)]
enum KeySpec {
    /// Inline: a symmetric key, or RSA `n`/`e`.
    Ready(SigningKey),
    /// `certificate-id`: the configured certificate's public key, read on first use (the
    /// deployment's certificates are the snapshot's, as the plan is).
    Certificate {
        id: Option<Arc<str>>,
        certificate_id: Arc<str>,
        resolved: Arc<OnceLock<Option<SigningKey>>>,
    },
}

/// A `required-claims` entry.
#[derive(Clone, Debug)]
struct RequiredClaim {
    name: Arc<str>,
    any: bool,
    separator: Option<Arc<str>>,
    values: Vec<Arc<str>>,
}

#[derive(Clone, Debug)]
pub struct ValidateJwt {
    source: TokenSource,
    failed_code: u16,
    failed_message: Option<Template>,
    require_expiration: bool,
    clock_skew: u64,
    output_variable: Option<Arc<str>>,
    keys: Vec<KeySpec>,
    openid: Vec<Arc<OpenIdConfig>>,
    audiences: Vec<Arc<str>>,
    issuers: Vec<Arc<str>>,
    claims: Vec<RequiredClaim>,
    /// `validate-azure-ad-token`'s `client-application-ids`: the token's `azp` (v2) or `appid`
    /// (v1) must be one (empty: not checked).
    client_applications: Vec<Arc<str>>,
}

const HMAC: &[Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
const RSA: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
const EC: &[Algorithm] = &[Algorithm::ES256, Algorithm::ES384];

/// Longest token read (a header is bounded anyway; an expression's value is not).
const MAX_TOKEN: usize = 16 * 1024;

/// `<parent><child>…</child>…</parent>`: the texts, none without the parent.
fn texts(el: &El, parent: &str, child: &str) -> Result<Vec<Arc<str>>, CompileError> {
    let Some(p) = el.child(parent)? else {
        return Ok(Vec::new());
    };
    p.only_attrs(&[])?;
    p.texts_of(child)
}

impl PolicyStep for ValidateJwt {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "header-name",
            "query-parameter-name",
            "token-value",
            "failed-validation-httpcode",
            "failed-validation-error-message",
            "require-expiration-time",
            "require-scheme",
            "require-signed-tokens",
            "clock-skew",
            "output-token-variable-name",
            "id",
        ])?;
        if let Some(c) = el.child("decryption-keys")? {
            return Err(c.err(
                ErrorKind::InvalidValue,
                "<decryption-keys> (encrypted tokens) is not supported by certgate",
            ));
        }
        el.only_children(
            &[
                "openid-config",
                "issuer-signing-keys",
                "audiences",
                "issuers",
                "required-claims",
            ],
            false,
        )?;
        let t = |n: &str| el.opt(n).map(|a| el.template(a, r.route)).transpose();
        let source = token_source(el, r, None)?;
        if !el.bool_attr("require-signed-tokens", true)? {
            return Err(el.err(
                ErrorKind::InvalidValue,
                "require-signed-tokens=\"false\" is not supported: certgate accepts only signed tokens",
            ));
        }
        let failed_code = failed_code(el)?;
        let mut keys = Vec::new();
        if let Some(ks) = el.child("issuer-signing-keys")? {
            ks.only_attrs(&[])?;
            ks.only_children(&["key"], false)?;
            for k in ks.children("key") {
                k.only_attrs(&["id", "certificate-id", "n", "e"])?;
                k.only_children(&[], true)?;
                let id = k
                    .opt("id")
                    .map(|a| k.literal(a).map(Arc::from))
                    .transpose()?;
                let text = k
                    .text()
                    .map(|t| t.text.trim().to_string())
                    .unwrap_or_default();
                let spec = match (k.opt("certificate-id"), k.opt("n"), k.opt("e")) {
                    (Some(c), None, None) if text.is_empty() => KeySpec::Certificate {
                        id,
                        certificate_id: k.literal(c)?.into(),
                        resolved: Arc::default(),
                    },
                    (None, Some(n), Some(e)) if text.is_empty() => {
                        let key = DecodingKey::from_rsa_components(k.literal(n)?, k.literal(e)?)
                            .map_err(|e| k.err(ErrorKind::InvalidValue, format!("n and e are not an RSA key: {e}")))?;
                        KeySpec::Ready(SigningKey {
                            id,
                            key: Arc::new(key),
                            algorithms: RSA.into(),
                        })
                    }
                    (None, None, None) if !text.is_empty() => {
                        let secret = base64::engine::general_purpose::STANDARD
                            .decode(text.as_bytes())
                            .map_err(|_| k.err(ErrorKind::InvalidValue, "the key is not base64"))?;
                        let key = DecodingKey::from_secret(&secret).map_err(|e| {
                            k.err(ErrorKind::InvalidValue, format!("the key cannot be used: {e}"))
                        })?;
                        KeySpec::Ready(SigningKey {
                            id,
                            key: Arc::new(key),
                            algorithms: HMAC.into(),
                        })
                    }
                    _ => {
                        return Err(k.err(
                            ErrorKind::InvalidValue,
                            "a <key> is base64 text (a symmetric key), or certificate-id, or n and e together",
                        ))
                    }
                };
                keys.push(spec);
            }
        }
        let mut openid = Vec::new();
        for o in el.children("openid-config") {
            o.only_attrs(&["url", "validate-connectivity"])?;
            o.only_children(&[], false)?;
            o.bool_attr("validate-connectivity", true)?;
            let url = o.literal(o.req("url")?)?;
            if !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(o.err(
                    ErrorKind::InvalidValue,
                    format!("openid-config url '{url}' is not an http(s) URL"),
                ));
            }
            openid.push(r.openid.config(url));
        }
        if keys.is_empty() && openid.is_empty() {
            return Err(el.err(
                ErrorKind::Structure,
                "<validate-jwt> needs <issuer-signing-keys> or <openid-config>: certgate accepts only signed tokens",
            ));
        }
        let claims = required_claims(el)?;
        Ok(ValidateJwt {
            source,
            failed_code,
            failed_message: t("failed-validation-error-message")?,
            require_expiration: el.bool_attr("require-expiration-time", true)?,
            clock_skew: match el.opt("clock-skew") {
                Some(a) => el.u64_attr(a, 0, 86_400)?,
                None => 0,
            },
            output_variable: el
                .opt("output-token-variable-name")
                .map(|a| el.literal(a).map(Arc::from))
                .transpose()?,
            keys,
            openid,
            audiences: texts(el, "audiences", "audience")?,
            issuers: texts(el, "issuers", "issuer")?,
            claims,
            client_applications: Vec::new(),
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let token = match self.token(ctx, o)? {
            Some(t) => t,
            None => return Err(self.failed(ctx, o, "TokenNotPresent", "JWT not present.")?),
        };
        if let Err((reason, message)) = self.validate(ctx, &token) {
            return Err(self.failed(ctx, o, reason, &message)?);
        }
        if let Some(v) = &self.output_variable {
            let jwt = parse_jwt(&token).map_or(Value::Null, |j| Value::Obj(Arc::new(Obj::Jwt(j))));
            ctx.state_mut().set_variable(v, jwt);
        }
        Ok(Flow::Next)
    }
}

impl ValidateJwt {
    /// The token, without its scheme; `None` when there is none (or not with the required
    /// scheme).
    fn token(&self, ctx: &dyn RequestContext, o: &Origin) -> Result<Option<String>, Fail> {
        let raw = match &self.source {
            TokenSource::Header { name, scheme } => {
                let name = o.text(name, ctx)?;
                let Some(v) = ctx.request_header(&name).map(|v| v.trim().to_string()) else {
                    return Ok(None);
                };
                match (v.split_once(' '), scheme) {
                    (Some((s, t)), Some(want)) => {
                        if !s.eq_ignore_ascii_case(&o.text(want, ctx)?) {
                            return Ok(None);
                        }
                        t.trim().to_string()
                    }
                    (None, Some(_)) => return Ok(None),
                    (Some((s, t)), None) if s.eq_ignore_ascii_case("bearer") => {
                        t.trim().to_string()
                    }
                    _ => v,
                }
            }
            TokenSource::Query(q) => {
                let q = o.text(q, ctx)?;
                match ctx.url().query_param(&q) {
                    Some(v) => v,
                    None => return Ok(None),
                }
            }
            TokenSource::Value(t) => o.text(t, ctx)?.trim().to_string(),
        };
        Ok((!raw.is_empty() && raw.len() <= MAX_TOKEN).then_some(raw))
    }

    /// The failure, with `failed-validation-error-message` as the body's message if set.
    fn failed(
        &self,
        ctx: &dyn RequestContext,
        o: &Origin,
        reason: &str,
        message: &str,
    ) -> Result<Fail, Fail> {
        let body = match &self.failed_message {
            Some(t) => o.text(t, ctx)?.to_string(),
            None if reason == "TokenNotPresent" => "JWT not present.".to_string(),
            None => "Invalid JWT.".to_string(),
        };
        Ok(o.fail(reason, message, self.failed_code, &body))
    }

    /// The keys a token may be checked with: inline ones, then the OpenID configurations'.
    fn keys(&self, ctx: &dyn RequestContext) -> Vec<SigningKey> {
        let mut out = Vec::new();
        for k in &self.keys {
            match k {
                KeySpec::Ready(k) => out.push(k.clone()),
                KeySpec::Certificate {
                    id,
                    certificate_id,
                    resolved,
                } => {
                    let key = resolved.get_or_init(|| {
                        let cert = ctx.deployment().certificates().get(&**certificate_id)?;
                        certificate_key(cert.x509(), id.clone())
                    });
                    out.extend(key.clone());
                }
            }
        }
        for c in &self.openid {
            if let Some(d) = c.current() {
                out.extend(d.keys.iter().cloned());
            }
        }
        out
    }

    /// Checks the token: (reason, message) when it fails.
    fn validate(
        &self,
        ctx: &dyn RequestContext,
        token: &str,
    ) -> Result<(), (&'static str, String)> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| ("JwtInvalid", format!("The token is not a valid JWT: {e}.")))?;
        let all = self.keys(ctx);
        let fits: Vec<&SigningKey> = all
            .iter()
            .filter(|k| k.algorithms.contains(&header.alg))
            .collect();
        let by_id: Vec<&SigningKey> = match &header.kid {
            Some(kid) => fits
                .iter()
                .copied()
                .filter(|k| k.id.as_deref() == Some(kid.as_str()))
                .collect(),
            None => Vec::new(),
        };
        // APIM: a key whose id is the token's kid; if none has it, every key.
        let candidates = if by_id.is_empty() { fits } else { by_id };
        if candidates.is_empty() {
            if header.kid.is_some() {
                for c in &self.openid {
                    c.ask_refresh();
                }
            }
            return Err((
                "TokenSignatureKeyNotFound",
                format!(
                    "No signing key for a token signed with {:?}{}. Access denied.",
                    header.alg,
                    header
                        .kid
                        .as_deref()
                        .map(|k| format!(" (kid '{k}')"))
                        .unwrap_or_default()
                ),
            ));
        }
        let mut v = Validation::new(header.alg);
        v.leeway = self.clock_skew;
        v.validate_nbf = true;
        v.required_spec_claims.clear();
        if self.require_expiration {
            v.required_spec_claims.insert("exp".into());
        }
        v.validate_aud = !self.audiences.is_empty();
        if v.validate_aud {
            v.set_audience(&self.audiences);
        }
        let issuers: Vec<Arc<str>> = if !self.issuers.is_empty() {
            self.issuers.clone()
        } else {
            // Without <issuers>, the OpenID configurations' issuers (unless templated, as
            // Entra's multi-tenant one is).
            let mut found: Vec<Arc<str>> = self
                .openid
                .iter()
                .filter_map(|c| c.current()?.issuer.clone())
                .filter(|i| !i.contains('{'))
                .collect();
            if !self.client_applications.is_empty() {
                // Entra: the v1 issuer of the same tenant, for tokens of v1 applications.
                let v1: Vec<Arc<str>> = found
                    .iter()
                    .filter_map(|i| {
                        let tenant = i
                            .trim_end_matches('/')
                            .strip_suffix("/v2.0")?
                            .rsplit('/')
                            .next()?;
                        Some(Arc::from(format!("https://sts.windows.net/{tenant}/")))
                    })
                    .collect();
                found.extend(v1);
            }
            found
        };
        if !issuers.is_empty() {
            v.set_issuer(&issuers);
            v.required_spec_claims.insert("iss".into());
        }
        let mut last = None;
        for k in candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, &k.key, &v) {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        jsonwebtoken::errors::ErrorKind::InvalidSignature
                            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
                            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                    ) =>
                {
                    last = Some((
                        "TokenSignatureInvalid",
                        "The token's signature is not valid. Access denied.".to_string(),
                    ));
                }
                Err(e) => return Err(reason_of(&e)),
            }
        }
        if let Some(f) = last {
            return Err(f);
        }
        self.check_claims(token)
    }

    /// `required-claims`: each named claim present, with all (or any) of its values; and for
    /// `validate-azure-ad-token`, the client application.
    fn check_claims(&self, token: &str) -> Result<(), (&'static str, String)> {
        if self.claims.is_empty() && self.client_applications.is_empty() {
            return Ok(());
        }
        let Some(jwt) = parse_jwt(token) else {
            return Err(("JwtInvalid", "The token's claims cannot be read.".into()));
        };
        if !self.client_applications.is_empty() {
            let app = jwt.claim("azp").or_else(|| jwt.claim("appid"));
            let allowed =
                app.is_some_and(|v| v.iter().any(|a| self.client_applications.contains(a)));
            if !allowed {
                return Err((
                    "TokenClientApplicationNotAllowed",
                    "The token was not issued to an allowed client application. Access denied."
                        .into(),
                ));
            }
        }
        let missing: Vec<&str> = self
            .claims
            .iter()
            .filter(|c| jwt.claim(&c.name).is_none())
            .map(|c| &*c.name)
            .collect();
        if !missing.is_empty() {
            return Err((
                "TokenClaimNotFound",
                format!(
                    "JWT is missing the following claims: {}. Access denied.",
                    missing.join(", ")
                ),
            ));
        }
        for c in &self.claims {
            if c.values.is_empty() {
                continue;
            }
            let have: Vec<&str> = jwt
                .claim(&c.name)
                .into_iter()
                .flatten()
                .flat_map(|v| match &c.separator {
                    Some(sep) if !sep.is_empty() => v.split(&**sep).map(str::trim).collect(),
                    _ => vec![&**v],
                })
                .collect();
            let found = |want: &Arc<str>| have.contains(&&**want);
            let ok = if c.any {
                c.values.iter().any(found)
            } else {
                c.values.iter().all(found)
            };
            if !ok {
                return Err((
                    "TokenClaimValueNotAllowed",
                    format!(
                        "Claim {} value of {} is not allowed. Access denied.",
                        c.name,
                        have.join(",")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Where the token is: exactly one of `header-name` (`default_header` when none of the three
/// is given), `query-parameter-name` and `token-value`.
fn token_source(
    el: &El,
    r: &Reader,
    default_header: Option<&str>,
) -> Result<TokenSource, CompileError> {
    let t = |n: &str| el.opt(n).map(|a| el.template(a, r.route)).transpose();
    Ok(
        match (
            t("header-name")?,
            t("query-parameter-name")?,
            t("token-value")?,
        ) {
            (Some(name), None, None) => TokenSource::Header {
                name,
                scheme: t("require-scheme")?,
            },
            (None, Some(q), None) => TokenSource::Query(q),
            (None, None, Some(v)) => TokenSource::Value(v),
            (None, None, None) if default_header.is_some() => TokenSource::Header {
                name: Template::Literal(default_header.unwrap_or_default().into()),
                scheme: None,
            },
            _ => {
                return Err(el.err(
                    ErrorKind::MissingAttribute,
                    format!(
                    "<{}> needs exactly one of header-name, query-parameter-name and token-value",
                    el.e.name
                ),
                ))
            }
        },
    )
}

/// `failed-validation-httpcode` (401 by default).
fn failed_code(el: &El) -> Result<u16, CompileError> {
    Ok(match el.opt("failed-validation-httpcode") {
        Some(a) => el.u64_attr(a, 100, 599)? as u16,
        None => 401,
    })
}

/// `required-claims`.
fn required_claims(el: &El) -> Result<Vec<RequiredClaim>, CompileError> {
    let mut claims = Vec::new();
    let Some(rc) = el.child("required-claims")? else {
        return Ok(claims);
    };
    rc.only_attrs(&[])?;
    rc.only_children(&["claim"], false)?;
    for c in rc.children("claim") {
        c.only_attrs(&["name", "match", "separator"])?;
        c.only_children(&["value"], false)?;
        let any = match c.opt("match").map(|a| (a, a.value.text.as_str())) {
            None | Some((_, "all")) => false,
            Some((_, "any")) => true,
            Some((a, other)) => {
                return Err(c.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("match '{other}'; expected all or any"),
                ))
            }
        };
        let values = c
            .children("value")
            .map(|v| v.bare_text().map(Arc::from))
            .collect::<Result<Vec<_>, _>>()?;
        claims.push(RequiredClaim {
            name: c.literal(c.req("name")?)?.into(),
            any,
            separator: c
                .opt("separator")
                .map(|a| c.literal(a).map(Arc::from))
                .transpose()?,
            values,
        });
    }
    Ok(claims)
}

/// `validate-azure-ad-token`: `validate-jwt` for tokens Microsoft Entra ID issued to one of
/// `client-application-ids`, with the tenant's OpenID configuration (fetched by the gateway
/// like any `openid-config`; `authentication-endpoint` for sovereign clouds and tests) and its
/// issuers (v2 `https://login.microsoftonline.com/{tenant}/v2.0` and v1
/// `https://sts.windows.net/{tenant}/`). The token is in `Authorization` (with `Bearer`) unless
/// another source is named; `backend-application-ids` are accepted audiences beside
/// `audiences`.
#[derive(Clone, Debug)]
pub struct ValidateAzureAdToken(ValidateJwt);

impl PolicyStep for ValidateAzureAdToken {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "tenant-id",
            "header-name",
            "query-parameter-name",
            "token-value",
            "failed-validation-httpcode",
            "failed-validation-error-message",
            "output-token-variable-name",
            "authentication-endpoint",
            "id",
        ])?;
        el.only_children(
            &[
                "client-application-ids",
                "backend-application-ids",
                "audiences",
                "required-claims",
            ],
            false,
        )?;
        let tenant = el.literal(el.req("tenant-id")?)?;
        if tenant.is_empty() || tenant.contains(['/', '?', '#', ' ']) {
            return Err(el.err(
                ErrorKind::InvalidValue,
                format!("tenant-id '{tenant}' is not a tenant id or domain"),
            ));
        }
        let endpoint = match el.opt("authentication-endpoint") {
            Some(a) => el.literal(a)?,
            None => "https://login.microsoftonline.com",
        };
        if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
            return Err(el.err(
                ErrorKind::InvalidValue,
                format!("authentication-endpoint '{endpoint}' is not an http(s) URL"),
            ));
        }
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            endpoint.trim_end_matches('/')
        );
        let client_applications = texts(el, "client-application-ids", "application-id")?;
        if client_applications.is_empty() {
            return Err(el.err(
                ErrorKind::Structure,
                "<validate-azure-ad-token> needs <client-application-ids> with at least one <application-id>",
            ));
        }
        let mut audiences = texts(el, "audiences", "audience")?;
        audiences.extend(texts(el, "backend-application-ids", "application-id")?);
        Ok(ValidateAzureAdToken(ValidateJwt {
            source: token_source(el, r, Some("Authorization"))?,
            failed_code: failed_code(el)?,
            failed_message: el
                .opt("failed-validation-error-message")
                .map(|a| el.template(a, r.route))
                .transpose()?,
            require_expiration: true,
            clock_skew: 0,
            output_variable: el
                .opt("output-token-variable-name")
                .map(|a| el.literal(a).map(Arc::from))
                .transpose()?,
            keys: Vec::new(),
            openid: vec![r.openid.config(&url)],
            audiences,
            issuers: Vec::new(),
            claims: required_claims(el)?,
            client_applications,
        }))
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        self.0.run(ctx, at)
    }
}

/// APIM's reason for a validation failure after the signature verified.
fn reason_of(e: &jsonwebtoken::errors::Error) -> (&'static str, String) {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => (
            "TokenExpired",
            "The token is expired. Access denied.".into(),
        ),
        K::ImmatureSignature => ("JwtInvalid", "The token is not valid yet.".into()),
        K::InvalidAudience => (
            "TokenAudienceNotAllowed",
            "The token's audience is not allowed. Access denied.".into(),
        ),
        K::InvalidIssuer => (
            "TokenIssuerNotAllowed",
            "The token's issuer is not allowed. Access denied.".into(),
        ),
        K::MissingRequiredClaim(c) if c == "exp" => (
            "JwtInvalid",
            "The token has no expiration time (exp).".into(),
        ),
        K::MissingRequiredClaim(c) if c == "iss" => (
            "TokenIssuerNotAllowed",
            "The token has no issuer. Access denied.".into(),
        ),
        _ => ("JwtInvalid", format!("The token is not valid: {e}.")),
    }
}

/// A certificate's public key as a signing key: RSA (RS*/PS*) or EC (ES256/ES384).
fn certificate_key(x: &crate::crypto::x509::X509, id: Option<Arc<str>>) -> Option<SigningKey> {
    let pk = x.public_key().ok()?;
    let (key, algorithms) = if let Ok(rsa) = pk.rsa() {
        (
            DecodingKey::from_rsa_raw_components(&rsa.n().to_vec(), &rsa.e().to_vec()),
            RSA,
        )
    } else if let Ok(ec) = pk.ec_key() {
        let mut bn = crate::crypto::bn::BigNumContext::new().ok()?;
        let point = ec
            .public_key()
            .to_bytes(
                ec.group(),
                crate::crypto::ec::PointConversionForm::UNCOMPRESSED,
                &mut bn,
            )
            .ok()?;
        (DecodingKey::from_ec_der(&point), EC)
    } else {
        return None;
    };
    Some(SigningKey {
        id,
        key: Arc::new(key),
        algorithms: algorithms.into(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use serde_json::json;

    use crate::context::{Deployment, RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run, run_step};
    use crate::value::Value;

    const SECRET: &[u8] = b"an HMAC key of thirty-two bytes!";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn hs256(claims: serde_json::Value, kid: Option<&str>) -> String {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = kid.map(str::to_string);
        encode(&h, &claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn policy(extra_attrs: &str, children: &str) -> crate::policies::Policy {
        read(&format!(
            r#"<validate-jwt header-name="Authorization" {extra_attrs}><issuer-signing-keys><key>{}</key></issuer-signing-keys>{children}</validate-jwt>"#,
            b64(SECRET)
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn with_token(t: &str) -> SimpleContext {
        SimpleContext::new("GET", "/").with_header("Authorization", &format!("Bearer {t}"))
    }

    /// (reason, status, response message) of a failed run.
    fn failure(p: &crate::policies::Policy, ctx: &mut SimpleContext) -> (String, u16, String) {
        let e = run(p, ctx).unwrap_err();
        (
            e.reason.to_string(),
            e.status,
            e.response_message.to_string(),
        )
    }

    #[test]
    fn a_valid_token_passes_and_lands_in_the_output_variable() {
        let p = policy(r#"output-token-variable-name="jwt""#, "");
        let t = hs256(json!({"sub": "alice", "exp": now() + 60}), None);
        let mut ctx = with_token(&t);
        run(&p, &mut ctx).unwrap();
        assert!(matches!(ctx.state().variable("jwt"), Some(Value::Obj(_))));
    }

    #[test]
    fn each_failure_has_apims_reason() {
        let p = policy(
            r#"clock-skew="30""#,
            r#"<audiences><audience>api://weather</audience></audiences><issuers><issuer>https://idp/</issuer></issuers>"#,
        );
        let good = json!({"aud": "api://weather", "iss": "https://idp/", "exp": now() + 60});
        run(&p, &mut with_token(&hs256(good.clone(), None))).unwrap();
        let claims = |k: &str, v: serde_json::Value| {
            let mut c = good.clone();
            c[k] = v;
            hs256(c, None)
        };
        let cases = [
            (
                claims("aud", json!("api://other")),
                "TokenAudienceNotAllowed",
            ),
            (
                claims("iss", json!("https://evil/")),
                "TokenIssuerNotAllowed",
            ),
            (claims("exp", json!(now() - 120)), "TokenExpired"),
            (claims("nbf", json!(now() + 120)), "JwtInvalid"),
            ("not.a.jwt".to_string(), "JwtInvalid"),
        ];
        for (t, reason) in cases {
            let (r, status, body) = failure(&p, &mut with_token(&t));
            assert_eq!(
                (r.as_str(), status, body.as_str()),
                (reason, 401, "Invalid JWT."),
                "{t}"
            );
        }
        // Within the clock skew, an expired token still passes.
        run(&p, &mut with_token(&claims("exp", json!(now() - 10)))).unwrap();
        // Signed with another key.
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &good,
            &EncodingKey::from_secret(b"another key of thirty-two bytes!").unwrap(),
        )
        .unwrap();
        assert_eq!(
            failure(&p, &mut with_token(&forged)).0,
            "TokenSignatureInvalid"
        );
        // An algorithm no key is for.
        let rsa = crate::crypto::rsa::Rsa::generate(2048).unwrap();
        let rs = encode(
            &Header::new(Algorithm::RS256),
            &good,
            &EncodingKey::from_rsa_der(&rsa.private_key_to_der().unwrap()),
        )
        .unwrap();
        assert_eq!(
            failure(&p, &mut with_token(&rs)).0,
            "TokenSignatureKeyNotFound"
        );
        // No token, or not with the required scheme.
        let (r, status, body) = failure(&p, &mut SimpleContext::new("GET", "/"));
        assert_eq!(
            (r.as_str(), status, body.as_str()),
            ("TokenNotPresent", 401, "JWT not present.")
        );
        let p = policy(
            r#"require-scheme="Bearer" failed-validation-httpcode="403" failed-validation-error-message="Go away""#,
            "",
        );
        let mut ctx = SimpleContext::new("GET", "/").with_header("Authorization", "Token abc");
        let (r, status, body) = failure(&p, &mut ctx);
        assert_eq!(
            (r.as_str(), status, body.as_str()),
            ("TokenNotPresent", 403, "Go away")
        );
        // exp is required unless require-expiration-time="false".
        let no_exp = hs256(json!({"sub": "a"}), None);
        assert_eq!(
            failure(&policy("", ""), &mut with_token(&no_exp)).0,
            "JwtInvalid"
        );
        run(
            &policy(r#"require-expiration-time="false""#, ""),
            &mut with_token(&no_exp),
        )
        .unwrap();
    }

    #[test]
    fn a_token_in_a_cookie_is_read_with_token_value() {
        // APIM has no cookie attribute: documents read the cookie with an expression.
        let p = read(&format!(
            r#"<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault("Cookie", "").Split(';').Select(c => c.Trim()).Where(c => c.StartsWith("access_token=")).Select(c => c.Substring(13)).FirstOrDefault() ?? "")"><issuer-signing-keys><key>{}</key></issuer-signing-keys></validate-jwt>"#,
            b64(SECRET)
        ))
        .unwrap();
        let t = hs256(json!({"sub": "alice", "exp": now() + 60}), None);
        let mut ctx = SimpleContext::new("GET", "/")
            .with_header("Cookie", &format!("theme=dark; access_token={t}"));
        run(&p, &mut ctx).unwrap();
        let mut ctx = SimpleContext::new("GET", "/").with_header("Cookie", "theme=dark");
        assert_eq!(failure(&p, &mut ctx).0, "TokenNotPresent");
    }

    #[test]
    fn required_claims_with_all_any_and_separators() {
        let p = policy(
            "",
            r#"<required-claims><claim name="scp" match="any" separator=" "><value>read</value><value>admin</value></claim><claim name="roles" match="all"><value>a</value><value>b</value></claim></required-claims>"#,
        );
        let t = |c: serde_json::Value| {
            let mut c = c;
            c["exp"] = json!(now() + 60);
            hs256(c, None)
        };
        run(
            &p,
            &mut with_token(&t(json!({"scp": "write read", "roles": ["a", "b", "c"]}))),
        )
        .unwrap();
        assert_eq!(
            failure(&p, &mut with_token(&t(json!({"scp": "write"})))).0,
            "TokenClaimNotFound"
        );
        assert_eq!(
            failure(
                &p,
                &mut with_token(&t(json!({"scp": "write", "roles": ["a", "b"]})))
            )
            .0,
            "TokenClaimValueNotAllowed"
        );
        assert_eq!(
            failure(
                &p,
                &mut with_token(&t(json!({"scp": "read", "roles": ["a"]})))
            )
            .0,
            "TokenClaimValueNotAllowed"
        );
    }

    #[test]
    fn rsa_keys_from_n_and_e_a_certificate_or_an_openid_configuration() {
        let pki = crate::pki::DemoPki::generate(crate::pki::KeyKind::Rsa2048).unwrap();
        let rsa = pki.valid.key.rsa().unwrap();
        let signing = EncodingKey::from_rsa_der(&rsa.private_key_to_der().unwrap());
        let url = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let (n, e) = (url(rsa.n().to_vec()), url(rsa.e().to_vec()));
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some("k1".into());
        let token = encode(
            &h,
            &json!({"iss": "https://idp/", "exp": now() + 60}),
            &signing,
        )
        .unwrap();

        let p = read(&format!(r#"<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault("X-Token", ""))"><issuer-signing-keys><key id="other">{}</key><key id="k1" n="{n}" e="{e}"/></issuer-signing-keys></validate-jwt>"#, b64(SECRET))).unwrap();
        run(
            &p,
            &mut SimpleContext::new("GET", "/").with_header("X-Token", &token),
        )
        .unwrap();

        let p = read(r#"<validate-jwt query-parameter-name="access_token"><issuer-signing-keys><key certificate-id="signer"/></issuer-signing-keys></validate-jwt>"#).unwrap();
        let mut d = Deployment::default();
        d.add_certificate(
            "signer",
            Arc::new(crate::cert::Certificate::from_x509(pki.valid.cert.clone()).unwrap()),
        );
        let mut ctx = SimpleContext::new("GET", &format!("/?access_token={token}"));
        ctx.deployment = Arc::new(d);
        run(&p, &mut ctx).unwrap();

        // openid-config: no keys until the gateway fetched them; then the JWKS's key and the
        // discovery's issuer apply.
        let xml = r#"<validate-jwt header-name="Authorization"><openid-config url="https://idp/.well-known/openid-configuration"/></validate-jwt>"#;
        let src = crate::source::Source::plain("t.xml", xml).unwrap();
        let root = crate::xml::parse_document(&src).unwrap();
        let registry = crate::openid::OpenIdRegistry::default();
        let route = crate::context::RouteInfo::default();
        let reader = crate::policies::Reader {
            name: "validate-jwt",
            route: &route,
            target: crate::policies::HeaderTarget::Request,
            openid: &registry,
            external_cache: false,
        };
        let p = crate::policies::Policy::read(
            &crate::element::El {
                e: &root,
                src: &src,
            },
            &reader,
        )
        .unwrap()
        .unwrap();
        assert!(run_step(&p, &mut with_token(&token))
            .is_err_and(|e| &*e.reason == "TokenSignatureKeyNotFound"));
        let config = registry.config("https://idp/.well-known/openid-configuration");
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "n": n, "e": e}]});
        config
            .update(Some("https://idp/".into()), jwks.to_string().as_bytes())
            .unwrap();
        run(&p, &mut with_token(&token)).unwrap();
        config
            .update(
                Some("https://other-idp/".into()),
                jwks.to_string().as_bytes(),
            )
            .unwrap();
        assert_eq!(
            failure(&p, &mut with_token(&token)).0,
            "TokenIssuerNotAllowed"
        );
    }

    #[test]
    fn azure_ad_tokens_need_a_tenant_and_client_applications() {
        let ok = r#"<validate-azure-ad-token tenant-id="contoso.onmicrosoft.com"><client-application-ids><application-id>a</application-id></client-application-ids></validate-azure-ad-token>"#;
        read(ok).unwrap();
        for (xml, needle) in [
            (
                r#"<validate-azure-ad-token tenant-id="t"/>"#,
                "client-application-ids",
            ),
            (
                r#"<validate-azure-ad-token tenant-id="t"><client-application-ids/></validate-azure-ad-token>"#,
                "at least one <application-id>",
            ),
            (
                r#"<validate-azure-ad-token tenant-id="a/b"><client-application-ids><application-id>a</application-id></client-application-ids></validate-azure-ad-token>"#,
                "not a tenant id",
            ),
            (
                r#"<validate-azure-ad-token tenant-id="t" authentication-endpoint="ftp://x"><client-application-ids><application-id>a</application-id></client-application-ids></validate-azure-ad-token>"#,
                "not an http(s) URL",
            ),
            (
                r#"<validate-azure-ad-token><client-application-ids><application-id>a</application-id></client-application-ids></validate-azure-ad-token>"#,
                "tenant-id",
            ),
        ] {
            assert!(refused(xml).contains(needle), "{xml}: {}", refused(xml));
        }
        // No token in Authorization (the default source).
        let p = read(ok).unwrap();
        assert_eq!(
            failure(&p, &mut SimpleContext::new("GET", "/")).0,
            "TokenNotPresent"
        );
    }

    #[test]
    fn what_certgate_does_not_accept_is_refused_at_load() {
        let keys = format!(
            "<issuer-signing-keys><key>{}</key></issuer-signing-keys>",
            b64(SECRET)
        );
        for (xml, needle) in [
            (format!(r#"<validate-jwt header-name="A" require-signed-tokens="false">{keys}</validate-jwt>"#), "only signed tokens"),
            (format!(r#"<validate-jwt header-name="A">{keys}<decryption-keys><key>x</key></decryption-keys></validate-jwt>"#), "decryption-keys"),
            (r#"<validate-jwt header-name="A"/>"#.to_string(), "needs <issuer-signing-keys> or <openid-config>"),
            (format!(r#"<validate-jwt header-name="A" token-value="x">{keys}</validate-jwt>"#), "exactly one of"),
            (r#"<validate-jwt header-name="A"><issuer-signing-keys><key>not base64!</key></issuer-signing-keys></validate-jwt>"#.to_string(), "not base64"),
            (r#"<validate-jwt header-name="A"><issuer-signing-keys><key n="x"/></issuer-signing-keys></validate-jwt>"#.to_string(), "n and e together"),
            (format!(r#"<validate-jwt header-name="A">{keys}<audiences/></validate-jwt>"#), "at least one <audience>"),
            (format!(r#"<validate-jwt header-name="A">{keys}<openid-config url="ftp://x"/></validate-jwt>"#), "not an http(s) URL"),
        ] {
            assert!(refused(&xml).contains(needle), "{xml}: {}", refused(&xml));
        }
    }
}
