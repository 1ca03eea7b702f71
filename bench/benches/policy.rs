//! Criterion benchmarks of the policy crate (SPEC §11):
//! - compiling each seed document's policies (read from ../shared/seeds at bench time);
//! - running a compiled inbound section typical of the seeds (choose with three header
//!   conditions, set-variable, set-header);
//! - validate-client-certificate with 10 identities on a parsed certificate;
//! - thumbprint lookups in deployment sets of 10, 10 000 and 1 000 000 entries;
//! - expressions over request data (issue 13): a JSON body member
//!   (`context.Request.Body.As<JObject>()["x"]`) and a bearer token's subject (`AsJwt()`);
//! - issue 14's callouts: a `cache-lookup-value` hit, and the plan's side of a `send-request`
//!   (build the request, suspend, take the response into its variable, resume, read it).
//!
//! Run: `make bench` (or `cargo bench -p certgate-bench`).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use certgate_policy::pki::{DemoPki, KeyKind};
use certgate_policy::run_pipeline;
use certgate_policy::Certificate;
use certgate_policy::Source;
use certgate_policy::ThumbprintSet;
use certgate_policy::{compile_route, CompileOptions, Plan};
use certgate_policy::{Deployment, SimpleContext};
use certgate_policy::{Fragments, Scope, ScopeDocument};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds")
}

fn compile_snippet(s: &str) -> Option<Plan> {
    let doc =
        ScopeDocument::from_inbound_snippet(Scope::Operation, Source::plain("seed.xml", s).ok()?)
            .ok()?;
    compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).ok()
}

fn bench_compile_seeds(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile_seed_document");
    let Ok(dir) = std::fs::read_dir(seeds_dir()) else {
        eprintln!(
            "compile_seed_document skipped: {} not found (../shared/seeds beside the checkout)",
            seeds_dir().display()
        );
        return;
    };
    let mut entries: Vec<_> = dir.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e
            .file_name()
            .to_string_lossy()
            .chars()
            .take(3)
            .collect::<String>();
        let text = std::fs::read_to_string(e.path()).expect("seed");
        // Compile every snippet of the document, as a configuration load would.
        let snippets: Vec<String> = certgate_policy::snippets::extract(&text)
            .into_iter()
            .filter(|s| compile_snippet(s).is_some())
            .collect();
        g.bench_function(format!("seed_{name}_{}_policies", snippets.len()), |b| {
            b.iter(|| {
                for s in &snippets {
                    black_box(compile_snippet(black_box(s)));
                }
            })
        });
    }
    g.finish();
}

const TYPICAL_INBOUND: &str = r#"<policies><inbound>
<choose>
  <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tenant") == "contoso")">
    <set-variable name="tier" value="gold"/>
  </when>
  <when condition="@(context.Request.Headers.GetValueOrDefault("X-Tenant") == "fabrikam")">
    <set-variable name="tier" value="silver"/>
  </when>
  <when condition="@(context.Request.Headers.ContainsKey("X-Partner-Id"))">
    <set-variable name="tier" value="bronze"/>
  </when>
  <otherwise><set-variable name="tier" value="none"/></otherwise>
</choose>
<set-header name="X-Gateway" exists-action="override"><value>certgate</value></set-header>
</inbound></policies>"#;

fn bench_typical_inbound(c: &mut Criterion) {
    let doc = ScopeDocument::parse(
        Scope::Operation,
        Source::plain("typical.xml", TYPICAL_INBOUND).unwrap(),
    )
    .unwrap();
    let plan = compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap();
    let mut g = c.benchmark_group("run_inbound");
    // The third condition matches: all three header conditions are evaluated.
    g.bench_function("choose_3_header_conditions_set_variable_set_header", |b| {
        b.iter_batched_ref(
            || {
                SimpleContext::new("GET", "/")
                    .with_header("X-Tenant", "other")
                    .with_header("X-Partner-Id", "42")
            },
            |ctx| black_box(plan.run_section(certgate_policy::Section::Inbound, ctx)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_validate_client_certificate(c: &mut Criterion) {
    let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
    let leaf = Arc::new(Certificate::from_x509(pki.valid.cert.clone()).unwrap());
    // Nine identities that do not match, the tenth does: every one is tried.
    let mut ids: String = (0..9).map(|i| format!(r#"<identity subject="CN=Client {i}" issuer-subject="CN=APIM Sample DEV Intermediate CA"/>"#)).collect();
    ids.push_str(r#"<identity subject="CN=Valid Client" issuer-subject="CN=APIM Sample DEV Intermediate CA"/>"#);
    let snippet = format!(
        r#"<validate-client-certificate validate-trust="false" validate-revocation="false"><identities>{ids}</identities></validate-client-certificate>"#
    );
    let plan = compile_snippet(&snippet).unwrap();
    let mut thumbs = String::new();
    for i in 0..9 {
        thumbs.push_str(&format!(r#"<identity thumbprint="{i:040X}"/>"#));
    }
    thumbs.push_str(&format!(
        r#"<identity thumbprint="{}"/>"#,
        leaf.thumbprint()
    ));
    let thumb_plan = compile_snippet(&format!(r#"<validate-client-certificate validate-trust="false" validate-revocation="false"><identities>{thumbs}</identities></validate-client-certificate>"#)).unwrap();
    let mut g = c.benchmark_group("validate_client_certificate_10_identities");
    for (name, plan) in [("subject_and_issuer", &plan), ("thumbprints", &thumb_plan)] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    let mut ctx = SimpleContext::new("GET", "/");
                    ctx.certificate = Some(leaf.clone());
                    ctx
                },
                |ctx| black_box(plan.run_section(certgate_policy::Section::Inbound, ctx)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn bench_thumbprint_sets(c: &mut Criterion) {
    let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
    let probe = Arc::new(Certificate::from_x509(pki.valid.cert.clone()).unwrap());
    let policy = r#"<choose><when condition="@(!context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))"><return-response><set-status code="403"/></return-response></when></choose>"#;
    let plan = compile_snippet(policy).unwrap();
    let mut g = c.benchmark_group("thumbprint_lookup");
    for size in [10usize, 10_000, 1_000_000] {
        let mut set = ThumbprintSet::with_capacity(size);
        for i in 0..size - 1 {
            set.insert(openssl::sha::sha1(&(i as u64).to_le_bytes()));
        }
        set.insert_hex(probe.thumbprint());
        eprintln!(
            "thumbprint set of {size}: {} heap bytes, {:.1} bytes per entry",
            set.heap_bytes(),
            set.heap_bytes() as f64 / size as f64
        );
        // Rotate over many keys: one repeated key would sit in L1 and flatter large sets.
        let present: Vec<[u8; 20]> = (0..4096u64)
            .map(|i| openssl::sha::sha1(&((i * 7919) % (size as u64 - 1)).to_le_bytes()))
            .collect();
        let absent: Vec<[u8; 20]> = (0..4096u64)
            .map(|i| openssl::sha::sha1(&(u64::MAX - i).to_le_bytes()))
            .collect();
        let present_hex: Vec<String> = present
            .iter()
            .map(|t| t.iter().map(|b| format!("{b:02X}")).collect())
            .collect();
        let mut i = 0usize;
        g.bench_function(format!("set_of_{size}_hit"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(set.contains(black_box(&present[i])))
            })
        });
        g.bench_function(format!("set_of_{size}_miss"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(set.contains(black_box(&absent[i])))
            })
        });
        g.bench_function(format!("set_of_{size}_hit_hex"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(set.contains_hex(black_box(&present_hex[i])))
            })
        });
    }
    // The policy form of the same lookup (seed 001): compiles to the set probe.
    let mut d = Deployment::new("bench", "gw", "local");
    d.add_certificate("probe", probe.clone());
    let d = Arc::new(d);
    g.bench_function("policy_certificates_any_thumbprint", |b| {
        b.iter_batched_ref(
            || {
                let mut ctx = SimpleContext::new("GET", "/");
                ctx.certificate = Some(probe.clone());
                ctx.deployment = d.clone();
                ctx
            },
            |ctx| black_box(run_pipeline(&plan, ctx, |_, _| Ok(()))),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Chain verification of a 3-level chain (leaf, DEV intermediate, root), with and without the
/// cache, for both key types; and validate-client-certificate with validate-trust on a cached
/// chain.
fn bench_chain_verification(c: &mut Criterion) {
    use certgate_policy::{SentChain, TrustStore};
    let mut g = c.benchmark_group("chain_verification");
    for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048] {
        let pki = DemoPki::generate(kind).unwrap();
        let trust = Arc::new(
            TrustStore::new(
                vec![pki.root.cert.clone()],
                vec![pki.dev_ca.cert.clone()],
                vec![],
            )
            .unwrap(),
        );
        let leaf = Arc::new(Certificate::from_x509(pki.valid.cert.clone()).unwrap());
        let none = SentChain::default();
        g.bench_function(format!("{}_uncached", kind.as_str()), |b| {
            b.iter(|| black_box(trust.verify_uncached(&leaf, &none, false).is_ok()))
        });
        assert!(trust.verify(&leaf, &none, false).is_ok());
        g.bench_function(format!("{}_cached", kind.as_str()), |b| {
            b.iter(|| black_box(trust.verify(&leaf, &none, false).is_ok()))
        });
        if kind == KeyKind::EcdsaP256 {
            // Issue 15: a cache hit with revocation checked against a CRL fetched from the
            // leaf's distribution point (the hit reads the CRLs' epoch, nothing more).
            let online = Arc::new(certgate_policy::OnlineCrls::default());
            let with_cdp = {
                let urls = ["http://127.0.0.1:9/dev.crl"];
                let mut name = certgate_policy::crypto::x509::X509NameBuilder::new().unwrap();
                name.append_entry_by_text("CN", "Online Client").unwrap();
                let mut spec = certgate_policy::pki::Spec::new(
                    name.build(),
                    certgate_policy::pki::Profile::Client,
                );
                spec.crl_urls = &urls;
                certgate_policy::pki::issue(kind, &spec, Some(&pki.dev_ca)).unwrap()
            };
            let root_crl = certgate_policy::pki::crl(&pki.root, &[], -1, 30).unwrap();
            let online_trust = TrustStore::new(
                vec![pki.root.cert.clone()],
                vec![pki.dev_ca.cert.clone()],
                vec![root_crl],
            )
            .unwrap()
            .with_online_crls(online.clone(), std::slice::from_ref(&pki.dev_ca.cert));
            let online_leaf = Certificate::from_x509(with_cdp.cert.clone()).unwrap();
            assert!(
                online_trust.verify(&online_leaf, &none, true).is_err(),
                "not fetched yet"
            );
            let dev_crl = certgate_policy::pki::crl(&pki.dev_ca, &[], -1, 30).unwrap();
            online
                .crl_for("http://127.0.0.1:9/dev.crl", &pki.dev_ca.cert)
                .unwrap()
                .take(dev_crl.to_der(), certgate_policy::Refresh::default())
                .unwrap();
            online.changed();
            assert!(online_trust.verify(&online_leaf, &none, true).is_ok());
            g.bench_function("ecdsa_p256_cached_online_revocation", |b| {
                b.iter(|| black_box(online_trust.verify(&online_leaf, &none, true).is_ok()))
            });
            let mut ids: String = (0..9).map(|i| format!(r#"<identity subject="CN=Client {i}" issuer-subject="CN=APIM Sample DEV Intermediate CA"/>"#)).collect();
            ids.push_str(r#"<identity subject="CN=Valid Client" issuer-subject="CN=APIM Sample DEV Intermediate CA"/>"#);
            let plan = compile_snippet(&format!(r#"<validate-client-certificate validate-trust="true" validate-revocation="false"><identities>{ids}</identities></validate-client-certificate>"#)).unwrap();
            g.bench_function(
                "validate_client_certificate_10_identities_trust_cached",
                |b| {
                    b.iter_batched_ref(
                        || {
                            let mut ctx = SimpleContext::new("GET", "/");
                            ctx.certificate = Some(leaf.clone());
                            ctx.trust = Some(trust.clone());
                            ctx
                        },
                        |ctx| black_box(plan.run_section(certgate_policy::Section::Inbound, ctx)),
                        BatchSize::SmallInput,
                    )
                },
            );
        }
    }
    g.finish();
}

/// An inbound section that reads what issue 13 added: a JSON body's member, a SOAP body's element
/// (System.Xml.Linq), a JWT's subject.
fn bench_expressions_over_request_data(c: &mut Criterion) {
    let plan_of = |inbound: &str| {
        let text =
            format!("<policies><inbound>{inbound}</inbound><backend /><outbound /></policies>");
        let doc =
            ScopeDocument::parse(Scope::Operation, Source::plain("e.xml", text).unwrap()).unwrap();
        compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap()
    };
    let json = plan_of(
        r#"<set-variable name="x" value="@((string)context.Request.Body.As<JObject>(preserveContent: true)["x"])" />"#,
    );
    let jwt = plan_of(
        r#"<set-variable name="sub" value="@(context.Request.Headers.GetValueOrDefault("Authorization", "").AsJwt()?.Subject)" />"#,
    );
    let xml = plan_of(
        r#"<set-variable name="symbol" value="@{ XNamespace q = &quot;urn:quotes&quot;; return context.Request.Body.As<XDocument>(preserveContent: true).Descendants(q + &quot;Symbol&quot;).First().Value; }" />"#,
    );
    // A 300-byte SOAP request.
    let soap = br#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body><GetQuote xmlns="urn:quotes"><Symbol>MSFT</Symbol><Currency>EUR</Currency><Detail>full</Detail></GetQuote></s:Body></s:Envelope>"#;
    // A 250-byte body and a typical RS256 token's header and claims (the signature unread).
    let body = br#"{"x":"value","id":12345,"items":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}],"customer":{"name":"Contoso","tier":"gold","region":"westeurope"},"note":"a typical small API request body for the benchmark"}"#;
    let token = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImtleS0xIn0.eyJpc3MiOiJodHRwczovL2xvZ2luLmV4YW1wbGUuY29tLyIsInN1YiI6ImJvYiIsImF1ZCI6ImFwaTovL3dlYXRoZXIiLCJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTY5OTk5NjQwMCwic2NwIjoicmVhZCB3cml0ZSJ9.c2lnbmF0dXJl";
    let mut g = c.benchmark_group("expressions");
    g.bench_function("json_body_member", |b| {
        b.iter_batched_ref(
            || {
                let mut ctx = SimpleContext::new("POST", "/");
                ctx.request_body = Some(body.to_vec());
                ctx
            },
            |ctx| black_box(json.run_section(certgate_policy::Section::Inbound, ctx)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("xml_body_member", |b| {
        b.iter_batched_ref(
            || {
                let mut ctx = SimpleContext::new("POST", "/");
                ctx.request_body = Some(soap.to_vec());
                ctx
            },
            |ctx| black_box(xml.run_section(certgate_policy::Section::Inbound, ctx)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("jwt_subject", |b| {
        b.iter_batched_ref(
            || SimpleContext::new("GET", "/").with_header("Authorization", token),
            |ctx| black_box(jwt.run_section(certgate_policy::Section::Inbound, ctx)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The token pattern's two halves as the plan runs them: a cache hit, and a `send-request`
/// whose response (canned, no network: the gateway's side is Pingora's pooled connector) is
/// read into a header.
fn bench_callouts(c: &mut Criterion) {
    let plan_of = |inbound: &str| {
        let text = format!("<policies><inbound>{inbound}</inbound></policies>");
        let doc =
            ScopeDocument::parse(Scope::Operation, Source::plain("c.xml", text).unwrap()).unwrap();
        compile_route(&[&doc], &Fragments::new(), &CompileOptions::default()).unwrap()
    };
    let lookup = plan_of(r#"<cache-lookup-value key="token" variable-name="token" />"#);
    let cache = Arc::new(certgate_policy::LocalCache::new(64 << 20));
    certgate_policy::CacheStore::set(
        &*cache,
        "token",
        certgate_policy::CachedValue::new(certgate_policy::Value::str(
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        ))
        .unwrap(),
        std::time::Duration::from_secs(3600),
    );
    let send = plan_of(
        r#"<send-request mode="new" response-variable-name="r" timeout="10"><set-url>https://login.example.com/oauth2/token</set-url><set-method>POST</set-method><set-header name="Content-Type" exists-action="override"><value>application/x-www-form-urlencoded</value></set-header><set-body>grant_type=client_credentials</set-body></send-request>
<set-header name="Authorization" exists-action="override"><value>@("Bearer " + (string)((IResponse)context.Variables["r"]).Body.As<JObject>()["access_token"])</value></set-header>"#,
    );
    let token = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}"#;
    let mut g = c.benchmark_group("callouts");
    g.bench_function("cache_lookup_value_hit", |b| {
        b.iter_batched_ref(
            || SimpleContext::new("GET", "/").with_cache(cache.clone()),
            |ctx| black_box(lookup.run_section(certgate_policy::Section::Inbound, ctx)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("send_request_plan_side", |b| {
        b.iter_batched_ref(
            || SimpleContext::new("GET", "/"),
            |ctx| {
                black_box(certgate_policy::run_pipeline_sending(
                    &send,
                    ctx,
                    |c, _| {
                        c.set_response_status(200, None);
                        Ok(())
                    },
                    |_| {
                        Ok(certgate_policy::SentResponse::new(
                            200,
                            "OK",
                            vec![("Content-Type".into(), "application/json".into())],
                            Arc::from(&token[..]),
                        ))
                    },
                ))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_callouts,
    bench_compile_seeds,
    bench_typical_inbound,
    bench_validate_client_certificate,
    bench_thumbprint_sets,
    bench_chain_verification,
    bench_expressions_over_request_data
);
criterion_main!(benches);
