#!/usr/bin/env python3
"""Memory per idle kept-alive mTLS connection for one certgate binary (no full `make compare`).

`make compare` measures this for every system with release builds, which takes long; this runs
the same measurement (compare.py's `idle_connections`: N TLS 1.3 mTLS connections that each
served one request and stay open, the gateway's VmRSS before and after) against one binary,
so a change to per-connection memory can be judged in a minute. Median of `--rounds` runs.

Usage: bench/compare/idle.py [--binary PATH] [--connections N] [--rounds R] [--nginx]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as c  # noqa: E402  (the harness's PKI, configurations and process helpers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", type=Path, help="certgate binary (default: a release build)")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nginx", action="store_true", help="measure nginx the same way")
    args = ap.parse_args()
    c.install()  # nginx (the backend) and oha
    binary = c.certgate_binary(args.binary)
    work = c.work_dir("idle")
    out = work.parent
    d, allow = c.pki(binary, out, "ecdsa")
    bins = {"openssl": binary, "boringssl": binary}
    systems = ["certgate"] + (["nginx"] if args.nginx else [])
    backend = c.start(c.backend_conf(work), "backend", work, c.LOADGEN_CPU)
    try:
        if not c.wait_port(c.PORT_BACKEND):
            raise RuntimeError("backend did not start")
        for system in systems:
            runs = []
            for _ in range(args.rounds):
                m = c.idle_connections(system, args.connections, d, allow, bins, work)
                if m["failures"]:
                    raise RuntimeError(f"{system}: {m['failures']} connections failed")
                runs.append(m["kib_per_connection"])
            print(f"{system} ({binary if system == 'certgate' else 'nginx'}): "
                  f"{statistics.median(runs):.1f} KiB per idle connection "
                  f"(median of {', '.join(f'{r:.1f}' for r in runs)}; "
                  f"{args.connections} connections)")
    finally:
        c.stop(backend)


if __name__ == "__main__":
    main()
