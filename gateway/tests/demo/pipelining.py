"""An HTTP/1.1 client that pipelines (e2e::pipelined_requests_*): it sends requests without
waiting for answers, then reads what comes back on the one connection.

Cases (one connection each), by name on the command line:
  three     three GETs in one write;
  later     a slow GET (the backend waits 600 ms), then a second GET 200 ms later, while the
            first is at the backend;
  bodies    a POST whose body is sent, a GET, a POST, in one write;
  refused   a POST the gateway refuses before reading its body (no such route), whose body is a
            whole request for another path, then a GET: the body must be skipped, never run;
  close     a GET with `Connection: close`, then a GET: the connection ends after the first.
  reframed  a chunked POST to /reframe (whose policy deletes Transfer-Encoding and sets
            Content-Length: 0) whose body is a whole request for another path, then a GET: the
            body is framed as the client sent it, so it is never run as a request.
For each case prints `CASE: STATUS PATH, STATUS PATH, ...`, the answers in the order they came
(PATH: the request line the demo backend echoed, `-` for answers the gateway made itself).

Usage: pipelining.py PORT CA CERT KEY HOST CASE...
"""

import json
import re
import socket
import ssl
import sys
import time

port, ca, cert, key, host = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def post(path, body):
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def answers(tls, wanted, wait=5.0):
    """Reads answers (head and Content-Length body) until `wanted` arrived, the connection
    closed or `wait` passed."""
    data, out = b"", []
    deadline = time.time() + wait
    while len(out) < wanted and time.time() < deadline:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1")
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            length = int(m.group(1)) if m else 0
            if len(data) >= head_end + 4 + length:
                body = data[head_end + 4:head_end + 4 + length]
                data = data[head_end + 4 + length:]
                status = head.split(" ")[1]
                try:
                    path = json.loads(body)["request"].split(" ")[1]
                except (ValueError, KeyError, IndexError, TypeError):
                    path = "-"
                out.append(f"{status} {path}")
                continue
        tls.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = tls.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            out.append("closed")
            break
        data += chunk
    return out


def connect():
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    return ctx.wrap_socket(sock, server_hostname=host)


for case in sys.argv[6:]:
    tls = connect()
    if case == "three":
        tls.sendall(get("/validate/weather/Oslo") + get("/validate/weather/Bergen")
                    + get("/validate/weather/Tromso"))
        got = answers(tls, 3)
    elif case == "later":
        tls.sendall(get("/validate/weather/Oslo?delay=600"))
        time.sleep(0.2)
        tls.sendall(get("/validate/weather/Bergen"))
        got = answers(tls, 2)
    elif case == "bodies":
        tls.sendall(post("/uploaded/one", b"first body") + get("/validate/weather/Oslo")
                    + post("/uploaded/two", b"second"))
        got = answers(tls, 3)
    elif case == "refused":
        smuggled = get("/thumbprint/smuggled")
        tls.sendall(post("/no-such-api/x", smuggled) + get("/validate/weather/Oslo"))
        got = answers(tls, 3, wait=3.0)
    elif case == "reframed":
        smuggled = get("/thumbprint/smuggled")
        chunked = (f"POST /reframe/x HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
                   f"Transfer-Encoding: chunked\r\n\r\n{len(smuggled):x}\r\n").encode() \
            + smuggled + b"\r\n0\r\n\r\n"
        tls.sendall(chunked + get("/validate/weather/Oslo"))
        got = answers(tls, 3, wait=3.0)
    elif case == "close":
        tls.sendall(get("/validate/weather/Oslo", "Connection: close\r\n")
                    + get("/validate/weather/Bergen"))
        got = answers(tls, 2, wait=3.0)
    else:
        sys.exit(f"unknown case {case}")
    print(f"{case}: {', '.join(got)}")
    tls.close()
