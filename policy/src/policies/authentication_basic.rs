//! `authentication-basic`: the backend request's `Authorization` header with HTTP Basic
//! credentials (RFC 7617: `Basic base64(username:password)`). The password is a secret: it is
//! only ever written into that header.

use base64::Engine;

use super::{Fail, Flow, PolicyStep, Reader, Site};
use crate::context::{HeaderWrite, RequestContext};
use crate::element::El;
use crate::error::{CompileError, ErrorKind};
use crate::expr::Template;

#[derive(Clone)]
pub struct AuthenticationBasic {
    username: Template,
    password: Template,
}

/// Never shows the password (plans are printed in diagnostics).
impl std::fmt::Debug for AuthenticationBasic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticationBasic")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl PolicyStep for AuthenticationBasic {
    fn read(el: &El, r: &Reader) -> Result<Self, CompileError> {
        el.only_attrs(&["username", "password"])?;
        el.only_children(&[], false)?;
        let username = el.template(el.req("username")?, r.route)?;
        if username.literal().is_some_and(|u| u.contains(':')) {
            return Err(el.err(
                ErrorKind::InvalidValue,
                "username contains ':', which Basic credentials cannot carry (RFC 7617)",
            ));
        }
        Ok(AuthenticationBasic {
            username,
            password: el.template(el.req("password")?, r.route)?,
        })
    }

    fn run(&self, ctx: &mut dyn RequestContext, at: &Site) -> Result<Flow, Fail> {
        let o = at.origin;
        let user = o.text(&self.username, ctx)?;
        if user.contains(':') {
            return Err(o.fail(
                "InvalidCredentials",
                "The username contains ':', which Basic credentials cannot carry.",
                500,
                "Internal server error",
            ));
        }
        let password = o.text(&self.password, ctx)?;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        ctx.write_request_header(
            "Authorization",
            &format!("Basic {encoded}"),
            HeaderWrite::Set,
        );
        Ok(Flow::Next)
    }
}

#[cfg(test)]
mod tests {
    use crate::context::{RequestContext, SimpleContext};
    use crate::policies::testing::{read, refused, run};

    #[test]
    fn basic_credentials_replace_the_authorization_header() {
        let p =
            read(r#"<authentication-basic username="Aladdin" password="@("open " + "sesame")"/>"#)
                .unwrap();
        let mut ctx = SimpleContext::new("GET", "/").with_header("Authorization", "Bearer client");
        run(&p, &mut ctx).unwrap();
        // RFC 7617's example.
        assert_eq!(
            ctx.request_header_values("Authorization"),
            vec!["Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="]
        );
        assert!(
            !format!("{p:?}").contains("sesame"),
            "the password is not printed"
        );
        assert!(refused(r#"<authentication-basic username="a:b" password="p"/>"#).contains("':'"));
        assert!(refused(r#"<authentication-basic username="a"/>"#).contains("password"));
        let p = read(
            r#"<authentication-basic username="@(context.Request.Method + ":x")" password="p"/>"#,
        )
        .unwrap();
        let e = run(&p, &mut SimpleContext::new("GET", "/")).unwrap_err();
        assert_eq!(&*e.reason, "InvalidCredentials");
    }
}
