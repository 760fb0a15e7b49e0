"""Sends requests signed by botocore's own SigV4 code to a kvs serve endpoint,
each wrong in one way, and prints one JSON line per case:
{"case": ..., "status": ..., "type": x-amzn-ErrorType, "message": ...}.

Usage: sigv4_matrix.py URL REGION AKID SECRET TEMP_JSON EXPIRED_JSON
TEMP_JSON and EXPIRED_JSON are kvs creds --output json outputs: valid and
expired temporary credentials.
"""
import datetime
import json
import sys
import urllib.error
import urllib.request

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth, UNSIGNED_PAYLOAD
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, region, akid, secret, temp_json, expired_json = sys.argv[1:7]
temp, expired = json.loads(temp_json), json.loads(expired_json)
real_now = botocore.auth.get_current_datetime


class UnsignedPayloadAuth(SigV4Auth):
    """SigV4 over UNSIGNED-PAYLOAD, as S3 or a streamed body would sign."""

    def payload(self, request):
        return UNSIGNED_PAYLOAD

    def _modify_request_before_signing(self, request):
        super()._modify_request_before_signing(request)
        request.headers["X-Amz-Content-SHA256"] = UNSIGNED_PAYLOAD


def send(method, target, body, headers):
    r = urllib.request.Request(target, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(r, timeout=20) as resp:
            return resp.status, resp.headers.get("x-amzn-ErrorType", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-ErrorType", ""), e.read().decode()


def signed(op, body=b"{}", creds=None, reg=None, service="kinesisvideo", skew=None,
           auth_cls=SigV4Auth, send_body=None):
    creds = creds or Credentials(akid, secret)
    req = AWSRequest(method="POST", url=url + "/" + op, data=body,
                     headers={"Content-Type": "application/json"})
    if skew is not None:
        botocore.auth.get_current_datetime = lambda: real_now() + skew
    try:
        auth_cls(creds, service, reg or region).add_auth(req)
    finally:
        botocore.auth.get_current_datetime = real_now
    p = req.prepare()
    return send("POST", p.url, body if send_body is None else send_body, dict(p.headers))


def presigned(op, expires, age):
    req = AWSRequest(method="POST", url=url + "/" + op, data=b"{}")
    botocore.auth.get_current_datetime = lambda: real_now() - age
    try:
        SigV4QueryAuth(Credentials(akid, secret), "kinesisvideo", region, expires=expires).add_auth(req)
    finally:
        botocore.auth.get_current_datetime = real_now
    p = req.prepare()
    return send("POST", p.url, b"{}", {"Content-Type": "application/json"})


def temp_creds(c):
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


intended = b'{"StreamName":"intended","DataRetentionInHours":1}'
swapped = b'{"StreamName":"swapped1","DataRetentionInHours":1}'  # same length as intended
minutes = datetime.timedelta(minutes=10)
cases = [
    ("control: valid signature", lambda: signed("listStreams")),
    ("control: valid temporary credentials", lambda: signed("listStreams", creds=temp_creds(temp))),
    ("unsigned", lambda: send("POST", url + "/listStreams", b"{}", {"Content-Type": "application/json"})),
    ("wrong secret", lambda: signed("listStreams", creds=Credentials(akid, ("B" if secret[0] == "A" else "A") + secret[1:]))),
    ("unknown key", lambda: signed("listStreams", creds=Credentials("AKIAUNKNOWNKEY000000", secret))),
    ("wrong region", lambda: signed("listStreams", reg="eu-west-1")),
    ("wrong service", lambda: signed("listStreams", service="kinesis")),
    ("clock +10 min", lambda: signed("listStreams", skew=minutes)),
    ("clock -10 min", lambda: signed("listStreams", skew=-minutes)),
    ("presigned URL expired", lambda: presigned("listStreams", 60, datetime.timedelta(minutes=2))),
    ("presigned X-Amz-Expires over 7 days", lambda: presigned("listStreams", 604801, datetime.timedelta(0))),
    ("body swapped under UNSIGNED-PAYLOAD", lambda: signed("createStream", intended, auth_cls=UnsignedPayloadAuth, send_body=swapped)),
    ("body swapped under its hash", lambda: signed("createStream", intended, send_body=swapped)),
    ("session token never issued", lambda: signed("listStreams", creds=Credentials(akid, secret, "IQoJb3JpZ2luX2VjEXAMPLETOKEN"))),
    ("session token expired", lambda: signed("listStreams", creds=temp_creds(expired))),
]
for name, fn in cases:
    status, typ, body = fn()
    try:
        msg = json.loads(body).get("message", "")
    except ValueError:
        msg = body
    print(json.dumps({"case": name, "status": status, "type": typ, "message": msg, "body": body}), flush=True)
