//! `authentication-managed-identity`: an Entra ID access token for `resource`, obtained by the
//! gateway as Azure workloads obtain theirs (`gateway/src/proxy/identity.rs`: the managed
//! identity endpoint, workload identity federation, or a configured client credential) and
//! cached there until shortly before it expires. The step suspends its section for the token
//! ([`Flow::Token`]); [`AuthenticationManagedIdentity::complete`] sets `Authorization: Bearer`
//! (or the `output-token-variable-name` variable). Without a token the step fails with
//! `ManagedIdentityTokenFailure` (500), or with `ignore-error="true"` the pipeline goes on
//! without one.

use std::sync::Arc;

use super::{Fail, Flow, Origin, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;
use crate::outcall::{TokenRequest, TokenResult};
use crate::value::Value;

#[derive(Clone, Debug)]
pub struct AuthenticationManagedIdentity {
    resource: Template,
    client_id: Option<Arc<str>>,
    variable: Option<Arc<str>>,
    ignore_error: bool,
}

impl PolicyStep for AuthenticationManagedIdentity {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&[
            "resource",
            "client-id",
            "output-token-variable-name",
            "ignore-error",
        ])?;
        el.only_children(&[], false)?;
        let resource = el.template(el.req("resource")?, r.route)?;
        if resource.literal().is_some_and(str::is_empty) {
            return Err(el.err(ErrorKind::InvalidValue, "resource is empty"));
        }
        let lit = |n: &str| el.opt(n).map(|a| el.literal(a).map(Arc::from)).transpose();
        Ok(AuthenticationManagedIdentity {
            resource,
            client_id: lit("client-id")?,
            variable: lit("output-token-variable-name")?,
            ignore_error: el.bool_attr("ignore-error", false)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let resource = at.origin.text(&self.resource, ctx)?;
        Ok(Flow::Token(Box::new(TokenRequest {
            resource: resource.to_string(),
            client_id: self.client_id.as_deref().map(str::to_string),
        })))
    }
}

impl AuthenticationManagedIdentity {
    /// Takes the token the gateway obtained (or why it has none).
    pub(crate) fn complete(
        &self,
        token: TokenResult,
        ctx: &mut dyn RequestContext,
        o: &Origin,
    ) -> Result<Flow, Fail> {
        let token = match token {
            Ok(t) => t,
            Err(_) if self.ignore_error => return Ok(Flow::Next),
            Err(why) => {
                return Err(o.fail(
                    "ManagedIdentityTokenFailure",
                    &format!("No access token was obtained: {why}"),
                    500,
                    "Internal server error",
                ))
            }
        };
        match &self.variable {
            Some(v) => ctx.state_mut().set_variable(v, Value::Str(token)),
            None => ctx.write_request_header(
                "Authorization",
                &format!("Bearer {token}"),
                HeaderWrite::Set,
            ),
        }
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::outcall::TokenRequest;
    use crate::policies::testing::{origin, read, refused, run_step};
    use crate::policies::{Flow, Policy};

    #[test]
    fn the_token_becomes_the_authorization_header_or_a_variable() {
        let p = read(r#"<authentication-managed-identity resource="@("https://vault.azure.net")" client-id="c-1"/>"#).unwrap();
        let mut ctx = SimpleContext::new("GET", "/").with_header("Authorization", "Basic x");
        let Ok(Flow::Token(t)) = run_step(&p, &mut ctx) else {
            panic!("no token asked for")
        };
        assert_eq!(
            *t,
            TokenRequest {
                resource: "https://vault.azure.net".into(),
                client_id: Some("c-1".into())
            }
        );
        let Policy::AuthenticationManagedIdentity(m) = &p else {
            panic!()
        };
        m.complete(Ok("t0k".into()), &mut ctx, &origin()).unwrap();
        assert_eq!(
            ctx.request_header_values("Authorization"),
            vec!["Bearer t0k"]
        );

        let p = read(
            r#"<authentication-managed-identity resource="r" output-token-variable-name="tok"/>"#,
        )
        .unwrap();
        let Policy::AuthenticationManagedIdentity(m) = &p else {
            panic!()
        };
        let mut ctx = SimpleContext::new("GET", "/");
        m.complete(Ok("t0k".into()), &mut ctx, &origin()).unwrap();
        assert!(ctx.request_header("Authorization").is_none());
        assert_eq!(
            ctx.state()
                .variable("tok")
                .map(|v| v.to_dotnet_string())
                .as_deref(),
            Some("t0k")
        );
    }

    #[test]
    fn no_token_fails_unless_ignored() {
        let p = read(r#"<authentication-managed-identity resource="r"/>"#).unwrap();
        let Policy::AuthenticationManagedIdentity(m) = &p else {
            panic!()
        };
        let e = m
            .complete(
                Err("endpoint refused".into()),
                &mut SimpleContext::new("GET", "/"),
                &origin(),
            )
            .err()
            .unwrap();
        assert_eq!((&*e.reason, e.status), ("ManagedIdentityTokenFailure", 500));
        assert!(e.message.contains("endpoint refused"));
        let p =
            read(r#"<authentication-managed-identity resource="r" ignore-error="true"/>"#).unwrap();
        let Policy::AuthenticationManagedIdentity(m) = &p else {
            panic!()
        };
        let mut ctx = SimpleContext::new("GET", "/");
        assert!(m.complete(Err("x".into()), &mut ctx, &origin()).is_ok());
        assert!(ctx.request_header("Authorization").is_none());
        assert!(refused(r#"<authentication-managed-identity/>"#).contains("resource"));
        assert!(refused(r#"<authentication-managed-identity resource=""/>"#).contains("empty"));
    }
}
