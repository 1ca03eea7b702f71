//! Choosing the backend and the gateway's identity towards it: `set-backend-service`
//! (backend-id | base-url) and `authentication-certificate` (thumbprint | certificate-id | body).

use std::sync::Arc;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{BackendCertificate, BackendTarget, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::thumbprints::normalise_hex;
use crate::value::Value;

#[derive(Clone, Debug)]
pub enum BackendChoice {
    BackendId(Template),
    BaseUrl(Template),
}

/// `set-backend-service`.
#[derive(Clone, Debug)]
pub struct SetBackendService(pub BackendChoice);

fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

impl PolicyStep for SetBackendService {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["base-url", "backend-id"])?;
        el.only_children(&[], false)?;
        match (el.opt("base-url"), el.opt("backend-id")) {
            (Some(u), None) => {
                let t = el.template(u, r.route)?;
                if let Some(lit) = t.literal() {
                    if !is_http_url(lit) {
                        return Err(el.attr_err(
                            u,
                            ErrorKind::InvalidValue,
                            format!("base-url '{lit}' is not an absolute http(s) URL"),
                        ));
                    }
                }
                Ok(SetBackendService(BackendChoice::BaseUrl(t)))
            }
            (None, Some(b)) => Ok(SetBackendService(BackendChoice::BackendId(
                el.template(b, r.route)?,
            ))),
            _ => Err(el.err(
                ErrorKind::MissingAttribute,
                "<set-backend-service> needs exactly one of base-url and backend-id",
            )),
        }
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let target = match &self.0 {
            BackendChoice::BackendId(t) => BackendTarget::BackendId(o.text(t, ctx)?),
            BackendChoice::BaseUrl(t) => {
                let url = o.text(t, ctx)?;
                if !is_http_url(&url) {
                    return Err(o.fail(
                        "InvalidBackendUrl",
                        &format!("base-url '{url}' is not an absolute http(s) URL"),
                        500,
                        "Internal server error",
                    ));
                }
                BackendTarget::BaseUrl(url)
            }
        };
        ctx.state_mut().backend = Some(target);
        Ok(Flow::Next)
    }
}

#[derive(Clone, Debug)]
pub enum CertificateChoice {
    Id(Template),
    Thumbprint(Template),
    Body {
        body: Expression,
        password: Option<Template>,
    },
}

/// `authentication-certificate`.
#[derive(Clone, Debug)]
pub struct AuthenticationCertificate(pub CertificateChoice);

impl PolicyStep for AuthenticationCertificate {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["thumbprint", "certificate-id", "body", "password"])?;
        el.only_children(&[], false)?;
        let choice = match (el.opt("thumbprint"), el.opt("certificate-id"), el.opt("body")) {
            (Some(t), None, None) => CertificateChoice::Thumbprint(el.template(t, r.route)?),
            (None, Some(c), None) => CertificateChoice::Id(el.template(c, r.route)?),
            (None, None, Some(b)) => {
                let Some(body) = expr::compile(&b.value, el.src, r.route)? else {
                    return Err(el.attr_err(
                        b,
                        ErrorKind::InvalidValue,
                        "body must be an expression giving the certificate as byte[]",
                    ));
                };
                if !matches!(body.ty(), Ty::Bytes | Ty::Object) {
                    return Err(el.attr_err(
                        b,
                        ErrorKind::ExpressionType,
                        format!("body is of type '{}'; expected byte[]", body.ty()),
                    ));
                }
                let password = el
                    .opt("password")
                    .map(|p| el.template(p, r.route))
                    .transpose()?;
                CertificateChoice::Body { body, password }
            }
            _ => {
                return Err(el.err(
                    ErrorKind::MissingAttribute,
                    "<authentication-certificate> needs exactly one of thumbprint, certificate-id and body",
                ))
            }
        };
        if el.opt("password").is_some() && !matches!(choice, CertificateChoice::Body { .. }) {
            return Err(el.err(ErrorKind::InvalidValue, "password is only used with body"));
        }
        Ok(AuthenticationCertificate(choice))
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let c = self.choose(ctx, at.origin)?;
        ctx.state_mut().backend_certificate = Some(c);
        Ok(Flow::Next)
    }
}

impl AuthenticationCertificate {
    /// The certificate this element names, for the backend call or a `send-request`.
    pub(crate) fn choose(
        &self,
        ctx: &dyn RequestContext,
        o: &super::Origin,
    ) -> Result<BackendCertificate, Fail> {
        Ok(match &self.0 {
            CertificateChoice::Id(t) => BackendCertificate::Id(o.text(t, ctx)?),
            CertificateChoice::Thumbprint(t) => {
                BackendCertificate::Thumbprint(Arc::from(normalise_hex(&o.text(t, ctx)?)))
            }
            CertificateChoice::Body { body, password } => {
                let body = match o.value(body, ctx)? {
                    Value::Bytes(b) => b,
                    _ => {
                        return Err(o.fail(
                            "ExpressionValueEvaluationFailure",
                            "Expression evaluation failed. The certificate body is null or not a byte array.",
                            500,
                            "Internal server error",
                        ))
                    }
                };
                let password = password.as_ref().map(|p| o.text(p, ctx)).transpose()?;
                BackendCertificate::Pfx { body, password }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{BackendCertificate, BackendTarget, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn set_backend_service_checks_urls_at_compile_time_and_run_time() {
        assert!(refused(r#"<set-backend-service base-url="ftp://x"/>"#)
            .contains("not an absolute http(s) URL"));
        assert!(
            refused(r#"<set-backend-service/>"#).contains("exactly one of base-url and backend-id")
        );
        let p = read(r#"<set-backend-service base-url="@("ftp://" + context.Request.Method)"/>"#)
            .unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(&*e.reason, "InvalidBackendUrl");
        let p = read(r#"<set-backend-service backend-id="b2"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert_eq!(
            ctx.state.backend,
            Some(BackendTarget::BackendId("b2".into()))
        );
    }

    #[test]
    fn authentication_certificate_normalises_thumbprints() {
        let p = read(r#"<authentication-certificate thumbprint="ab:cd ef"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/");
        run(&p, &mut ctx).unwrap();
        assert!(matches!(
            &ctx.state.backend_certificate,
            Some(BackendCertificate::Thumbprint(t)) if &**t == "ABCDEF"
        ));
        assert!(
            refused(r#"<authentication-certificate certificate-id="c" password="p"/>"#)
                .contains("password is only used with body")
        );
        assert!(
            refused(r#"<authentication-certificate body="not an expression"/>"#).contains("byte[]")
        );
    }
}
