//! The authentication boundary, attacked: each test reproduces a way past a hostname's
//! client-certificate rule (or a hostile request) against the real gateway on 127.0.0.1, with
//! curl, `openssl s_client` and raw sockets, and checks the defined answer and its metric.
//! README "Authentication boundary" states the rules these tests hold the gateway to.

mod common;
mod demo;

use std::process::Command;

use certgate_policy::pki;
use demo::*;

const STRICT: &str = "partner.certgate.test";
const PLAIN: &str = "plain.certgate.test";
const WEATHER: &str = "/validate/weather/Oslo";

fn metrics(d: &Demo) -> String {
    d.admin("GET", "/metrics").2
}

/// Adds `http2: true` to the TLS listener of the example configuration.
fn with_h2(yaml: String) -> String {
    yaml.replacen("    hostnames:\n", "    http2: true\n    hostnames:\n", 1)
}

/// Item 1: a request on a TLS connection may name only the hostname its handshake was made for.
#[test]
fn host_header_cannot_reach_a_strict_hostname_from_another_handshake() {
    let d = Demo::start_with(with_h2);
    // The attack: SNI plain.certgate.test (no client certificate asked), Host: the strict one.
    for (host_header, client) in [
        (STRICT, None),
        (STRICT, Some("tst-untrusted-client")),
        ("PARTNER.certgate.test.", None),
        (&format!("{STRICT}:{}", d.tls) as &str, None),
    ] {
        let (status, head, body) = d.curl(
            PLAIN,
            WEATHER,
            client,
            &["--http1.1", "-H", &format!("Host: {host_header}")],
        );
        assert_eq!(status, 421, "Host {host_header}: {head}{body}");
        assert!(body.contains("\"statusCode\":421"), "{body}");
    }
    // HTTP/2: curl turns Host into :authority.
    let (status, head, _) = d.curl(
        PLAIN,
        WEATHER,
        None,
        &["--http2", "-H", &format!("Host: {STRICT}")],
    );
    assert_eq!(status, 421, "{head}");
    assert!(head.starts_with("http/2 421"), "{head}");
    // No SNI at all (the default hostname answers the handshake), Host: the strict one.
    let out = Command::new("curl")
        .args(["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--max-time", "10", "-H", &format!("Host: {STRICT}")])
        .arg(format!("https://127.0.0.1:{}{WEATHER}", d.tls))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "421");
    // The negotiated hostname itself still works, with any spelling of its name.
    let (status, _, body) = d.curl(
        API,
        WEATHER,
        Some("dev-valid-client"),
        &["-H", "Host: API.certgate.test.:443"],
    );
    assert_eq!(status, 200, "{body}");
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"MisdirectedRequest\"}"
        ) >= 6.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_requests_total{api=\"\",operation=\"\",status=\"421\"}"
        ) >= 6.0,
        "{m}"
    );
}

/// Item 1, plain listener: a hostname that asks for client certificates is reachable over
/// plain HTTP only from a trusted proxy, and a strict one only with a forwarded certificate
/// that passes the strict check.
#[test]
fn plain_listener_serves_certificate_hostnames_only_to_trusted_proxies() {
    let d = Demo::start();
    let get = |host: &str, cert: Option<&str>| {
        let mut req = format!("GET {WEATHER} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(c) = cert {
            let pem = std::fs::read(d.pki(c)).unwrap();
            let v = percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC);
            req.push_str(&format!("X-ARR-ClientCert: {v}\r\n"));
        }
        req.push_str("\r\n");
        raw(d.plain, req.as_bytes())
    };
    // 127.0.0.1 is a trusted proxy in the example configuration.
    let r = get(STRICT, None);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(r.contains("Client certificate missing"), "{r}");
    let r = get(STRICT, Some("tst-untrusted-client.pem"));
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = get(STRICT, Some("dev-expired-client.pem"));
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(r.contains("expired"), "{r}");
    let r = get(STRICT, Some("dev-valid-client.pem"));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // From a trusted proxy the header stays as the proxy sent it (policies may read it).
    assert!(
        echo_headers(&r).contains(&"x-arr-clientcert".to_string()),
        "{r}"
    );
    // Not a trusted proxy any more: certificate hostnames are refused over plain HTTP.
    let (status, body) = d.reconfigure(|y| {
        y.replace(
            "trusted-proxies: [127.0.0.1/32]",
            "trusted-proxies: [10.9.9.9/32]",
        )
    });
    assert_eq!(status, 200, "{body}");
    for host in [STRICT, API] {
        let r = get(host, Some("dev-valid-client.pem"));
        assert!(r.starts_with("HTTP/1.1 421"), "{host}: {r}");
    }
    // A hostname without client certificates is still served (its policy decides).
    let r = get(PLAIN, None);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(r.contains("Client certificate missing"), "{r}");
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"ClientCertificateHostnameOverPlainHttp\"}"
        ) >= 2.0,
        "{m}"
    );
}

/// Item 2: a session made under one hostname never resumes under another (TLS 1.2 and 1.3).
#[test]
fn sessions_never_carry_a_certificate_across_hostnames() {
    let d = Demo::start();
    let req = |host: &str| {
        format!("GET {WEATHER} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
    };
    let untrusted = (
        d.pki("tst-untrusted-client.pem"),
        d.pki("tst-untrusted-client.key.pem"),
    );
    let valid = (
        d.pki("dev-valid-client.pem"),
        d.pki("dev-valid-client.key.pem"),
    );
    for version in ["-tls1_3", "-tls1_2"] {
        let sess = d.dir.path().join(format!("session{version}.pem"));
        let sess = sess.to_str().unwrap();
        // A session with an untrusted certificate, made where policies decide.
        let first = d.s_client_as(
            Some(API),
            &[
                version,
                "-sess_out",
                sess,
                "-cert",
                &untrusted.0,
                "-key",
                &untrusted.1,
            ],
            &req(API),
        );
        assert!(first.contains("HTTP/1.1 401"), "{first}");
        assert!(
            std::path::Path::new(sess).exists(),
            "no session handed out: {first}"
        );
        // Offered to the strict hostname: a full handshake, which fails without a certificate.
        let second = d.s_client_as(Some(STRICT), &[version, "-sess_in", sess], &req(STRICT));
        assert!(!second.contains("Reused"), "{version}: {second}");
        assert!(!second.contains("HTTP/1.1"), "{version}: {second}");
        // The same hostname still resumes (resumption itself is not switched off).
        let strict_sess = d.dir.path().join(format!("strict{version}.pem"));
        let strict_sess = strict_sess.to_str().unwrap();
        let own = d.s_client_as(
            Some(STRICT),
            &[
                version,
                "-sess_out",
                strict_sess,
                "-cert",
                &valid.0,
                "-key",
                &valid.1,
            ],
            &req(STRICT),
        );
        assert!(own.contains("HTTP/1.1 200"), "{own}");
        let again = d.s_client_as(
            Some(STRICT),
            &[version, "-sess_in", strict_sess],
            &req(STRICT),
        );
        assert!(again.contains("Reused"), "{version}: {again}");
        assert!(again.contains("HTTP/1.1 200"), "{version}: {again}");
        // ... but not on the hostname without client certificates, and back.
        let cross = d.s_client_as(
            Some(PLAIN),
            &[version, "-sess_in", strict_sess],
            &req(PLAIN),
        );
        assert!(!cross.contains("Reused"), "{version}: {cross}");
    }
}

/// Items 2 and 3: strict hostnames refuse revoked clients in the handshake when CRLs are
/// configured, and a resumed session is re-checked against the current CRLs on every request.
#[test]
fn strict_mode_honours_revocation_in_the_handshake_and_after_resumption() {
    let d = Demo::start();
    let valid = (
        d.pki("dev-valid-client.pem"),
        d.pki("dev-valid-client.key.pem"),
    );
    let req = format!("GET {WEATHER} HTTP/1.1\r\nHost: {STRICT}\r\nConnection: close\r\n\r\n");
    let sess = d.dir.path().join("strict-session.pem");
    let sess = sess.to_str().unwrap();
    let first = d.s_client_as(
        Some(STRICT),
        &["-sess_out", sess, "-cert", &valid.0, "-key", &valid.1],
        req.as_bytes(),
    );
    assert!(first.contains("HTTP/1.1 200"), "{first}");
    // The DEV intermediate revokes the valid client; the file change reloads.
    let crl = pki::crl(&d.tree.dev_ca, &[&d.tree.valid.cert], -1, 30).unwrap();
    std::fs::write(d.pki("dev-intermediate-ca.crl.pem"), crl.to_pem().unwrap()).unwrap();
    let (status, body) = d.reconfigure(|y| y);
    assert_eq!(status, 200, "{body}");
    // A full handshake is refused...
    let (status, head, _) = d.curl(STRICT, WEATHER, Some("dev-valid-client"), &[]);
    assert_eq!(
        status, 0,
        "a revoked client completed the strict handshake: {head}"
    );
    // ... and so is every request on the resumed session made before the revocation.
    let resumed = d.s_client_as(Some(STRICT), &["-sess_in", sess], req.as_bytes());
    assert!(
        resumed.contains("HTTP/1.1 401") && resumed.contains("revoked"),
        "{resumed}"
    );
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_tls_handshake_failures_total{reason=\"client_certificate_revoked\"}"
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"ClientCertificateRevoked\"}"
        ) >= 1.0,
        "{m}"
    );
    // Where policies decide, the revoked client still completes the handshake and its policy
    // answers (validate-client-certificate with revocation).
    let (status, head, _) = d.curl(API, WEATHER, Some("dev-valid-client"), &[]);
    assert_eq!(status, 401, "{head}");
}

/// Item 4: dot-segments are resolved before routing; nothing climbs out of the root or out of
/// the backend's base path; encoded separators are refused.
#[test]
fn paths_cannot_climb_out() {
    let d = Demo::start();
    let get = |path: &str| d.curl(API, path, Some("dev-valid-client"), &["--path-as-is"]);
    for path in [
        "/validate/../../secret",
        "/validate/%2e%2e/%2E%2E/secret",
        "/validate/weather/..%2f..%2fsecret",
        "/validate/weather/..%5C..%5Csecret",
    ] {
        let (status, head, body) = get(path);
        assert_eq!(status, 400, "{path}: {head}{body}");
    }
    // Inside the root, dot-segments resolve to another operation; the backend sees the
    // resolved path, never a dot-segment.
    let (status, _, body) = get("/thumbprint/../validate/weather/./x/../Oslo");
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["request"], "GET /weather/Oslo HTTP/1.1", "{body}");
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"PathAboveRoot\"}"
        ) >= 2.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"PathEncodedSeparator\"}"
        ) >= 2.0,
        "{m}"
    );
}

/// Item 5: the configured header is read before anything is stripped (RFC 9440 `Client-Cert`
/// works under its own name); from a trusted proxy the header reaches policies and the backend
/// as sent; from anyone else every spelling of it is removed.
#[test]
fn forwarded_certificates_under_their_own_name_and_every_spelling_stripped() {
    let d = Demo::start();
    let der = std::fs::read(d.pki("dev-valid-client.der")).unwrap();
    use base64::Engine;
    let rfc9440 = format!(
        ":{}:",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let (status, body) = d.reconfigure(|y| {
        y.replace(
            "  header: X-ARR-ClientCert\n  encoding: url-pem",
            "  header: Client-Cert\n  encoding: rfc9440",
        )
    });
    assert_eq!(status, 200, "{body}");
    let req = |extra: &str| {
        raw(
            d.plain,
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nConnection: close\r\n{extra}\r\n")
                .as_bytes(),
        )
    };
    let r = req(&format!("Client-Cert: {rfc9440}\r\n"));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // Not trusted: Client-Cert and every spelling of the forwarded-certificate headers are
    // removed before the policy and never reach the backend (an API without a policy here).
    let (status, body) = d.reconfigure(|y| {
        y.replace(
            "trusted-proxies: [127.0.0.1/32]",
            "trusted-proxies: [10.9.9.9/32]",
        )
        .replace(
            "\ntrusted-proxies:",
            "\n  - name: open\n    path: /open\n    backend: demo\ntrusted-proxies:",
        )
    });
    assert_eq!(status, 200, "{body}");
    let r = raw(
        d.plain,
        format!(
            "GET /open/x HTTP/1.1\r\nHost: {PLAIN}\r\nConnection: close\r\nClient-Cert: {rfc9440}\r\nClient_Cert: {rfc9440}\r\nX_Forwarded_Client_Cert: x\r\nx-forwarded-client-cert: y\r\nClient-Cert-Chain: z\r\nX-Other: kept\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let names = echo_headers(&r);
    assert!(names.contains(&"x-other".to_string()), "{names:?}");
    for n in &names {
        assert!(
            !n.replace('_', "-").contains("client-cert"),
            "{n} reached the backend: {names:?}"
        );
    }
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_forwarded_certificates_total{result=\"stripped\"}"
        ) >= 1.0,
        "{m}"
    );
}

/// The lower-cased header names the demo backend says it received, from a raw response.
fn echo_headers(response: &str) -> Vec<String> {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let echo: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    echo["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h[0].as_str().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// Item 6: a backend credential header replaces the one the request carries. The gateway calls
/// itself through a backend that sets `Host` (APIM's way to call a backend by IP), presenting
/// a client certificate read from a PFX.
#[test]
fn credential_host_header_replaces_the_requests_own() {
    let d = Demo::start();
    let tls = d.tls;
    let (status, body) = d.reconfigure(|y| {
        y.replacen(
            "\ncertificates:",
            "\ncertificates:\n  - id: loop-client\n    pfx: pki/dev-valid-client.pfx\n    password: \"{{pfx-password}}\"",
            1,
        )
        .replacen(
            "backends:\n",
            &format!(
                "backends:\n  - id: self\n    url: https://127.0.0.1:{tls}\n    credentials:\n      certificate-ids: [loop-client]\n      header: {{ Host: [api.certgate.test] }}\n    tls:\n      ca-certificates: [pki/root-ca.pem]\n      sni: api.certgate.test\n"
            ),
            1,
        )
        .replace(
            "\ntrusted-proxies:",
            "\n  - name: loop\n    path: /loop\n    backend: self\ntrusted-proxies:",
        )
    });
    assert_eq!(status, 200, "{body}");
    // The outer request has no certificate requirement of its own (an API without policy);
    // the inner one passes validate-client-certificate with the PFX's certificate.
    let (status, head, body) = d.curl(
        API,
        "/loop/validate/weather/Oslo",
        Some("dev-valid-client"),
        &[],
    );
    assert_eq!(status, 200, "{head}{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["request"], "GET /weather/Oslo HTTP/1.1", "{body}");
}

/// Hop-by-hop fields (RFC 9110 §7.6.1) and the fields a `Connection` header nominates belong
/// to the client's connection with the gateway: none of them reaches the backend, whatever
/// their spelling, while an end-to-end field beside them does.
#[test]
fn hop_by_hop_fields_never_reach_the_backend() {
    let d = Demo::start();
    let pem = std::fs::read(d.pki("dev-valid-client.pem")).unwrap();
    let cert =
        percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let hop = [
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("PROXY-AUTHORIZATION", "Basic Zm9vOmJhcg=="),
        ("Proxy-Authenticate", "Basic"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
        ("x-nominated", "secret"),
    ];
    let mut head = format!(
        "GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nX-ARR-ClientCert: {cert}\r\n\
         Connection: close, X-Nominated\r\nX-Kept: yes\r\n"
    );
    for (name, value) in hop {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let r = raw(d.plain, format!("{head}\r\n").as_bytes());
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let names = echo_headers(&r);
    assert!(names.contains(&"x-kept".to_string()), "{names:?}");
    for name in hop
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .chain(["connection".into()])
    {
        assert!(
            !names.contains(&name),
            "{name} reached the backend: {names:?}"
        );
    }
}

/// Item 7: requests HTTP forbids are answered 400 before anything goes upstream, and counted.
#[test]
fn requests_http_forbids_get_400_before_the_backend() {
    let d = Demo::start();
    let pem = std::fs::read(d.pki("dev-valid-client.pem")).unwrap();
    let cert =
        percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let send = |head: &str, body: &str| {
        raw(
            d.plain,
            format!("{head}X-ARR-ClientCert: {cert}\r\nConnection: close\r\n\r\n{body}").as_bytes(),
        )
    };
    let ok = send(&format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\n"), "");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    for (what, head, body, status) in [
        (
            "repeated length",
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nContent-Length: 5, 5\r\n"),
            "hello",
            "400",
        ),
        (
            "two length headers",
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nContent-Length: 5\r\nContent-Length: 5\r\n"),
            "hello",
            "400",
        ),
        ("no Host", format!("GET {WEATHER} HTTP/1.1\r\n"), "", "400"),
        (
            "two Hosts",
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nHost: {STRICT}\r\n"),
            "",
            "400",
        ),
        (
            "unknown coding",
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nTransfer-Encoding: gzip, chunked\r\n"),
            "0\r\n\r\n",
            "501",
        ),
        (
            "malformed chunk",
            format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nTransfer-Encoding: chunked\r\n"),
            "zz\r\nhello\r\n0\r\n\r\n",
            "400",
        ),
    ] {
        let r = send(&head, body);
        assert!(
            r.starts_with(&format!("HTTP/1.1 {status}")),
            "{what}: {r}"
        );
    }
    // Content-Length beside chunked: Pingora drops the length before any hook runs (RFC 9112
    // §6.3), so the backend sees one framing only.
    let r = send(
        &format!("GET {WEATHER} HTTP/1.1\r\nHost: {API}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
        "0\r\n\r\n",
    );
    assert!(
        r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.1 400"),
        "{r}"
    );
    let names = echo_headers(&r);
    assert!(
        !names.contains(&"content-length".to_string())
            || !names.contains(&"transfer-encoding".to_string()),
        "{names:?}"
    );
    let m = metrics(&d);
    // A client that broke its own body is not a backend error.
    assert_eq!(
        metric(
            &m,
            "certgate_backend_errors_total{reason=\"InvalidRequestBody\"}"
        ),
        0.0,
        "{m}"
    );
    for reason in [
        "InvalidContentLength",
        "MissingHost",
        "UnsupportedTransferEncoding",
        "InvalidRequestBody",
    ] {
        assert!(
            metric(
                &m,
                &format!("certgate_request_refusals_total{{reason=\"{reason}\"}}")
            ) >= 1.0,
            "{reason}: {m}"
        );
    }
}

/// Item 10: an empty configuration, one without listeners, or one that moves a listener never
/// silently breaks serving.
#[test]
fn configuration_changes_never_silently_break_serving() {
    let d = Demo::start();
    let empty = d.dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new(bin())
        .args(["check", "-c"])
        .arg(&empty)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("empty.yaml:1:1") && text.contains("no listeners"),
        "{text}"
    );
    // Reloading an emptied configuration is refused; the old one keeps serving.
    let cfg = d.dir.path().join("certgate.yaml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let (status, body) = d.reconfigure(|_| String::new());
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no listeners"), "{body}");
    assert_eq!(d.curl(API, WEATHER, Some("dev-valid-client"), &[]).0, 200);
    // Moving the TLS listener: refused with what to do instead; the old port keeps serving.
    let moved = free_port();
    let (status, body) = d.reconfigure(|_| {
        good.replace(
            &format!("127.0.0.1:{}", d.tls),
            &format!("127.0.0.1:{moved}"),
        )
    });
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("listeners changed") && body.contains("run -u"),
        "{body}"
    );
    assert_eq!(d.curl(API, WEATHER, Some("dev-valid-client"), &[]).0, 200);
    let (_, _, ready) = d.admin("GET", "/readyz");
    assert!(ready.contains("ready"), "{ready}");
}

/// Reason phrases: HTTP/2 is off unless configured, so a client that offers h2 still reads the
/// policy's reason phrase over HTTP/1.1; with `http2: true` the status arrives without one and
/// the reason travels in the JSON body and the on-error header the policy sets.
#[test]
fn reason_phrases_survive_by_default_and_h2_is_opt_in() {
    let d = Demo::start();
    let (_, head, _) = d.curl(
        API,
        "/thumbprint/x",
        Some("dev-unregistered-client"),
        &["--http2"],
    );
    assert!(
        head.starts_with("http/1.1 403 invalid client certificate"),
        "{head}"
    );
    let d = Demo::start_with(with_h2);
    let (status, head, _) = d.curl(
        API,
        "/thumbprint/x",
        Some("dev-unregistered-client"),
        &["--http2"],
    );
    assert_eq!(status, 403);
    assert!(head.starts_with("http/2 403"), "{head}");
    let (status, head, body) = d.curl(API, WEATHER, Some("dev-expired-client"), &["--http2"]);
    assert_eq!(status, 401);
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("clientcertificateexpired"),
        "{head}"
    );
    assert!(body.contains("Invalid client certificate"), "{body}");
}

/// Item 11: a client certificate certgate cannot read (a NUL byte in its CN) gets a reason that
/// says so, not "missing"; an oversized one (2 000 SANs) is refused in the handshake with a
/// counted reason instead of breaking session tickets.
#[test]
fn certificates_at_the_edges_get_defined_outcomes() {
    use certgate_policy::crypto::asn1::Asn1Type;
    use certgate_policy::crypto::nid::Nid;
    use certgate_policy::crypto::x509::X509NameBuilder;
    let d = Demo::start();
    let write = |stem: &str, issued: &pki::Issued| {
        std::fs::write(d.pki(&format!("{stem}.pem")), issued.cert_pem()).unwrap();
        std::fs::write(d.pki(&format!("{stem}.key.pem")), issued.key_pem()).unwrap();
    };
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_nid_with_type(Nid::COMMONNAME, "evil\0.good.example", Asn1Type::UTF8STRING)
        .unwrap();
    let nul = pki::issue(
        pki::KeyKind::EcdsaP256,
        &pki::Spec::new(n.build(), pki::Profile::Client),
        Some(&d.tree.dev_ca),
    )
    .unwrap();
    write("dev-nul-client", &nul);
    let (status, head, body) = d.curl(API, WEATHER, Some("dev-nul-client"), &[]);
    assert_eq!(status, 401, "{head}{body}");
    assert!(body.contains("cannot be read"), "{body}");
    // A strict hostname refuses it in the handshake.
    assert_eq!(d.curl(STRICT, WEATHER, Some("dev-nul-client"), &[]).0, 0);

    let names: Vec<String> = (0..2000).map(|i| format!("host{i}.san.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", "Many SANs").unwrap();
    let mut spec = pki::Spec::new(n.build(), pki::Profile::Client);
    spec.dns = &refs;
    let big = pki::issue(pki::KeyKind::EcdsaP256, &spec, Some(&d.tree.dev_ca)).unwrap();
    assert!(big.cert_der().len() > 16 * 1024);
    write("dev-big-client", &big);
    for host in [API, STRICT] {
        let (status, head, _) = d.curl(host, WEATHER, Some("dev-big-client"), &[]);
        assert_eq!(status, 0, "{host}: {head}");
    }
    // The gateway is unharmed.
    assert_eq!(d.curl(API, WEATHER, Some("dev-valid-client"), &[]).0, 200);
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_tls_handshake_failures_total{reason=\"client_certificate_too_large\"}"
        ) >= 2.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_tls_handshake_failures_total{reason=\"client_certificate_unreadable\"}"
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"ClientCertificateUnreadable\"}"
        ) >= 1.0,
        "{m}"
    );
}

/// Item 9: a policy that doubles a string 25 times (or blows one up with Replace) ends in an
/// expression error through on-error, counted, instead of allocating gigabytes.
#[test]
fn expressions_cannot_exhaust_memory() {
    let d = Demo::start();
    let doubling: String = "s = s + s; ".repeat(25);
    let policy = format!(
        "<policies><inbound><base /><set-variable name=\"big\" value=\"@{{ string s = &quot;abcdefgh&quot;; {doubling}return s.Length.ToString(); }}\" /><return-response><set-status code=\"200\" /></return-response></inbound></policies>"
    );
    std::fs::write(d.dir.path().join("policies/doubling.xml"), policy).unwrap();
    std::fs::write(
        d.dir.path().join("policies/replace.xml"),
        "<policies><inbound><base /><set-variable name=\"big\" value=\"@(&quot;x&quot;.PadLeft(1000000).Replace(&quot; &quot;, &quot;0123456789012345678901234567890123456789&quot;).Length.ToString())\" /><return-response><set-status code=\"200\" /></return-response></inbound></policies>",
    )
    .unwrap();
    let (status, body) = d.reconfigure(|y| {
        y.replace(
            "\ntrusted-proxies:",
            "\n  - name: doubling\n    path: /doubling\n    policy: policies/doubling.xml\n  - name: replace\n    path: /replace\n    policy: policies/replace.xml\ntrusted-proxies:",
        )
    });
    assert_eq!(status, 200, "{body}");
    for path in ["/doubling/x", "/replace/x"] {
        let (status, head, _) = d.curl(API, path, Some("dev-valid-client"), &[]);
        assert_eq!(status, 500, "{path}: {head}");
        assert_eq!(
            header(&head, "x-error-reason"),
            Some("expressionvalueevaluationfailure"),
            "{head}"
        );
    }
    // The budget is configuration: a 100-byte string passes by default, not under a 64-byte
    // limit.
    std::fs::write(
        d.dir.path().join("policies/small.xml"),
        "<policies><inbound><base /><set-variable name=\"s\" value=\"@(context.Request.Method.PadLeft(100))\" /><return-response><set-status code=\"200\" /></return-response></inbound></policies>",
    )
    .unwrap();
    let add_small = |y: String| {
        y.replace(
            "\ntrusted-proxies:",
            "\n  - name: small\n    path: /small\n    policy: policies/small.xml\ntrusted-proxies:",
        )
    };
    let (status, body) = d.reconfigure(add_small);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        d.curl(API, "/small/x", Some("dev-valid-client"), &[]).0,
        200
    );
    let (status, body) =
        d.reconfigure(|y| format!("{y}\nexpression-limits: {{ max-string-bytes: 64 }}\n"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        d.curl(API, "/small/x", Some("dev-valid-client"), &[]).0,
        500
    );
    let m = metrics(&d);
    assert!(
        metric(&m, "certgate_expression_budget_exceeded_total") >= 3.0,
        "{m}"
    );
}

/// Item 8 (the part built): an idle kept-alive connection is closed after `keepalive-timeout`
/// instead of being held forever.
#[test]
fn idle_kept_alive_connections_are_closed() {
    use std::io::{Read, Write};
    let d = Demo::start_with(|y| format!("{y}\nkeepalive-timeout: 1s\n"));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.plain)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(6)))
        .unwrap();
    s.write_all(format!("GET {WEATHER} HTTP/1.1\r\nHost: {PLAIN}\r\n\r\n").as_bytes())
        .unwrap();
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(closed, "the idle connection was still open after 6 s");
    assert!(start.elapsed() >= std::time::Duration::from_millis(900));
}

/// Items 7 and 8: clients trickling a request head are cut off `request-head-timeout` after its
/// first byte with 408 (Pingora's timeout is per read: they used to stay forever), and heads
/// Pingora cannot parse get its 400, now counted and logged (third_party patches 0001, 0002).
#[test]
fn slow_and_malformed_heads_are_cut_off_counted_and_logged() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let d = Demo::start_with(|y| format!("{y}\nrequest-head-timeout: 2s\n"));
    let port = d.plain;
    let slow: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let _ = s.write_all(b"GET /validate/weather/Oslo HTTP/1.1\r\nX-Slow: ");
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                // One byte every ~300 ms for at most 10 s; stop when the gateway answers/closes.
                while start.elapsed() < Duration::from_secs(10) {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if !got.is_empty() || s.write_all(b"a").is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                (start.elapsed(), String::from_utf8_lossy(&got).to_string())
            })
        })
        .collect();
    let results: Vec<(Duration, String)> = slow.into_iter().map(|t| t.join().unwrap()).collect();
    for (took, _) in &results {
        assert!(
            *took < Duration::from_secs(6),
            "a trickling client stayed {took:?}"
        );
    }
    let answered = results
        .iter()
        .filter(|(_, r)| r.starts_with("HTTP/1.1 408"))
        .count();
    assert!(answered >= 10, "{results:?}");

    let r = raw(port, b"\x16\x03\x01 garbage that is not HTTP\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let m = metrics(&d);
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"RequestHeadTimeout\"}"
        ) >= 10.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_requests_total{api=\"\",operation=\"\",status=\"408\"}"
        ) >= 10.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_request_refusals_total{reason=\"MalformedRequestHead\"}"
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "certgate_requests_total{api=\"\",operation=\"\",status=\"400\"}"
        ) >= 1.0,
        "{m}"
    );
    let log = std::fs::read_to_string(d.dir.path().join("gateway.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"status\":400") && l.contains("MalformedRequestHead")),
        "{log}"
    );
    // The gateway still serves.
    assert_eq!(d.curl(API, WEATHER, Some("dev-valid-client"), &[]).0, 200);
}
