//! State shared between nodes, in a real `redis-server` on a loopback port: two gateway
//! processes enforce one rate limit together, and Redis going away gives each policy family its
//! configured answer (never a hung request), then recovery when Redis is back.

mod common;
mod demo;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use demo::*;

/// A `redis-server` of the test's own, with nothing saved to disk.
struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        RedisServer::start_with(port, &["--port", &port.to_string()])
    }

    /// With `args` saying which port (`--port`, or `--port 0 --tls-port` and the TLS files).
    fn start_with(port: u16, args: &[&str]) -> RedisServer {
        let child = Command::new("redis-server")
            .args(args)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (make test installs it)");
        let server = RedisServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A gateway whose configuration names `redis` (and `extra` under it) and serves `policy` as
/// the API `name`.
fn gateway(redis: u16, extra: &str, name: &str, policy: &str) -> Demo {
    let d = Demo::start_with(|y| {
        format!(
            "{y}\nredis:\n  url: redis://127.0.0.1:{redis}\n  key-prefix: \"t{redis}:\"\n{extra}"
        )
    });
    serve_api_with_policy(&d, name, policy);
    d
}

const LIMITED: &str = r#"<policies>
  <inbound>
    <base />
    <rate-limit-by-key calls="10" renewal-period="60" counter-key="@(context.Request.Headers.GetValueOrDefault("X-Tenant", "none"))" remaining-calls-header-name="X-Left" />
  </inbound>
</policies>"#;

const CLIENT: Option<&str> = Some("dev-valid-client");

/// Two gateway processes, one Redis: 20 calls sent alternately, exactly 10 allowed. One
/// node uses one connection, the other three (`connections`), in turn.
#[test]
fn two_gateways_sharing_redis_enforce_one_limit_exactly() {
    let redis = RedisServer::start(free_port());
    let a = gateway(redis.port, "", "limited", LIMITED);
    let b = gateway(redis.port, "  connections: 3\n", "limited", LIMITED);
    let mut allowed = 0;
    let mut lefts = Vec::new();
    for i in 0..20 {
        let g = if i % 2 == 0 { &a } else { &b };
        let (status, head, body) = g.curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: t1"]);
        match status {
            200 => {
                allowed += 1;
                lefts.push(header(&head, "x-left").unwrap_or("?").to_string());
            }
            429 => assert!(header(&head, "retry-after").is_some(), "{head}"),
            other => panic!("call {i}: {other} {head}{body}"),
        }
    }
    assert_eq!(allowed, 10);
    // One counter: what is left goes down by one per call, whichever node took it.
    assert_eq!(lefts, ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
    // Another tenant has its own counter.
    let (status, _, _) = b.curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: t2"]);
    assert_eq!(status, 200);
    let counted = |d: &Demo| {
        metric(
            &d.admin("GET", "/metrics").2,
            "certgate_redis_commands_total{command=\"count\",result=\"ok\"}",
        )
    };
    assert_eq!(counted(&a) + counted(&b), 21.0);
    let connects = |d: &Demo| {
        metric(
            &d.admin("GET", "/metrics").2,
            "certgate_redis_connects_total{result=\"ok\"}",
        )
    };
    assert_eq!((connects(&a), connects(&b)), (1.0, 3.0));
    // A reload keeps the connections unless it changes how they connect.
    let call = |d: &Demo| d.curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: t3"]).0;
    let (status, body) = a.reconfigure(|y| y + "  command-timeout: 400ms\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!(call(&a), 200);
    assert_eq!(connects(&a), 1.0, "same connection after a reload");
    let (status, body) = a.reconfigure(|y| y + "  connections: 2\n");
    assert_eq!(status, 200, "{body}");
    assert_eq!((call(&a), call(&a)), (200, 200));
    assert_eq!(connects(&a), 3.0, "two new connections");
}

/// Redis killed: the rate limit configured to refuse answers 503 through on-error, the quota
/// configured to allow goes on (counted); no request waits longer than the command timeout;
/// Redis back on its port: counting resumes.
#[test]
fn redis_going_away_gives_the_configured_answer_and_recovery() {
    let port = free_port();
    let mut redis = RedisServer::start(port);
    let extra =
        "  command-timeout: 300ms\n  on-failure:\n    rate-limit: refuse\n    quota: allow\n";
    let d = gateway(port, extra, "limited", LIMITED);
    serve_api_with_policy(
        &d,
        "quota",
        r#"<policies><inbound><base /><quota-by-key calls="100" renewal-period="3600" counter-key="q" /></inbound></policies>"#,
    );
    let call = |path: &str| {
        let started = Instant::now();
        let r = d.curl(
            API,
            path,
            CLIENT,
            &["-H", "X-Tenant: t1", "--max-time", "5"],
        );
        (r, started.elapsed())
    };
    assert_eq!(call("/limited/x").0 .0, 200);
    assert_eq!(call("/quota/x").0 .0, 200);

    redis.stop();
    for _ in 0..3 {
        let ((status, head, body), took) = call("/limited/x");
        assert_eq!(status, 503, "{head}{body}");
        assert_eq!(
            header(&head, "x-error-reason"),
            Some("counterstoreunavailable"),
            "{head}"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
        let ((status, head, body), took) = call("/quota/x");
        assert_eq!(status, 200, "fails open: {head}{body}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
    let m = d.admin("GET", "/metrics").2;
    assert_eq!(
        metric(
            &m,
            "certgate_redis_unavailable_total{choice=\"refuse\",family=\"rate-limit\"}"
        ),
        3.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "certgate_redis_unavailable_total{choice=\"allow\",family=\"quota\"}"
        ),
        3.0,
        "{m}"
    );

    let _back = RedisServer::start(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = call("/limited/x").0;
    while last.0 != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        last = call("/limited/x").0;
    }
    assert_eq!(last.0, 200, "recovered: {}{}", last.1, last.2);
    // A new Redis starts counting from nothing.
    assert_eq!(header(&last.1, "x-left"), Some("9"), "{}", last.1);
}

/// A value store: PUT stores `X-V` under `k`, DELETE removes it, every call answers with what
/// `k` holds (`none` on a miss), all in the cache `caching-type` names.
fn value_store(caching_type: &str) -> String {
    format!(
        r#"<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Method == "PUT")">
        <cache-store-value key="k" value="@(context.Request.Headers.GetValueOrDefault("X-V", ""))" duration="60" caching-type="{caching_type}" />
      </when>
      <when condition="@(context.Request.Method == "DELETE")">
        <cache-remove-value key="k" caching-type="{caching_type}" />
      </when>
    </choose>
    <cache-lookup-value key="k" variable-name="v" default-value="none" caching-type="{caching_type}" />
    <return-response>
      <set-status code="200" reason="OK" />
      <set-header name="X-V" exists-action="override"><value>@((string)context.Variables["v"])</value></set-header>
    </return-response>
  </inbound>
</policies>"#
    )
}

/// The external cache: a value one node stores, the other finds (`prefer-external` is APIM's
/// default and takes Redis when there is one); removed on one node, gone on both. The
/// internal cache stays each node's own.
#[test]
fn cached_values_are_shared_between_nodes_through_redis() {
    let redis = RedisServer::start(free_port());
    let a = gateway(redis.port, "", "values", &value_store("prefer-external"));
    let b = gateway(redis.port, "", "values", &value_store("prefer-external"));
    serve_api_with_policy(&a, "local", &value_store("internal"));
    serve_api_with_policy(&b, "local", &value_store("internal"));
    let v = |d: &Demo, path: &str, method: &str| {
        let (status, head, body) = d.curl(API, path, CLIENT, &["-X", method, "-H", "X-V: blue"]);
        assert_eq!(status, 200, "{head}{body}");
        header(&head, "x-v").unwrap_or("").to_string()
    };
    assert_eq!(v(&b, "/values/x", "GET"), "none");
    assert_eq!(v(&a, "/values/x", "PUT"), "blue");
    assert_eq!(v(&b, "/values/x", "GET"), "blue", "stored on a, found on b");
    assert_eq!(v(&b, "/values/x", "DELETE"), "none");
    assert_eq!(v(&a, "/values/x", "GET"), "none", "removed on b, gone on a");
    // internal: each node's own.
    assert_eq!(v(&a, "/local/x", "PUT"), "blue");
    assert_eq!(v(&b, "/local/x", "GET"), "none");
    let m = a.admin("GET", "/metrics").2;
    assert!(
        metric(
            &m,
            "certgate_redis_commands_total{command=\"set\",result=\"ok\"}"
        ) >= 1.0,
        "{m}"
    );
}

/// Redis away: the cache configured to refuse answers 503 `CacheUnavailable`; by default a
/// lookup is a miss and the request goes on.
#[test]
fn the_external_cache_going_away_is_a_miss_or_a_refusal_as_configured() {
    let port = free_port();
    let mut redis = RedisServer::start(port);
    let refusing = gateway(
        port,
        "  command-timeout: 300ms\n  on-failure:\n    cache: refuse\n",
        "values",
        &value_store("external"),
    );
    let allowing = gateway(port, "", "values", &value_store("external"));
    let (status, _, _) = refusing.curl(API, "/values/x", CLIENT, &["-X", "PUT", "-H", "X-V: red"]);
    assert_eq!(status, 200);
    redis.stop();
    let (status, head, body) = refusing.curl(API, "/values/x", CLIENT, &["--max-time", "5"]);
    assert_eq!(status, 503, "{head}{body}");
    assert_eq!(
        header(&head, "x-error-reason"),
        Some("cacheunavailable"),
        "{head}"
    );
    let (status, head, body) = allowing.curl(API, "/values/x", CLIENT, &["--max-time", "5"]);
    assert_eq!(status, 200, "{head}{body}");
    assert_eq!(header(&head, "x-v"), Some("none"), "a miss: {head}");
    let m = allowing.admin("GET", "/metrics").2;
    assert_eq!(
        metric(
            &m,
            "certgate_redis_unavailable_total{choice=\"allow\",family=\"cache\"}"
        ),
        1.0,
        "{m}"
    );
}

/// Response caching through Redis: the response one node stored answers the same request on
/// the other node without a second backend call.
#[test]
fn cached_responses_are_shared_between_nodes_through_redis() {
    let redis = RedisServer::start(free_port());
    let backend = LocalHttp::start(|r, n| (200, format!(r#"{{"call":{n},"line":"{}"}}"#, r.line)));
    let policy = r#"<policies>
  <inbound><base /><cache-lookup vary-by-developer="false" vary-by-developer-groups="false" caching-type="external" /></inbound>
  <outbound><base /><cache-store duration="120" /></outbound>
</policies>"#;
    let node = || {
        let d = gateway(redis.port, "", "unused", "<policies/>");
        std::fs::write(d.dir.path().join("policies/cached.xml"), policy).unwrap();
        let (status, body) = d.reconfigure(|text| {
            text.replace(
                "trusted-proxies:",
                &format!("  - name: cached\n    path: /cached\n    backend: http://127.0.0.1:{}\n    policy: policies/cached.xml\n    operations:\n      - {{ name: get, method: GET, url-template: \"/{{*rest}}\" }}\n\ntrusted-proxies:", backend.port),
            )
        });
        assert_eq!(status, 200, "{body}");
        d
    };
    let (a, b) = (node(), node());
    let (status, head, first) = a.curl(API, "/cached/weather?city=oslo", CLIENT, &[]);
    assert_eq!(status, 200, "{head}{first}");
    assert!(first.contains(r#""call":1"#), "{first}");
    let (status, head, again) = b.curl(API, "/cached/weather?city=oslo", CLIENT, &[]);

    assert_eq!(status, 200, "{head}{again}");
    let redis_lines = |d: &Demo| {
        d.admin("GET", "/metrics")
            .2
            .lines()
            .filter(|l| l.starts_with("certgate_redis"))
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        again,
        first,
        "b answered from what a stored\na: {}\nb: {}",
        redis_lines(&a),
        redis_lines(&b)
    );
    assert_eq!(backend.requests().len(), 1);
}

/// `rediss://`: TLS to Redis through Pingora's connector, Redis's certificate checked against
/// the configured CA and name, the gateway's client certificate presented. Without the client
/// certificate Redis refuses the handshake: the configured failure answer, counted.
#[test]
fn redis_over_tls_with_a_client_certificate() {
    let d = Demo::start();
    let pki = |f: &str| d.pki(f);
    // Redis verifies clients against the demo root and the intermediate that issued them.
    let bundle = d.dir.path().join("redis-client-cas.pem");
    let cas = [pki("dev-intermediate-ca.pem"), pki("root-ca.pem")]
        .map(|f| std::fs::read_to_string(f).unwrap())
        .concat();
    std::fs::write(&bundle, cas).unwrap();
    let port = free_port();
    let tls_port = port.to_string();
    let (cert, key, ca) = (
        pki("backend-server.chain.pem"),
        pki("backend-server.key.pem"),
        bundle.display().to_string(),
    );
    let _redis = RedisServer::start_with(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "yes",
        ],
    );
    let with_redis = |client: &str| {
        let (status, body) = d.reconfigure(|text| {
            let base = text.split("\nredis:").next().unwrap_or(&text).to_string();
            format!(
                "{base}\nredis:\n  url: rediss://127.0.0.1:{port}\n  command-timeout: 1s\n  on-failure: {{ rate-limit: refuse }}\n  tls:\n    ca-certificates: [pki/backend-root-ca.pem]\n    server-name: localhost\n{client}"
            )
        });
        assert_eq!(status, 200, "{body}");
    };
    with_redis("    certificate-id: backend-client\n");
    serve_api_with_policy(&d, "limited", LIMITED);
    for left in ["9", "8"] {
        let (status, head, body) = d.curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: tls"]);
        assert_eq!(status, 200, "{head}{body}");
        assert_eq!(header(&head, "x-left"), Some(left), "{head}");
    }
    // Without the client certificate: no connection, the configured refusal.
    with_redis("");
    let (status, head, body) = d.curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: tls"]);
    assert_eq!(status, 503, "{head}{body}");
    let m = d.admin("GET", "/metrics").2;
    // TLS 1.3: the handshake completes on the client's side before Redis checks the
    // certificate, so the refusal arrives as the first command's error.
    assert_eq!(
        metric(
            &m,
            "certgate_redis_unavailable_total{choice=\"refuse\",family=\"rate-limit\"}"
        ),
        1.0,
        "{m}"
    );
}

/// Redis killed while requests are under way: every request gets a defined answer (200
/// before, 503 after, as configured) within the command timeout's reach; none hangs.
#[test]
fn killing_redis_mid_load_leaves_no_request_hanging() {
    let port = free_port();
    let mut redis = RedisServer::start(port);
    let d = std::sync::Arc::new(gateway(
        port,
        "  command-timeout: 300ms\n  on-failure: { rate-limit: refuse }\n",
        "limited",
        &LIMITED.replace("calls=\"10\"", "calls=\"100000\""),
    ));
    // The load runs on past the kill (at 400 ms): a fixed number of requests could all be
    // answered before it.
    let load_start = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while seen.len() < 200
                    && (seen.len() < 15 || load_start.elapsed() < Duration::from_millis(1500))
                {
                    let started = Instant::now();
                    let tenant = format!("X-Tenant: load-{c}");
                    let (status, _, _) = d.curl(
                        API,
                        "/limited/x",
                        CLIENT,
                        &["-H", &tenant, "--max-time", "5"],
                    );
                    seen.push((status, started.elapsed()));
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    redis.stop();
    let mut statuses = std::collections::BTreeMap::new();
    for c in clients {
        for (status, took) in c.join().unwrap() {
            assert!(status == 200 || status == 503, "status {status}");
            assert!(took < Duration::from_secs(3), "a request took {took:?}");
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "{statuses:?}");
    let _back = RedisServer::start(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while status != 200 && Instant::now() < deadline {
        status = d
            .curl(API, "/limited/x", CLIENT, &["-H", "X-Tenant: after"])
            .0;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "recovered");
}
