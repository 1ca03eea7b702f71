//! The demo deployment under test: the real `certgate` binary and its demo backend on free
//! 127.0.0.1 ports, the example configuration and a fresh demo PKI in a temporary directory,
//! and the clients (curl, openssl s_client) the tests drive it with. Processes die with the
//! [`Demo`] value.
// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use certgate_policy::pki::{DemoPki, KeyKind};

/// A port nothing listens on, and that no other caller in this test process was given.
///
/// The kernel may hand a closed port out again at once: two gateways started side by side (or
/// one gateway's listener and its admin) were given the same one. Pingora opens one socket per
/// address, so the two services shared it and answered each other's connections (a reload sent
/// to the admin address reached the TLS listener).
pub(crate) fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A running gateway and demo backend; both are killed on drop.
pub(crate) struct Demo {
    pub dir: tempfile::TempDir,
    pub tls: u16,
    pub plain: u16,
    pub admin: u16,
    /// The demo backend's port (its URL in the configuration is https://127.0.0.1:PORT).
    pub backend: u16,
    pub children: Vec<Child>,
    /// The demo PKI written to `pki/` (keys included), for tests that issue more.
    pub tree: DemoPki,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A failing test shows what the gateway said (its directory is deleted next).
        if std::thread::panicking() {
            for f in ["gateway.err", "gateway.log"] {
                let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!("--- {f} (last 40 lines)\n{}", tail.join("\n"));
            }
        }
    }
}

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_certgate")
}

impl Demo {
    pub(crate) fn start() -> Demo {
        Demo::start_with(|yaml| yaml)
    }

    /// As [`Demo::start`], with the configuration passed through `edit` first (for settings
    /// that a reload cannot change, such as a listener's TLS options).
    ///
    /// Ports come from [`free_port`], which releases each port before the gateway binds it, so
    /// another process can take one in between (a client's ephemeral port, on a busy machine).
    /// A start whose processes exit before they are ready is retried with fresh ports.
    pub(crate) fn start_with(edit: impl Fn(String) -> String) -> Demo {
        let mut why = Vec::new();
        for _ in 0..3 {
            match Demo::try_start(&edit) {
                Ok(demo) => return demo,
                Err(e) => why.push(e),
            }
        }
        panic!("gateway did not become ready:\n{}", why.join("\n---\n"));
    }

    fn try_start(edit: &impl Fn(String) -> String) -> Result<Demo, String> {
        let dir = tempfile::tempdir().unwrap();
        crate::common::copy_dir(&crate::common::examples(), dir.path());
        let tree = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        tree.write(&dir.path().join("pki"), "certgate-demo")
            .unwrap();
        let (tls, plain, admin, backend) = (free_port(), free_port(), free_port(), free_port());
        let cfg = dir.path().join("certgate.yaml");
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("127.0.0.1:8443", &format!("127.0.0.1:{tls}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{plain}"))
            .replace("127.0.0.1:9901", &format!("127.0.0.1:{admin}"))
            .replace("127.0.0.1:9443", &format!("127.0.0.1:{backend}"));
        std::fs::write(&cfg, edit(text)).unwrap();
        let p = dir.path().join("pki");
        let backend_child = Command::new(bin())
            .args(["demo-backend", "--listen", &format!("127.0.0.1:{backend}")])
            .arg("--cert")
            .arg(p.join("backend-server.chain.pem"))
            .arg("--key")
            .arg(p.join("backend-server.key.pem"))
            .arg("--client-ca")
            .arg(p.join("root-ca.pem"))
            .arg("--client-ca")
            .arg(p.join("dev-intermediate-ca.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
        let runtime = dir.path().join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        let gw = Command::new(bin())
            .args(["run", "--drain-seconds", "3", "-c"])
            .arg(&cfg)
            .arg("--runtime-dir")
            .arg(&runtime)
            .stdout(log)
            .stderr(std::fs::File::create(dir.path().join("gateway.err")).unwrap())
            .spawn()
            .unwrap();
        let mut demo = Demo {
            dir,
            tls,
            plain,
            admin,
            backend,
            children: vec![backend_child, gw],
            tree,
        };
        let stderr = |d: &Demo| {
            std::fs::read_to_string(d.dir.path().join("gateway.err")).unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Another process took one of the ports between free_port and the bind (Pingora
            // then retries the bind forever): start again on fresh ports.
            if stderr(&demo).contains("is in use") {
                return Err(format!("a port was taken: {}", stderr(&demo)));
            }
            if demo.admin("GET", "/readyz").0 == 200
                && std::net::TcpStream::connect(("127.0.0.1", backend)).is_ok()
            {
                // Every listener tries its bind at start; give a failed one time to say so.
                std::thread::sleep(Duration::from_millis(300));
                if stderr(&demo).contains("is in use") {
                    return Err(format!("a port was taken: {}", stderr(&demo)));
                }
                return Ok(demo);
            }
            for (name, child) in ["demo backend", "gateway"].iter().zip(&mut demo.children) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("{name} exited ({status}): {}", stderr(&demo)));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("not ready after 20 s: {}", stderr(&demo)))
    }

    /// Runs the Python client `tests/demo/SCRIPT` (for what curl and s_client cannot do:
    /// choosing TLS records' segments, pipelining) as the valid client against the TLS
    /// listener: `SCRIPT PORT CA CERT KEY HOST ARGS...`.
    pub(crate) fn python_client(&self, script: &str, args: &[&str]) -> std::process::Output {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/demo")
            .join(script);
        Command::new("python3")
            .arg(&script)
            .args([
                &self.tls.to_string(),
                &self.pki("root-ca.pem"),
                &self.pki("dev-valid-client.pem"),
                &self.pki("dev-valid-client.key.pem"),
                API,
            ])
            .args(args)
            .output()
            .unwrap()
    }

    pub(crate) fn pki(&self, f: &str) -> String {
        self.dir.path().join("pki").join(f).display().to_string()
    }

    /// `openssl s_client` to the TLS listener with SNI `api.certgate.test` and `extra`
    /// arguments: writes `request`, keeps stdin open long enough for the answer (and a TLS 1.3
    /// ticket), and returns what it printed. Used where curl cannot go: resumption, and request
    /// heads over 128 KiB (curl 7.88 stalls sending those; openssl and other clients do not).
    pub(crate) fn s_client(&self, extra: &[&str], request: &[u8]) -> String {
        self.s_client_as(Some(API), extra, request)
    }

    /// As [`Demo::s_client`] with the SNI name `sni` (None: no SNI at all).
    pub(crate) fn s_client_as(&self, sni: Option<&str>, extra: &[&str], request: &[u8]) -> String {
        let sni_args = match sni {
            Some(s) => vec!["-servername", s],
            None => vec!["-noservername"],
        };
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{}", self.tls)])
            .args(&sni_args)
            .args(["-CAfile", &self.pki("root-ca.pem"), "-alpn", "http/1.1"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(request);
            // Longer for big requests: s_client may still be encrypting them on a busy machine.
            std::thread::sleep(Duration::from_millis(800 + request.len() as u64 / 1000));
        }
        let out = child.wait_with_output().unwrap();
        // stdout first (what tests look for), then s_client's diagnostics for failure messages.
        format!(
            "{}\n--- s_client stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// curl against the TLS listener as `host`; returns (status, headers lower-cased, body).
    pub(crate) fn curl(
        &self,
        host: &str,
        path: &str,
        client: Option<&str>,
        extra: &[&str],
    ) -> (u16, String, String) {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-D",
            "-",
            "--max-time",
            "10",
            "--cacert",
            &self.pki("root-ca.pem"),
            "--resolve",
            &format!("{host}:{}:127.0.0.1", self.tls),
        ]);
        if let Some(c) = client {
            let chain = if c.starts_with("tst-") {
                format!("{c}.chain.pem")
            } else {
                format!("{c}.pem")
            };
            cmd.args([
                "--cert",
                &self.pki(&chain),
                "--key",
                &self.pki(&format!("{c}.key.pem")),
            ]);
        }
        cmd.args(extra)
            .arg(format!("https://{host}:{}{path}", self.tls));
        let out = cmd.output().expect("curl");
        let (status, head, body) = parse(out.stdout);
        if status == 0 {
            // No answer: what curl says (refused handshake, reset, timeout) is the body, so an
            // assertion that expected an answer shows why there was none.
            let why = String::from_utf8_lossy(&out.stderr);
            let why = format!("[curl {} for {host}{path}: {}]", out.status, why.trim());
            eprintln!("{why}");
            return (0, head, format!("{body}{why}"));
        }
        (status, head, body)
    }

    /// Rewrites the running configuration with `edit` and asks for a reload; the admin
    /// endpoint's status and body.
    pub(crate) fn reconfigure(&self, edit: impl FnOnce(String) -> String) -> (u16, String) {
        let cfg = self.dir.path().join("certgate.yaml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, edit(text)).unwrap();
        let (status, _, body) = self.admin("POST", "/admin/reload");
        (status, body)
    }

    pub(crate) fn admin(&self, method: &str, path: &str) -> (u16, String, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "-D",
                "-",
                "--max-time",
                "10",
                "-X",
                method,
                &format!("http://127.0.0.1:{}{path}", self.admin),
            ])
            .output()
            .expect("curl");
        parse(out.stdout)
    }
}

/// Requests `/validate/weather/Oslo` as the valid client in a loop (at most `max` times) until
/// `stop` is set; the status codes, for tests that change things under load.
pub(crate) fn client_loop(
    d: &Demo,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    max: usize,
) -> std::thread::JoinHandle<Vec<String>> {
    let (tls, root, cert, key) = (
        d.tls,
        d.pki("root-ca.pem"),
        d.pki("dev-valid-client.pem"),
        d.pki("dev-valid-client.key.pem"),
    );
    std::thread::spawn(move || {
        let mut codes = Vec::new();
        for _ in 0..max {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                    "--cacert",
                    &root,
                    "--cert",
                    &cert,
                    "--key",
                    &key,
                    "--resolve",
                    &format!("{API}:{tls}:127.0.0.1"),
                ])
                .arg(format!("https://{API}:{tls}/validate/weather/Oslo"))
                .output()
                .unwrap();
            codes.push(String::from_utf8_lossy(&out.stdout).to_string());
        }
        codes
    })
}

/// Sends `request` as it is over plain TCP to `port` and returns everything the server wrote
/// until it closed the connection or 5 s passed.
pub(crate) fn raw(port: u16, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The sum of a metric's samples whose line starts with `prefix` in a /metrics text.
pub(crate) fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub(crate) fn parse(out: Vec<u8>) -> (u16, String, String) {
    let text = String::from_utf8_lossy(&out).to_string();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, String::new(), text);
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::trim))
}

pub(crate) const API: &str = "api.certgate.test";

/// A request [`LocalHttp`] received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// `METHOD /target HTTP/1.1`.
    pub line: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 server on 127.0.0.1 for the services a policy calls out to (token
/// endpoints, lookups): keep-alive, Content-Length bodies, answers from `answer`; it counts the
/// connections it accepted and records every request. It stops with the test process.
pub(crate) struct LocalHttp {
    pub port: u16,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl LocalHttp {
    pub(crate) fn start<B: Into<Vec<u8>>>(
        answer: impl Fn(&Received, usize) -> (u16, B) + Send + Sync + 'static,
    ) -> LocalHttp {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer = Arc::new(answer);
        {
            let (accepted, received) = (accepted.clone(), received.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().take(200).flatten() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let (received, answer) = (received.clone(), answer.clone());
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                        let Ok(mut w) = stream.try_clone() else {
                            return;
                        };
                        let mut r = BufReader::new(stream);
                        loop {
                            let mut line = String::new();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            let mut headers = Vec::new();
                            loop {
                                let mut h = String::new();
                                if r.read_line(&mut h).unwrap_or(0) == 0 {
                                    return;
                                }
                                if h == "\r\n" {
                                    break;
                                }
                                if let Some((k, v)) = h.split_once(':') {
                                    headers.push((
                                        k.trim().to_ascii_lowercase(),
                                        v.trim().to_string(),
                                    ));
                                }
                            }
                            let length: usize = headers
                                .iter()
                                .find(|(k, _)| k == "content-length")
                                .and_then(|(_, v)| v.parse().ok())
                                .unwrap_or(0);
                            let mut body = vec![0; length];
                            if r.read_exact(&mut body).is_err() {
                                return;
                            }
                            let req = Received {
                                line: line.trim_end().to_string(),
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            };
                            let n = {
                                let mut all = received.lock().unwrap();
                                all.push(req.clone());
                                all.len()
                            };
                            let (status, body) = answer(&req, n);
                            let body: Vec<u8> = body.into();
                            let _ = write!(
                                w,
                                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            );
                            let _ = w.write_all(&body);
                        }
                    });
                }
            });
        }
        LocalHttp {
            port,
            accepted,
            received,
        }
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Adds an API `/name` on the demo backend, every method and path, with `policy` as its policy
/// document, and reloads.
pub(crate) fn serve_api_with_policy(d: &Demo, name: &str, policy: &str) {
    std::fs::write(d.dir.path().join(format!("policies/{name}.xml")), policy).unwrap();
    let (status, body) = d.reconfigure(|text| {
        text.replace(
            "trusted-proxies:",
            &format!("  - name: {name}\n    path: /{name}\n    backend: demo\n    policy: policies/{name}.xml\n    operations:\n      - {{ name: any, method: \"*\", url-template: \"/{{*rest}}\" }}\n\ntrusted-proxies:"),
        )
    });
    assert_eq!(status, 200, "{body}");
}
