//! Shared fixtures for the policy integration tests: a demo PKI made once per test binary,
//! trust as APIM models it (root uploaded to Root, DEV intermediate to CertificateAuthority),
//! request contexts for each kind of client, and the seed documents read from ../shared.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use certgate_policy::pki::{crl, DemoPki, Issued, KeyKind};
use certgate_policy::Certificate;
use certgate_policy::Source;
use certgate_policy::{compile_route, CompileError, CompileOptions, NamedValues, Plan};
use certgate_policy::{Deployment, SimpleContext};
use certgate_policy::{Fragments, Scope, ScopeDocument};
use certgate_policy::{SentChain, TrustStore};

pub(crate) fn pki() -> &'static DemoPki {
    static P: OnceLock<DemoPki> = OnceLock::new();
    P.get_or_init(|| DemoPki::generate(KeyKind::EcdsaP256).expect("demo PKI"))
}

/// Root and DEV intermediate uploaded, with current CRLs from both (nothing revoked), so that
/// `Verify()` (which checks revocation) can succeed as in a real deployment.
pub(crate) fn trust() -> Arc<TrustStore> {
    static T: OnceLock<Arc<TrustStore>> = OnceLock::new();
    T.get_or_init(|| {
        let p = pki();
        let crls = vec![
            crl(&p.root, &[], -1, 7).expect("root CRL"),
            crl(&p.dev_ca, &[], -1, 7).expect("dev CRL"),
        ];
        Arc::new(
            TrustStore::new(vec![p.root.cert.clone()], vec![p.dev_ca.cert.clone()], crls)
                .expect("trust store"),
        )
    })
    .clone()
}

pub(crate) fn cert(i: &Issued) -> Arc<Certificate> {
    Arc::new(Certificate::from_x509(i.cert.clone()).expect("certificate"))
}

/// The deployment's certificates: the valid client is registered, as in seed 003.
pub(crate) fn deployment() -> Arc<Deployment> {
    static D: OnceLock<Arc<Deployment>> = OnceLock::new();
    D.get_or_init(|| {
        let mut d = Deployment::new("certgate-test", "gw-1", "local");
        d.add_certificate("valid-client-client-certificate", cert(&pki().valid));
        d.add_certificate("dev-intermediate-ca", cert(&pki().dev_ca));
        Arc::new(d)
    })
    .clone()
}

/// The kinds of caller every certificate policy is tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    Valid,
    Unregistered,
    Expired,
    NotYetValid,
    /// Under the TST intermediate, presenting that intermediate in its chain.
    Untrusted,
    None,
}

pub(crate) const ALL_CLIENTS: [Client; 6] = [
    Client::Valid,
    Client::Unregistered,
    Client::Expired,
    Client::NotYetValid,
    Client::Untrusted,
    Client::None,
];

pub(crate) fn issued(c: Client) -> Option<&'static Issued> {
    let p = pki();
    Some(match c {
        Client::Valid => &p.valid,
        Client::Unregistered => &p.unregistered,
        Client::Expired => &p.expired,
        Client::NotYetValid => &p.not_yet_valid,
        Client::Untrusted => &p.untrusted,
        Client::None => return None,
    })
}

pub(crate) fn ctx_for(c: Client) -> SimpleContext {
    let mut ctx = SimpleContext::new("GET", "/weather/today?units=metric");
    ctx.trust = Some(trust());
    ctx.deployment = deployment();
    ctx.certificate = issued(c).map(cert);
    if c == Client::Untrusted {
        ctx.sent_chain = SentChain::new(vec![pki().tst_ca.cert.clone()]);
    }
    ctx
}

pub(crate) fn compile_snippet(snippet: &str) -> Result<Plan, CompileError> {
    compile_snippet_with(snippet, &NamedValues::new())
}

pub(crate) fn compile_snippet_with(snippet: &str, nv: &NamedValues) -> Result<Plan, CompileError> {
    let doc = ScopeDocument::from_inbound_snippet(
        Scope::Operation,
        Source::new("snippet.xml", snippet, nv)?,
    )?;
    compile_route(&[&doc], &Fragments::new(), &CompileOptions::default())
}

pub(crate) fn compile_doc(text: &str) -> Result<Plan, CompileError> {
    let doc = ScopeDocument::parse(Scope::Operation, Source::plain("policy.xml", text)?)?;
    compile_route(&[&doc], &Fragments::new(), &CompileOptions::default())
}

pub(crate) fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds")
}

/// Whether the seed documents are there to test against. Under CI they must be (a panic
/// otherwise); on a clone without `../shared` the seed tests are skipped with one line on the
/// terminal saying so (written past the test harness's capture, so it is seen), and the rest
/// of the suite runs.
pub(crate) fn seeds_present() -> bool {
    static SAID: std::sync::Once = std::sync::Once::new();
    let dir = seeds_dir();
    if dir.is_dir() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing: CI requires the seed documents beside the checkout",
            dir.display()
        );
    }
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "seed suite skipped: {} not found (../shared/seeds beside the checkout; required when CI is set)",
            dir.display()
        );
    });
    false
}

/// Every seed document, by file name, read at test time.
pub(crate) fn seeds() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(seeds_dir())
        .expect("../shared/seeds must sit beside the checkout")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).expect("seed readable"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Top-level policy snippets in a seed.
pub(crate) fn snippets(text: &str) -> Vec<String> {
    certgate_policy::snippets::extract(text)
}
