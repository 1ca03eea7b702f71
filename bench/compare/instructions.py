#!/usr/bin/env python3
"""Instructions per kept-alive mTLS request, and where they go (valgrind's callgrind).

`make instructions` runs this. Wall-clock CPU figures on a shared VM move by ±10 % between
runs; callgrind's instruction counts repeat to within ~2 %, so this is the tool for judging one
change to the per-request path. It runs certgate (release build, or `--binary`) under callgrind
with the side-by-side harness's configuration (compare.py: strict mTLS, optionally the
1 000-certificate policy), one worker, a real nginx backend, and oha on 127.0.0.1:

  1. warm-up: 500 requests over 32 kept-alive connections (pools, caches, code paths);
  2. callgrind's counters are zeroed, then N requests are sent on 32 new kept-alive
     connections, and the counters dumped;
  3. the 32 handshakes of step 2 are subtracted (`SSL_accept`), leaving the steady-state cost
     of one kept-alive request, which is split into the parts below by inclusive cost.

Caveat: callgrind counts each iteration of `rep movsb` as an instruction, so large memcpy
(Pingora moving its per-request futures) weighs more here than in CPU time; `perf record`
(bench/RESULTS.md) is the time view.

Usage: bench/compare/instructions.py [--binary PATH] [--requests N] [--policy] [--keep FILE]
"""

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as c  # noqa: E402  (the harness's PKI, configurations and process helpers)

# Inclusive parts of one request, by the function that owns them. Order matters only for
# display; the parts may overlap (e.g. the allocator is also inside the hooks), the table says
# which are self costs.
PARTS = [
    ("TLS record layer: decrypt the request (SSL_read)", "inclusive", r"\?\?\?:SSL_read(_ex)? "),
    ("TLS record layer: encrypt the response (SSL_write)", "inclusive",
     r"\?\?\?:SSL_write(_ex)? "),
    ("certgate hook request_filter", "inclusive",
     r"certgate::proxy::Gateway as pingora_proxy::proxy_trait::ProxyHttp>::request_filter::"),
    ("certgate hook upstream_peer", "inclusive",
     r"certgate::proxy::Gateway as pingora_proxy::proxy_trait::ProxyHttp>::upstream_peer::"),
    ("certgate hook upstream_request_filter", "inclusive",
     r"ProxyHttp>::upstream_request_filter::"),
    ("certgate hook response_filter", "inclusive", r"ProxyHttp>::response_filter::"),
    ("certgate hook logging", "inclusive", r"ProxyHttp>::logging::"),
    ("Pingora: read the backend's response head", "inclusive",
     r"v1::client::HttpSession::read_resp_header_parts::"),
    ("Pingora: take a pooled backend connection", "inclusive",
     r"Connector<C>::get_http_session::"),
    ("Pingora: return it to the pool (checks it, drops the heads, files it)", "inclusive",
     r"Connector<C>::release_http_session::"),
    ("allocator (self: malloc/free/sdallocx)", "self",
     r"(_rjem_|malloc\.c:|mi_)"),
    ("memcpy (self; mostly Pingora moving per-request futures)", "self",
     r"memmove-vec-unaligned-erms\.S:__memcpy"),
]


def annotate(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)$", line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows


def total(rows):
    return next((n for n, name in rows if name.startswith("PROGRAM TOTALS")), 0)


def first(rows, pattern):
    rx = re.compile(pattern)
    return next((n for n, name in rows if rx.search(name)), 0)


def summed(rows, pattern):
    rx = re.compile(pattern)
    return sum(n for n, name in rows if rx.search(name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", type=Path, help="certgate binary (default: release build)")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--policy", action="store_true",
                    help="with the 1 000-certificate validate policy (default: none)")
    ap.add_argument("--keep", type=Path, help="copy the callgrind profile here")
    ap.add_argument("--http2", action="store_true",
                    help="HTTP/2: H2_STREAMS streams on each of 32 / H2_STREAMS connections "
                         "(make compare's scenario e)")
    ap.add_argument("--handshakes", choices=["full", "resumed"],
                    help="a new connection per request (make compare's scenario b: full "
                         "handshakes, resumption off; c: resumed): counts instructions per "
                         "connection, split at the handshake, instead of per kept-alive request")
    c.key_exchange_groups_option(ap, "default")
    args = ap.parse_args()
    c.use_key_exchange_groups(args.key_exchange_groups)
    c.install()  # nginx (the backend) and oha
    if shutil.which("valgrind") is None:
        c.log("installing valgrind from Debian")
        c.sh(["apt-get", "install", "-y", "-qq", "valgrind"])
    binary = c.certgate_binary(args.binary)
    work = c.work_dir("instructions")
    out = work.parent
    for old in work.glob("callgrind.out.*"):
        old.unlink()
    d, allow = c.pki(binary, out, "ecdsa")
    backend = c.start(c.backend_conf(work), "backend", work, c.LOADGEN_CPU)
    cmd = c.certgate_conf(work, d, allow, args.handshakes != "full", args.policy, binary,
                          args.http2)
    gw = subprocess.Popen(["valgrind", "--tool=callgrind",
                           f"--callgrind-out-file={work}/callgrind.out.%p"] + cmd,
                          stdout=open(work / "gateway.log", "wb"), stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        if not (c.wait_port(c.PORT_BACKEND) and c.wait_port(c.PORT_TLS, timeout=180)):
            raise RuntimeError(f"gateway did not start under valgrind; see {work}/gateway.log")

        def load(n):
            c.oha_requests(d, n, http2=args.http2, keepalive=args.handshakes is None)

        load(500)
        c.sh(["callgrind_control", "-z", str(gw.pid)], stdout=subprocess.DEVNULL)
        load(args.requests)
        c.sh(["callgrind_control", "-d", str(gw.pid)], stdout=subprocess.DEVNULL)
        time.sleep(1)
        dumps = sorted(work.glob("callgrind.out.*.1"))
        if not dumps:
            raise RuntimeError("callgrind wrote no dump")
        profile = dumps[-1]
        if args.keep:
            shutil.copy2(profile, args.keep)
    finally:
        c.stop(gw)
        c.stop(backend)

    inc, own = annotate(profile, True), annotate(profile, False)
    n = args.requests
    if args.handshakes:
        per_connection(args, binary, inc, own, n)
        return
    handshakes = first(inc, r"\?\?\?:SSL_accept ")
    steady = (total(inc) - handshakes) / n
    print(f"certgate {'with the 1 000-certificate policy' if args.policy else 'without policy'}"
          f", {binary}")
    print(f"instructions per request, all: {total(inc) / n:,.0f}; the handshakes: "
          f"{handshakes / n:,.0f} per request; kept-alive request: {steady:,.0f}\n")
    # A part at 0: the optimiser folded the function into its caller in this build.
    parts_table("part of one kept-alive request", PARTS, inc, own, n, steady, "(inlined)")


def parts_table(title, parts, inc, own, n, whole, absent):
    """Prints `parts` (label, "inclusive" or "self", pattern) per unit of `n`, with their
    share of `whole`; a part that costs nothing reads `absent`, or is left out if None."""
    print(f"| {title} | instructions | share |")
    print("|---|---:|---:|")
    for label, kind, pattern in parts:
        v = (first(inc, pattern) if kind == "inclusive" else summed(own, pattern)) / n
        if v:
            print(f"| {label} | {v:,.0f} | {v / whole:.0%} |")
        elif absent is not None:
            print(f"| {label} | {absent} | |")


# The parts of a connection that carries one request (--handshakes), by inclusive cost; as
# with PARTS, they may overlap.
CONNECTION_PARTS = [
    ("TLS handshake (SSL_accept)", "inclusive", r"\?\?\?:SSL_accept "),
    ("  key exchange (ECDHE)", "inclusive", r"bssl::resolve_ecdhe_secret"),
    ("  the client's CertificateVerify checked", "inclusive",
     r"bssl::tls13_process_certificate_verify"),
    ("  the server's CertificateVerify signed", "inclusive", r"bssl::tls13_add_certificate_verify"),
    ("  the client's chain verified (certgate's callback)", "inclusive",
     r"bssl::ssl_verify_peer_cert"),
    ("  session tickets issued", "inclusive", r"bssl::add_new_session_tickets"),
    ("  a session ticket opened", "inclusive", r"bssl::ssl_process_ticket"),
    ("the request (process_new_http)", "inclusive",
     r"HttpProxy<SV,C> as pingora_core::apps::HttpServerApp>::process_new_http::"),
    ("allocator (self)", "self", r"(_rjem_|malloc\.c:|mi_)"),
    ("memcpy (self)", "self", r"memmove-vec-unaligned-erms\.S:__memcpy"),
]


def per_connection(args, binary, inc, own, n):
    print(f"certgate, a new connection per request ({args.handshakes} handshakes"
          f"{', the 1 000-certificate policy' if args.policy else ''}), {binary}")
    all_ = total(inc) / n
    print(f"instructions per connection: {all_:,.0f}\n")
    # A part at 0 does not happen in this mode (tickets with resumption off).
    parts_table("part of one connection", CONNECTION_PARTS, inc, own, n, all_, None)


if __name__ == "__main__":
    main()
