"""A TLS client that decides how its records meet TCP segments (e2e::tls_records_*).

Python's ssl module writes records into a memory buffer, so the test chooses the segments:
  1. the handshake's last flight (client Certificate, CertificateVerify, Finished) and a
     request, in one segment;
  2. a request head in two records, in one segment;
  3. a request's record split across two segments (inside its 5-byte record header), 300 ms
     apart.
Each request waits for the previous answer (no pipelining). Prints the three answers.

Usage: tls_records.py PORT CA CERT KEY HOST PATH
"""

import socket
import ssl
import sys
import time

port, ca, cert, key, host, path = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname=host)

while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        sock.sendall(outgoing.read())
        data = sock.recv(65536)
        if not data:
            sys.exit("closed during the handshake")
        incoming.write(data)



def answer():
    """One response: its head and its Content-Length body."""
    got = b""
    while b"\r\n\r\n" not in got or len(got) < body_end(got):
        try:
            got += tls.read(65536)
            continue
        except ssl.SSLWantReadError:
            pass
        data = sock.recv(65536)
        if not data:
            break
        incoming.write(data)
    return got


def body_end(got):
    head, _, _ = got.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return len(head) + 4 + length


def request(close=False):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n").encode()


out = []
# 1: the last flight and a request, one segment
tls.write(request())
sock.sendall(outgoing.read())
out.append(answer())
# 2: one request head in two records, one segment
head = request()
tls.write(head[:10])
tls.write(head[10:])
sock.sendall(outgoing.read())
out.append(answer())
# 3: a request's record split across two segments, inside its 5-byte header
tls.write(request(close=True))
record = outgoing.read()
sock.sendall(record[:3])
time.sleep(0.3)
sock.sendall(record[3:])
out.append(answer())
sys.stdout.write(b"".join(out).decode("latin-1"))
