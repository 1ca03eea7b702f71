//! End to end: the real `certgate` binary (gateway and demo backend) on 127.0.0.1 with the
//! example configuration and a freshly generated demo PKI, driven by curl (a real HTTP/1.1 and
//! HTTP/2 client with client certificates). Each test starts its own processes on free ports
//! and stops them when it ends.

mod common;
mod demo;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use demo::*;

const CLIENTS: [&str; 6] = [
    "dev-valid-client",
    "dev-unregistered-client",
    "dev-expired-client",
    "dev-not-yet-valid-client",
    "tst-untrusted-client",
    "",
];

#[test]
fn every_seed_scenario_for_every_client() {
    let d = Demo::start();
    // (route, expected per client in CLIENTS order: status and X-Error-Reason or validation result)
    let cases: [(&str, [(u16, &str); 6]); 5] = [
        (
            "/validate/weather/Oslo",
            [
                (200, ""),
                (401, "clientcertificateidentitynotmatched"),
                (401, "clientcertificateexpired"),
                (401, "clientcertificatenotyetvalid"),
                (401, "clientcertificatenottrusted"),
                (401, "clientcertificatenotfound"),
            ],
        ),
        (
            "/thumbprint/x",
            [
                (200, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
            ],
        ),
        (
            "/issuer-subject/x",
            [
                (200, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
            ],
        ),
        (
            "/uploaded/x",
            [
                (200, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
                (403, ""),
            ],
        ),
        (
            "/context/x",
            [
                (200, ""),
                (200, ""),
                (401, "clientcertificateexpired"),
                (401, "clientcertificatenotyetvalid"),
                (401, "clientcertificatenottrusted"),
                (401, "clientcertificatenotfound"),
            ],
        ),
    ];
    for (route, expected) in cases {
        for (client, (status, reason)) in CLIENTS.iter().zip(expected) {
            let c = (!client.is_empty()).then_some(*client);
            let (got, head, body) = d.curl(API, route, c, &[]);
            assert_eq!(got, status, "{route} {client}: {head}{body}");
            let seen = header(&head, "x-error-reason")
                .or_else(|| header(&head, "x-validation-result"))
                .unwrap_or("");
            assert_eq!(seen, reason, "{route} {client}: {head}");
            if status == 200 {
                assert_eq!(header(&head, "x-backend"), Some("demo"), "{route} {client}");
            }
            if status == 403 {
                assert!(
                    head.starts_with("http/2 403")
                        || head.contains(" 403 invalid client certificate"),
                    "{head}"
                );
            }
        }
    }
    // Default error bodies: missing vs. invalid certificate.
    let (_, _, body) = d.curl(API, "/validate/weather/Oslo", None, &[]);
    assert_eq!(
        body,
        r#"{"statusCode":401,"message":"Client certificate missing"}"#
    );
    let (_, _, body) = d.curl(
        API,
        "/validate/weather/Oslo",
        Some("dev-expired-client"),
        &[],
    );
    assert_eq!(
        body,
        r#"{"statusCode":401,"message":"Invalid client certificate"}"#
    );
    // The reason phrase set by return-response, over HTTP/1.1.
    let (_, head, _) = d.curl(
        API,
        "/thumbprint/x",
        Some("dev-unregistered-client"),
        &["--http1.1"],
    );
    assert!(
        head.starts_with("http/1.1 403 invalid client certificate"),
        "{head}"
    );
    // Unknown route.
    let (status, _, body) = d.curl(API, "/nowhere", Some("dev-valid-client"), &[]);
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"statusCode":404,"message":"Resource not found"}"#)
    );
}

#[test]
fn backend_mtls_http2_and_negotiation_per_hostname() {
    // HTTP/2 is off unless configured (APIM's default; HTTP/2 carries no reason phrase).
    let d = Demo::start_with(|y| {
        y.replacen("    hostnames:\n", "    http2: true\n    hostnames:\n", 1)
    });
    // HTTP/2 with a client certificate; the backend saw the gateway's own client certificate,
    // the matched parameter, the backend credential header, and the query string.
    let (status, head, body) = d.curl(
        API,
        "/validate/weather/Bergen?units=metric",
        Some("dev-valid-client"),
        &["--http2"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert!(head.starts_with("http/2 200"), "{head}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["client_certificate"], "CN=Unprotected API");
    assert_eq!(echo["request"], "GET /weather/Bergen?units=metric HTTP/1.1");
    let headers = echo["headers"].as_array().unwrap();
    let has = |k: &str, v: &str| {
        headers
            .iter()
            .any(|h| h[0].as_str().is_some_and(|x| x.eq_ignore_ascii_case(k)) && h[1] == v)
    };
    assert!(
        has("x-city", "Bergen") && has("x-gateway", "certgate"),
        "{body}"
    );
    // Same port, the other hostname does not ask for a client certificate: the policy sees none
    // even though curl has one to offer.
    let (status, head, _) = d.curl(
        "plain.certgate.test",
        "/validate/weather/Oslo",
        Some("dev-valid-client"),
        &[],
    );
    assert_eq!(status, 401);
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificatenotfound")
    );
    // The demo backend refuses a client without a certificate (what the gateway relies on).
    let backend = std::fs::read_to_string(d.dir.path().join("certgate.yaml")).unwrap();
    let port = backend
        .split("url: https://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "--cacert",
            &d.pki("backend-root-ca.pem"),
            &format!("https://localhost:{port}/"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "000",
        "the backend must refuse clients without a certificate"
    );
}

#[test]
fn forwarded_certificates_only_from_trusted_proxies() {
    let d = Demo::start();
    let pem = std::fs::read(d.pki("dev-valid-client.pem")).unwrap();
    let escaped =
        percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let plain = |from: &str, header: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-D",
                "-",
                "--max-time",
                "10",
                "--interface",
                from,
                "-H",
                header,
                "-H",
                "Client-Cert: :c3Bvb2Zl:",
            ])
            .arg(format!(
                "http://127.0.0.1:{}/validate/weather/Oslo",
                d.plain
            ))
            .output()
            .unwrap();
        parse(out.stdout)
    };
    // From the trusted proxy (127.0.0.1/32): the header is the client certificate.
    let (status, head, body) = plain("127.0.0.1", &format!("X-ARR-ClientCert: {escaped}"));
    assert_eq!(status, 200, "{head}{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    let headers = echo["headers"].as_array().unwrap();
    // The backend gets the verified certificate as RFC 9440 Client-Cert, not the client's copy;
    // the trusted proxy's header stays as the proxy sent it (policies may read it).
    let client_cert: Vec<&str> = headers
        .iter()
        .filter(|h| {
            h[0].as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("client-cert"))
        })
        .filter_map(|h| h[1].as_str())
        .collect();
    assert_eq!(client_cert.len(), 1, "{body}");
    assert_ne!(client_cert[0], ":c3Bvb2Zl:");
    assert!(
        body.to_ascii_lowercase().contains("x-arr-clientcert"),
        "{body}"
    );
    // From anyone else (127.0.0.2 is loopback too, but not trusted): stripped, no certificate.
    let (status, head, _) = plain("127.0.0.2", &format!("X-ARR-ClientCert: {escaped}"));
    assert_eq!(status, 401);
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificatenotfound")
    );
    // Garbage from the trusted proxy: 400, not a missing certificate.
    let (status, _, body) = plain(
        "127.0.0.1",
        "X-ARR-ClientCert: -----BEGIN%20CERTIFICATE-----garbage",
    );
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            r#"{"statusCode":400,"message":"Invalid forwarded client certificate"}"#
        )
    );
}

#[test]
fn reload_keeps_serving_on_bad_config_and_applies_good_ones() {
    let d = Demo::start();
    let cfg = d.dir.path().join("certgate.yaml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let gen = |d: &Demo| d.admin("GET", "/readyz").2;
    let before = gen(&d);
    // An invalid configuration: rejected with its error, old one keeps serving.
    std::fs::write(&cfg, good.replace("path: /validate", "path: validate")).unwrap();
    let (status, _, body) = d.admin("POST", "/admin/reload");
    assert_eq!(status, 500);
    assert!(body.contains("must start with '/'"), "{body}");
    assert_eq!(gen(&d), before);
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    // A valid change: a new API path is live after the reload.
    std::fs::write(&cfg, good.replace("path: /validate", "path: /checked")).unwrap();
    let (status, _, body) = d.admin("POST", "/admin/reload");
    assert_eq!(status, 200, "{body}");
    assert_ne!(gen(&d), before);
    assert_eq!(
        d.curl(API, "/checked/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        404
    );
    // Same certificate again in this generation: the chain verification is a cache hit.
    assert_eq!(
        d.curl(API, "/checked/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    let (_, _, metrics) = d.admin("GET", "/metrics");
    assert!(
        metrics.contains("certgate_config_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("certgate_config_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    let hits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("certgate_verification_cache_hits_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(hits > 0, "{metrics}");
    // The API kept its name across the reload (only its path changed): three 200s, one 404.
    assert!(
        metrics.contains(
            "certgate_requests_total{api=\"validate\",operation=\"get-weather\",status=\"200\"} 3"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("certgate_requests_total{api=\"\",operation=\"\",status=\"404\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("certgate_client_certificate_validations_total{reason=\"Valid\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("certgate_tls_handshakes_total{client_certificate=\"presented\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("certgate_request_duration_seconds_bucket{api=\"validate\""),
        "{metrics}"
    );
    // Health endpoints.
    assert_eq!(d.admin("GET", "/healthz").0, 200);
    assert_eq!(d.admin("GET", "/nope").0, 404);
    let _ = d.plain;
}

#[test]
fn strict_hostname_rejects_in_the_handshake() {
    let d = Demo::start();
    let strict = "partner.certgate.test";
    let (status, _, body) = d.curl(
        strict,
        "/validate/weather/Oslo",
        Some("dev-valid-client"),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    for client in [
        None,
        Some("tst-untrusted-client"),
        Some("dev-expired-client"),
    ] {
        let (status, head, _) = d.curl(strict, "/validate/weather/Oslo", client, &[]);
        assert_eq!(
            status, 0,
            "{client:?} must not complete the handshake: {head}"
        );
    }
    // Refusals are counted by reason; every refused handshake shows as started - completed.
    let (_, _, metrics) = d.admin("GET", "/metrics");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(
        value("certgate_tls_handshake_failures_total{reason=\"client_certificate_untrusted\"}")
            >= 1.0,
        "{metrics}"
    );
    assert!(
        value("certgate_tls_handshake_failures_total{reason=\"client_certificate_expired\"}")
            >= 1.0,
        "{metrics}"
    );
    assert!(
        value("certgate_tls_handshakes_started_total")
            >= value("certgate_tls_handshakes_total") + 3.0,
        "{metrics}"
    );
    // The gateway keeps serving others meanwhile.
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
}

#[test]
fn resumed_sessions_keep_the_client_certificate() {
    let d = Demo::start();
    let sess = d.dir.path().join("session.pem");
    let request = "GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let s_client = |with_cert: bool, sess_arg: &str| {
        let sess = sess.to_str().unwrap();
        let cert = d.pki("dev-valid-client.pem");
        let key = d.pki("dev-valid-client.key.pem");
        let mut args = vec![sess_arg, sess];
        if with_cert {
            args.extend(["-cert", &cert, "-key", &key]);
        }
        d.s_client(&args, request.as_bytes())
    };
    let first = s_client(true, "-sess_out");
    assert!(first.contains("HTTP/1.1 200 OK"), "{first}");
    // No certificate this time: the resumed session carries it.
    let second = s_client(false, "-sess_in");
    assert!(second.contains("Reused, TLSv1.3"), "{second}");
    assert!(second.contains("HTTP/1.1 200 OK"), "{second}");
}

/// Session tickets as OpenSSL (and so nginx and HAProxy) hands them out: two after a full
/// handshake, one after a resumption (the client used one). BoringSSL's own rule is two each
/// time; certgate's ticket callback declines the second. The one ticket resumes in turn.
#[test]
fn a_resumption_gets_one_new_ticket() {
    let d = Demo::start();
    let (cert, key) = (
        d.pki("dev-valid-client.pem"),
        d.pki("dev-valid-client.key.pem"),
    );
    let request = b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let tickets = |out: &str| out.matches(", NewSessionTicket").count();
    let (one, two) = (d.dir.path().join("one.pem"), d.dir.path().join("two.pem"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    let full = d.s_client(
        &["-msg", "-sess_out", one, "-cert", &cert, "-key", &key],
        request,
    );
    assert!(full.contains("New, TLSv1.3"), "{full}");
    assert!(full.contains("HTTP/1.1 200 OK"), "{full}");
    assert_eq!(tickets(&full), 2, "{full}");
    let resumed = d.s_client(&["-msg", "-sess_in", one, "-sess_out", two], request);
    assert!(resumed.contains("Reused, TLSv1.3"), "{resumed}");
    assert!(resumed.contains("HTTP/1.1 200 OK"), "{resumed}");
    assert_eq!(tickets(&resumed), 1, "{resumed}");
    let again = d.s_client(&["-msg", "-sess_in", two], request);
    assert!(again.contains("Reused, TLSv1.3"), "{again}");
    assert!(again.contains("HTTP/1.1 200 OK"), "{again}");
    assert_eq!(tickets(&again), 1, "{again}");
}

/// `session-resumption: false` gives every connection a full handshake (what a handshake
/// benchmark needs); `min-tls-version: "1.3"` refuses TLS 1.2.
#[test]
fn listener_tls_options_resumption_off_and_tls13_only() {
    let d = Demo::start_with(|yaml| {
        yaml.replacen(
            "    hostnames:\n",
            "    session-resumption: false\n    min-tls-version: \"1.3\"\n    hostnames:\n",
            1,
        )
    });
    let sess = d.dir.path().join("session.pem");
    let sess = sess.to_str().unwrap();
    let cert = d.pki("dev-valid-client.pem");
    let key = d.pki("dev-valid-client.key.pem");
    let request = b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let first = d.s_client(&["-sess_out", sess, "-cert", &cert, "-key", &key], request);
    assert!(first.contains("HTTP/1.1 200 OK"), "{first}");
    // No resumption. BoringSSL hands out nothing to resume (no ticket, so s_client writes no
    // session file); OpenSSL hands out a session that, offered back, gets a full handshake.
    if cfg!(feature = "boringssl") {
        assert!(
            !Path::new(sess).exists(),
            "a session was handed out: {first}"
        );
    } else {
        let second = d.s_client(&["-sess_in", sess, "-cert", &cert, "-key", &key], request);
        assert!(second.contains("New, TLSv1.3"), "{second}");
        assert!(second.contains("HTTP/1.1 200 OK"), "{second}");
    }
    let old = d.s_client(&["-tls1_2", "-cert", &cert, "-key", &key], request);
    assert!(!old.contains("HTTP/1.1"), "{old}");
}

/// HTTP/1.1 pipelining (RFC 9112 9.3.2): requests sent without waiting are all answered, in
/// order, whether they arrive together or while an earlier one is at the backend, with bodies
/// or without. A body the gateway does not read (a refused request) is never taken for a
/// request: the connection closes after the answer. `Connection: close` ends it too. Without
/// pipelining turned on, Pingora closed the connection after the first answer.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let d = Demo::start();
    let out = d.python_client(
        "pipelining.py",
        &["three", "later", "bodies", "refused", "close"],
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        printed,
        "three: 200 /weather/Oslo, 200 /weather/Bergen, 200 /weather/Tromso\n\
         later: 200 /weather/Oslo?delay=600, 200 /weather/Bergen\n\
         bodies: 200 /one, 200 /weather/Oslo, 200 /two\n\
         refused: 404 -, closed\n\
         close: 200 /weather/Oslo, closed\n"
    );
}

/// A policy that rewrites the request's framing headers (deletes Transfer-Encoding, sets
/// Content-Length) changes what goes to the backend, never how the gateway reads the client's
/// body: a chunked body that holds a whole request stays a body, and the connection goes on
/// with the client's next request.
#[test]
fn a_policy_cannot_reframe_the_clients_body() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "reframe",
        r#"<policies><inbound><base /><set-header name="Transfer-Encoding" exists-action="delete" /><set-header name="Content-Length" exists-action="override"><value>0</value></set-header></inbound></policies>"#,
    );
    let out = d.python_client("pipelining.py", &["reframed"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(printed, "reframed: 200 /x, 200 /weather/Oslo\n");
}

/// TLS records that reach the gateway together (the handshake's last flight with a request; a
/// request head in two records) or in pieces (a record split inside its header) are all read:
/// the reads that wait on the transport (patch 0025) must not wait while bytes are buffered.
#[test]
fn tls_records_arriving_together_or_in_pieces_are_all_served() {
    let d = Demo::start();
    let out = d.python_client("tls_records.py", &["/validate/weather/Oslo"]);
    let answer = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        answer.matches("HTTP/1.1 200 OK").count(),
        3,
        "{answer}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `key-exchange-groups` is the listener's offer: a client that offers none of its groups gets
/// no handshake, one that offers one of them gets that group.
#[test]
fn listener_key_exchange_groups_are_the_ones_offered() {
    let d = Demo::start_with(|yaml| {
        yaml.replacen(
            "    hostnames:\n",
            "    key-exchange-groups: [P-384, P-256]\n    hostnames:\n",
            1,
        )
    });
    let cert = d.pki("dev-valid-client.pem");
    let key = d.pki("dev-valid-client.key.pem");
    let request = b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let refused = d.s_client(
        &["-groups", "X25519", "-cert", &cert, "-key", &key],
        request,
    );
    assert!(!refused.contains("HTTP/1.1"), "{refused}");
    let p256 = d.s_client(
        &["-groups", "X25519:P-256", "-cert", &cert, "-key", &key],
        request,
    );
    assert!(p256.contains("HTTP/1.1 200 OK"), "{p256}");
    assert!(p256.contains("prime256v1"), "{p256}");
    // A client with both of the listener's groups.
    let both = d.s_client(
        &["-groups", "P-256:P-384", "-cert", &cert, "-key", &key],
        request,
    );
    assert!(both.contains("HTTP/1.1 200 OK"), "{both}");
}

/// TLS 1.3 suites are the listener's choice: by default AES-128-GCM even for a client that
/// lists AES-256 first (OpenSSL's s_client does, as rustls does); `tls13-cipher-suites` sets
/// the order and what is offered at all.
#[test]
fn the_listener_chooses_the_tls13_cipher_suite() {
    let request = b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let client = |d: &Demo, suites: &str| {
        let cert = d.pki("dev-valid-client.pem");
        let key = d.pki("dev-valid-client.key.pem");
        d.s_client(
            &[
                "-tls1_3",
                "-ciphersuites",
                suites,
                "-cert",
                &cert,
                "-key",
                &key,
            ],
            request,
        )
    };
    let d = Demo::start();
    let out = client(&d, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("Cipher is TLS_AES_128_GCM_SHA256"), "{out}");
    // A client with only the others still connects.
    let out = client(&d, "TLS_CHACHA20_POLY1305_SHA256");
    assert!(
        out.contains("Cipher is TLS_CHACHA20_POLY1305_SHA256"),
        "{out}"
    );
    drop(d);

    let d = Demo::start_with(|yaml| {
        yaml.replacen(
            "    hostnames:\n",
            "    tls13-cipher-suites: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]\n    hostnames:\n",
            1,
        )
    });
    let out = client(
        &d,
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
    );
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("Cipher is TLS_AES_256_GCM_SHA384"), "{out}");
    // A suite left out is not offered.
    let out = client(&d, "TLS_AES_128_GCM_SHA256");
    assert!(!out.contains("HTTP/1.1"), "{out}");
}

#[test]
fn wrong_backend_ca_is_a_502_through_on_error_and_access_log_is_json() {
    let d = Demo::start();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "ca-certificates: [pki/backend-root-ca.pem]",
            "ca-certificates: [pki/root-ca.pem]",
        )
    });
    assert_eq!(status, 200, "{body}");
    let (status, head, body) = d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[]);
    assert_eq!(status, 502, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("backendconnectionfailure")
    );
    assert!(
        body.starts_with(r#"{"statusCode":502,"message":"backend connection failed"#),
        "{body}"
    );
    let (_, _, metrics) = d.admin("GET", "/metrics");
    assert!(
        metrics.contains("certgate_backend_errors_total{reason=\"BackendConnectionFailure\"} 1"),
        "{metrics}"
    );
    // One JSON line per request, with the certificate and the outcome.
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(d.dir.path().join("gateway.log")).unwrap();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "access" && v["status"] == 502)
        .expect("an access log line");
    assert_eq!(line["api"], "validate");
    assert_eq!(line["certificate_subject"], "CN=Valid Client");
    assert_eq!(line["sni"], "api.certgate.test");
    assert_eq!(
        line["certificate_thumbprint"].as_str().map(str::len),
        Some(40)
    );
    // A backend host name that does not resolve: the same defined failure, counted.
    let port = d.backend;
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            &format!("url: https://127.0.0.1:{port}"),
            &format!("url: https://no-such-backend.invalid:{port}"),
        )
    });
    assert_eq!(status, 200, "{body}");
    let (status, head, body) = d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[]);
    assert_eq!(status, 502, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("backendconnectionfailure")
    );
    let (_, _, metrics) = d.admin("GET", "/metrics");
    assert!(
        metrics.contains("certgate_backend_errors_total{reason=\"BackendConnectionFailure\"} 2"),
        "{metrics}"
    );
}

#[test]
fn file_changes_reload_and_reloads_under_load_fail_no_request() {
    let d = Demo::start();
    let cfg = d.dir.path().join("certgate.yaml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    // A change of a referenced policy file is picked up without any signal.
    let policy = d.dir.path().join("policies/validate.xml");
    let original = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, original.replace("<base />", "<base />\n    <set-header name=\"X-Watched\" exists-action=\"override\"><value>yes</value></set-header>")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        let (_, _, body) = d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[]);
        seen = body.contains("X-Watched") || body.contains("x-watched");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen, "the policy change was not picked up");
    // Under a steady client loop, reload 20 times, valid and invalid alternating.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = client_loop(&d, stop.clone(), 2000);
    for i in 0..20 {
        let (text, expect) = if i % 2 == 0 {
            (good.replace("path: /validate", "path: validate"), 500)
        } else {
            (good.clone(), 200)
        };
        std::fs::write(&cfg, &text).unwrap();
        let (status, _, body) = d.admin("POST", "/admin/reload");
        assert_eq!(status, expect, "reload {i}: {body}");
        if expect == 500 {
            assert!(body.contains("must start with '/'"), "{body}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let codes = loader.join().unwrap();
    let failed: Vec<&String> = codes.iter().filter(|c| *c != "200").collect();
    let ok = codes.len() - failed.len();
    assert!(ok > 0);
    assert!(
        failed.is_empty(),
        "{} requests failed during reloads: {failed:?}",
        failed.len()
    );
}

#[test]
fn stalled_handshakes_and_oversized_headers() {
    let d = Demo::start();
    // Clients that connect and send nothing, or half a ClientHello, hold no worker hostage.
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", d.tls)).unwrap();
        if i % 2 == 0 {
            use std::io::Write;
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        }
        stalled.push(s);
    }
    for _ in 0..5 {
        assert_eq!(
            d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
                .0,
            200
        );
    }
    drop(stalled);
    // A header far beyond any sane size is refused, not proxied; the next request still works.
    let huge = d.dir.path().join("huge-header.txt");
    std::fs::write(&huge, format!("X-Huge: {}\n", "a".repeat(100_000))).unwrap();
    let at = format!("@{}", huge.display());
    let (status, _, _) = d.curl(
        API,
        "/validate/weather/Oslo",
        Some("dev-valid-client"),
        &["--http1.1", "-H", &at],
    );
    assert_eq!(status, 431, "oversized header");
    // Heads past 128 KiB get the same 431; past Pingora's own 1 MiB limit, and for a request
    // line that is not HTTP, Pingora answers 400 and closes. No case hangs or reaches a backend.
    let cert = d.pki("dev-valid-client.pem");
    let key = d.pki("dev-valid-client.key.pem");
    let with_cert = ["-cert", cert.as_str(), "-key", key.as_str()];
    for (head_bytes, want) in [(300_000, "HTTP/1.1 431 "), (1_200_000, "HTTP/1.1 400 ")] {
        let mut req =
            b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nX-Huge: ".to_vec();
        req.resize(req.len() + head_bytes, b'a');
        req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let out = d.s_client(&with_cert, &req);
        assert!(out.contains(want), "{head_bytes} bytes: {out}");
        assert!(!out.contains("echo"), "{out}");
    }
    let out = d.s_client(&with_cert, b"\x16\x00garbage \x01\x02 HTTP/9\r\n\r\n");
    assert!(out.contains("HTTP/1.1 400 "), "{out}");
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
}

#[test]
fn authentication_certificate_set_backend_service_and_outbound_body() {
    use base64::Engine;
    let d = Demo::start();
    let dir = d.dir.path();
    let port = d.backend;
    let pfx = std::fs::read(dir.join("pki/backend-client.pfx")).unwrap();
    std::fs::write(
        dir.join("pki/backend-client.pfx.b64"),
        base64::engine::general_purpose::STANDARD.encode(pfx),
    )
    .unwrap();
    let policies = [
        (
            "auth-none",
            "<policies><inbound><base /></inbound></policies>",
        ),
        (
            "auth-id",
            r#"<policies><inbound><base /><authentication-certificate certificate-id="backend-client" /></inbound></policies>"#,
        ),
        (
            "auth-thumb",
            r#"<policies><inbound><base /><authentication-certificate thumbprint="{{backend-thumbprint}}" /></inbound></policies>"#,
        ),
        (
            "auth-body",
            r#"<policies><inbound><base /><set-variable name="byteCertificate" value="@(Convert.FromBase64String(&quot;{{backend-pfx}}&quot;))" /><authentication-certificate body="@(context.Variables.GetValueOrDefault<byte[]>("byteCertificate"))" password="{{pfx-password}}" /></inbound></policies>"#,
        ),
        (
            "switch",
            r#"<policies><inbound><base /><set-backend-service backend-id="demo" /></inbound></policies>"#,
        ),
        (
            "to-url",
            &format!(
                r#"<policies><inbound><base /><set-backend-service base-url="https://127.0.0.1:{port}/base" /></inbound></policies>"#
            ),
        ),
        (
            "outbound",
            r#"<policies><inbound><base /></inbound><outbound><base /><set-header name="X-Outbound" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header><set-body>@("wrapped:" + context.Response.StatusCode)</set-body></outbound></policies>"#,
        ),
    ];
    let mut apis = String::new();
    for (name, policy) in &policies {
        std::fs::write(dir.join(format!("policies/{name}.xml")), policy).unwrap();
        let backend = if *name == "outbound" {
            "demo"
        } else {
            "demo-nocreds"
        };
        apis.push_str(&format!("  - name: {name}\n    path: /{name}\n    backend: {backend}\n    policy: policies/{name}.xml\n"));
    }
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "backends:\n",
            &format!("backends:\n  - id: demo-nocreds\n    url: https://127.0.0.1:{port}\n    tls: {{ ca-certificates: [pki/backend-root-ca.pem], sni: localhost }}\n"),
        )
        .replace("named-values:\n", "named-values:\n  - name: backend-thumbprint\n    file: pki/backend-client.thumbprint\n  - name: backend-pfx\n    file: pki/backend-client.pfx.b64\n    secret: true\n")
        .replace("trusted-proxies:", &format!("{apis}\ntrusted-proxies:"))
    });
    assert_eq!(status, 200, "{body}");
    let call = |api: &str| d.curl(API, &format!("/{api}/x"), Some("dev-valid-client"), &[]);
    // Without a client certificate the demo backend refuses the gateway.
    let (status, head, _) = call("auth-none");
    assert_eq!(
        (status, header(&head, "x-error-reason")),
        (502, Some("backendconnectionfailure"))
    );
    // Each authentication-certificate form presents the backend client certificate.
    for api in ["auth-id", "auth-thumb", "auth-body", "switch"] {
        let (status, head, body) = call(api);
        assert_eq!(status, 200, "{api}: {head}{body}");
        let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echo["client_certificate"], "CN=Unprotected API", "{api}");
    }
    // A base URL without configured CAs: the backend's own CA is not trusted, so 502 proves the
    // URL (not the API's backend) was used.
    let (status, head, _) = call("to-url");
    assert_eq!(
        (status, header(&head, "x-error-reason")),
        (502, Some("backendconnectionfailure"))
    );
    // Outbound: header and body replaced after the backend answered.
    let (status, head, body) = call("outbound");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-outbound"), Some("200"));
    assert_eq!(body, "wrapped:200");
}

#[test]
fn backend_timeout_is_a_504_and_shutdown_drains_in_flight_requests() {
    let mut d = Demo::start();
    let dir = d.dir.path().to_path_buf();
    std::fs::write(
        dir.join("policies/slow.xml"),
        r#"<policies><backend><forward-request timeout="1" /></backend></policies>"#,
    )
    .unwrap();
    let (status, body) = d.reconfigure(|text| text.replace("trusted-proxies:", "  - name: slow\n    path: /slow\n    backend: demo\n    policy: policies/slow.xml\n\ntrusted-proxies:"));
    assert_eq!(status, 200, "{body}");
    // forward-request timeout="1" against a backend that takes 2 s: Timeout through on-error.
    let (status, head, body) = d.curl(API, "/slow/x?delay=2000", Some("dev-valid-client"), &[]);
    assert_eq!(status, 504, "{head}{body}");
    assert_eq!(header(&head, "x-error-reason"), Some("timeout"));
    // Graceful shutdown: a request in flight when SIGTERM arrives still completes.
    let (tls, root, cert, key) = (
        d.tls,
        d.pki("root-ca.pem"),
        d.pki("dev-valid-client.pem"),
        d.pki("dev-valid-client.key.pem"),
    );
    let in_flight = std::thread::spawn(move || {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "15",
                "--cacert",
                &root,
                "--cert",
                &cert,
                "--key",
                &key,
                "--resolve",
                &format!("{API}:{tls}:127.0.0.1"),
            ])
            .arg(format!(
                "https://{API}:{tls}/validate/weather/Oslo?delay=1500"
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    });
    std::thread::sleep(Duration::from_millis(400));
    let gateway = d.children.last_mut().unwrap();
    let pid = gateway.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(
        in_flight.join().unwrap(),
        "200",
        "the in-flight request must complete"
    );
    // And the process exits by itself within its drain timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    while gateway.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "gateway did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A gateway that cannot take its listeners' addresses (another gateway holds them) answers
/// `/readyz` 503 while Pingora retries (patch 0028), then exits with status 1 and says which
/// address, after the 30 one-second retries; it does not run on without them (patch 0027: the
/// failed service used to panic its own thread only, leaving a process whose admin server
/// answered "ready"). The running gateway is undisturbed.
#[test]
fn a_gateway_that_cannot_listen_exits() {
    let d = Demo::start();
    let runtime = d.dir.path().join("second-runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    // The same listeners, its own admin address.
    let admin = free_port();
    let cfg = d.dir.path().join("second.yaml");
    let text = std::fs::read_to_string(d.dir.path().join("certgate.yaml")).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            &format!("127.0.0.1:{}", d.admin),
            &format!("127.0.0.1:{admin}"),
        ),
    )
    .unwrap();
    let mut second = Command::new(bin())
        .args(["run", "-c"])
        .arg(&cfg)
        .arg("--runtime-dir")
        .arg(&runtime)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut readiness = Vec::new();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if readiness.len() < 3 {
            let out = Command::new("curl")
                .args(["-s", "-w", " %{http_code}", "--max-time", "2"])
                .arg(format!("http://127.0.0.1:{admin}/readyz"))
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout).to_string();
            if !said.trim().is_empty() && !said.ends_with(" 000") {
                readiness.push(said);
            }
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second gateway is still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot listen, exiting"), "{err}");
    assert!(err.contains("still in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!readiness.is_empty(), "its admin server never answered");
    for said in &readiness {
        assert_eq!(said, "not ready: a listener is not bound yet\n 503");
    }
    let (status, _, _) = d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[]);
    assert_eq!(status, 200, "the first gateway still serves");
}

#[test]
fn zero_downtime_upgrade_hands_over_the_sockets() {
    let mut d = Demo::start();
    let cfg = d.dir.path().join("certgate.yaml");
    // The new process waits on the upgrade socket for the old one's listeners.
    // The runtime directory (upgrade socket, pid file when daemonized) comes from systemd's variable here, from
    // --runtime-dir for the old process: both name the same place, not the config directory.
    let runtime = d.dir.path().join("runtime");
    let new = Command::new(bin())
        .args(["run", "-u", "--drain-seconds", "3", "-c"])
        .arg(&cfg)
        .env("RUNTIME_DIRECTORY", &runtime)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(runtime.join("certgate-upgrade.sock").exists());
    assert!(!d.dir.path().join("certgate-upgrade.sock").exists());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = client_loop(&d, stop.clone(), 500);
    std::thread::sleep(Duration::from_millis(500));
    let old = d.children.pop().unwrap();
    d.children.push(new);
    assert!(Command::new("kill")
        .args(["-QUIT", &old.id().to_string()])
        .status()
        .unwrap()
        .success());
    let mut old = old;
    let deadline = Instant::now() + Duration::from_secs(15);
    while old.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the old process did not exit after handing over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The old process is gone: what answers now is the new one.
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let codes = loader.join().unwrap();
    assert!(codes.len() > 3);
    let failed: Vec<&String> = codes.iter().filter(|c| *c != "200").collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the upgrade: {failed:?}",
        failed.len(),
        codes.len()
    );
}

/// Every metric the Grafana dashboard (deploy/grafana) queries is one this gateway exports:
/// traffic that moves every family (accepted and refused clients, a strict-mode refusal, a
/// forwarded header, a trace event, a dead backend), then one scrape.
#[test]
fn grafana_dashboard_queries_only_exported_metrics() {
    let mut d = Demo::start();
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    assert_eq!(
        d.curl(
            API,
            "/validate/weather/Oslo",
            Some("dev-expired-client"),
            &[]
        )
        .0,
        401
    );
    assert_eq!(
        d.curl(API, "/context/weather", Some("dev-expired-client"), &[])
            .0,
        401
    );
    d.curl(
        "partner.certgate.test",
        "/validate/weather/Oslo",
        Some("tst-untrusted-client"),
        &[],
    );
    let forwarded = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "X-ARR-ClientCert: not-a-certificate",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/validate/weather/Oslo",
            d.plain
        ))
        .status()
        .unwrap();
    assert!(forwarded.success());
    // A request naming the strict hostname over another hostname's handshake: 421.
    assert_eq!(
        d.curl(
            "plain.certgate.test",
            "/validate/weather/Oslo",
            None,
            &["-H", "Host: partner.certgate.test"],
        )
        .0,
        421
    );
    // The demo backend goes away: the next request is a counted backend error.
    let mut backend = d.children.remove(0);
    backend.kill().unwrap();
    backend.wait().unwrap();
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        502
    );
    let (_, _, metrics) = d.admin("GET", "/metrics");
    let exported: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/certgate-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("certgate_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 12, "{queried:?}");
    let missing: Vec<&String> = queried
        .iter()
        .filter(|q| !exported.contains(q.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "dashboard queries {missing:?}, not in /metrics:\n{metrics}"
    );
}

/// `access-log: false` silences the access log (trace events are still written).
#[test]
fn access_log_can_be_switched_off() {
    let d = Demo::start_with(|yaml| format!("{yaml}\naccess-log: false\n"));
    assert_eq!(
        d.curl(API, "/validate/weather/Oslo", Some("dev-valid-client"), &[])
            .0,
        200
    );
    assert_eq!(
        d.curl(API, "/context/weather", Some("dev-expired-client"), &[])
            .0,
        401
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(d.dir.path().join("gateway.log")).unwrap();
    assert!(!log.contains("\"type\":\"access\""), "{log}");
    assert!(log.contains("\"type\":\"trace\""), "{log}");
}

#[test]
fn api_at_the_root_forwards_the_request_target_unchanged() {
    // An API at "/" on a backend without a base path: the gateway forwards the client's target
    // as it came (percent-escapes, query order) and names the backend in Host as host:port.
    let d = Demo::start();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "trusted-proxies:",
            "  - name: root\n    path: /\n    backend: demo\n    operations:\n      - { name: any, method: \"*\", url-template: \"/{*rest}\" }\n\ntrusted-proxies:",
        )
    });
    assert_eq!(status, 200, "{body}");
    let target = "/weather/Bergen%2FNorway?units=metric&b=2&a=1";
    let (status, head, body) = d.curl(API, target, Some("dev-valid-client"), &[]);
    assert_eq!(status, 200, "{head}{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["request"], format!("GET {target} HTTP/1.1"));
    let port = d.backend;
    let host = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h[0].as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("host"))
        })
        .map(|h| h[1].clone());
    assert_eq!(host, Some(serde_json::json!(format!("127.0.0.1:{port}"))));
    // The other APIs keep their prefixes: /validate still strips its own.
    let (status, _, body) = d.curl(
        API,
        "/validate/weather/Oslo?x=1",
        Some("dev-valid-client"),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["request"], "GET /weather/Oslo?x=1 HTTP/1.1");
}

/// A connection accepted just before a graceful shutdown (or an upgrade hand-over) whose
/// request arrives a moment later is still served, not dropped (third_party patch 0003): HTTP/1
/// clients send their request right after connecting, so dropping lost requests on upgrades.
#[test]
fn a_request_arriving_just_after_shutdown_began_is_served() {
    use std::io::{Read, Write};
    let d = Demo::start();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.plain)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Let the gateway accept it and start waiting for the request.
    std::thread::sleep(Duration::from_millis(300));
    let gw = d.children.last().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &gw])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(
        b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: plain.certgate.test\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 401"), "dropped: {text:?}");
}

/// Issue 13: a policy that reads `context.Request.Body` gets the whole body, buffered up to
/// `max-request-body-bytes` (413 past it, counted); read with `preserveContent: true` the
/// backend gets it unchanged, read without it gets none (APIM's rule), and inbound `set-body`
/// gives the backend a new one. A route whose policy does not read bodies streams them.
#[test]
fn request_bodies_read_by_policies_are_buffered_and_forwarded_as_apim_does() {
    let d = Demo::start_with(|y| {
        format!("{y}\nexpression-limits:\n  max-request-body-bytes: 200000\n")
    });
    serve_api_with_policy(
        &d,
        "body",
        r#"<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("mode", "") == "preserve")">
        <set-header name="X-Tenant" exists-action="override"><value>@((string)context.Request.Body.As<JObject>(preserveContent: true)["tenant"])</value></set-header>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("mode", "") == "consume")">
        <set-header name="X-Length" exists-action="override"><value>@(context.Request.Body.As<string>().Length.ToString())</value></set-header>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("mode", "") == "replace")">
        <set-body>@{ var b = context.Request.Body.As<JObject>(); b["seen"] = true; return b.ToString(Newtonsoft.Json.Formatting.None); }</set-body>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("mode", "") == "form")">
        <set-body>@{ var body = context.Request.Body.AsFormUrlEncodedContent(); body["newKey"].Add("newValue"); return body.ToFormUrlEncodedContent(); }</set-body>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("mode", "") == "none")">
        <set-header name="X-Has-Body" exists-action="override"><value>@((context.Request.Body != null).ToString())</value></set-header>
      </when>
    </choose>
  </inbound>
  <backend><forward-request /></backend>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    // Bodies go through files: a command-line argument holds at most 128 KiB.
    let file = |body: &str| {
        let f = d.dir.path().join("request-body");
        std::fs::write(&f, body).unwrap();
        format!("@{}", f.display())
    };
    let post = |mode: &str, body: &str| {
        d.curl(
            API,
            &format!("/body/x?mode={mode}"),
            client,
            &[
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &file(body),
            ],
        )
    };
    let echo = |body: &str| -> serde_json::Value { serde_json::from_str(body).unwrap() };
    let json = r#"{"tenant":"contoso","n":1}"#;
    // Preserved: the policy read it, the backend gets it as sent.
    let (status, head, body) = post("preserve", json);
    assert_eq!(status, 200, "{head}{body}");
    let e = echo(&body);
    assert_eq!(e["body"], json, "{body}");
    assert!(
        e["headers"]
            .to_string()
            .to_ascii_lowercase()
            .contains(r#"["x-tenant","contoso"]"#),
        "{body}"
    );
    // Consumed: the policy read it, the backend gets an empty body (Content-Length: 0).
    let (status, head, body) = post("consume", json);
    assert_eq!(status, 200, "{head}{body}");
    let e = echo(&body);
    assert_eq!(e["body"], "", "{body}");
    assert!(
        e["headers"].to_string().contains(r#""26""#),
        "X-Length 26: {body}"
    );
    // Replaced by inbound set-body.
    let (status, head, body) = post("replace", json);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        echo(&body)["body"],
        r#"{"tenant":"contoso","n":1,"seen":true}"#,
        "{body}"
    );
    // A form body changed in place, as APIM's reference example does it.
    let (status, head, body) = d.curl(
        API,
        "/body/x?mode=form",
        client,
        &["--data-binary", "grant_type=client_credentials&scope=a+b"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        echo(&body)["body"],
        "grant_type=client_credentials&scope=a+b&newKey=newValue",
        "{body}"
    );
    // Chunked on the way in, buffered, sent with its length.
    let (status, head, body) = d.curl(
        API,
        "/body/x?mode=preserve",
        client,
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &file(json),
        ],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(echo(&body)["body"], json, "{body}");
    // Larger than Pingora's own 64 KiB retry buffer (third_party patch 0015), within the limit.
    let large = format!(r#"{{"tenant":"t","pad":"{}"}}"#, "p".repeat(100_000));
    let (status, head, body) = post("preserve", &large);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        echo(&body)["body"].as_str().map(str::len),
        Some(large.len())
    );
    // A GET has no body: context.Request.Body is null.
    let (status, head, body) = d.curl(API, "/body/x?mode=none", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(body.contains("False"), "{body}");
    // Over the limit, by its length or as it streams: 413 before the backend, counted.
    let big = "x".repeat(200_001);
    let (status, head, body) = post("preserve", &big);
    assert_eq!(status, 413, "{head}{body}");
    let (status, head, body) = d.curl(
        API,
        "/body/x?mode=preserve",
        client,
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &file(&big),
        ],
    );
    assert_eq!(status, 413, "{head}{body}");
    let (_, _, metrics) = d.admin("GET", "/metrics");
    assert_eq!(
        metric(
            &metrics,
            "certgate_request_refusals_total{reason=\"RequestBodyTooLarge\"}"
        ),
        2.0,
        "{metrics}"
    );
    // A route whose policy does not read bodies streams them, whatever their size.
    serve_api_with_policy(
        &d,
        "stream",
        "<policies><inbound><base /></inbound><backend><forward-request /></backend></policies>",
    );
    let (status, head, body) = d.curl(API, "/stream/x", client, &["--data-binary", &file(&big)]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        echo(&body)["body"].as_str().map(str::len),
        Some(200_001),
        "{body}"
    );
}

/// APIM's order after `forward-request` (architecture review §2.10): statements after it in the
/// backend section act on the backend's response; when they fail or answer, the pipeline ends
/// there (on-error, or their answer) and `outbound` does not run; a `return-response` there is a
/// fresh response, not the backend's with changes.
#[test]
fn statements_after_forward_request_that_fail_or_answer_end_the_pipeline() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "after",
        r#"<policies>
  <inbound><base /></inbound>
  <backend>
    <forward-request timeout="10" />
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("then", "") == "fail")">
        <set-variable name="boom" value="@((string)context.Variables["missing"])" />
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("then", "") == "answer")">
        <return-response>
          <set-status code="203" reason="Answered after the backend" />
          <set-header name="X-Answer" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
        </return-response>
      </when>
    </choose>
    <set-header name="X-After-Forward" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
  </backend>
  <outbound>
    <set-header name="X-Outbound" exists-action="override"><value>ran</value></set-header>
  </outbound>
  <on-error>
    <base />
    <set-header name="X-On-Error" exists-action="override"><value>@(context.LastError.Section)</value></set-header>
  </on-error>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    // Nothing fails: the statements after forward-request see the backend's 200, outbound runs.
    let (status, head, body) = d.curl(API, "/after/x?then=go", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(header(&head, "x-after-forward"), Some("200"), "{head}");
    assert_eq!(header(&head, "x-outbound"), Some("ran"), "{head}");
    assert_eq!(header(&head, "x-backend"), Some("demo"), "{head}");
    // A failure after forward-request: on-error answers, outbound does not run.
    let (status, head, body) = d.curl(API, "/after/x?then=fail", client, &[]);
    assert_eq!(status, 500, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("expressionvalueevaluationfailure"),
        "{head}"
    );
    assert_eq!(header(&head, "x-on-error"), Some("backend"), "{head}");
    assert_eq!(
        header(&head, "x-outbound"),
        None,
        "outbound ran after a failure: {head}"
    );
    assert_eq!(header(&head, "x-after-forward"), None, "{head}");
    assert_eq!(
        header(&head, "x-backend"),
        None,
        "the backend's headers leaked: {head}"
    );
    assert!(body.contains("\"statusCode\":500"), "{body}");
    // A return-response after forward-request: its answer goes out as built, fresh (none of
    // the backend's headers or body), and outbound does not run.
    let (status, head, body) = d.curl(API, "/after/x?then=answer", client, &[]);
    assert_eq!(status, 203, "{head}{body}");
    assert!(
        head.starts_with("http/1.1 203 answered after the backend"),
        "{head}"
    );
    assert_eq!(header(&head, "x-answer"), Some("203"), "{head}");
    assert_eq!(
        header(&head, "x-outbound"),
        None,
        "outbound ran after an answer: {head}"
    );
    assert_eq!(
        header(&head, "x-backend"),
        None,
        "the backend's headers leaked: {head}"
    );
    assert_eq!(body, "", "the backend's body leaked");
}

/// A backend section whose `forward-request` exists but is not reached (an untaken `<choose>`
/// branch) does not call the backend: outbound runs over APIM's empty 200 and that is the
/// answer (architecture review §2.10).
#[test]
fn a_forward_request_present_but_not_reached_does_not_call_the_backend() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "maybe",
        r#"<policies>
  <inbound><base /></inbound>
  <backend>
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("call", "") == "yes")">
        <forward-request timeout="10" />
      </when>
    </choose>
  </backend>
  <outbound>
    <set-header name="X-Outbound" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
  </outbound>
  <on-error><base /></on-error>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    let (status, head, body) = d.curl(API, "/maybe/x?call=yes", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(header(&head, "x-backend"), Some("demo"), "{head}");
    assert_eq!(header(&head, "x-outbound"), Some("200"), "{head}");
    // Not reached: no backend call (none of its headers, none of its body).
    let (status, head, body) = d.curl(API, "/maybe/x?call=no", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "x-backend"),
        None,
        "the backend was called: {head}"
    );
    assert_eq!(header(&head, "x-outbound"), Some("200"), "{head}");
    assert_eq!(body, "");
}

/// The upstream keep-alive pool (third_party patch 0011) keeps idle backend connections without
/// a task watching each one; a sweep drops those the backend has closed. A backend that closes
/// an idle connection (as nginx does after its `keepalive_timeout`) leaves no half-closed socket
/// in the gateway (CLOSE_WAIT: the gateway's end still open) after the sweep, and the next
/// request opens a new connection and succeeds.
#[test]
fn backend_connections_closed_while_idle_leave_the_pool() {
    use std::io::{Read, Write};
    let d = Demo::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    // A plain HTTP/1.1 backend: one keep-alive answer per connection, then it closes the
    // connection 200 ms later, idle.
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                std::thread::sleep(Duration::from_millis(200));
            });
        }
    });
    serve_api_on_plain_backend(&d, "closing", port);
    let client = Some("dev-valid-client");
    let (status, head, body) = d.curl(API, "/closing/a", client, &[]);
    assert_eq!((status, body.as_str()), (200, "ok"), "{head}");
    // The backend closed its end after 200 ms; the sweep runs once a second.
    std::thread::sleep(Duration::from_millis(2500));
    let half_closed = std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // remote address 127.0.0.1:port, state 08 = CLOSE_WAIT
            f.len() > 3 && f[2] == format!("0100007F:{port:04X}") && f[3] == "08"
        })
        .count();
    assert_eq!(
        half_closed, 0,
        "the gateway kept a connection the backend closed"
    );
    let (status, head, body) = d.curl(API, "/closing/b", client, &[]);
    assert_eq!((status, body.as_str()), (200, "ok"), "{head}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// How a backend's response body is framed is read from its head (RFC 9112 section 6.3), in
/// any case of the field names: a length, chunks (a length beside them is ignored), or the
/// connection's end (no framing field, or a transfer coding that does not end in chunked). A
/// length that cannot be read, or two that differ, is a 502. A connection is pooled again only
/// after a response framed by length or chunks (counted by the connections the backend
/// accepts).
#[test]
fn a_backends_response_framing_is_read_from_its_head() {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let d = Demo::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    // (path, response, whether the backend closes the connection after it)
    const ANSWERS: [(&str, &str, bool); 13] = [
        ("length", "HTTP/1.1 200 OK\r\ncontent-LENGTH: 5\r\n\r\nhello", false),
        ("chunked", "HTTP/1.1 200 OK\r\nTRANSFER-encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", false),
        ("chunks-beside-a-length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false),
        ("keep-alive-field", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=10\r\nContent-Length: 5\r\n\r\nhello", false),
        ("until-close", "HTTP/1.1 200 OK\r\nX-Framing: none\r\n\r\nhello", true),
        ("not-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello", true),
        ("unreadable-length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", true),
        ("two-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", true),
        // Reuse: HTTP/1.0 only when asked for, never after a `Connection: close`; an
        // informational head before the response.
        ("http10-keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", false),
        ("http10", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", false),
        ("http10-chunked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false),
        ("close-field", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", false),
        ("early-hints", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false),
    ];
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut conn) = conn else { return };
            counter.fetch_add(1, SeqCst);
            std::thread::spawn(move || loop {
                let Some(line) = request_line(&mut conn) else {
                    return;
                };
                let Some((_, response, close)) = ANSWERS
                    .iter()
                    .find(|(p, _, _)| line.starts_with(&format!("GET /{p} ")))
                else {
                    return;
                };
                if conn.write_all(response.as_bytes()).is_err() || *close {
                    return;
                }
            });
        }
    });
    serve_api_on_plain_backend(&d, "framing", port);
    let client = Some("dev-valid-client");
    // (path, status, body, connections accepted after it)
    let cases = [
        ("length", 200, "hello", 1),
        ("chunked", 200, "hello", 1),
        ("chunks-beside-a-length", 200, "hello", 1),
        ("keep-alive-field", 200, "hello", 1),
        ("until-close", 200, "hello", 1),
        ("length", 200, "hello", 2),
        ("not-chunked", 200, "hello", 2),
        ("length", 200, "hello", 3),
        ("unreadable-length", 502, "", 3),
        ("length", 200, "hello", 4),
        ("two-lengths", 502, "", 4),
        ("length", 200, "hello", 5),
        ("http10-keep-alive", 200, "hello", 5),
        ("length", 200, "hello", 5),
        ("http10", 200, "hello", 5),
        ("length", 200, "hello", 6),
        ("http10-chunked", 200, "hello", 6),
        ("length", 200, "hello", 7),
        ("close-field", 200, "hello", 7),
        ("length", 200, "hello", 8),
        ("early-hints", 200, "hello", 8),
        ("length", 200, "hello", 8),
    ];
    for (path, status, body, connections) in cases {
        let (mut got, mut head, mut got_body) =
            d.curl(API, &format!("/framing/{path}"), client, &[]);
        // An informational head reaches the client before the response.
        let mut informational = Vec::new();
        while (100..200).contains(&got) {
            informational.push(got);
            (got, head, got_body) = parse(got_body.into_bytes());
        }
        let expected_informational: &[u16] = if path == "early-hints" { &[103] } else { &[] };
        assert_eq!(informational, expected_informational, "{path}");
        assert_eq!(got, status, "{path}: {head}{got_body}");
        if status == 200 {
            assert_eq!(got_body, body, "{path}: {head}");
        }
        assert_eq!(
            accepted.load(SeqCst),
            connections,
            "{path}: connections accepted"
        );
    }
}

/// HTTP/2 responses of every size arrive whole, over one connection with several streams at
/// once and a client that reads slowly (patch 0037 gathers a small vectored write, an HTTP/2
/// frame head and its payload or several frames, into one TLS record, and retries a gathered
/// write that would block as TLS requires): bodies around the gathering limit (16 KiB), and
/// one large enough to fill the socket's buffers.
#[test]
fn http2_responses_of_every_size_arrive_whole() {
    use std::io::Write;
    let d = Demo::start_with(|yaml| {
        yaml.replacen("    hostnames:\n", "    http2: true\n    hostnames:\n", 1)
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The body of `/sized/N`: N bytes, byte i being i % 251.
    let body = |n: usize| (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || loop {
                let Some(line) = request_line(&mut conn) else {
                    return;
                };
                let n: usize = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.rsplit('/').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let b: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let mut out =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
                out.extend_from_slice(&b);
                if conn.write_all(&out).is_err() {
                    return;
                }
            });
        }
    });
    serve_api_on_plain_backend(&d, "sized", port);
    let sizes = [
        0usize, 1, 100, 1_000, 16_000, 16_384, 16_385, 40_000, 2_000_000,
    ];
    let out = d.dir.path().join("sized");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--http2",
        "--parallel",
        "--parallel-max",
        "9",
        "--max-time",
        "60",
        // A slow reader: the gateway's writes would block and are retried.
        "--limit-rate",
        "1M",
        "--cacert",
        &d.pki("root-ca.pem"),
        "--cert",
        &d.pki("dev-valid-client.pem"),
        "--key",
        &d.pki("dev-valid-client.key.pem"),
        "--resolve",
        &format!("{API}:{}:127.0.0.1", d.tls),
        "-w",
        "%{http_version} %{http_code} %{size_download}\n",
    ]);
    for n in sizes {
        cmd.arg("-o")
            .arg(out.join(n.to_string()))
            .arg(format!("https://{API}:{}/sized/{n}", d.tls));
    }
    let res = cmd.output().unwrap();
    let report = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(report.lines().count(), sizes.len(), "{report}");
    for line in report.lines() {
        assert!(line.starts_with("2 200 "), "{report}");
    }
    for n in sizes {
        let got = std::fs::read(out.join(n.to_string())).unwrap();
        assert!(
            got == body(n),
            "/sized/{n}: {} bytes, not the body sent",
            got.len()
        );
    }
}

/// Issue 13: a SOAP request read and changed as System.Xml.Linq reads it: the policy takes the
/// symbol out of the envelope (`Descendants(ns + "Symbol")`) into a header, marks the envelope
/// and sends it on; a body that is not XML fails the expression, and on-error answers.
#[test]
fn xml_bodies_are_read_and_rewritten_with_xlinq() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "soap",
        r#"<policies>
  <inbound>
    <base />
    <set-header name="X-Symbol" exists-action="override"><value>@{ XNamespace q = "urn:quotes"; return context.Request.Body.As<XDocument>(preserveContent: true).Descendants(q + "Symbol").Single().Value; }</value></set-header>
    <set-body>@{ var doc = context.Request.Body.As<XDocument>(); doc.Root.SetAttributeValue("seen", "true"); return doc.ToString(SaveOptions.DisableFormatting); }</set-body>
  </inbound>
  <backend><forward-request /></backend>
  <on-error><return-response><set-status code="400" reason="Bad XML" /><set-body>@(context.LastError.Reason)</set-body></return-response></on-error>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    let envelope = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetQuote xmlns="urn:quotes"><Symbol>MSFT</Symbol></GetQuote></s:Body></s:Envelope>"#;
    let (status, head, body) = d.curl(
        API,
        "/soap/quote",
        client,
        &["-H", "Content-Type: text/xml", "--data-binary", envelope],
    );
    assert_eq!(status, 200, "{head}{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        echo["headers"]
            .to_string()
            .to_ascii_lowercase()
            .contains(r#"["x-symbol","msft"]"#),
        "{body}"
    );
    assert_eq!(
        echo["body"],
        envelope.replacen(r#"envelope/">"#, r#"envelope/" seen="true">"#, 1),
        "{body}"
    );
    // Not XML: the expression fails and on-error answers with its reason.
    let (status, head, body) = d.curl(
        API,
        "/soap/quote",
        client,
        &[
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            "{\"not\":\"xml\"}",
        ],
    );
    assert_eq!(status, 400, "{head}{body}");
    assert_eq!(body, "ExpressionValueEvaluationFailure", "{head}");
}

/// Issue 11, patch 0019: a request without a body is proxied in one straight line (no channel
/// pair between a downstream and an upstream half). What the two halves did together must
/// still hold: a response whose body comes after its head is passed on whole; a backend that
/// breaks off is a 502 or a cut response; and a client that leaves while the backend has not
/// answered ends the backend request at once (499 `ClientClosedRequest`, counted), instead of
/// holding the backend connection until the backend answers.
#[test]
fn bodyless_requests_keep_the_duplex_guarantees() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    let d = Demo::start_with(|yaml| {
        yaml.replacen("    hostnames:\n", "    http2: true\n    hostnames:\n", 1)
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // How long the backend's connection stayed open after a "/slow" request arrived.
    let (held_tx, held_rx) = mpsc::channel::<Duration>();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(32) {
            let Ok(mut conn) = conn else { return };
            let held_tx = held_tx.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                if line.contains("/slow") {
                    // Answers only after 8 s, unless the gateway closes the connection first.
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(8)));
                    let start = std::time::Instant::now();
                    let _ = conn.read(&mut byte);
                    let _ = held_tx.send(start.elapsed());
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate");
                } else if line.contains("/split") {
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
                    std::thread::sleep(Duration::from_millis(300));
                    let _ = conn.write_all(b"world");
                    std::thread::sleep(Duration::from_millis(200));
                } else if line.contains("/short") {
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
                } else if line.contains("/head") {
                    // The request head as it arrived, under a response head of mixed case.
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nX-Backend-MiXed: v\r\ncontent-length: {}\r\n\r\n",
                        head.len()
                    );
                    let _ = conn.write_all(&head);
                }
                // "/none": closed without an answer.
            });
        }
    });
    serve_api_on_plain_backend(&d, "raw", port);
    let client = Some("dev-valid-client");

    for proto in ["--http1.1", "--http2"] {
        // The head and the first half of the body, then the rest 300 ms later: one whole
        // answer.
        let (status, head, body) = d.curl(API, "/raw/split", client, &[proto]);
        assert_eq!(
            (status, body.as_str()),
            (200, "helloworld"),
            "{proto} {head}"
        );

        // The backend closes without answering: 502, counted.
        let (status, head, _) = d.curl(API, "/raw/none", client, &[proto]);
        assert_eq!(status, 502, "{proto} {head}");

        // The backend breaks off inside its body: the client gets the head and a cut body,
        // never a complete-looking answer.
        let (status, head, body) = d.curl(API, "/raw/short", client, &[proto]);
        // (curl's error replaces the body when no head came.)
        assert!(status == 200 || status == 0, "{proto} {head}");
        assert!(status == 0 || body.len() < 10, "{proto} {body}");
    }
    let m = d.admin("GET", "/metrics").2;
    assert!(
        metric(
            &m,
            "certgate_backend_errors_total{reason=\"BackendConnectionFailure\"}"
        ) >= 2.0,
        "{m}"
    );

    // The client leaves long before the backend answers: over HTTP/1 (a raw connection to the
    // plain listener, from a trusted proxy, closed 300 ms after the request) and over HTTP/2
    // (curl gives up after 1 s).
    let forwarded = {
        let pem = std::fs::read(d.pki("dev-valid-client.pem")).unwrap();
        percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.plain)).unwrap();
    write!(
        s,
        "GET /raw/slow HTTP/1.1\r\nHost: {API}\r\nX-ARR-ClientCert: {forwarded}\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    let held = held_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        held < Duration::from_secs(3),
        "HTTP/1: the backend connection was held {held:?} after the client left"
    );
    let (status, _, _) = d.curl(API, "/raw/slow", client, &["--http2", "--max-time", "1"]);
    assert_eq!(status, 0);
    let held = held_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        held < Duration::from_secs(3),
        "HTTP/2: the backend connection was held {held:?} after the client left"
    );
    let series = "certgate_request_refusals_total{reason=\"ClientClosedRequest\"}";
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&d.admin("GET", "/metrics").2, series) < 2.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(metric(&d.admin("GET", "/metrics").2, series), 2.0);
    // And the gateway serves on.
    let (status, _, body) = d.curl(API, "/raw/split", client, &[]);
    assert_eq!((status, body.as_str()), (200, "helloworld"));

    // Header names keep their case both ways (patch 0020 makes a case map only for names the
    // writer would not reproduce): mixed case as given, lower case as given.
    let r = raw(
        d.plain,
        format!(
            "GET /raw/head HTTP/1.1\r\nHost: {API}\r\nX-ARR-ClientCert: {forwarded}\r\nX-MiXed-Case: 1\r\nx-lower: 2\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("\r\nX-Backend-MiXed: v\r\n"), "{r}");
    assert!(r.contains("\r\nX-MiXed-Case: 1\r\n"), "{r}");
    assert!(r.contains("\r\nx-lower: 2\r\n"), "{r}");

    // A body an inbound policy decides for a GET without one still reaches the backend (the
    // request body filter runs on the empty body's end).
    serve_api_with_policy(
        &d,
        "decided",
        "<policies><inbound><base /><set-body>decided</set-body></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>",
    );
    let (status, head, body) = d.curl(API, "/decided/x", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["body"], "decided", "{body}");
}

/// Adds a backend `name` at `http://127.0.0.1:port` and an API `/name` on it (every method and
/// path, no policy), and reloads.
/// The request line of the next request head on `conn` (its fields are read and dropped);
/// None when the connection ends first. For the scripted backends above.
fn request_line(conn: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) != 1 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    Some(text.lines().next().unwrap_or("").to_string())
}

fn serve_api_on_plain_backend(d: &Demo, name: &str, port: u16) {
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "backends:\n",
            &format!("backends:\n  - id: {name}\n    url: http://127.0.0.1:{port}\n"),
        )
        .replace(
            "trusted-proxies:",
            &format!("  - name: {name}\n    path: /{name}\n    backend: {name}\n    operations:\n      - {{ name: any, method: \"*\", url-template: \"/{{*rest}}\" }}\n\ntrusted-proxies:"),
        )
    });
    assert_eq!(status, 200, "{body}");
}

/// Issue 14: `send-request` over real sockets. The demo backend (HTTPS, requires a client
/// certificate) is called by URL from inbound: the configured backend with that origin gives
/// the call its trust anchors, SNI and client certificate, so its echo shows the gateway's
/// certificate. Failures go to on-error with APIM's reasons (connection refused, timeout, a
/// response over `max-response-body-bytes`) and are counted; `return-response
/// response-variable-name` answers with the stored response; `send-one-way-request` does not
/// hold the client's request up.
#[test]
fn send_request_calls_out_with_backend_tls_and_fails_into_on_error() {
    let d =
        Demo::start_with(|y| format!("{y}\nexpression-limits:\n  max-response-body-bytes: 3000\n"));
    let backend = format!("https://127.0.0.1:{}", d.backend);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let policy = r#"<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "refused")">
        <send-request response-variable-name="r" timeout="5"><set-url>CLOSED/token</set-url></send-request>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "timeout")">
        <send-request response-variable-name="r" timeout="1"><set-url>BACKEND/slow?delay=3000</set-url></send-request>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "large")">
        <send-request response-variable-name="r"><set-url>BACKEND/large</set-url>
          <set-header name="X-Padding" exists-action="override"><value>@("".PadLeft(4000, 'x'))</value></set-header>
        </send-request>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "userinfo")">
        <send-request response-variable-name="r"><set-url>http://user:secret@127.0.0.1:9/token</set-url></send-request>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "return")">
        <send-request response-variable-name="r"><set-url>BACKEND/returned</set-url></send-request>
        <return-response response-variable-name="r"><set-header name="X-Returned" exists-action="override"><value>yes</value></set-header></return-response>
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "oneway")">
        <send-one-way-request><set-url>BACKEND/audit?delay=2000</set-url><set-method>POST</set-method><set-body>audit</set-body></send-one-way-request>
      </when>
      <otherwise>
        <send-request mode="new" response-variable-name="token" timeout="10">
          <set-url>BACKEND/token?grant=client_credentials</set-url>
          <set-method>POST</set-method>
          <set-header name="Content-Type" exists-action="override"><value>application/x-www-form-urlencoded</value></set-header>
          <set-body>@("client_id=" + context.Request.Certificate.Thumbprint)</set-body>
        </send-request>
        <set-variable name="echo" value="@(((IResponse)context.Variables["token"]).Body.As<JObject>().ToString(Newtonsoft.Json.Formatting.None))" />
      </otherwise>
    </choose>
  </inbound>
  <outbound>
    <base />
    <choose>
      <when condition="@(context.Variables.ContainsKey("echo"))">
        <set-header name="X-Sent-Request" exists-action="override"><value>@((string)JObject.Parse((string)context.Variables["echo"])["request"])</value></set-header>
        <set-header name="X-Sent-Certificate" exists-action="override"><value>@((string)JObject.Parse((string)context.Variables["echo"])["client_certificate"])</value></set-header>
        <set-header name="X-Sent-Body" exists-action="override"><value>@(((string)JObject.Parse((string)context.Variables["echo"])["body"]).Substring(0, 10))</value></set-header>
        <set-header name="X-Sent-Status" exists-action="override"><value>@(((IResponse)context.Variables["token"]).StatusCode.ToString())</value></set-header>
      </when>
    </choose>
  </outbound>
  <on-error>
    <base />
    <set-header name="X-Error-Source" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
  </on-error>
</policies>"#
        .replace("BACKEND", &backend)
        .replace("CLOSED", &closed);
    serve_api_with_policy(&d, "callout", &policy);
    let client = Some("dev-valid-client");

    let (status, head, body) = d.curl(API, "/callout/x", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "x-sent-request"),
        Some("post /token?grant=client_credentials http/1.1"),
        "{head}"
    );
    assert!(
        header(&head, "x-sent-certificate").is_some_and(|s| s.contains("cn=")),
        "the demo backend saw no client certificate: {head}"
    );
    assert_eq!(header(&head, "x-sent-body"), Some("client_id="), "{head}");
    assert_eq!(header(&head, "x-sent-status"), Some("200"), "{head}");

    for (case, status, reason) in [
        ("refused", 500, "backendconnectionfailure"),
        ("timeout", 504, "timeout"),
        ("large", 500, "responsetoolarge"),
        // Credentials in a URL are not sent (they would travel in the clear and in logs).
        ("userinfo", 500, "invalidrequest"),
    ] {
        let (s, head, body) = d.curl(API, &format!("/callout/x?case={case}"), client, &[]);
        assert_eq!(s, status, "{case}: {head}{body}");
        assert_eq!(
            header(&head, "x-error-reason"),
            Some(reason),
            "{case}: {head}"
        );
        assert_eq!(
            header(&head, "x-error-source"),
            Some("send-request"),
            "{case}: {head}"
        );
    }

    let (status, head, body) = d.curl(API, "/callout/x?case=return", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(header(&head, "x-returned"), Some("yes"), "{head}");
    assert_eq!(header(&head, "x-backend"), Some("demo"), "{head}");
    assert!(body.contains("GET /returned HTTP/1.1"), "{body}");

    // The audit call takes 2 s; the client's request does not wait for it.
    let started = Instant::now();
    let (status, head, body) = d.curl(API, "/callout/x?case=oneway", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );

    let counted = |result: &str, policy: &str| {
        let (_, _, m) = d.admin("GET", "/metrics");
        metric(
            &m,
            &format!("certgate_sent_requests_total{{policy=\"{policy}\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(counted("ok", "send-request"), 2.0);
    for r in ["BackendConnectionFailure", "Timeout", "ResponseTooLarge"] {
        assert_eq!(counted(r, "send-request"), 1.0, "{r}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while counted("ok", "send-one-way-request") < 1.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(counted("ok", "send-one-way-request"), 1.0);
}

/// Issue 14: APIM's token-caching pattern, as its documentation writes it: look the token up,
/// fetch it with `send-request` on a miss, store it with `cache-store-value`. The second request
/// is served from the cache (no second call out), the cache survives a reload, and its
/// activity is on `/metrics`.
#[test]
fn cached_values_spare_the_call_out_and_survive_reloads() {
    let d = Demo::start();
    let policy = r#"<policies>
  <inbound>
    <base />
    <cache-lookup-value key="@("token-" + context.Api.Name)" variable-name="token" caching-type="prefer-external" />
    <choose>
      <when condition="@(!context.Variables.ContainsKey("token"))">
        <send-request mode="new" response-variable-name="tokenResponse" timeout="10">
          <set-url>BACKEND/oauth/token</set-url>
          <set-method>POST</set-method>
        </send-request>
        <set-variable name="token" value="@((string)((IResponse)context.Variables["tokenResponse"]).Body.As<JObject>()["request"])" />
        <cache-store-value key="@("token-" + context.Api.Name)" value="@((string)context.Variables["token"])" duration="300" />
      </when>
    </choose>
    <set-header name="Authorization" exists-action="override"><value>@("Bearer " + (string)context.Variables["token"])</value></set-header>
  </inbound>
</policies>"#
        .replace("BACKEND", &format!("https://127.0.0.1:{}", d.backend));
    serve_api_with_policy(&d, "cached", &policy);
    let client = Some("dev-valid-client");
    for _ in 0..3 {
        let (status, head, body) = d.curl(API, "/cached/x", client, &[]);
        assert_eq!(status, 200, "{head}{body}");
        // The backend saw the token the token endpoint gave (its echo of the token request).
        assert!(body.contains("Bearer POST /oauth/token HTTP/1.1"), "{body}");
    }
    let (_, _, m) = d.admin("GET", "/metrics");
    let sent = metric(
        &m,
        "certgate_sent_requests_total{policy=\"send-request\",result=\"ok\"}",
    );
    assert_eq!(sent, 1.0, "the token was fetched once");
    assert_eq!(metric(&m, "certgate_value_cache{count=\"hits\"}"), 2.0);
    assert_eq!(metric(&m, "certgate_value_cache{count=\"misses\"}"), 1.0);
    assert_eq!(metric(&m, "certgate_value_cache{count=\"stores\"}"), 1.0);
    assert_eq!(metric(&m, "certgate_value_cache{count=\"entries\"}"), 1.0);
    // A reload keeps the cache: still no second call out.
    let (status, body) = d.reconfigure(|t| t);
    assert_eq!(status, 200, "{body}");
    let (status, head, body) = d.curl(API, "/cached/x", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    let (_, _, m) = d.admin("GET", "/metrics");
    assert_eq!(
        metric(
            &m,
            "certgate_sent_requests_total{policy=\"send-request\",result=\"ok\"}"
        ),
        1.0
    );
    assert_eq!(metric(&m, "certgate_value_cache{count=\"hits\"}"), 3.0);
}

/// Issue 14: requests `send-request` sends reuse pooled connections: five client requests, each
/// calling out once, reach a plain HTTP/1.1 server (counting what it accepts) over one
/// connection.
#[test]
fn send_request_reuses_pooled_connections() {
    let lookup = LocalHttp::start(|_, n| (200, format!("call {n}")));
    let d = Demo::start();
    let policy = r#"<policies>
  <inbound>
    <base />
    <send-request response-variable-name="r" timeout="10"><set-url>http://127.0.0.1:PORT/lookup</set-url></send-request>
    <set-header name="X-Lookup" exists-action="override"><value>@(((IResponse)context.Variables["r"]).Body.As<string>())</value></set-header>
  </inbound>
</policies>"#
        .replace("PORT", &lookup.port.to_string());
    serve_api_with_policy(&d, "pooled", &policy);
    for i in 1..=5 {
        let (status, head, body) = d.curl(API, "/pooled/x", Some("dev-valid-client"), &[]);
        assert_eq!(status, 200, "{head}{body}");
        assert!(body.contains(&format!("call {i}")), "{body}");
    }
    assert_eq!(lookup.requests().len(), 5);
    assert_eq!(
        lookup.accepted.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one pooled connection for all five"
    );
}

/// Issue 14: `authentication-managed-identity` obtains tokens as Azure workloads do, from a
/// local token service standing in for each source: IMDS (`Metadata: true`, `resource`), the
/// App Service identity endpoint (`X-IDENTITY-HEADER`), a client secret and workload identity
/// federation (OAuth 2.0 client credentials, `scope=<resource>/.default`, the projected token
/// file as the assertion). Tokens are cached until near expiry (one fetch for three requests);
/// a failing token service is `ManagedIdentityTokenFailure`, or nothing with `ignore-error`.
#[test]
fn managed_identity_tokens_come_from_each_source_and_are_cached() {
    let service = LocalHttp::start(|r, n| {
        if r.line.contains("resource=https%3A%2F%2Fbad") || r.body.contains("bad") {
            (
                400,
                r#"{"error":"invalid_resource","error_description":"secret detail"}"#.into(),
            )
        } else {
            (
                200,
                format!(
                    r#"{{"access_token":"tok-{n}","expires_in":"3600","token_type":"Bearer"}}"#
                ),
            )
        }
    });
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), "federated-assertion\n").unwrap();
    let endpoint = format!("http://127.0.0.1:{}/token", service.port);
    let section = |source: &str| {
        format!(
            "\nmanaged-identity:\n  source: {source}\n  endpoint: {endpoint}\n  client-id: app-1\n  tenant-id: t-1\n  client-secret: s3cr3t\n  identity-header: h34d3r\n  federated-token-file: {}\n",
            token_file.path().display()
        )
    };
    let d = Demo::start_with(|y| format!("{y}{}", section("imds")));
    serve_api_with_policy(
        &d,
        "identity",
        &r#"<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "bad")">
        <authentication-managed-identity resource="https://bad" />
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "ignored")">
        <authentication-managed-identity resource="https://bad" ignore-error="true" />
      </when>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("case", "") == "send")">
        <send-request response-variable-name="r"><set-url>SERVICE/lookup</set-url>
          <authentication-managed-identity resource="https://graph.microsoft.com" />
        </send-request>
      </when>
      <otherwise>
        <authentication-managed-identity resource="https://vault.azure.net" />
      </otherwise>
    </choose>
  </inbound>
</policies>"#
            .replace("SERVICE", &format!("http://127.0.0.1:{}", service.port)),
    );
    let client = Some("dev-valid-client");
    for _ in 0..3 {
        let (status, head, body) = d.curl(API, "/identity/x", client, &[]);
        assert_eq!(status, 200, "{head}{body}");
        assert!(
            body.contains(r#"["Authorization","Bearer tok-1"]"#),
            "{body}"
        );
    }
    let imds = service.requests();
    assert_eq!(imds.len(), 1, "cached: {imds:?}");
    assert!(imds[0].line.starts_with("GET /token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=app-1 "), "{imds:?}");
    assert_eq!(imds[0].header("metadata"), Some("true"));

    let (status, head, body) = d.curl(API, "/identity/x?case=bad", client, &[]);
    assert_eq!(status, 500, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("managedidentitytokenfailure"),
        "{head}"
    );
    assert!(!body.contains("secret detail"), "{body}");
    let (status, head, body) = d.curl(API, "/identity/x?case=ignored", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(!body.contains("Bearer"), "{body}");

    // The other sources: each reload is another identity, so another fetch.
    for (source, check) in [
        ("app-service", "x-identity-header"),
        ("client-secret", "client_secret=s3cr3t"),
        ("workload-identity", "client_assertion=federated-assertion"),
    ] {
        let before = service.requests().len();
        let (status, body) = d.reconfigure(|y| {
            let cut = y.find("\nmanaged-identity:").unwrap_or(y.len());
            format!("{}{}", &y[..cut], section(source))
        });
        assert_eq!(status, 200, "{body}");
        let (status, head, body) = d.curl(API, "/identity/x", client, &[]);
        assert_eq!(status, 200, "{source}: {head}{body}");
        let all = service.requests();
        assert_eq!(all.len(), before + 1, "{source}");
        let got = all.last().unwrap();
        assert!(
            body.contains(&format!("Bearer tok-{}", all.len())),
            "{source}: {body}"
        );
        if source == "app-service" {
            assert_eq!(got.header(check), Some("h34d3r"), "{got:?}");
            assert!(got.line.contains("api-version=2019-08-01"), "{got:?}");
        } else {
            assert!(got.line.starts_with("POST /token "), "{got:?}");
            assert!(got.body.contains(check), "{source}: {got:?}");
            assert!(
                got.body
                    .contains("scope=https%3A%2F%2Fvault.azure.net%2F.default"),
                "{got:?}"
            );
            assert!(
                got.body.contains("grant_type=client_credentials"),
                "{got:?}"
            );
        }
    }
    // authentication-managed-identity inside send-request: the token, then the call with it.
    let before = service.requests().len();
    let (status, head, body) = d.curl(API, "/identity/x?case=send", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    let all = service.requests();
    assert_eq!(all.len(), before + 2, "{all:?}");
    assert!(
        all[before].body.contains("graph.microsoft.com"),
        "{:?}",
        all[before]
    );
    assert_eq!(
        all[before + 1].header("authorization"),
        Some(format!("Bearer tok-{}", before + 1).as_str())
    );
    let (_, _, m) = d.admin("GET", "/metrics");
    assert_eq!(
        metric(
            &m,
            "certgate_managed_identity_tokens_total{result=\"cached\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "certgate_managed_identity_tokens_total{result=\"failed\"}"
        ),
        2.0
    );
}

/// Issue 14: `set-query-parameter`, `set-method` and `authentication-basic` change the request
/// the backend gets (its echo shows the request line and headers).
#[test]
fn request_rewriting_policies_reach_the_backend() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "rewrite",
        r#"<policies>
  <inbound>
    <base />
    <set-query-parameter name="api-version" exists-action="override"><value>2024-01-01</value></set-query-parameter>
    <set-query-parameter name="debug" exists-action="delete" />
    <set-query-parameter name="tag" exists-action="append"><value>@("from gateway")</value></set-query-parameter>
    <set-method>PUT</set-method>
    <authentication-basic username="gateway" password="s3cr3t" />
    <trace source="legacy">rewritten</trace>
    <emit-metric name="Rewrites" namespace="certgate-tests" value="2"><dimension name="API ID" /><dimension name="method" value="@(context.Request.Method)" /></emit-metric>
  </inbound>
</policies>"#,
    );
    let (status, head, body) = d.curl(
        API,
        "/rewrite/items?debug=1&tag=a&api-version=old",
        Some("dev-valid-client"),
        &[],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert!(
        body.contains("PUT /items?tag=a&api-version=2024-01-01&tag=from%20gateway HTTP/1.1"),
        "{body}"
    );
    // base64("gateway:s3cr3t")
    assert!(body.contains("Basic Z2F0ZXdheTpzM2NyM3Q="), "{body}");
    // emit-metric, as a Prometheus counter labelled with its namespace and dimensions.
    let (_, _, m) = d.admin("GET", "/metrics");
    let line = m
        .lines()
        .find(|l| l.starts_with("certgate_custom_rewrites_total{"))
        .unwrap_or_else(|| panic!("{m}"));
    assert!(
        line.contains(r#"method="PUT""#)
            && line.contains(r#"namespace="certgate-tests""#)
            && line.contains("api_id=\""),
        "{line}"
    );
    assert!(line.ends_with(" 2"), "{line}");
}

/// Issue 14: `rate-limit` counts each client certificate as a caller (certgate's stand-in for
/// APIM's subscription): the third call of one certificate in the period gets 429 with
/// Retry-After, while another certificate still gets through.
#[test]
fn rate_limit_counts_each_client_certificate() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "limited",
        r#"<policies>
  <inbound>
    <base />
    <rate-limit calls="2" renewal-period="60" remaining-calls-header-name="X-Remaining" />
  </inbound>
</policies>"#,
    );
    for left in ["1", "0"] {
        let (status, head, body) = d.curl(API, "/limited/x", Some("dev-valid-client"), &[]);
        assert_eq!(status, 200, "{head}{body}");
        assert_eq!(header(&head, "x-remaining"), Some(left), "{head}");
    }
    let (status, head, body) = d.curl(API, "/limited/x", Some("dev-valid-client"), &[]);
    assert_eq!(status, 429, "{head}{body}");
    assert!(header(&head, "retry-after").is_some(), "{head}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("ratelimitexceeded"),
        "{head}"
    );
    let (status, head, body) = d.curl(API, "/limited/x", Some("dev-unregistered-client"), &[]);
    assert_eq!(
        status, 200,
        "another certificate is another caller: {head}{body}"
    );
}

/// A JWT signed with RS256 by `key`, with `kid` and `claims`.
fn rs256(
    key: &certgate_policy::crypto::pkey::PKey<certgate_policy::crypto::pkey::Private>,
    kid: &str,
    claims: &serde_json::Value,
) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let head = b64(
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid})
            .to_string()
            .as_bytes(),
    );
    let body = b64(claims.to_string().as_bytes());
    let mut signer = certgate_policy::crypto::sign::Signer::new(
        certgate_policy::crypto::hash::MessageDigest::sha256(),
        key,
    )
    .unwrap();
    signer.update(format!("{head}.{body}").as_bytes()).unwrap();
    format!("{head}.{body}.{}", b64(&signer.sign_to_vec().unwrap()))
}

/// Issue 14: `validate-jwt` with an `openid-config`: the gateway fetches the discovery
/// document and its JWKS from a local OpenID provider in the background, then admits tokens
/// signed with its key for the configured audience and refuses the rest with APIM's reasons
/// and 401 bodies.
#[test]
fn validate_jwt_with_an_openid_configuration_fetched_by_the_gateway() {
    use base64::Engine;
    let rsa = certgate_policy::crypto::rsa::Rsa::generate(2048).unwrap();
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = serde_json::json!({"kty": "RSA", "kid": "k1", "alg": "RS256", "n": b64(rsa.n().to_vec()), "e": b64(rsa.e().to_vec())});
    let key = certgate_policy::crypto::pkey::PKey::from_rsa(rsa).unwrap();
    let idp_port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
    let port = idp_port.clone();
    let idp = LocalHttp::start(move |r, _| {
        let p = port.load(std::sync::atomic::Ordering::Relaxed);
        if r.line.starts_with("GET /.well-known/openid-configuration ") {
            (
                200,
                format!(
                    r#"{{"issuer":"https://idp.test/","jwks_uri":"http://127.0.0.1:{p}/keys"}}"#
                ),
            )
        } else if r
            .line
            .starts_with("GET /contoso.test/v2.0/.well-known/openid-configuration ")
        {
            (
                200,
                format!(
                    r#"{{"issuer":"https://login.microsoftonline.com/{TENANT}/v2.0","jwks_uri":"http://127.0.0.1:{p}/keys"}}"#
                ),
            )
        } else if r.line.starts_with("GET /keys ") {
            (200, serde_json::json!({"keys": [jwk.clone()]}).to_string())
        } else {
            (404, "{}".into())
        }
    });
    idp_port.store(idp.port, std::sync::atomic::Ordering::Relaxed);
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "jwt",
        &r#"<policies>
  <inbound>
    <base />
    <validate-jwt header-name="Authorization" output-token-variable-name="jwt">
      <openid-config url="http://127.0.0.1:PORT/.well-known/openid-configuration" />
      <audiences><audience>api://weather</audience></audiences>
    </validate-jwt>
    <set-header name="X-Subject" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Subject)</value></set-header>
  </inbound>
</policies>"#
            .replace("PORT", &idp.port.to_string()),
    );
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, iss: &str, exp: i64| serde_json::json!({"sub": "alice", "aud": aud, "iss": iss, "exp": exp});
    let good = rs256(
        &key,
        "k1",
        &claims("api://weather", "https://idp.test/", now + 300),
    );
    let bearer = |t: &str| format!("Authorization: Bearer {t}");
    let client = Some("dev-valid-client");
    // The first fetch happens within a second of the load.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut status, mut head, mut body);
    loop {
        (status, head, body) = d.curl(API, "/jwt/x", client, &["-H", &bearer(&good)]);
        if status == 200 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, 200, "{head}{body}");
    assert!(body.contains(r#"["X-Subject","alice"]"#), "{body}");

    let other = certgate_policy::crypto::pkey::PKey::from_rsa(
        certgate_policy::crypto::rsa::Rsa::generate(2048).unwrap(),
    )
    .unwrap();
    for (token, reason) in [
        (
            rs256(
                &other,
                "k1",
                &claims("api://weather", "https://idp.test/", now + 300),
            ),
            "tokensignatureinvalid",
        ),
        (
            rs256(
                &key,
                "k1",
                &claims("api://other", "https://idp.test/", now + 300),
            ),
            "tokenaudiencenotallowed",
        ),
        (
            rs256(
                &key,
                "k1",
                &claims("api://weather", "https://evil.test/", now + 300),
            ),
            "tokenissuernotallowed",
        ),
        (
            rs256(
                &key,
                "k1",
                &claims("api://weather", "https://idp.test/", now - 300),
            ),
            "tokenexpired",
        ),
    ] {
        let (status, head, body) = d.curl(API, "/jwt/x", client, &["-H", &bearer(&token)]);
        assert_eq!(status, 401, "{reason}: {head}{body}");
        assert_eq!(header(&head, "x-error-reason"), Some(reason), "{head}");
        assert!(body.contains(r#""message":"Invalid JWT.""#), "{body}");
    }
    let (status, head, body) = d.curl(API, "/jwt/x", client, &[]);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("tokennotpresent"),
        "{head}"
    );
    assert!(body.contains(r#""message":"JWT not present.""#), "{body}");

    // validate-azure-ad-token: the tenant's configuration, v2 and v1 issuers, the client
    // application.
    serve_api_with_policy(
        &d,
        "entra",
        &r#"<policies>
  <inbound>
    <base />
    <validate-azure-ad-token tenant-id="contoso.test" authentication-endpoint="http://127.0.0.1:PORT">
      <client-application-ids><application-id>app-1</application-id></client-application-ids>
      <audiences><audience>api://weather</audience></audiences>
    </validate-azure-ad-token>
  </inbound>
</policies>"#
            .replace("PORT", &idp.port.to_string()),
    );
    let v2 = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
    let v1 = format!("https://sts.windows.net/{TENANT}/");
    let entra = |app: (&str, &str), iss: &str| {
        let mut c = claims("api://weather", iss, now + 300);
        c[app.0] = serde_json::json!(app.1);
        rs256(&key, "k1", &c)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut status, mut head, mut body);
    loop {
        let t = entra(("azp", "app-1"), &v2);
        (status, head, body) = d.curl(API, "/entra/x", client, &["-H", &bearer(&t)]);
        if status == 200 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, 200, "v2 token: {head}{body}");
    let t = entra(("appid", "app-1"), &v1);
    let (status, head, body) = d.curl(API, "/entra/x", client, &["-H", &bearer(&t)]);
    assert_eq!(status, 200, "v1 token: {head}{body}");
    let t = entra(("azp", "app-2"), &v2);
    let (status, head, body) = d.curl(API, "/entra/x", client, &["-H", &bearer(&t)]);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("tokenclientapplicationnotallowed"),
        "{head}"
    );
    let (status, head, body) = d.curl(API, "/entra/x", client, &["-H", &bearer(&good)]);
    assert_eq!(status, 401, "another issuer: {head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("tokenissuernotallowed"),
        "{head}"
    );

    let (_, _, m) = d.admin("GET", "/metrics");
    assert!(
        metric(&m, "certgate_openid_fetches_total{result=\"ok\"}") >= 2.0,
        "{m}"
    );
}

/// Issue 14: an identity provider that fails: `/readyz` says the node is not ready while the
/// first fetch is under way (tokens would all be refused), the failure is counted and logged,
/// the node becomes ready once the fetch has ended, and tokens are refused with
/// `TokenSignatureKeyNotFound` (never admitted without keys).
#[test]
fn a_failing_openid_provider_is_counted_and_readiness_waits_for_the_first_fetch() {
    let idp = LocalHttp::start(|r, _| {
        if r.line.starts_with("GET /down/") {
            // Slow, then broken: the readiness window is observable.
            std::thread::sleep(Duration::from_millis(2500));
            (500, r#"{"error":"down"}"#.to_string())
        } else {
            (404, "{}".into())
        }
    });
    let d = Demo::start();
    let (status, _, body) = d.admin("GET", "/readyz");
    assert_eq!(status, 200, "{body}");
    serve_api_with_policy(
        &d,
        "jwtdown",
        &r#"<policies>
  <inbound>
    <base />
    <validate-jwt header-name="Authorization">
      <openid-config url="http://127.0.0.1:PORT/down/.well-known/openid-configuration" />
    </validate-jwt>
  </inbound>
</policies>"#
            .replace("PORT", &idp.port.to_string()),
    );
    let (status, _, body) = d.admin("GET", "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("not ready: fetching openid-config http://127.0.0.1:"),
        "{body}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = (status, body);
    while ready.0 != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let (status, _, body) = d.admin("GET", "/readyz");
        ready = (status, body);
    }
    assert_eq!(ready.0, 200, "ready once the fetch ended: {}", ready.1);
    let (_, _, m) = d.admin("GET", "/metrics");
    assert_eq!(
        metric(&m, "certgate_openid_fetches_total{result=\"failed\"}"),
        1.0,
        "{m}"
    );
    let key = certgate_policy::crypto::pkey::PKey::from_rsa(
        certgate_policy::crypto::rsa::Rsa::generate(2048).unwrap(),
    )
    .unwrap();
    let exp = chrono::Utc::now().timestamp() + 300;
    let token = rs256(
        &key,
        "k1",
        &serde_json::json!({"sub": "mallory", "exp": exp}),
    );
    let auth = format!("Authorization: Bearer {token}");
    let (status, head, body) = d.curl(API, "/jwtdown/x", Some("dev-valid-client"), &["-H", &auth]);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("tokensignaturekeynotfound"),
        "{head}"
    );
}

/// The tenant id of the local Entra stand-in.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Issue 14: `limit-concurrency` around `forward-request`: while one request waits for a slow
/// backend inside the limit, another is refused with 429; afterwards the slot is free again.
#[test]
fn limit_concurrency_refuses_requests_beyond_the_limit() {
    let d = std::sync::Arc::new(Demo::start());
    serve_api_with_policy(
        &d,
        "single",
        r#"<policies>
  <inbound><base /></inbound>
  <backend>
    <limit-concurrency key="single-backend" max-count="1">
      <forward-request timeout="20" />
    </limit-concurrency>
  </backend>
</policies>"#,
    );
    let slow = {
        let d = d.clone();
        std::thread::spawn(move || {
            d.curl(API, "/single/x?delay=4000", Some("dev-valid-client"), &[])
        })
    };
    // Well inside the slow request's 4 s, however busy the machine.
    std::thread::sleep(Duration::from_millis(1000));
    let (status, head, body) = d.curl(API, "/single/x", Some("dev-valid-client"), &[]);
    assert_eq!(status, 429, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("concurrencylimitexceeded"),
        "{head}"
    );
    let (status, head, body) = slow.join().unwrap();
    assert_eq!(status, 200, "{head}{body}");
    let (status, head, body) = d.curl(API, "/single/x", Some("dev-valid-client"), &[]);
    assert_eq!(status, 200, "the slot is free again: {head}{body}");
}

/// Issue 14: `cors`. A preflight to an API that has only a GET operation is answered by its
/// cors policy alone (the policies before it do not run, the backend is not called); an actual
/// request from an allowed origin gets the grant on the backend's response; one from another
/// origin ends with an empty 200.
#[test]
fn cors_preflights_are_answered_by_the_gateway_and_grants_reach_responses() {
    let d = Demo::start();
    std::fs::write(
        d.dir.path().join("policies/cors.xml"),
        r#"<policies>
  <inbound>
    <base />
    <check-header name="X-Required" failed-check-httpcode="400" failed-check-error-message="missing" />
    <cors allow-credentials="true">
      <allowed-origins><origin>https://app.example</origin></allowed-origins>
      <allowed-methods preflight-result-max-age="600"><method>GET</method></allowed-methods>
      <allowed-headers><header>X-Required</header></allowed-headers>
      <expose-headers><header>X-Backend</header></expose-headers>
    </cors>
  </inbound>
</policies>"#,
    )
    .unwrap();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "trusted-proxies:",
            "  - name: cors\n    path: /cors\n    backend: demo\n    policy: policies/cors.xml\n    operations:\n      - { name: get, method: GET, url-template: \"/{*rest}\" }\n\ntrusted-proxies:",
        )
    });
    assert_eq!(status, 200, "{body}");
    let client = Some("dev-valid-client");
    let preflight = |origin: &str| {
        d.curl(
            API,
            "/cors/items",
            client,
            &[
                "-X",
                "OPTIONS",
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "Access-Control-Request-Method: GET",
                "-H",
                "Access-Control-Request-Headers: x-required",
            ],
        )
    };
    let (status, head, body) = preflight("https://app.example");
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "access-control-allow-origin"),
        Some("https://app.example"),
        "{head}"
    );
    assert_eq!(
        header(&head, "access-control-allow-methods"),
        Some("get"),
        "{head}"
    );
    assert_eq!(
        header(&head, "access-control-allow-headers"),
        Some("x-required"),
        "{head}"
    );
    assert_eq!(
        header(&head, "access-control-max-age"),
        Some("600"),
        "{head}"
    );
    assert_eq!(
        header(&head, "access-control-allow-credentials"),
        Some("true"),
        "{head}"
    );
    assert_eq!(
        header(&head, "x-backend"),
        None,
        "the backend was called: {head}"
    );
    let (status, head, _) = preflight("https://evil.example");
    assert_eq!(status, 200);
    assert_eq!(header(&head, "access-control-allow-origin"), None, "{head}");

    let (status, head, body) = d.curl(
        API,
        "/cors/items",
        client,
        &["-H", "Origin: https://app.example", "-H", "X-Required: 1"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(header(&head, "x-backend"), Some("demo"), "{head}");
    assert_eq!(
        header(&head, "access-control-allow-origin"),
        Some("https://app.example"),
        "{head}"
    );
    assert_eq!(
        header(&head, "access-control-expose-headers"),
        Some("x-backend"),
        "{head}"
    );
    let (status, head, body) = d.curl(
        API,
        "/cors/items",
        client,
        &["-H", "Origin: https://evil.example", "-H", "X-Required: 1"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "x-backend"),
        None,
        "terminated before the backend: {head}"
    );
    assert!(body.is_empty(), "{body}");
    // An OPTIONS request that is not a preflight is routed as any other (no OPTIONS operation).
    let (status, head, body) = d.curl(API, "/cors/items", client, &["-X", "OPTIONS"]);
    assert_eq!(status, 404, "{head}{body}");
}

/// Issue 14: `retry` around `send-request`: a lookup service that fails twice is called three
/// times, a second apart, and the request goes on with its answer.
#[test]
fn retry_calls_a_flaky_service_again() {
    let flaky = LocalHttp::start(|_, n| {
        if n < 3 {
            (503, "busy".to_string())
        } else {
            (200, "fine".into())
        }
    });
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "retry",
        &r#"<policies>
  <inbound>
    <base />
    <retry condition="@(context.Variables["r"] == null || ((IResponse)context.Variables["r"]).StatusCode >= 500)" count="3" interval="1">
      <send-request response-variable-name="r" ignore-error="true" timeout="5"><set-url>http://127.0.0.1:PORT/lookup</set-url></send-request>
    </retry>
    <set-header name="X-Lookup" exists-action="override"><value>@(((IResponse)context.Variables["r"]).Body.As<string>())</value></set-header>
  </inbound>
</policies>"#
            .replace("PORT", &flaky.port.to_string()),
    );
    let started = Instant::now();
    let (status, head, body) = d.curl(API, "/retry/x", Some("dev-valid-client"), &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(body.contains(r#"["X-Lookup","fine"]"#), "{body}");
    assert_eq!(flaky.requests().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two waits of a second"
    );
}

/// Issue 14: `wait for="all"` sends its requests together: each of two services answers only
/// once the other has received its request (sent one after the other, the first would give up
/// waiting and answer "alone"). `for="any"` goes on with the first answer and leaves the other
/// request's variable unset.
#[test]
fn wait_sends_requests_together() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let arrived = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let service = |me: usize| {
        let arrived = arrived.clone();
        LocalHttp::start(move |_, _| {
            arrived[me].store(true, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(5);
            while !arrived[1 - me].load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let together = arrived[1 - me].load(Ordering::SeqCst);
            (200, if together { "together" } else { "alone" }.to_string())
        })
    };
    let (a, b) = (service(0), service(1));
    let slow = LocalHttp::start(|_, _| {
        std::thread::sleep(Duration::from_secs(3));
        (200, "slow".to_string())
    });
    let fast = LocalHttp::start(|_, _| (200, "fast".to_string()));
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "wait",
        &r#"<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Url.Query.GetValueOrDefault("for", "") == "any")">
        <wait for="any">
          <send-request response-variable-name="slow" timeout="10"><set-url>http://127.0.0.1:SLOW/</set-url></send-request>
          <send-request response-variable-name="fast" timeout="10"><set-url>http://127.0.0.1:FAST/</set-url></send-request>
        </wait>
        <set-header name="X-Any" exists-action="override"><value>@(context.Variables.ContainsKey("slow") + "/" + ((IResponse)context.Variables["fast"]).Body.As<string>())</value></set-header>
      </when>
      <otherwise>
        <wait for="all">
          <send-request response-variable-name="a" timeout="10"><set-url>http://127.0.0.1:A/</set-url></send-request>
          <send-request response-variable-name="b" timeout="10"><set-url>http://127.0.0.1:B/</set-url></send-request>
        </wait>
        <set-header name="X-All" exists-action="override"><value>@(((IResponse)context.Variables["a"]).Body.As<string>() + "/" + ((IResponse)context.Variables["b"]).Body.As<string>())</value></set-header>
      </otherwise>
    </choose>
  </inbound>
</policies>"#
            .replace("SLOW", &slow.port.to_string())
            .replace("FAST", &fast.port.to_string())
            .replace(":A/", &format!(":{}/", a.port))
            .replace(":B/", &format!(":{}/", b.port)),
    );
    let client = Some("dev-valid-client");
    let (status, head, body) = d.curl(API, "/wait/x", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(body.contains(r#"["X-All","together/together"]"#), "{body}");
    let (status, head, body) = d.curl(API, "/wait/x?for=any", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert!(body.contains(r#"["X-Any","False/fast"]"#), "{body}");
}

/// Issue 14: `set-body template="liquid"` turns a JSON request into a SOAP envelope for the
/// backend, as APIM's documentation example does.
#[test]
fn liquid_templates_transform_request_bodies() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "soap",
        r#"<policies>
  <inbound>
    <base />
    <find-and-replace from="c-42" to="c-43" />
    <set-body template="liquid">
      <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
        <soap:Body><GetOpenOrders><cust>{{body.getOpenOrders.cust | Upcase}}</cust><via>{{context.Request.Method}}</via></GetOpenOrders></soap:Body>
      </soap:Envelope>
    </set-body>
    <set-header name="Content-Type" exists-action="override"><value>text/xml</value></set-header>
  </inbound>
</policies>"#,
    );
    let (status, head, body) = d.curl(
        API,
        "/soap/orders",
        Some("dev-valid-client"),
        &[
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"getOpenOrders":{"cust":"c-42"}}"#,
        ],
    );
    assert_eq!(status, 200, "{head}{body}");
    // find-and-replace ran on the JSON first.
    assert!(body.contains("<cust>C-43</cust><via>POST</via>"), "{body}");
    assert!(body.contains("soap:Envelope"), "{body}");

    // The other way: an XML body is bound as Newtonsoft reads it, dates and money as
    // DotLiquid shows them; a loop over a hostile body ends at the output bound with a 500.
    serve_api_with_policy(
        &d,
        "fromxml",
        r#"<policies>
  <inbound>
    <base />
    <set-body template="liquid">{"id":"{{body.order.id}}","total":"{{body.order.total | Currency}}","lines":[{% for l in body.order.line %}{% for m in body.order.line %}"{{l}}{{m}}"{% unless forloop.last %},{% endunless %}{% endfor %}{% unless forloop.last %},{% endunless %}{% endfor %}]}</set-body>
    <set-header name="Content-Type" exists-action="override"><value>application/json</value></set-header>
  </inbound>
</policies>"#,
    );
    let xml = "<order><id>7</id><total>1234.5</total><line>a</line><line>b</line></order>";
    let args = ["-H", "Content-Type: text/xml", "--data", xml];
    let (status, head, body) = d.curl(API, "/fromxml/o", Some("dev-valid-client"), &args);
    assert_eq!(status, 200, "{head}{body}");
    let echoed: serde_json::Value = serde_json::from_str(&body).expect("the backend's echo");
    assert_eq!(
        echoed["body"], r#"{"id":"7","total":"$1,234.50","lines":["aa","ab","ba","bb"]}"#,
        "{body}"
    );
    // 3000 lines printed 3000 times each are 36 MB: past the 4 MiB bound, refused.
    let hostile = format!("<order>{}</order>", "<line>x</line>".repeat(3000));
    let args = [
        "-H",
        "Content-Type: text/xml",
        "--data-binary",
        hostile.as_str(),
    ];
    let (status, head, body) = d.curl(API, "/fromxml/o", Some("dev-valid-client"), &args);
    assert_eq!(status, 500, "{head}{body}");
    assert!(
        body.len() < 4096,
        "the error, not a partial render: {}",
        body.len()
    );
}

/// Issue 14: a Liquid `set-body` and `find-and-replace` after the backend call work on the
/// backend's whole body (the gateway receives it before outbound runs); the status and headers
/// outbound sets still reach the client, and a slow backend is still a timeout.
#[test]
fn policies_after_the_backend_rewrite_its_whole_body() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "reshape",
        r#"<policies>
  <inbound><base /></inbound>
  <backend><forward-request timeout="1" /></backend>
  <outbound>
    <base />
    <set-header name="X-Line" exists-action="override"><value>@((string)context.Response.Body.As<JObject>(preserveContent: true)["request"])</value></set-header>
    <find-and-replace from="demo" to="DEMO" />
    <set-body template="liquid">{"line":"{{body.request}}","status":{{context.Response.StatusCode}}}</set-body>
    <set-header name="X-Reshaped" exists-action="override"><value>yes</value></set-header>
  </outbound>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    let (status, head, body) = d.curl(API, "/reshape/items?a=1", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(body, r#"{"line":"GET /items?a=1 HTTP/1.1","status":200}"#);
    assert_eq!(header(&head, "x-reshaped"), Some("yes"), "{head}");
    assert_eq!(
        header(&head, "x-line"),
        Some("get /items?a=1 http/1.1"),
        "{head}"
    );
    assert_eq!(
        header(&head, "content-length"),
        Some(body.len().to_string().as_str()),
        "{head}"
    );
    assert_eq!(
        header(&head, "x-backend"),
        Some("demo"),
        "the backend's headers stay: {head}"
    );
    let (status, head, body) = d.curl(API, "/reshape/items?delay=3000", client, &[]);
    assert_eq!(status, 504, "{head}{body}");
    assert_eq!(header(&head, "x-error-reason"), Some("timeout"), "{head}");
}

/// Issue 14: `cache-lookup`/`cache-store`: a GET the cache holds is answered by the gateway
/// without calling the backend again (per varied query parameter), with its headers and body
/// and the downstream `Cache-Control`.
#[test]
fn responses_are_cached_by_their_varying_parts() {
    let backend = LocalHttp::start(|r, n| (200, format!(r#"{{"call":{n},"line":"{}"}}"#, r.line)));
    let d = Demo::start();
    std::fs::write(
        d.dir.path().join("policies/cached-api.xml"),
        r#"<policies>
  <inbound>
    <base />
    <cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="private" must-revalidate="false">
      <vary-by-query-parameter>city</vary-by-query-parameter>
    </cache-lookup>
  </inbound>
  <outbound>
    <base />
    <cache-store duration="120" />
  </outbound>
</policies>"#,
    )
    .unwrap();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "trusted-proxies:",
            &format!("  - name: cached-api\n    path: /cached-api\n    backend: http://127.0.0.1:{}\n    policy: policies/cached-api.xml\n    operations:\n      - {{ name: get, method: GET, url-template: \"/{{*rest}}\" }}\n\ntrusted-proxies:", backend.port),
        )
    });
    assert_eq!(status, 200, "{body}");
    let client = Some("dev-valid-client");
    let get = |q: &str| d.curl(API, &format!("/cached-api/weather?city={q}"), client, &[]);
    let (status, head, first) = get("oslo");
    assert_eq!(status, 200, "{head}{first}");
    assert!(first.contains(r#""call":1"#), "{first}");
    assert_eq!(
        header(&head, "cache-control"),
        Some("private, max-age=120"),
        "{head}"
    );
    let (status, head, again) = get("oslo");
    assert_eq!(status, 200, "{head}{again}");
    assert_eq!(again, first, "served from the cache");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/json"),
        "{head}"
    );
    let (_, _, other) = get("bergen");
    assert!(
        other.contains(r#""call":2"#),
        "another city is another entry: {other}"
    );
    assert_eq!(backend.requests().len(), 2);
}

/// Issue 14: `json-to-xml` after the backend call converts the backend's JSON for a client
/// that asks for XML, and leaves it for one that does not (`consider-accept-header`).
#[test]
fn json_to_xml_converts_backend_responses_for_clients_that_ask() {
    let d = Demo::start();
    serve_api_with_policy(
        &d,
        "xml",
        r#"<policies>
  <inbound><base /></inbound>
  <outbound>
    <base />
    <json-to-xml apply="content-type-json" />
    <jsonp callback-parameter-name="cb" />
  </outbound>
</policies>"#,
    );
    let client = Some("dev-valid-client");
    let (status, head, body) = d.curl(
        API,
        "/xml/items",
        client,
        &["-H", "Accept: application/xml"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/xml"),
        "{head}"
    );
    assert!(
        body.starts_with("<Document><request>GET /items HTTP/1.1</request>"),
        "{body}"
    );
    let (status, head, body) = d.curl(
        API,
        "/xml/items",
        client,
        &["-H", "Accept: application/json"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/json"),
        "{head}"
    );
    assert!(
        body.starts_with(r#"{"request":"GET /items HTTP/1.1""#),
        "{body}"
    );
    // jsonp wraps what the backend said in the client's callback.
    let (status, head, body) = d.curl(API, "/xml/items?cb=app.got", client, &[]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/javascript"),
        "{head}"
    );
    assert!(
        body.starts_with(r#"app.got({"request":"GET /items?cb=app.got"#) && body.ends_with("})"),
        "{body}"
    );
    let (status, head, _) = d.curl(API, "/xml/items?cb=alert(1)", client, &[]);
    assert_eq!(status, 400, "{head}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("callbackparameterinvalid"),
        "{head}"
    );
}

/// Issue 14: `retry` around `forward-request`: a backend that answers 503 twice is called a
/// third time and its 200 goes to the client (the route is called whole, so nothing of the
/// failed answers leaks).
#[test]
fn retry_calls_the_backend_again() {
    let flaky = LocalHttp::start(|_, n| {
        if n < 3 {
            (503, format!("busy {n}"))
        } else {
            (200, format!("fine {n}"))
        }
    });
    let d = Demo::start();
    std::fs::write(
        d.dir.path().join("policies/retried.xml"),
        r#"<policies>
  <inbound><base /></inbound>
  <backend>
    <retry condition="@(context.Response.StatusCode >= 500)" count="3" interval="1">
      <forward-request timeout="5" />
    </retry>
  </backend>
</policies>"#,
    )
    .unwrap();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "trusted-proxies:",
            &format!("  - name: retried\n    path: /retried\n    backend: http://127.0.0.1:{}\n    policy: policies/retried.xml\n    operations:\n      - {{ name: any, method: \"*\", url-template: \"/{{*rest}}\" }}\n\ntrusted-proxies:", flaky.port),
        )
    });
    assert_eq!(status, 200, "{body}");
    let (status, head, body) = d.curl(
        API,
        "/retried/x",
        Some("dev-valid-client"),
        &["--data", "payload"],
    );
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(body, "fine 3");
    let calls = flaky.requests();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.body == "payload"),
        "the body goes with every attempt: {calls:?}"
    );
}

/// A certificate the demo DEV CA issues for `cn` (a client, or with `dns` names a server)
/// naming CRL distribution points and OCSP responders, written as `pki/<stem>.pem` (with the CA
/// after it: a chain) and `pki/<stem>.key.pem`.
fn issue_online(
    d: &Demo,
    stem: &str,
    cn: &str,
    dns: &[&str],
    crl_urls: &[&str],
    ocsp_urls: &[&str],
) -> certgate_policy::pki::Issued {
    use certgate_policy::pki::{issue, KeyKind, Profile, Spec};
    let name = {
        let mut b = certgate_policy::crypto::x509::X509NameBuilder::new().unwrap();
        b.append_entry_by_text("CN", cn).unwrap();
        b.build()
    };
    let profile = if dns.is_empty() {
        Profile::Client
    } else {
        Profile::Server
    };
    let mut spec = Spec::new(name, profile);
    spec.dns = dns;
    spec.crl_urls = crl_urls;
    spec.ocsp_urls = ocsp_urls;
    let issued = issue(KeyKind::EcdsaP256, &spec, Some(&d.tree.dev_ca)).unwrap();
    let chain = [issued.cert_pem(), d.tree.dev_ca.cert_pem()].concat();
    std::fs::write(d.pki(&format!("{stem}.pem")), chain).unwrap();
    std::fs::write(d.pki(&format!("{stem}.key.pem")), issued.key_pem()).unwrap();
    issued
}

/// The DEV CA's store opts in to `option` (`crl-distribution-points` or `ocsp`), answers are
/// refreshed every 2 s and retried after 1 s, and the API `name` checks client certificates
/// with revocation.
fn check_revocation_online(d: &Demo, option: &str, name: &str) {
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "    crls: [pki/dev-intermediate-ca.crl.pem]",
            &format!("    crls: [pki/dev-intermediate-ca.crl.pem]\n    {option}: true"),
        ) + "\ntrust:\n  crl-refresh: 2s\n  crl-retry: 1s\n"
    });
    assert_eq!(status, 200, "{body}");
    serve_api_with_policy(
        d,
        name,
        r#"<policies><inbound><base /><validate-client-certificate validate-revocation="true" validate-trust="true" validate-not-before="true" validate-not-after="true" ignore-error="false" /></inbound></policies>"#,
    );
}

/// Calls `path` as `client` until it answers `want` (15 s at most); the last answer.
fn until_status(d: &Demo, path: &str, client: &str, want: u16) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = d.curl(API, path, Some(client), &[]);
        if r.0 == want || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (15 s at most) until the counter `series` of `/metrics` reaches 1; its value.
fn until_counted(d: &Demo, series: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = metric(&d.admin("GET", "/metrics").2, series);
        if v >= 1.0 || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `cert`'s line in an `openssl ca` index: `V` (valid) or `R` (revoked).
fn index_line(status: &str, cert: &certgate_policy::crypto::x509::X509) -> String {
    let serial = certgate_policy::pki::index_serial(cert);
    let revoked = if status == "R" { "240101000000Z" } else { "" };
    format!("{status}\t301231235959Z\t{revoked}\t{serial}\tunknown\t/CN=x\n")
}

/// `openssl ocsp` on `port` for the DEV CA, answering from `index` and signing as the CA whose
/// pki stem is `signer`. No connect probe follows: it serves one connection at a time and waits
/// forever on one that sends nothing; the gateway retries after `crl-retry` if it is early.
fn ocsp_responder(d: &Demo, port: u16, index: &Path, signer: &str) -> std::process::Child {
    let child = Command::new("openssl")
        .args(["ocsp", "-port", &port.to_string(), "-index"])
        .arg(index)
        .args(["-CA", &d.pki("dev-intermediate-ca.pem")])
        .args(["-rsigner", &d.pki(&format!("{signer}.pem"))])
        .args(["-rkey", &d.pki(&format!("{signer}.key.pem")), "-ndays", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child
}

/// Issue 15: revocation checked online. The DEV CA opts in to distribution points; a client
/// whose certificate names a local CRL server is admitted once the gateway fetched the CA's
/// CRL, refused within the refresh interval after the CA revokes it (no reload), and a CRL
/// signed by another CA, or a server that fails, is refused and counted while the last good
/// CRL keeps deciding.
#[test]
fn client_certificates_are_checked_against_the_crl_at_their_distribution_point() {
    use certgate_policy::pki::crl;
    let served = std::sync::Arc::new(std::sync::Mutex::new((200u16, String::new())));
    let s = served.clone();
    let crl_server = LocalHttp::start(move |_, _| s.lock().unwrap().clone());
    let d = Demo::start();
    let url = format!("http://127.0.0.1:{}/dev.crl", crl_server.port);
    let client = issue_online(&d, "online-client", "Online Client", &[], &[&url], &[]);
    let serve = |crl: String| *served.lock().unwrap() = (200, crl);
    serve(crl(&d.tree.dev_ca, &[], -1, 30).unwrap().to_pem().unwrap());
    check_revocation_online(&d, "crl-distribution-points", "online");
    let call = || d.curl(API, "/online/x", Some("online-client"), &[]);
    // The first sight names the URL; once fetched, the client is admitted.
    let (status, head, body) = until_status(&d, "/online/x", "online-client", 200);
    assert_eq!(status, 200, "{head}{body}");
    let fetches = |result: &str| format!("certgate_crl_fetches_total{{result=\"{result}\"}}");
    assert!(metric(&d.admin("GET", "/metrics").2, &fetches("ok")) >= 1.0);

    // The CA revokes it: refused within the refresh interval, without a reload.
    serve(
        crl(&d.tree.dev_ca, &[&client.cert], -1, 30)
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let (status, head, body) = until_status(&d, "/online/x", "online-client", 401);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificaterevoked"),
        "{head}"
    );

    // A CRL from another CA (here: listing nobody) is refused; the last good one stays.
    serve(crl(&d.tree.tst_ca, &[], -1, 30).unwrap().to_pem().unwrap());
    assert!(until_counted(&d, &fetches("refused")) >= 1.0);
    assert_eq!(call().0, 401, "still revoked by the last good CRL");
    // The server failing: counted, the last good CRL still decides.
    *served.lock().unwrap() = (500, "down".into());
    assert!(until_counted(&d, &fetches("failed")) >= 1.0);
    assert_eq!(call().0, 401);
}

/// Issue 15: OCSP. The DEV CA opts in; a client whose certificate names a local responder
/// (`openssl ocsp`) is admitted once the responder said good, refused within the refresh
/// interval after the responder's index revokes it (no reload), and every request is counted.
#[test]
fn client_certificates_are_checked_with_the_ocsp_responder_they_name() {
    let d = Demo::start();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let client = issue_online(&d, "ocsp-client", "OCSP Client", &[], &[], &[&url]);
    let index = d.dir.path().join("ocsp-index.txt");
    // Written aside and renamed into place: `openssl ocsp` reloads its index when the file's
    // inode or mtime changes, and mtime has whole seconds (a rewrite within the second it was
    // read went unnoticed).
    let write_index = |status: &str| {
        let next = index.with_extension("next");
        std::fs::write(&next, index_line(status, &client.cert)).unwrap();
        std::fs::rename(&next, &index).unwrap();
    };
    write_index("V");
    let mut responder = ocsp_responder(&d, port, &index, "dev-intermediate-ca");
    check_revocation_online(&d, "ocsp", "ocsp");
    let (status, head, body) = until_status(&d, "/ocsp/x", "ocsp-client", 200);
    let log = std::fs::read_to_string(d.dir.path().join("gateway.err")).unwrap_or_default();
    assert_eq!(status, 200, "{head}{body}\n{log}");
    // The CA revokes it at the responder: refused within the refresh interval.
    write_index("R");
    let (status, head, body) = until_status(&d, "/ocsp/x", "ocsp-client", 401);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificaterevoked"),
        "{head}"
    );
    let requests = |result: &str| format!("certgate_ocsp_requests_total{{result=\"{result}\"}}");
    let m = d.admin("GET", "/metrics").2;
    assert!(metric(&m, &requests("good")) >= 1.0, "{m}");
    assert!(metric(&m, &requests("revoked")) >= 1.0, "{m}");
    // A responder signing with a key the CA never delegated (here: another CA's), saying
    // good: refused and counted; the last answer (revoked) still decides.
    let _ = responder.kill();
    let _ = responder.wait();
    write_index("V");
    let mut impostor = ocsp_responder(&d, port, &index, "tst-intermediate-ca");
    assert!(until_counted(&d, &requests("refused")) >= 1.0);
    assert_eq!(d.curl(API, "/ocsp/x", Some("ocsp-client"), &[]).0, 401);
    // The responder gone: counted as failed; the last answer (revoked) still decides.
    let _ = impostor.kill();
    let _ = impostor.wait();
    assert!(until_counted(&d, &requests("failed")) >= 1.0);
    assert_eq!(d.curl(API, "/ocsp/x", Some("ocsp-client"), &[]).0, 401);
}

/// Issue 15: OCSP stapling of the gateway's own certificate (`ocsp-stapling`, nginx's
/// `ssl_stapling`): the certificate names a local responder; the gateway fetches the answer in
/// the background and staples it for clients that ask (`openssl s_client -status`).
#[test]
fn the_gateways_certificate_is_stapled_with_its_ocsp_answer() {
    let d = Demo::start();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let server = issue_online(
        &d,
        "stapled.chain",
        "api.certgate.test",
        &["api.certgate.test", "localhost"],
        &[],
        &[&url],
    );
    std::fs::rename(d.pki("stapled.chain.key.pem"), d.pki("stapled.key.pem")).unwrap();
    let index = d.dir.path().join("staple-index.txt");
    std::fs::write(&index, index_line("V", &server.cert)).unwrap();
    let mut responder = ocsp_responder(&d, port, &index, "dev-intermediate-ca");
    let (status, body) = d.reconfigure(|text| {
        text.replacen(
            "certificate: { pem: pki/server.chain.pem, key: pki/server.key.pem }\n        negotiate-client-certificate: true",
            "certificate: { pem: pki/stapled.chain.pem, key: pki/stapled.key.pem }\n        negotiate-client-certificate: true\n        ocsp-stapling: true",
            1,
        )
    });
    assert_eq!(status, 200, "{body}");
    let request = b"GET /validate/weather/Oslo HTTP/1.1\r\nHost: api.certgate.test\r\nConnection: close\r\n\r\n";
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut out = String::new();
    while Instant::now() < deadline {
        out = d.s_client(&["-status"], request);
        if out.contains("Cert Status: good") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        out.contains("OCSP Response Status: successful"),
        "no staple: {out}"
    );
    assert!(out.contains("Cert Status: good"), "{out}");
    let m = d.admin("GET", "/metrics").2;
    assert!(
        metric(&m, "certgate_ocsp_requests_total{result=\"good\"}") >= 1.0,
        "{m}"
    );
    let _ = responder.kill();
    let _ = responder.wait();
}

/// Issue 15: a CRL from a distribution point that runs out while its server is down makes the
/// status unknown (the last good CRL decides only while it is current), even for a client whose
/// verification was cached.
#[test]
fn a_fetched_crl_that_runs_out_makes_the_status_unknown() {
    let served = std::sync::Arc::new(std::sync::Mutex::new((200u16, String::new())));
    let s = served.clone();
    let crl_server = LocalHttp::start(move |_, _| s.lock().unwrap().clone());
    let d = Demo::start();
    let url = format!("http://127.0.0.1:{}/dev.crl", crl_server.port);
    issue_online(&d, "short-client", "Short CRL Client", &[], &[&url], &[]);
    // A CRL that runs out in six seconds.
    let now = std::time::SystemTime::now();
    let short = certgate_policy::Crl::issue(
        &d.tree.dev_ca.cert,
        &d.tree.dev_ca.key,
        &[],
        now - Duration::from_secs(60),
        now + Duration::from_secs(6),
        7,
    )
    .unwrap();
    *served.lock().unwrap() = (200, short.to_pem().unwrap());
    check_revocation_online(&d, "crl-distribution-points", "short");
    let (status, head, body) = until_status(&d, "/short/x", "short-client", 200);
    assert_eq!(status, 200, "{head}{body}");
    // The server goes down; the CRL runs out: unknown.
    *served.lock().unwrap() = (503, "down".into());
    let (status, head, body) = until_status(&d, "/short/x", "short-client", 401);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificaterevocationunknown"),
        "{head}"
    );
    // (nextUpdate has whole seconds: the CRL runs out up to a second before now + 6 s.)
    let at = std::time::SystemTime::now().duration_since(now).unwrap();
    assert!(
        at >= Duration::from_secs(5),
        "unknown only once the CRL ran out: {at:?}"
    );
}

/// Issue 15: a request never waits on a fetch longer than `trust.revocation-wait`. A client
/// seen for the first time names a distribution point the gateway has not fetched yet: its
/// first request waits for that fetch (here 600 ms) and is admitted, on an API and on a strict
/// hostname (the handshake lets a status still being fetched through; the request decides). A
/// fetch slower than the bound leaves the status unknown: refused as unknown, on the strict
/// hostname too, after the bound and not later. With `revocation-wait: 0s` nothing waits.
#[test]
fn a_first_request_waits_a_bounded_time_for_the_first_revocation_answer() {
    use certgate_policy::pki::crl;
    let d = Demo::start();
    let dev_crl = crl(&d.tree.dev_ca, &[], -1, 30).unwrap().to_pem().unwrap();
    let crl_server = LocalHttp::start(move |r, _| {
        // `/slow-N.crl` answers after 600 ms, `/stuck-N.crl` after 5 s.
        let delay = if r.line.contains("/slow") { 600 } else { 5000 };
        std::thread::sleep(Duration::from_millis(delay));
        (200, dev_crl.clone())
    });
    let url = |name: &str| format!("http://127.0.0.1:{}/{name}.crl", crl_server.port);
    for stem in ["slow-1", "slow-2", "stuck-1", "stuck-2", "slow-3"] {
        issue_online(&d, stem, stem, &[], &[&url(stem)], &[]);
    }
    check_revocation_online(&d, "crl-distribution-points", "waited");
    let timed = |host: &str, path: &str, client: &str| {
        let started = Instant::now();
        let r = d.curl(host, path, Some(client), &[]);
        (r, started.elapsed())
    };
    let waits = |result: &str| {
        metric(
            &d.admin("GET", "/metrics").2,
            &format!("certgate_revocation_waits_total{{result=\"{result}\"}}"),
        )
    };
    let strict = "partner.certgate.test";
    let strict_path = "/waited/x";

    // Answered within the bound: admitted at the first request.
    let ((status, head, body), took) = timed(API, "/waited/x", "slow-1");
    assert_eq!(status, 200, "{head}{body}");
    assert!(took >= Duration::from_millis(500), "it waited: {took:?}");
    let ((status, head, body), _) = timed(strict, strict_path, "slow-2");
    assert_eq!(status, 200, "strict, waited: {head}{body}");
    assert_eq!(waits("answered"), 2.0);

    // Slower than the bound (2 s by default): unknown, refused after the bound.
    let ((status, head, body), took) = timed(API, "/waited/x", "stuck-1");
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificaterevocationunknown"),
        "{head}"
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(4500),
        "waited the bound: {took:?}"
    );
    let ((status, head, body), _) = timed(strict, strict_path, "stuck-2");
    assert_eq!(status, 401, "strict, still unknown: {head}{body}");
    assert_eq!(waits("timeout"), 2.0);

    // `0s`: no wait; a status not fetched yet is unknown at once (on a strict hostname, in
    // the handshake).
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "  crl-retry: 1s\n",
            "  crl-retry: 1s\n  revocation-wait: 0s\n",
        )
    });
    assert_eq!(status, 200, "{body}");
    let ((status, _, _), _) = timed(strict, strict_path, "slow-3");
    assert_eq!(status, 0, "refused in the handshake");
    assert_eq!(waits("answered") + waits("timeout"), 4.0);

    // Out of range: refused at load with its place, the running configuration kept.
    let (status, body) =
        d.reconfigure(|text| text.replace("revocation-wait: 0s", "revocation-wait: 1m"));
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("between 0s and 30s"), "{body}");
    assert!(body.contains("certgate.yaml:"), "{body}");
}

/// Issue 15: OCSP, the responder down. The responder's good answer runs out in six seconds;
/// the responder then fails: the last answer keeps admitting the client while it is current,
/// and once it has run out the status is unknown (refused as such), even for a client whose
/// verification was cached. A stale answer (past its nextUpdate) is refused and counted. The
/// answers are written by `pki::ocsp_response`: `openssl ocsp` counts nextUpdate in minutes.
#[test]
fn an_ocsp_answer_that_runs_out_while_the_responder_is_down_makes_the_status_unknown() {
    use certgate_policy::OcspStatus;
    use std::time::SystemTime;
    let served: std::sync::Arc<std::sync::Mutex<(u16, Vec<u8>)>> = Default::default();
    let s = served.clone();
    let responder = LocalHttp::start(move |_, _| s.lock().unwrap().clone());
    let d = Demo::start();
    let url = format!("http://127.0.0.1:{}/", responder.port);
    let client = issue_online(&d, "ocsp-short", "OCSP Short", &[], &[], &[&url]);
    let answer = |status, this: SystemTime, next: SystemTime| {
        certgate_policy::pki::ocsp_response(&client.cert, &d.tree.dev_ca, status, this, next)
            .unwrap()
    };
    let now = SystemTime::now();
    let minute = Duration::from_secs(60);
    *served.lock().unwrap() = (
        200,
        answer(OcspStatus::Good, now - minute, now + Duration::from_secs(6)),
    );
    check_revocation_online(&d, "ocsp", "short-ocsp");
    // The first request waits for the first answer (trust.revocation-wait).
    let (status, head, body) = d.curl(API, "/short-ocsp/x", Some("ocsp-short"), &[]);
    assert_eq!(status, 200, "{head}{body}");
    // The responder now serves a stale answer, then fails: counted, the good one stays.
    *served.lock().unwrap() = (
        200,
        answer(OcspStatus::Revoked, now - 2 * minute, now - minute),
    );
    let requests = |result: &str| format!("certgate_ocsp_requests_total{{result=\"{result}\"}}");
    assert!(until_counted(&d, &requests("refused")) >= 1.0);
    assert_eq!(d.curl(API, "/short-ocsp/x", Some("ocsp-short"), &[]).0, 200);
    *served.lock().unwrap() = (503, b"down".to_vec());
    assert!(until_counted(&d, &requests("failed")) >= 1.0);
    let (status, head, body) = until_status(&d, "/short-ocsp/x", "ocsp-short", 401);
    assert_eq!(status, 401, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificaterevocationunknown"),
        "{head}"
    );
    // (nextUpdate has whole seconds: the answer runs out up to a second before now + 6 s.)
    let at = SystemTime::now().duration_since(now).unwrap();
    assert!(
        at >= Duration::from_secs(5),
        "admitted by the last answer while it was current: {at:?}"
    );
}
