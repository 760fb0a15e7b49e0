"""Holds many idle connections to a local endpoint, as a client without
credentials can: each connection sends one unsigned request and reads its
answer (a 403), or with --silent sends nothing at all; then the connections
are kept open until stdin closes or --hold seconds pass.

Usage: flood.py HOST PORT COUNT [--silent] [--hold SECONDS]

Prints "OPENED n answered=a closed=c failed=f" once every connection was
tried: answered got a response, closed were closed by the server without
one, failed could not connect. The soft open-file limit is raised to the
hard one; if that is too low, COUNT is lowered and "SCALED n" printed first.
"""
import argparse
import resource
import select
import socket
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("host")
p.add_argument("port", type=int)
p.add_argument("count", type=int)
p.add_argument("--silent", action="store_true")
p.add_argument("--hold", type=float, default=60.0)
args = p.parse_args()
if args.host not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("flood.py only connects to loopback")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = hard
count = args.count
if soft != resource.RLIM_INFINITY and count > soft - 64:
    count = soft - 64
    print("SCALED", count, flush=True)

request = (
    "POST /listStreams HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
    "Content-Length: 2\r\n\r\n{}" % (args.host, args.port)
).encode()

socks = []
answered = closed = failed = 0
for i in range(count):
    try:
        s = socket.create_connection((args.host, args.port), timeout=10)
    except OSError:
        failed += 1
        continue
    socks.append(s)
    if args.silent:
        continue
    try:
        s.sendall(request)
        data = s.recv(4096)
    except OSError:
        data = b""
    if data.startswith(b"HTTP/1.1 "):
        answered += 1
    else:
        closed += 1
print("OPENED %d answered=%d closed=%d failed=%d" % (len(socks), answered, closed, failed), flush=True)

deadline = time.time() + args.hold
while time.time() < deadline:
    r, _, _ = select.select([sys.stdin], [], [], 0.2)
    if r and not sys.stdin.read(1):
        break
for s in socks:
    s.close()
