"""A PutMedia client independent of kvs: boto3 finds the data endpoint,
botocore signs SigV4, and a raw socket sends the MKV as an HTTP/1.1 chunked body
while a reader prints every ACK line to stdout as it arrives.

Usage: putmedia.py ENDPOINT REGION STREAM FILE [--style empty|unsigned]
                   [--timecode ABSOLUTE|RELATIVE] [--start EPOCH] [--chunk N]
                   [--delay SECONDS] [--wait-acks N] [--host-without-port]

With --host-without-port the client behaves as the KVS C producer: it sends
and signs `Host` without the port, for GetDataEndpoint (a raw signed request)
and for PutMedia, and connects to the port of the data endpoint it is given
(80 when that names none).
"""
import argparse
import json
import socket
import sys
import threading
import time
import urllib.parse

import boto3
from botocore.auth import SigV4Auth, UNSIGNED_PAYLOAD
from botocore.awsrequest import AWSRequest

p = argparse.ArgumentParser()
p.add_argument("endpoint")
p.add_argument("region")
p.add_argument("stream")
p.add_argument("file")
p.add_argument("--style", default="empty", choices=["empty", "unsigned"])
p.add_argument("--timecode", default="RELATIVE")
p.add_argument("--start", type=float, default=None)
p.add_argument("--chunk", type=int, default=65536)
p.add_argument("--delay", type=float, default=0.0, help="pause between chunks")
p.add_argument("--secret", default=None, help="override the secret key (to test refusals)")
p.add_argument("--host-without-port", action="store_true",
               help="send and sign Host without the port, as the KVS C producer does")
args = p.parse_args()

session = boto3.Session(region_name=args.region)
creds = session.get_credentials().get_frozen_credentials()
if args.secret:
    session = boto3.Session(region_name=args.region, aws_access_key_id=creds.access_key,
                            aws_secret_access_key=args.secret)
    creds = session.get_credentials().get_frozen_credentials()


def portless_data_endpoint():
    """GetDataEndpoint signed and sent with Host lacking the port."""
    import http.client
    e = urllib.parse.urlparse(args.endpoint)
    body = json.dumps({"StreamName": args.stream, "APIName": "PUT_MEDIA"}).encode()
    r = AWSRequest(method="POST", url=args.endpoint.rstrip("/") + "/getDataEndpoint", data=body,
                   headers={"Host": e.hostname, "Content-Type": "application/json"})
    SigV4Auth(creds, "kinesisvideo", args.region).add_auth(r)
    c = http.client.HTTPConnection(e.hostname, e.port or 80, timeout=30)
    c.putrequest("POST", "/getDataEndpoint", skip_host=True, skip_accept_encoding=True)
    for k, v in r.headers.items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    resp = c.getresponse()
    out = resp.read()
    if resp.status != 200:
        sys.exit("getDataEndpoint: %d %s" % (resp.status, out.decode()))
    return json.loads(out)["DataEndpoint"]


if args.host_without_port:
    data_ep = portless_data_endpoint()
    print("DATA_ENDPOINT", data_ep, flush=True)
else:
    kv = session.client("kinesisvideo", endpoint_url=args.endpoint)
    data_ep = kv.get_data_endpoint(StreamName=args.stream, APIName="PUT_MEDIA")["DataEndpoint"]
u = urllib.parse.urlparse(data_ep)
host_header = u.hostname if args.host_without_port else u.netloc
start = args.start if args.start is not None else time.time()

headers = {
    "x-amzn-stream-name": args.stream,
    "x-amzn-fragment-timecode-type": args.timecode,
    "x-amzn-producer-start-timestamp": "%.3f" % start,
    "x-amzn-fragment-acknowledgment-required": "1",
    "transfer-encoding": "chunked",
    "user-agent": "putmedia-test/1.0",
}


class UnsignedPayloadAuth(SigV4Auth):
    def payload(self, request):
        return UNSIGNED_PAYLOAD


req = AWSRequest(method="POST", url=data_ep.rstrip("/") + "/putMedia", data=b"", headers=dict(headers))
if args.host_without_port:
    req.headers["Host"] = host_header
if args.style == "unsigned":
    req.headers["X-Amz-Content-SHA256"] = UNSIGNED_PAYLOAD
    UnsignedPayloadAuth(creds, "kinesisvideo", args.region).add_auth(req)
else:
    SigV4Auth(creds, "kinesisvideo", args.region).add_auth(req)

sock = socket.create_connection((u.hostname, u.port or 80))
lines = ["POST /putMedia HTTP/1.1", "Host: %s" % host_header]
for k, v in req.headers.items():
    if k.lower() == "host":
        continue
    lines.append("%s: %s" % (k, v))
sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

send_error = []


def sender():
    try:
        with open(args.file, "rb") as f:
            while True:
                b = f.read(args.chunk)
                if not b:
                    break
                sock.sendall(b"%x\r\n" % len(b) + b + b"\r\n")
                if args.delay:
                    time.sleep(args.delay)
        sock.sendall(b"0\r\n\r\n")
    except OSError as e:  # the server may end the request early (errors)
        send_error.append(str(e))


t = threading.Thread(target=sender)
t.start()

f = sock.makefile("rb")
status = f.readline().decode().strip()
print("STATUS", status, flush=True)
resp_headers = {}
while True:
    line = f.readline().decode()
    if line in ("\r\n", "\n", ""):
        break
    k, _, v = line.partition(":")
    resp_headers[k.strip().lower()] = v.strip()
chunked = resp_headers.get("transfer-encoding", "") == "chunked"
if chunked:
    buf = b""
    while True:
        size_line = f.readline()
        if not size_line:
            break
        size = int(size_line.strip().split(b";")[0] or b"0", 16)
        if size == 0:
            f.readline()
            break
        buf += f.read(size)
        f.readline()
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                print(line.decode(), flush=True)
else:
    n = int(resp_headers.get("content-length", "0"))
    body = f.read(n) if n else f.read()
    print(body.decode(), flush=True)
t.join()
sock.close()
if send_error:
    print("SEND_ERROR", send_error[0], flush=True)
if " 200 " not in status + " ":
    sys.exit(3)
