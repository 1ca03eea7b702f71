#!/usr/bin/env python3
"""System calls and user/kernel CPU per kept-alive mTLS request: certgate against nginx.

`make syscalls` runs this. callgrind (`make instructions`) counts only user-space instructions;
a kept-alive request also costs the kernel (TCP over loopback, epoll, wakeups), and every system
call a gateway makes beyond the ones it needs is kernel time nginx does not spend. This runs
each system with the side-by-side harness's configuration (compare.py: strict mTLS, one worker
pinned to one CPU, a real nginx backend, oha on the other CPU) and measures, for the same
number of kept-alive requests over 32 connections after a warm-up:

  1. user and system CPU per request, from /proc (utime, stime of the gateway's threads),
     the median of `--rounds` runs;
  2. system calls per request, by name, from `strace -c` attached to every thread of the
     gateway (strace slows the gateway; the counts do not depend on its speed).

Usage: bench/compare/syscalls.py [--binary PATH] [--requests N] [--rounds R] [--policy]
"""

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as c  # noqa: E402  (the harness's PKI, configurations and process helpers)


def counters(pids):
    """(user s, system s, minor page faults, voluntary and involuntary context switches) of
    the given processes, summed over their threads."""
    user = system = faults = switches = 0
    for t in task_dirs(pids):
        try:
            f = (t / "stat").read_text().rsplit(")", 1)[1].split()
            faults += int(f[7])
            user += int(f[11])
            system += int(f[12])
            for line in (t / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return user / c.CLK_TCK, system / c.CLK_TCK, faults, switches


def load(d, n, keepalive):
    c.oha_requests(d, n, cpu=c.LOADGEN_CPU, keepalive=keepalive)


def task_dirs(pids):
    """/proc/PID/task/TID of every thread (a thread's own /proc/TID would show its process's
    totals)."""
    out = []
    for p in pids:
        try:
            out.extend(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            pass
    return out


def threads(pids):
    return [int(t.name) for t in task_dirs(pids)]


def strace_counts(pids, d, n, keepalive, work, name):
    """System calls per name while n requests run, from `strace -c` on every thread."""
    out = work / f"strace.{name}.txt"
    cmd = ["strace", "-c", "-q", "-o", str(out)]
    for t in threads(pids):
        cmd += ["-p", str(t)]
    tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached
    try:
        load(d, n, keepalive)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    counts = {}
    for line in out.read_text().splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(parts) >= 5 and parts[0][0].isdigit() and not parts[-1].startswith("total"):
            errors = int(parts[4]) if len(parts) == 6 else 0
            counts[parts[-1]] = (int(parts[3]), errors)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", type=Path, help="certgate binary (default: release build)")
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--strace-requests", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policy", action="store_true",
                    help="certgate with the 1 000-certificate validate policy (default: none)")
    ap.add_argument("--handshakes", choices=["full", "resumed"],
                    help="a new connection per request (make compare's scenario b: full "
                         "handshakes, resumption off on both; c: resumed)")
    c.key_exchange_groups_option(ap, "default")
    args = ap.parse_args()
    keepalive = args.handshakes is None
    resumption = args.handshakes != "full"
    c.use_key_exchange_groups(args.key_exchange_groups)
    c.install()
    if shutil.which("strace") is None:
        c.log("installing strace from Debian")
        c.sh(["apt-get", "install", "-y", "-qq", "strace"])
    binary = c.certgate_binary(args.binary)
    work = c.work_dir("syscalls")
    d, allow = c.pki(binary, work.parent, "ecdsa")
    backend = c.start(c.backend_conf(work), "backend", work, c.LOADGEN_CPU)
    systems = {
        "nginx": c.nginx_conf(work, d, resumption),
        "certgate": c.certgate_conf(work, d, allow, resumption, args.policy, binary),
    }
    results = {}
    try:
        if not c.wait_port(c.PORT_BACKEND):
            raise RuntimeError("backend did not start")
        for name, cmd in systems.items():
            gw = c.start(cmd, name, work, c.GATEWAY_CPU)
            try:
                if not c.wait_port(c.PORT_TLS):
                    raise RuntimeError(f"{name} did not start; see {work}/{name}.log")
                load(d, 2_000, keepalive)
                pids = c.tree(gw.pid)
                rounds = []
                for _ in range(args.rounds):
                    before = counters(pids)
                    load(d, args.requests, keepalive)
                    after = counters(pids)
                    rounds.append([(a - b) / args.requests for a, b in zip(after, before)])
                med = [statistics.median(r[i] for r in rounds) for i in range(4)]
                counts = strace_counts(c.tree(gw.pid), d, args.strace_requests, keepalive, work,
                                      name)
                results[name] = (med[0] * 1e6, med[1] * 1e6, med[2], med[3], counts)
            finally:
                c.stop(gw)
    finally:
        c.stop(backend)

    names = list(results)
    what = {None: "kept-alive mTLS GET, 32 connections",
            "full": "mTLS GET on a new connection, full handshake, 32 at a time",
            "resumed": "mTLS GET on a new connection, resumed, 32 at a time"}[args.handshakes]
    print(f"{what}; CPU: medians of {args.rounds} runs of "
          f"{args.requests} requests; system calls: {args.strace_requests} requests under strace"
          f"{'; certgate with the 1 000-certificate policy' if args.policy else ''}\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, i, fmt in (("user CPU µs per request", 0, "{:.1f}"),
                          ("system CPU µs per request", 1, "{:.1f}"),
                          ("minor page faults per request", 2, "{:.3f}"),
                          ("context switches per request", 3, "{:.3f}")):
        print(f"| {label} | " + " | ".join(fmt.format(results[n][i]) for n in names) + " |")
    per = {n: {k: v[0] / args.strace_requests for k, v in results[n][4].items()} for n in names}
    err = {n: {k: v[1] / args.strace_requests for k, v in results[n][4].items()} for n in names}
    print("| system calls per request | " +
          " | ".join(f"{sum(per[n].values()):.2f}" for n in names) + " |")
    for call in sorted({k for n in names for k in per[n]},
                       key=lambda k: -max(per[n].get(k, 0) for n in names)):
        if max(per[n].get(call, 0) for n in names) < 0.01:
            continue
        cells = []
        for n in names:
            v, e = per[n].get(call, 0), err[n].get(call, 0)
            cells.append(f"{v:.2f}" + (f" ({e:.2f} failed)" if e >= 0.01 else ""))
        print(f"| `{call}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
