#!/usr/bin/env python3
"""Side-by-side benchmark: certgate against nginx and HAProxy doing the same mTLS job.

`make compare` runs this. It installs what it needs (nginx-light, haproxy, wrk from Debian; oha
from crates.io), builds certgate in release mode (OpenSSL and BoringSSL builds), generates an
ECDSA P-256 and an RSA-2048 PKI with `certgate pki demo`, starts one shared backend, and runs
equivalent configurations of every system, one at a time:

  nginx            ssl_verify_client on + `map $ssl_client_fingerprint` over 1 000 thumbprints
  haproxy          verify required + an `ssl_c_sha1` ACL over the same 1 000 thumbprints
  certgate         strict mTLS + validate-client-certificate with the same 1 000 identities
  certgate-boringssl  the same, built with --features boringssl
  certgate-plain   certgate with strict mTLS and no policy (Pingora proxying)

Scenarios (same concurrency, duration and 1 KiB payload everywhere):
  a  kept-alive mTLS GET (oha)
  b  a new mTLS handshake per request, session caches and tickets off on every server (oha)
  c  as b with session resumption on every server (oha resumes sessions by itself)
  d  the forwarded-certificate header over plain HTTP (wrk); only certgate verifies a
     certificate from a header, so nginx/HAProxy have no equivalent and are not run
  e  kept-alive mTLS GET over HTTP/2 (oha --http2, H2_STREAMS concurrent streams on each of
     the C/H2_STREAMS connections, the same number of requests in flight as in a); every
     server offers h2 by ALPN

Fairness: TLS 1.3 only on every server; one worker/thread per gateway; the gateway pinned to
CPU 0, load generator and backend to CPU 1; the systems alternate over ROUNDS rounds and the
report gives medians. The gateway's own CPU time (utime+stime of its processes from /proc) per
10 000 requests is the figure that stays meaningful when the load generator is the bottleneck.

Traffic goes to 127.0.0.1 only; every run is bounded by DURATION.

Usage: bench/compare/compare.py [--rounds N] [--duration S] [--concurrency C]
                                [--systems a,b] [--scenarios a,b,c,d,e] [--keys ecdsa,rsa]
                                [--out DIR] [--no-install]
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CPU, LOADGEN_CPU = "0", "1"
PORT_TLS, PORT_PLAIN, PORT_ADMIN, PORT_BACKEND = 18443, 18080, 18901, 18000
HOST = "api.certgate.test"  # a name in the demo PKI's server certificate
ALLOW_LIST = 1000
PAYLOAD = "x" * 1024
SYSTEMS = ["nginx", "haproxy", "certgate", "certgate-boringssl", "certgate-plain"]
# Scenario (e): concurrent HTTP/2 streams on each connection.
H2_STREAMS = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- installation and builds


def install():
    need = [p for p, b in [("nginx-light", "nginx"), ("haproxy", "haproxy"), ("wrk", "wrk")]
            if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()]
    if need:
        log(f"installing Debian packages: {' '.join(need)}")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        sh(sudo + ["apt-get", "update", "-qq"])
        sh(sudo + ["apt-get", "install", "-y", "-qq"] + need,
           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        # Debian starts the packaged services; the benchmark runs its own instances.
        for svc in ("nginx", "haproxy"):
            subprocess.run(sudo + ["service", svc, "stop"], stderr=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL)
    if shutil.which("oha") is None:
        log("installing oha with cargo install (a few minutes)")
        sh(["cargo", "install", "oha", "--locked", "--quiet"])


def build(out, systems):
    """Release builds of the certgate variants `systems` needs (OpenSSL always: it also makes
    the PKI)."""
    bins = {}
    variants = [("openssl", [])]
    if "certgate-boringssl" in systems:
        variants.append(("boringssl", ["--no-default-features", "--features",
                                       "boringssl,jemalloc"]))
    for name, flags in variants:
        log(f"building certgate (release, {name})")
        sh(["cargo", "build", "--release", "-q", "-p", "certgate"] + flags, cwd=ROOT)
        bins[name] = out / f"certgate-{name}"
        shutil.copy2(ROOT / "target/release/certgate", bins[name])
    return bins


def certgate_binary(given):
    """The certgate binary a one-binary tool measures: `given`, or a fresh release build."""
    if given is not None:
        return given
    log("building certgate (release)")
    sh(["cargo", "build", "--release", "-q", "-p", "certgate"], cwd=ROOT)
    return ROOT / "target/release/certgate"


def work_dir(name):
    """`target/compare/<name>`, created: a one-binary tool's configurations and logs."""
    work = ROOT / "target/compare" / name
    work.mkdir(parents=True, exist_ok=True)
    return work


def binary(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


# ---------------------------------------------------------------- PKI and configurations


def thumbprint(pem_file):
    import base64
    import hashlib
    text = Path(pem_file).read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return hashlib.sha1(base64.b64decode("".join(body.split()))).hexdigest().upper()


def pki(certgate, out, key):
    d = out / f"pki-{key}"
    if not (d / "root-ca.pem").exists():
        sh([str(certgate), "pki", "demo", "--out", str(d), "--key", key],
           stdout=subprocess.DEVNULL)
    # The allow-list: the valid client and 999 other real certificates. certgate holds them as
    # uploaded certificates (`context.Deployment.Certificates`, seed 001's form: APIM allows at
    # most 10 identities in validate-client-certificate); nginx and HAProxy get their SHA-1s.
    others = d / "allow"
    others.mkdir(exist_ok=True)
    for i in range(ALLOW_LIST - 1):
        f = others / f"c{i}.pem"
        if not f.exists():
            sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN=allowed {i}", "-days", "365",
                "-keyout", "/dev/null", "-out", str(f)], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
    files = [d / "dev-valid-client.pem"] + [others / f"c{i}.pem" for i in range(ALLOW_LIST - 1)]
    allow = sorted({thumbprint(f): f for f in files}.items())
    (d / "allow.upper").write_text("".join(f"{t}\n" for t, _ in allow))
    # nginx's $ssl_client_fingerprint is lower-case hex.
    (d / "allow.nginx").write_text("".join(f"{t.lower()} 1;\n" for t, _ in allow))
    (d / "ca-bundle.pem").write_text((d / "root-ca.pem").read_text()
                                     + (d / "dev-intermediate-ca.pem").read_text())
    (d / "server.bundle.pem").write_text((d / "server.chain.pem").read_text()
                                         + (d / "server.key.pem").read_text())
    return d, allow


def backend_conf(work):
    conf = work / "backend.conf"
    conf.write_text(f"""
worker_processes 1;
pid {work}/backend.pid;
error_log {work}/backend.error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{PORT_BACKEND};
    location / {{ default_type text/plain; return 200 "{PAYLOAD}"; }}
  }}
}}
""")
    return [binary("nginx"), "-c", str(conf), "-p", str(work), "-g", "daemon off;"]


def nginx_conf(work, d, resumption, http2=False):
    cache = "shared:SSL:20m" if resumption else "off"
    tickets = "on" if resumption else "off"
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx.error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  map_hash_max_size 4096;
  map_hash_bucket_size 128;
  upstream backend {{ server 127.0.0.1:{PORT_BACKEND}; keepalive 64; }}
  map $ssl_client_fingerprint $allowed {{ default 0; include {d}/allow.nginx; }}
  server {{
    listen 127.0.0.1:{PORT_TLS} ssl{" http2" if http2 else ""};
    server_name {HOST};
    ssl_certificate {d}/server.chain.pem;
    ssl_certificate_key {d}/server.key.pem;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites {TLS13_SUITES};
    ssl_prefer_server_ciphers on;
    ssl_client_certificate {d}/ca-bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    ssl_session_cache {cache};
    ssl_session_tickets {tickets};
    location / {{
      if ($allowed = 0) {{ return 403; }}
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    return [binary("nginx"), "-c", str(conf), "-p", str(work), "-g", "daemon off;"]


def haproxy_conf(work, d, resumption, http2=False):
    conf = work / "haproxy.cfg"
    cache = "20000" if resumption else "0"
    tickets = "" if resumption else " no-tls-tickets"
    if http2:
        tickets += " alpn h2,http/1.1"
    conf.write_text(f"""
global
  nbthread 1
  maxconn 8000
  tune.ssl.cachesize {cache}
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:{PORT_TLS} ssl crt {d}/server.bundle.pem ca-file {d}/ca-bundle.pem verify required ssl-min-ver TLSv1.3 ciphersuites {TLS13_SUITES}{tickets}
  acl allowed ssl_c_sha1,hex -i -f {d}/allow.upper
  http-request deny deny_status 403 unless allowed
  default_backend be
backend be
  server s1 127.0.0.1:{PORT_BACKEND}
""")
    return [binary("haproxy"), "-f", str(conf), "-db"]


# The TLS 1.3 cipher suites every system is given, the server's choice first: certgate's default
# order. oha (rustls) lists AES-256-GCM-SHA384 first, which nginx and HAProxy would otherwise
# take; with the same list everywhere a handshake does the same cryptography on every system.
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


# certgate's `key-exchange-groups` in the runs (None: the TLS library's default list, which
# BoringSSL and OpenSSL 3.5+ head with the hybrid post-quantum X25519MLKEM768). `make compare`
# sets it to X25519, the group nginx and HAProxy (Debian's OpenSSL 3.0, without ML-KEM)
# negotiate with oha, so that a handshake does the same cryptography on every system.
KEY_EXCHANGE_GROUPS = None


def key_exchange_groups_option(ap, default):
    ap.add_argument("--key-exchange-groups", default=default,
                    help=f"certgate's key-exchange-groups, comma-separated (default {default}; "
                         "X25519 is what nginx and HAProxy negotiate with oha here; 'default': "
                         "the TLS library's own list, hybrid X25519MLKEM768 first)")


def use_key_exchange_groups(value):
    global KEY_EXCHANGE_GROUPS
    KEY_EXCHANGE_GROUPS = None if value == "default" else ", ".join(value.split(","))


def certgate_conf(work, d, allow, resumption, policy, certgate, http2=False):
    groups = (f"    key-exchange-groups: [{KEY_EXCHANGE_GROUPS}]\n"
              if KEY_EXCHANGE_GROUPS else "")
    policies = work / "policies"
    policies.mkdir(exist_ok=True)
    certificates = "".join(f"  - {{ id: allowed-{i}, file: {f} }}\n"
                           for i, (_, f) in enumerate(allow))
    (policies / "allow.xml").write_text("""<policies>
  <inbound>
    <choose>
      <when condition="@(context.Request.Certificate == null || !context.Request.Certificate.VerifyNoRevocation() || !context.Deployment.Certificates.Any(c => c.Value.Thumbprint == context.Request.Certificate.Thumbprint))">
        <return-response><set-status code="403" reason="Invalid client certificate" /></return-response>
      </when>
    </choose>
  </inbound>
  <backend><forward-request /></backend>
  <outbound />
  <on-error />
</policies>
""")
    policy_line = "    policy: policies/allow.xml\n" if policy else ""
    conf = work / "certgate.yaml"
    conf.write_text(f"""
listeners:
  - address: 127.0.0.1:{PORT_TLS}
    http2: {"true" if http2 else "false"}
    min-tls-version: "1.3"
    session-resumption: {"true" if resumption else "false"}
{groups}    hostnames:
      - host: {HOST}
        default: true
        certificate: {{ pem: {d}/server.chain.pem, key: {d}/server.key.pem }}
        negotiate-client-certificate: true
        strict: true
  - address: 127.0.0.1:{PORT_PLAIN}
    tls: false
admin:
  address: 127.0.0.1:{PORT_ADMIN}
ca-certificates:
  - {{ file: {d}/root-ca.pem, store: Root }}
  - {{ file: {d}/dev-intermediate-ca.pem, store: CertificateAuthority }}
access-log: false                     # like nginx's access_log off; HAProxy logs no requests
certificates:
{certificates}trusted-proxies: [127.0.0.1/32]
forwarded-certificate: {{ header: X-Client-Cert, encoding: url-pem }}
backends:
  - id: b
    url: http://127.0.0.1:{PORT_BACKEND}
apis:
  - name: bench
    path: /
    backend: b
{policy_line}    operations:
      - {{ name: any, method: "*", url-template: "/{{*rest}}" }}
""")
    return [str(certgate), "run", "-c", str(conf), "--threads", "1", "--runtime-dir", str(work)]


# ---------------------------------------------------------------- processes and /proc


def start(cmd, name, work, cpu):
    logf = open(work / f"{name}.log", "ab")
    def limits():
        raise_nofile(65536)
    p = subprocess.Popen(["taskset", "-c", cpu] + cmd, stdout=logf, stderr=logf,
                         start_new_session=True, preexec_fn=limits)
    return p


def raise_nofile(want):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def wait_port(port, timeout=20):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def peak_rss_mib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ---------------------------------------------------------------- load generators


def oha(d, duration, concurrency, keepalive, http2=False):
    # HTTP/2: the same number of requests in flight, H2_STREAMS per connection.
    conns = max(concurrency // H2_STREAMS, 1) if http2 else concurrency
    cmd = ["taskset", "-c", LOADGEN_CPU, "oha", "--no-tui", "--output-format", "json", "-w",
           "-z", f"{duration}s", "-c", str(conns),
           "--cacert", str(d / "root-ca.pem"),
           "--cert", str(d / "dev-valid-client.pem"), "--key", str(d / "dev-valid-client.key.pem"),
           "--connect-to", f"{HOST}:{PORT_TLS}:127.0.0.1:{PORT_TLS}"]
    if not keepalive:
        cmd.append("--disable-keepalive")
    if http2:
        cmd += ["--http2", "-p", str(H2_STREAMS)]
    cmd.append(f"https://{HOST}:{PORT_TLS}/")
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    codes = {int(k): v for k, v in r.get("statusCodeDistribution", {}).items()}
    pct = r.get("latencyPercentiles", {})
    return {
        "requests": sum(codes.values()),
        "ok": codes.get(200, 0),
        "errors": sum(r.get("errorDistribution", {}).values()),
        "rps": r["summary"]["requestsPerSec"],
        "p50_ms": (pct.get("p50") or 0) * 1000,
        "p99_ms": (pct.get("p99") or 0) * 1000,
    }


def oha_requests(d, n, http2=False, cpu=None, keepalive=True):
    """`n` kept-alive mTLS GETs over 32 streams (HTTP/2: H2_STREAMS on each connection; not
    `keepalive`: a new connection for each request), optionally pinned to `cpu`; raises unless
    every one was answered 200. For the one-binary tools (instructions.py, syscalls.py), which
    count per request rather than per second."""
    conns = ["-c", str(32 // H2_STREAMS), "--http2", "-p", str(H2_STREAMS)] if http2 else \
        ["-c", "32"]
    if not keepalive:
        conns.append("--disable-keepalive")
    cmd = (["taskset", "-c", cpu] if cpu else []) + [
        "oha", "--no-tui", "--output-format", "json", "-n", str(n)] + conns + [
        "--cacert", str(d / "root-ca.pem"), "--cert", str(d / "dev-valid-client.pem"),
        "--key", str(d / "dev-valid-client.key.pem"),
        "--connect-to", f"{HOST}:{PORT_TLS}:127.0.0.1:{PORT_TLS}", f"https://{HOST}:{PORT_TLS}/"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    codes = json.loads(r).get("statusCodeDistribution", {})
    if codes.get("200", 0) != n:
        raise RuntimeError(f"expected {n} answers 200, got {codes}")


def wrk_forwarded(d, duration, concurrency):
    cmd = ["taskset", "-c", LOADGEN_CPU, "wrk", "-t1", f"-c{concurrency}", f"-d{duration}s",
           "--latency", "-s", str(ROOT / "load-tests/wrk/forwarded-header.lua"),
           f"http://127.0.0.1:{PORT_PLAIN}/"]
    env = {**os.environ, "CERT": str(d / "dev-valid-client.pem"), "HEADER": "X-Client-Cert"}
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout

    def ms(v):
        for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if v.endswith(unit):
                return float(v[: -len(unit)]) * f
        return float(v)

    res = {"requests": 0, "ok": 0, "errors": 0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
    for line in text.splitlines():
        parts = line.split()
        if line.strip().startswith("50%"):
            res["p50_ms"] = ms(parts[1])
        elif line.strip().startswith("99%"):
            res["p99_ms"] = ms(parts[1])
        elif line.startswith("Requests/sec:"):
            res["rps"] = float(parts[1])
        elif "requests in" in line:
            res["requests"] = int(parts[0])
        elif line.startswith("status 200:"):
            res["ok"] += int(parts[2])
        elif line.startswith("  Socket errors") or line.startswith("  Non-2xx"):
            res["errors"] += sum(int(x.strip(",")) for x in parts if x.strip(",").isdigit())
    return res


# ---------------------------------------------------------------- one measurement


def gateway_cmd(system, work, d, allow, resumption, bins, http2=False):
    if system == "nginx":
        return nginx_conf(work, d, resumption, http2)
    if system == "haproxy":
        return haproxy_conf(work, d, resumption, http2)
    if system == "certgate":
        return certgate_conf(work, d, allow, resumption, True, bins["openssl"], http2)
    if system == "certgate-boringssl":
        return certgate_conf(work, d, allow, resumption, True, bins["boringssl"], http2)
    if system == "certgate-plain":
        return certgate_conf(work, d, allow, resumption, False, bins["openssl"], http2)
    raise ValueError(system)


def measure(system, scenario, d, allow, args, bins, work):
    resumption = scenario in ("a", "c", "d", "e")
    http2 = scenario == "e"
    keepalive = scenario in ("a", "e")
    cmd = gateway_cmd(system, work, d, allow, resumption, bins, http2)
    gw = start(cmd, system, work, GATEWAY_CPU)
    try:
        port = PORT_PLAIN if scenario == "d" else PORT_TLS
        if not wait_port(port):
            raise RuntimeError(f"{system} did not start; see {work}/{system}.log")
        # Warm-up: connections, caches, pools.
        if scenario == "d":
            wrk_forwarded(d, 1, args.concurrency)
        else:
            oha(d, 1, args.concurrency, keepalive, http2)
        pids = tree(gw.pid)
        cpu0 = cpu_seconds(pids)
        if scenario == "d":
            res = wrk_forwarded(d, args.duration, args.concurrency)
        else:
            res = oha(d, args.duration, args.concurrency, keepalive, http2)
        pids = tree(gw.pid)
        cpu = cpu_seconds(pids) - cpu0
        if res["ok"] < 0.99 * max(res["requests"], 1) or res["requests"] == 0:
            raise RuntimeError(f"{system} scenario {scenario}: only {res['ok']} of "
                               f"{res['requests']} requests answered 200 ({res['errors']} errors)")
        res["cpu_s_per_10k"] = cpu / max(res["requests"], 1) * 10_000
        res["cpu_us_per_req"] = cpu / max(res["requests"], 1) * 1e6
        res["peak_rss_mib"] = peak_rss_mib(pids)
        return res
    finally:
        stop(gw)


# ---------------------------------------------------------------- idle connections


async def _open_idle(n, d, concurrency=200):
    import asyncio
    import ssl
    ctx = ssl.create_default_context(cafile=str(d / "root-ca.pem"))
    ctx.load_cert_chain(str(d / "dev-valid-client.pem"), str(d / "dev-valid-client.key.pem"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sem = asyncio.Semaphore(concurrency)
    conns, failures = [], 0
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

    async def one():
        nonlocal failures
        async with sem:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", PORT_TLS, ssl=ctx,
                                                     server_hostname=HOST)
                w.write(request)
                await w.drain()
                head = await r.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await r.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    failures += 1
                conns.append(w)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
                failures += 1

    await asyncio.gather(*(one() for _ in range(n)))
    return conns, failures


def idle_connections(system, n, d, allow, bins, work):
    """Gateway RSS with `n` kept-alive mTLS connections that each served one request."""
    import asyncio
    raise_nofile(n * 2 + 1024)
    gw = start(gateway_cmd(system, work, d, allow, True, bins), system, work, GATEWAY_CPU)
    try:
        if not wait_port(PORT_TLS):
            raise RuntimeError(f"{system} did not start")
        loop = asyncio.new_event_loop()
        # Warm up with a few connections so the baseline includes pools and caches.
        warm, _ = loop.run_until_complete(_open_idle(10, d))
        for w in warm:
            w.close()
        time.sleep(0.5)
        base = rss_mib(tree(gw.pid))
        conns, failures = loop.run_until_complete(_open_idle(n, d))
        time.sleep(1.0)
        loaded = rss_mib(tree(gw.pid))
        for w in conns:
            w.close()
        loop.close()
        return {"connections": len(conns), "failures": failures, "rss_base_mib": base,
                "rss_mib": loaded,
                "kib_per_connection": (loaded - base) * 1024 / max(len(conns), 1)}
    finally:
        stop(gw)


def rss_mib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ---------------------------------------------------------------- reload under load


def reload_under_load(d, allow, bins, work, seconds, rate):
    """oha at a steady `rate` for `seconds`, once undisturbed and once while the configuration
    is reloaded (POST /admin/reload, a complete new snapshot) every second."""
    import threading
    import urllib.request
    out = {}
    for label, reloading in (("steady", False), ("reloading every second", True)):
        gw = start(gateway_cmd("certgate", work, d, allow, True, bins), "certgate", work,
                   GATEWAY_CPU)
        try:
            if not wait_port(PORT_TLS):
                raise RuntimeError("certgate did not start")
            stop_flag = threading.Event()
            reloads = {"ok": 0, "failed": 0}

            def reloader():
                while not stop_flag.wait(1.0):
                    req = urllib.request.Request(f"http://127.0.0.1:{PORT_ADMIN}/admin/reload",
                                                 method="POST")
                    try:
                        with urllib.request.urlopen(req, timeout=10) as r:
                            reloads["ok" if r.status == 200 else "failed"] += 1
                    except OSError:
                        reloads["failed"] += 1
            t = threading.Thread(target=reloader)
            if reloading:
                t.start()
            cmd = ["taskset", "-c", LOADGEN_CPU, "oha", "--no-tui", "--output-format", "json",
                   "-w", "-z", f"{seconds}s", "-c", "16", "-q", str(rate),
                   "--cacert", str(d / "root-ca.pem"), "--cert", str(d / "dev-valid-client.pem"),
                   "--key", str(d / "dev-valid-client.key.pem"),
                   "--connect-to", f"{HOST}:{PORT_TLS}:127.0.0.1:{PORT_TLS}",
                   f"https://{HOST}:{PORT_TLS}/"]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            stop_flag.set()
            if reloading:
                t.join()
            codes = r.get("statusCodeDistribution", {})
            pct = r.get("latencyPercentiles", {})
            out[label] = {
                "requests": sum(codes.values()),
                "non_200": sum(v for k, v in codes.items() if k != "200"),
                "errors": sum(r.get("errorDistribution", {}).values()),
                "p50_ms": (pct.get("p50") or 0) * 1000,
                "p99_ms": (pct.get("p99") or 0) * 1000,
                "reloads_ok": reloads["ok"],
                "reloads_failed": reloads["failed"],
            }
        finally:
            stop(gw)
    return out


# ---------------------------------------------------------------- report


def versions(bins):
    def first(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "nginx": first([binary("nginx"), "-v"]),
        "haproxy": first([binary("haproxy"), "-v"]),
        "certgate": first([str(bins["openssl"]), "--version"]),
        "certgate-boringssl": (first([str(bins["boringssl"]), "--version"])
                               if "boringssl" in bins else "not built"),
        "oha": first(["oha", "--version"]),
        "wrk": first(["wrk", "-v"]),
    }


SCENARIO_NAMES = {
    "a": "(a) kept-alive mTLS GET",
    "b": "(b) new mTLS handshake per request, no resumption",
    "c": "(c) new connection per request, session resumption",
    "d": "(d) forwarded-certificate header, plain HTTP (wrk)",
    "e": "(e) kept-alive mTLS GET over HTTP/2",
}


def report(results, meta, args, path, memory=None, reload=None):
    lines = [
        "# certgate side by side: results",
        "",
        f"Command: `make compare` (= `bench/compare/compare.py --rounds {args.rounds} "
        f"--duration {args.duration} --concurrency {args.concurrency}`)",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {meta['machine']}.",
        "",
        "Versions: " + "; ".join(f"{k} `{v}`" for k, v in meta.items() if k != "machine") + ".",
        "",
        "Every figure is the median over the rounds; the systems alternated within each round. "
        "Gateway pinned to CPU 0 with one worker, oha/wrk and the backend on CPU 1; TLS 1.3; "
        f"{ALLOW_LIST}-thumbprint allow-list; 1 KiB response. `CPU/req` is the gateway's own "
        "user+system time per request (from /proc), `CPU s/10k` the same per 10 000 requests, "
        "`vs nginx` the ratio of requests/s (higher is better) and of CPU/req (lower is better). "
        "Key exchange: certgate `key-exchange-groups: "
        f"{'[' + KEY_EXCHANGE_GROUPS + ']' if KEY_EXCHANGE_GROUPS else 'default (the TLS library’s list, hybrid X25519MLKEM768 first)'}`; "
        "nginx and HAProxy (OpenSSL 3.0) negotiate X25519 with oha.",
        "",
    ]
    for key in args.keys:
        for sc in args.scenarios:
            rows = []
            base = results.get(key, {}).get(sc, {}).get("nginx")
            for system in args.systems:
                runs = results.get(key, {}).get(sc, {}).get(system)
                if not runs:
                    continue
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                rows.append((system, med))
            if not rows:
                continue
            base_med = ({k: statistics.median(r[k] for r in base) for k in base[0]}
                        if base else None)
            lines.append(f"## {key.upper()}: {SCENARIO_NAMES[sc]}")
            lines.append("")
            lines.append("| system | req/s | p50 ms | p99 ms | CPU/req µs | CPU s/10k | peak RSS MiB | errors | vs nginx req/s | vs nginx CPU/req |")
            lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for system, m in rows:
                vs_rps = f"{m['rps'] / base_med['rps']:.2f}" if base_med else "n/a"
                vs_cpu = (f"{m['cpu_us_per_req'] / base_med['cpu_us_per_req']:.2f}"
                          if base_med and base_med["cpu_us_per_req"] else "n/a")
                lines.append(
                    f"| {system} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                    f"{m['cpu_us_per_req']:.1f} | {m['cpu_s_per_10k']:.3f} | "
                    f"{m['peak_rss_mib']:.1f} | {m['errors']:.0f} | {vs_rps} | {vs_cpu} |")
            lines.append("")
    if memory:
        lines += [
            "## Memory: idle kept-alive mTLS connections",
            "",
            "Each connection completed a TLS 1.3 mTLS handshake and one request, then stayed open "
            "(Python asyncio client). RSS of the gateway's processes (VmRSS) before and after.",
            "",
            "| system | key | connections | failures | RSS before MiB | RSS with connections MiB | KiB per connection |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key, systems in memory.items():
            for system, m in systems.items():
                lines.append(f"| {system} | {key} | {m['connections']} | {m['failures']} | "
                             f"{m['rss_base_mib']:.1f} | {m['rss_mib']:.1f} | "
                             f"{m['kib_per_connection']:.1f} |")
        lines.append("")
    if reload:
        lines += [
            "## Reload under load",
            "",
            "oha at a fixed rate (16 connections, kept alive) against certgate for the same "
            "duration twice: undisturbed, and while `POST /admin/reload` rebuilds and swaps the "
            "whole snapshot every second.",
            "",
            "| run | requests | non-200 | errors | reloads ok / failed | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, m in reload.items():
            lines.append(f"| {label} | {m['requests']} | {m['non_200']} | {m['errors']} | "
                         f"{m['reloads_ok']} / {m['reloads_failed']} | {m['p50_ms']:.2f} | "
                         f"{m['p99_ms']:.2f} |")
        lines.append("")
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        lines += [notes.read_text()]
    Path(path).write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8, help="seconds per run")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--scenarios", default="a,b,c,d,e")
    ap.add_argument("--keys", default="ecdsa,rsa")
    ap.add_argument("--out", default=str(ROOT / "target/compare"))
    ap.add_argument("--results", default=str(ROOT / "bench/RESULTS.md"))
    ap.add_argument("--no-install", action="store_true")
    key_exchange_groups_option(ap, "X25519")
    ap.add_argument("--reload-seconds", type=int, default=60,
                    help="reload-under-load test duration (0: skip)")
    ap.add_argument("--reload-rate", type=int, default=2000, help="requests/s during it")
    ap.add_argument("--only-report", action="store_true",
                    help="rewrite RESULTS.md from the saved results.json / extra.json")
    ap.add_argument("--idle", type=int, default=10_000,
                    help="idle kept-alive connections for the memory table (0: skip)")
    args = ap.parse_args()
    use_key_exchange_groups(args.key_exchange_groups)
    args.systems = args.systems.split(",")
    args.scenarios = args.scenarios.split(",")
    args.keys = args.keys.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.only_report:
        saved = json.loads((out / "results.json").read_text())
        extra = (json.loads((out / "extra.json").read_text())
                 if (out / "extra.json").exists() else {})
        report(saved["results"], saved["meta"], args, args.results, extra.get("memory"),
               extra.get("reload"))
        return
    if not args.no_install:
        install()
    bins = build(out, args.systems)
    meta = versions(bins)
    work = out / "work"
    work.mkdir(exist_ok=True)
    backend = start(backend_conf(work), "backend", work, LOADGEN_CPU)
    results = {}
    try:
        if not wait_port(PORT_BACKEND):
            raise RuntimeError("backend did not start")
        for key in args.keys:
            d, allow = pki(bins["openssl"], out, key)
            for rnd in range(args.rounds):
                order = args.systems[rnd % len(args.systems):] + args.systems[:rnd % len(args.systems)]
                for sc in args.scenarios:
                    for system in order:
                        if sc == "d" and not system.startswith("certgate"):
                            continue
                        log(f"{key} round {rnd + 1}/{args.rounds} scenario {sc} {system}")
                        res = measure(system, sc, d, allow, args, bins, work)
                        log(f"  {res['rps']:.0f} req/s, p99 {res['p99_ms']:.2f} ms, "
                            f"{res['cpu_us_per_req']:.1f} µs CPU/req, errors {res['errors']}, "
                            f"ok {res['ok']}/{res['requests']}")
                        results.setdefault(key, {}).setdefault(sc, {}).setdefault(system, []).append(res)
                        (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
        memory = {}
        reload = None
        if args.reload_seconds:
            d, allow = pki(bins["openssl"], out, args.keys[0])
            log(f"reload under load: 2 x {args.reload_seconds} s at {args.reload_rate} req/s")
            reload = reload_under_load(d, allow, bins, work, args.reload_seconds,
                                       args.reload_rate)
            log(f"  {reload}")
        if args.idle:
            key = args.keys[0]
            d, allow = pki(bins["openssl"], out, key)
            for system in args.systems:
                log(f"{key} {args.idle} idle connections: {system}")
                m = idle_connections(system, args.idle, d, allow, bins, work)
                log(f"  {m}")
                memory.setdefault(key, {})[system] = m
        (out / "extra.json").write_text(json.dumps({"memory": memory, "reload": reload},
                                                   indent=1))
    finally:
        stop(backend)
    report(results, meta, args, args.results, memory, reload)
    log(f"wrote {args.results} and {out / 'results.json'}")


if __name__ == "__main__":
    main()
