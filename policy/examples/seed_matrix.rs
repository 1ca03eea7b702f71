//! `make run` (until the gateway lands): generates the demo PKI, compiles every policy snippet
//! of the seed documents as written, and prints what each demo client gets from each one.
//!
//! Usage: cargo run -p certgate-policy --example seed_matrix [SEEDS_DIR] [PKI_OUT_DIR]

use std::path::PathBuf;
use std::sync::Arc;

use certgate_policy::pki::{crl, DemoPki, Issued, KeyKind};
use certgate_policy::Certificate;
use certgate_policy::Source;
use certgate_policy::TrustStore;
use certgate_policy::{compile_route, CompileOptions};
use certgate_policy::{run_pipeline, PipelineResult};
use certgate_policy::{Deployment, SimpleContext};
use certgate_policy::{Fragments, Scope, ScopeDocument};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seeds = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/seeds"));
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("run/pki"));
    let pki = DemoPki::generate(KeyKind::EcdsaP256)?;
    pki.write(&out, "certgate-demo")?;
    println!(
        "demo PKI written to {} (PFX password: certgate-demo)\n",
        out.display()
    );

    let crls = vec![crl(&pki.root, &[], -1, 7)?, crl(&pki.dev_ca, &[], -1, 7)?];
    let trust = Arc::new(TrustStore::new(
        vec![pki.root.cert.clone()],
        vec![pki.dev_ca.cert.clone()],
        crls,
    )?);
    let mut deployment = Deployment::new("certgate-demo", "local", "local");
    deployment.add_certificate(
        "valid-client-client-certificate",
        Arc::new(Certificate::from_x509(pki.valid.cert.clone())?),
    );
    let deployment = Arc::new(deployment);
    let clients: [(&str, Option<&Issued>); 6] = [
        ("valid", Some(&pki.valid)),
        ("unregistered", Some(&pki.unregistered)),
        ("expired", Some(&pki.expired)),
        ("not-yet-valid", Some(&pki.not_yet_valid)),
        ("untrusted", Some(&pki.untrusted)),
        ("none", None),
    ];
    print!("{:<58}", "seed policy (as written)");
    for (name, _) in &clients {
        print!("{name:>15}");
    }
    println!();
    let mut files: Vec<_> = std::fs::read_dir(&seeds)?.filter_map(|e| e.ok()).collect();
    files.sort_by_key(|e| e.file_name());
    for f in files {
        let text = std::fs::read_to_string(f.path())?;
        let seed: String = f.file_name().to_string_lossy().chars().take(3).collect();
        let snippets = certgate_policy::snippets::extract(&text);
        // Seed 003 shows its set-variable variants and the <choose> that reads the variable
        // separately; they run together. Its lone <identity> runs inside the blog's policy.
        let reader = snippets
            .iter()
            .find(|s| s.starts_with("<choose>") && s.contains("certificateValidationResult"))
            .cloned();
        for snippet in snippets {
            if reader.as_deref() == Some(snippet.as_str()) {
                continue;
            }
            let snippet = match (&reader, snippet.starts_with("<identity")) {
                (_, true) => format!(
                    r#"<validate-client-certificate validate-trust="false" validate-revocation="false"><identities>{snippet}</identities></validate-client-certificate>"#
                ),
                (Some(r), false) if snippet.contains("name=\"certificateValidationResult\"") => {
                    format!("{snippet}\n{r}")
                }
                _ => snippet,
            };
            let label = format!(
                "{seed}: {}",
                snippet.lines().map(str::trim).collect::<Vec<_>>().join(" ")
            );
            let label: String = label.chars().take(56).collect();
            let plan = ScopeDocument::from_inbound_snippet(
                Scope::Operation,
                Source::plain("seed", snippet.as_str())?,
            )
            .and_then(|d| compile_route(&[&d], &Fragments::new(), &CompileOptions::default()));
            print!("{label:<58}");
            let plan = match plan {
                Ok(p) => p,
                Err(e) => {
                    println!("  compile error: {}", e.message);
                    continue;
                }
            };
            for (_, issued) in &clients {
                let mut ctx = SimpleContext::new("GET", "/");
                ctx.trust = Some(trust.clone());
                ctx.deployment = deployment.clone();
                ctx.certificate = issued
                    .map(|i| Certificate::from_x509(i.cert.clone()))
                    .transpose()?
                    .map(Arc::new);
                let cell = match run_pipeline(&plan, &mut ctx, |_, _| Ok(())) {
                    PipelineResult::Proxied => "pass".to_string(),
                    _ => match &ctx.state.last_error {
                        Some(e) => format!(
                            "{} {}",
                            ctx.status,
                            e.reason.trim_start_matches("ClientCertificate")
                        ),
                        None => ctx.status.to_string(),
                    },
                };
                print!("{:>15}", cell.chars().take(14).collect::<String>());
            }
            println!();
        }
    }
    println!("\nThe gateway (TLS, routing, backends) arrives with its own issue; `make test` runs the policy suite.");
    Ok(())
}
