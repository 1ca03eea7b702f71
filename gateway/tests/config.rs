//! Configuration loading: the example configuration compiles with the demo PKI; malformed
//! configurations are reported at file:line:column with what was expected; `certgate check`
//! prints every error; secrets never show.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use certgate::{execute, CertCommand, Cli, Command, PkiCommand};
use certgate::{load, ConfigError, LoadOptions};
use certgate_policy::pki::{DemoPki, KeyKind};

/// The example configuration with a demo PKI beside it, made once per test binary.
fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        common::copy_dir(&common::examples(), d.path());
        DemoPki::generate(KeyKind::EcdsaP256)
            .unwrap()
            .write(&d.path().join("pki"), "certgate-demo")
            .unwrap();
        d
    })
    .path()
}

#[test]
fn example_configuration_compiles() {
    let snap = load(&demo_dir().join("certgate.yaml"), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(snap.listeners.len(), 2);
    let tls = &snap.listeners[0];
    assert_eq!(tls.hostnames.len(), 3);
    assert!(tls.hostname(Some("partner.certgate.test")).unwrap().strict);
    assert!(tls.hostname(None).unwrap().negotiate_client_certificate);
    assert!(
        !tls.hostname(Some("PLAIN.certgate.test"))
            .unwrap()
            .negotiate_client_certificate
    );
    assert_eq!(
        tls.hostname(Some("unknown.test")).unwrap().host,
        "api.certgate.test"
    );
    assert_eq!(snap.router.apis().len(), 5);
    assert!(snap.backends["demo"].client_certificate.as_deref() == Some("backend-client"));
    assert_eq!(snap.deployment.certificates().len(), 2);
    let m = snap
        .router
        .route("api.certgate.test", "GET", "/validate/weather/Oslo")
        .unwrap();
    assert_eq!(m.params, vec![("city".to_string(), "Oslo".to_string())]);
    assert!(snap
        .files
        .iter()
        .any(|f| f.ends_with("policies/validate.xml")));
    let summary = snap.summary();
    assert!(
        summary
            .contains("route * GET /validate/weather/{city} -> api validate operation get-weather"),
        "{summary}"
    );
    // The secret named value (the PFX password "certgate-demo") appears neither in the
    // summary nor in Debug output; the service name "certgate-demo" is not printed either.
    assert!(!summary.contains("certgate-demo"), "{summary}");
    assert!(!format!("{:?}", snap.named_values).contains("certgate-demo"));
    assert!(format!("{:?}", snap.named_values).contains("pfx-password"));
}

/// The value cache survives a reload with the same bound, and starts empty with a new one.
#[test]
fn the_value_cache_is_kept_across_reloads_unless_its_bound_changes() {
    let cfg = demo_dir().join("certgate.yaml");
    let first = load(&cfg, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(first.value_cache.max_bytes(), 64 << 20, "the default bound");
    let again = |previous| {
        let opts = LoadOptions {
            value_cache: Some(previous),
            ..LoadOptions::default()
        };
        load(&cfg, &opts).unwrap_or_else(|e| panic!("{e:?}"))
    };
    let kept = again(first.value_cache.clone());
    assert!(std::sync::Arc::ptr_eq(
        &first.value_cache,
        &kept.value_cache
    ));
    let other = std::sync::Arc::new(certgate_policy::LocalCache::new(1024));
    let renewed = again(other.clone());
    assert!(!std::sync::Arc::ptr_eq(&other, &renewed.value_cache));
    assert_eq!(renewed.value_cache.max_bytes(), 64 << 20);
}

/// Writes `yaml` as a configuration beside the demo PKI and loads it.
fn errors_of(yaml: &str) -> Vec<ConfigError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = demo_dir().join(format!("bad-{n}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    match load(&path, &LoadOptions::default()) {
        Ok(_) => panic!("configuration should not load:\n{yaml}"),
        Err(e) => e,
    }
}

#[track_caller]
fn expect(yaml: &str, line: u64, col: u64, needle: &str) {
    let errors = errors_of(yaml);

    let found = errors
        .iter()
        .any(|e| e.line == line && e.column == col && e.message.contains(needle));
    assert!(
        found,
        "expected {line}:{col} {needle:?} in:\n{}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn malformed_configurations_are_located() {
    // YAML and schema.
    expect("listeners: [\n", 1, 12, "unclosed bracket");
    expect(
        "listenrs: []\n",
        1,
        1,
        "unknown field `listenrs`, expected one of listeners",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: maybe\n",
        3,
        10,
        "invalid boolean",
    );
    expect("apis:\n  - name: a\n", 2, 5, "missing field `path`");
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    read-buffer-bytes: 10\n",
        4,
        24,
        "read-buffer-bytes 10: expected 1024 to 1048576",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    min-tls-version: \"1.1\"\n",
        4,
        22,
        "min-tls-version '1.1': expected \"1.2\" or \"1.3\"",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    key-exchange-groups: [X25519, Curve0]\n",
        4,
        26,
        "'Curve0' is not a key-exchange group this build's TLS library supports",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    key-exchange-groups: [\"X25519:P-256\"]\n",
        4,
        26,
        "'X25519:P-256' is not a group name",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    key-exchange-groups: []\n",
        4,
        26,
        "the list is empty",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    tls13-cipher-suites: [TLS_AES_128_GCM_SHA256, ECDHE-RSA-AES128-GCM-SHA256]\n",
        4,
        26,
        "'ECDHE-RSA-AES128-GCM-SHA256' is not a TLS 1.3 cipher suite",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    tls13-cipher-suites: [TLS_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n",
        4,
        26,
        "'TLS_AES_128_GCM_SHA256' is listed twice",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\n    tls13-cipher-suites: []\n",
        4,
        26,
        "tls13-cipher-suites: the list is empty",
    );
    // Addresses, hosts and listeners.
    expect(
        "listeners:\n  - address: localhost\n    tls: false\n",
        2,
        14,
        "not an address",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n",
        2,
        14,
        "needs at least one hostname",
    );
    expect("listeners:\n  - address: 127.0.0.1:1\n    tls: false\n  - address: 127.0.0.1:1\n    tls: false\n", 4, 14, "two listeners");
    expect("listeners:\n  - address: 127.0.0.1:1\n    hostnames:\n      - host: a.test\n        certificate: { pem: pki/nope.pem, key: pki/server.key.pem }\n", 5, 29, "cannot read");
    expect("listeners:\n  - address: 127.0.0.1:1\n    hostnames:\n      - host: a.test\n        certificate: { pem: pki/server.pem, key: pki/backend-client.key.pem }\n", 5, 29, "does not belong");
    expect("listeners:\n  - address: 127.0.0.1:1\n    hostnames:\n      - host: a.test\n        certificate: { pfx: pki/server.pfx, password: wrong }\n", 5, 29, "wrong password");
    expect("listeners:\n  - address: 127.0.0.1:1\n    hostnames:\n      - host: a.test\n        certificate: { pem: pki/server.chain.pem, key: pki/server.key.pem }\n        ocsp-stapling: true\n", 4, 15, "names no OCSP responder");
    expect("admin:\n  address: 9901\n", 2, 12, "not an address");
    // The admin server on a listener's socket would share it (Pingora keys sockets by address):
    // each would answer some of the other's connections.
    expect(
        "listeners:\n  - address: 127.0.0.1:1\n    tls: false\nadmin:\n  address: 127.0.0.1:1\n",
        5,
        12,
        "the admin address 127.0.0.1:1 takes the socket of the listener on 127.0.0.1:1",
    );
    expect(
        "listeners:\n  - address: 0.0.0.0:1\n    tls: false\nadmin:\n  address: 127.0.0.1:1\n",
        5,
        12,
        "takes the socket of the listener on 0.0.0.0:1",
    );
    expect(
        "listeners:\n  - address: 127.0.0.1:9901\n    tls: false\n",
        2,
        14,
        "127.0.0.1:9901 is the admin address when `admin` is not set",
    );
    expect("listeners:\n  - address: 127.0.0.1:1\n    tls: false\n  - address: \"[::]:1\"\n    tls: false\n", 4, 14, "[::]:1 overlaps the listener on 127.0.0.1:1");
    // Certificates and trust.
    expect(
        "certificates:\n  - id: x\n    file: certgate.yaml\n",
        3,
        11,
        "is not a certificate",
    );
    expect("certificates:\n  - id: x\n    file: pki/root-ca.pem\n  - id: x\n    file: pki/root-ca.pem\n", 4, 9, "defined twice");
    expect("certificates:\n  - id: x\n", 2, 9, "needs exactly one of");
    expect("ca-certificates:\n  - file: pki/root-ca.pem\n    store: Root\n    crls: [pki/root-ca.pem]\n", 4, 12, "is not a CRL");
    expect(
        "ca-certificates:\n  - file: pki/root-ca.pem\n    store: Intermediate\n",
        3,
        12,
        "unknown variant `Intermediate`, expected one of Root, CertificateAuthority",
    );
    // Named values.
    expect(
        "named-values:\n  - name: a\n    env: CERTGATE_SURELY_UNSET_VARIABLE\n",
        3,
        10,
        "is not set",
    );
    expect(
        "named-values:\n  - name: a b\n    value: x\n",
        2,
        11,
        "may only hold",
    );
    expect(
        "named-values:\n  - name: a\n    value: x\n    file: y\n",
        2,
        11,
        "exactly one of value, env and file",
    );
    // Backends.
    expect(
        "backends:\n  - id: b\n    url: ftp://x\n",
        3,
        10,
        "not an http:// or https:// URL",
    );
    expect("certificates:\n  - id: pub\n    file: pki/root-ca.pem\nbackends:\n  - id: b\n    url: https://x\n    credentials:\n      certificate-ids: [pub]\n", 8, 25, "has no private key");
    expect("backends:\n  - id: b\n    url: https://x\n    credentials:\n      certificate-ids: [missing]\n", 5, 25, "unknown certificate id");
    expect(
        "backends:\n  - id: b\n    url: https://x\n    timeouts: { connect: soon }\n",
        4,
        26,
        "not a duration",
    );
    // APIs, operations, policies.
    expect(
        "apis:\n  - name: a\n    path: /a\n    backend: nowhere\n",
        4,
        14,
        "unknown backend",
    );
    expect("apis:\n  - name: a\n    path: /a\n    operations:\n      - { name: o, method: GET, url-template: \"x{id}\" }\n", 5, 47, "URL template");
    expect("apis:\n  - name: a\n    path: /a\n    operations:\n      - { name: o, method: \"G T\", url-template: / }\n", 5, 28, "not an HTTP method");
    expect(
        "apis:\n  - name: a\n    path: a\n",
        3,
        11,
        "must start with '/'",
    );
    expect(
        "products:\n  - name: p\n    apis: [ghost]\n",
        3,
        12,
        "unknown API",
    );
    expect(
        "cache: { max-bytes: 0 }\n",
        1,
        21,
        "0: expected 1 to 1099511627776",
    );
    expect(
        "expression-limits: { max-response-body-bytes: 0 }\n",
        1,
        47,
        "0: expected 1 to 4294967296",
    );
    expect("cache: { size: 1 }\n", 1, 10, "unknown field `size`");
    expect(
        "managed-identity: { source: magic }\n",
        1,
        29,
        "source 'magic': expected auto, imds, app-service, workload-identity or client-secret",
    );
    expect(
        "managed-identity: { source: client-secret, client-id: a }\n",
        1,
        29,
        "source client-secret needs client-id, tenant-id and client-secret",
    );
    expect("redis: { url: \"http://x\" }\n", 1, 15, "redis url:");
    expect("trust: { crl-refresh: never }\n", 1, 23, "not a duration");
    expect(
        "redis: { url: \"redis+unix:///run/redis.sock\" }\n",
        1,
        15,
        "Unix sockets are not supported",
    );
    expect(
        "redis: { url: \"redis://127.0.0.1:6380\", tls: { server-name: r } }\n",
        1,
        15,
        "a `tls` section needs a rediss:// url",
    );
    expect(
        "redis: { url: \"rediss://127.0.0.1:6380\", tls: { certificate-id: nope } }\n",
        1,
        65,
        "unknown certificate id 'nope'",
    );
    expect(
        "redis: { url: \"redis://127.0.0.1:6379\", on-failure: { quota: maybe } }\n",
        1,
        62,
        "on-failure 'maybe': expected allow or refuse",
    );
    expect(
        "redis: { url: \"redis://127.0.0.1:6379\", connections: 0 }\n",
        1,
        54,
        "connections: 0 is not between 1 and 64",
    );
    expect(
        "trust: { revocation-wait: 31s }\n",
        1,
        27,
        "between 0s and 30s",
    );
    expect(
        "redis: { url: \"redis://127.0.0.1:6379\", command-timeout: forever }\n",
        1,
        58,
        "not a duration",
    );
    expect(
        "redis: { url: \"redis://127.0.0.1:6379\", password: \"{{nope}}\" }\n",
        1,
        51,
        "unknown named value 'nope'",
    );
    expect(
        "trusted-proxies: [10.0.0.0/33]\n",
        1,
        19,
        "not an IP address or CIDR",
    );
    expect(
        "trusted-proxies: [127.0.0.1/32]\nforwarded-certificate: { header: \"X Client\", encoding: url-pem }\n",
        2,
        34,
        "'X Client' is not a valid header name",
    );
}

#[test]
fn policy_errors_point_into_the_policy_file() {
    let dir = demo_dir();
    std::fs::write(dir.join("policies/broken.xml"), "<policies>\n  <inbound>\n    <set-header name=\"x\" exist-action=\"skip\"><value>1</value></set-header>\n  </inbound>\n</policies>\n").unwrap();
    std::fs::write(dir.join("policies/bad-expr.xml"), "<policies><inbound>\n<set-variable name=\"v\" value=\"@(context.Request.Nope)\"/>\n</inbound></policies>\n").unwrap();
    let errors = errors_of("listeners:\n  - address: 127.0.0.1:1\n    tls: false\napis:\n  - name: a\n    path: /a\n    policy: policies/broken.xml\n  - name: b\n    path: /b\n    policy: policies/bad-expr.xml\n  - name: c\n    path: /c\n    policy: policies/missing.xml\n");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{text:?}");
    assert!(text[0].ends_with("policies/broken.xml:3:26: unknown-attribute error: unknown attribute 'exist-action' on <set-header>; expected name, exists-action"), "{}", text[0]);
    assert!(text[1].contains("policies/bad-expr.xml:2:49: expression-type error: 'IRequest' does not contain a definition for 'Nope'"), "{}", text[1]);
    assert!(text[2].contains(":13:13: cannot read"), "{}", text[2]);
}

#[test]
fn check_prints_every_error_and_redacts_secrets() {
    let dir = demo_dir();
    let path = dir.join("check-bad.yaml");
    std::fs::write(&path, "named-values:\n  - name: secret-key\n    value: hunter2-very-secret\n    secret: true\n  - name: pw\n    value: x\nlisteners:\n  - address: nowhere\n    tls: false\nbackends:\n  - id: b\n    url: gopher://hunter2-very-secret\n").unwrap();
    let out = execute(Cli {
        command: Command::Check { config: path },
    });
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(":8:14: 'nowhere' is not an address"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(":12:10: '"), "{}", out.stderr);
    assert!(out.stderr.contains("2 error(s)"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    let ok = execute(Cli {
        command: Command::Check {
            config: dir.join("certgate.yaml"),
        },
    });
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("listener 127.0.0.1:8443 tls api.certgate.test (client certificate), plain.certgate.test"), "{}", ok.stdout);
    assert!(!ok.stdout.contains("certgate-demo\n"));
}

#[test]
fn cert_inspect_and_pki_demo() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = execute(Cli {
        command: Command::Pki {
            command: PkiCommand::Demo {
                out: out_dir.path().into(),
                key: "rsa".into(),
                pfx_password: "pw".into(),
            },
        },
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    for stem in [
        "root-ca",
        "dev-valid-client",
        "tst-untrusted-client",
        "server",
        "backend-client",
    ] {
        for ext in ["pem", "der", "cer", "key.pem", "pfx", "thumbprint"] {
            assert!(
                out_dir.path().join(format!("{stem}.{ext}")).exists(),
                "{stem}.{ext}"
            );
        }
    }
    for file in [
        "dev-multi-rdn-client.pem",
        "dev-multi-rdn-client.cer",
        "dev-multi-rdn-client.der",
    ] {
        let out = execute(Cli {
            command: Command::Cert {
                command: CertCommand::Inspect {
                    file: out_dir.path().join(file),
                },
            },
        });
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.starts_with("[Subject]\n  CN=Multi RDN Client, OU=Partner APIs, O=\"Contoso, Inc.\", S=WA, C=US\n"), "{}", out.stdout);
        assert!(
            out.stdout
                .contains("[Signature Algorithm]\n  sha256RSA (1.2.840.113549.1.1.11)"),
            "{}",
            out.stdout
        );
    }
    let out = execute(Cli {
        command: Command::Cert {
            command: CertCommand::Inspect {
                file: out_dir.path().join("dev-multi-san-client.pem"),
            },
        },
    });
    assert!(
        out.stdout.contains(
            "DNS Name=client.example.test, DNS Name=alt.example.test, IP Address=127.0.0.1"
        ),
        "{}",
        out.stdout
    );
    let out = execute(Cli {
        command: Command::Cert {
            command: CertCommand::Inspect {
                file: out_dir.path().join("root-ca.thumbprint"),
            },
        },
    });
    assert_eq!(out.code, 1);
    let out = execute(Cli {
        command: Command::Pki {
            command: PkiCommand::Demo {
                out: out_dir.path().into(),
                key: "dsa".into(),
                pfx_password: "pw".into(),
            },
        },
    });
    assert_eq!(out.code, 2);
}

/// The binary names the TLS library it links, and it is the one the build asked for: a
/// `--features boringssl` build must not quietly run on OpenSSL (or link both).
#[test]
fn version_names_the_tls_library_of_this_build() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certgate"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let (want, not) = if cfg!(feature = "boringssl") {
        ("BoringSSL", "OpenSSL")
    } else {
        ("OpenSSL", "BoringSSL")
    };
    assert!(
        text.starts_with("certgate 0.") && text.contains(want),
        "{text}"
    );
    assert!(!text.contains(not), "{text}");
}
