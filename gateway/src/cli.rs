//! The `certgate` command line (SPEC §7): `check -c FILE`, `cert inspect FILE`,
//! `pki demo --out DIR`, `run -c FILE`.
//!
//! Commands return their output and exit code so they are testable without a process.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use certgate_policy::pki::{DemoPki, KeyKind};
use certgate_policy::Certificate;

use crate::config::{load, LoadOptions};

/// `certgate --version`: the crate version and the TLS library this binary links (the
/// `openssl` or `boringssl` build), which operators need when reading a TLS bug report.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            certgate_policy::crypto::version::version()
        )
    })
}

#[derive(Debug, Parser)]
#[command(
    name = "certgate",
    version = version(),
    about = "mTLS API gateway running Azure API Management policies",
    long_about = None
)]
/// The command line.
pub struct Cli {
    #[command(subcommand)]
    /// What to do.
    pub command: Command,
}

#[derive(Debug, Subcommand)]
/// The subcommands.
pub enum Command {
    /// Serve: TLS listeners, policies, backends, admin endpoints.
    Run {
        #[arg(short, long)]
        /// The configuration file.
        config: PathBuf,
        /// Take over the listening sockets of a running certgate (zero-downtime upgrade).
        #[arg(short, long)]
        upgrade: bool,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Seconds requests in flight may take to finish after SIGTERM.
        #[arg(long, default_value_t = 10)]
        drain_seconds: u64,
        /// Where the pid file and the upgrade socket go. Default: `$RUNTIME_DIRECTORY` (set by
        /// systemd's `RuntimeDirectory=`), else the configuration's directory.
        #[arg(long, env = "RUNTIME_DIRECTORY")]
        runtime_dir: Option<PathBuf>,
    },
    /// The demo backend of `make run` and the tests: HTTPS, requires a client certificate,
    /// echoes the request as JSON.
    #[command(hide = true)]
    DemoBackend {
        #[arg(long)]
        /// Address to listen on.
        listen: std::net::SocketAddr,
        #[arg(long)]
        /// Server certificate (PEM, with its chain).
        cert: PathBuf,
        #[arg(long)]
        /// Its private key (PEM).
        key: PathBuf,
        /// CA certificates that client certificates must chain to (repeatable).
        #[arg(long = "client-ca", required = true)]
        client_ca: Vec<PathBuf>,
    },
    /// Validate a configuration and compile every policy; print all errors, or the routes.
    Check {
        #[arg(short, long)]
        /// The configuration file.
        config: PathBuf,
    },
    /// Certificate tools.
    Cert {
        #[command(subcommand)]
        /// Which certificate tool.
        command: CertCommand,
    },
    /// Demo PKI tools.
    Pki {
        #[command(subcommand)]
        /// Which PKI tool.
        command: PkiCommand,
    },
}

#[derive(Debug, Subcommand)]
/// Certificate tools.
pub enum CertCommand {
    /// Show a certificate as a policy sees it (PEM, DER or .cer).
    Inspect {
        /// The certificate file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
/// Demo PKI tools.
pub enum PkiCommand {
    /// Write seed 003's demo certificate tree (root, DEV/TST intermediates, clients, server).
    Demo {
        #[arg(long)]
        /// Folder to write the certificates, keys, PFX files and CRLs into.
        out: PathBuf,
        /// rsa or ecdsa.
        #[arg(long, default_value = "ecdsa")]
        key: String,
        /// Password of the PFX files.
        #[arg(long, default_value = "certgate-demo")]
        pfx_password: String,
    },
}

/// What a command printed and its exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

fn ok(stdout: String) -> Outcome {
    Outcome {
        stdout,
        stderr: String::new(),
        code: 0,
    }
}

fn fail(stderr: String, code: i32) -> Outcome {
    Outcome {
        stdout: String::new(),
        stderr,
        code,
    }
}

/// Runs a command; what it printed and its exit code (`run` serves until stopped).
pub fn execute(cli: Cli) -> Outcome {
    match cli.command {
        Command::Run {
            config,
            upgrade,
            threads,
            drain_seconds,
            runtime_dir,
        } => match crate::server::run(
            &config,
            &crate::server::RunOptions {
                upgrade,
                threads,
                drain_seconds,
                runtime_dir,
            },
        ) {
            Ok(()) => ok(String::new()),
            Err(e) => fail(format!("{e}\n"), 1),
        },
        Command::DemoBackend {
            listen,
            cert,
            key,
            client_ca,
        } => match crate::demo_backend::run(listen, &cert, &key, &client_ca) {
            Ok(()) => ok(String::new()),
            Err(e) => fail(format!("{e}\n"), 1),
        },
        Command::Check { config } => match load(&config, &LoadOptions::default()) {
            Ok(s) => ok(s.summary()),
            Err(errors) => {
                let mut s: String = errors.iter().map(|e| format!("{e}\n")).collect();
                s.push_str(&format!(
                    "{} error(s); configuration not valid\n",
                    errors.len()
                ));
                fail(s, 1)
            }
        },
        Command::Cert {
            command: CertCommand::Inspect { file },
        } => inspect(&file),
        Command::Pki {
            command:
                PkiCommand::Demo {
                    out,
                    key,
                    pfx_password,
                },
        } => {
            let kind = match key.as_str() {
                "rsa" => KeyKind::Rsa2048,
                "ecdsa" => KeyKind::EcdsaP256,
                other => return fail(format!("--key {other}: expected rsa or ecdsa\n"), 2),
            };
            let pki = match DemoPki::generate(kind) {
                Ok(p) => p,
                Err(e) => return fail(format!("cannot generate the demo PKI: {e}\n"), 1),
            };
            match pki.write(&out, &pfx_password) {
                Ok(()) => ok(format!(
                    "demo PKI ({}) written to {}\n",
                    kind.as_str(),
                    out.display()
                )),
                Err(e) => fail(format!("cannot write {}: {e}\n", out.display()), 1),
            }
        }
    }
}

fn inspect(file: &PathBuf) -> Outcome {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}\n", file.display()), 1),
    };
    let parsed = Certificate::from_bytes(&bytes).or_else(|first| {
        // `.cer` base64 without markers.
        use base64::Engine;
        let clean: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|_| first.clone())
            .and_then(|der| Certificate::from_der(&der).map_err(|_| first))
    });
    match parsed {
        Ok(c) => {
            let mut s = c.to_dotnet_string();
            s.push_str(&format!(
                "\n[Signature Algorithm]\n  {} ({})\n",
                c.signature_algorithm_friendly_name(),
                c.signature_algorithm_oid()
            ));
            for e in c.extensions() {
                let name = if e.friendly_name.is_empty() {
                    e.oid.to_string()
                } else {
                    format!("{} ({})", e.friendly_name, e.oid)
                };
                s.push_str(&format!(
                    "\n[Extension] {name}{}\n  {}\n",
                    if e.critical { " critical" } else { "" },
                    e.formatted
                ));
            }
            ok(s)
        }
        Err(e) => fail(format!("{}: {e}\n", file.display()), 1),
    }
}
