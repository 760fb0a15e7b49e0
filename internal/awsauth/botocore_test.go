package awsauth

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// botocoreClient signs with botocore's own SigV4 code and sends with urllib,
// printing one JSON line: {"status": ..., "body": ...}.
const botocoreClient = `
import json, sys, urllib.error, urllib.request
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

mode, url, akid, secret, token, region, body = sys.argv[1:8]
creds = Credentials(akid, secret, token or None)
if mode == "header":
    req = AWSRequest(method="POST", url=url, data=body.encode(),
                     headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "kinesisvideo", region).add_auth(req)
else:
    req = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(creds, "kinesisvideo", region, expires=299).add_auth(req)
p = req.prepare()
if "X-Amz-Content-SHA256" in p.headers:
    raise SystemExit("botocore unexpectedly sent x-amz-content-sha256")
r = urllib.request.Request(p.url, data=p.body or None, headers=dict(p.headers), method=p.method)
try:
    with urllib.request.urlopen(r, timeout=10) as resp:
        out = {"status": resp.status, "body": resp.read().decode()}
except urllib.error.HTTPError as e:
    out = {"status": e.code, "body": e.read().decode()}
print(json.dumps(out))
`

// TestBotocoreCrossCheck verifies requests signed by real botocore, the
// signer behind the AWS CLI and boto3. For kinesisvideo JSON calls botocore
// signs the SHA-256 of the body without sending x-amz-content-sha256, so the
// server must use VerifyWithBody.
func TestBotocoreCrossCheck(t *testing.T) {
	py := testenv.Python(t, "botocore")
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(botocoreClient), 0o600); err != nil {
		t.Fatal(err)
	}
	v := testVerifier(time.Time{})
	v.Now = time.Now // botocore signs with the real clock
	srv := startServer(t, v, true)

	run := func(t *testing.T, args ...string) verdict {
		t.Helper()
		out, err := exec.Command(py, append([]string{script}, args...)...).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("botocore client: %v\n%s", err, stderr)
		}
		var res struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("client output %q: %v", out, err)
		}
		var got verdict
		if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
			t.Fatalf("server answer %q: %v", res.Body, err)
		}
		got.Status = res.Status
		return got
	}
	body := `{"StreamName":"cam-1","DataRetentionInHours":24,"Tags":{"site":"north gate"}}`

	t.Run("header form, body hash", func(t *testing.T) {
		got := run(t, "header", srv.URL+"/createStream", testAKID, testSecret, "", testRegion, body)
		wantOK(t, got, body)
	})
	t.Run("header form, session token", func(t *testing.T) {
		got := run(t, "header", srv.URL+"/describeStream", testAKID, testSecret, testToken, testRegion, `{"StreamName":"cam-1"}`)
		wantOK(t, got, `{"StreamName":"cam-1"}`)
	})
	t.Run("header form, capitalised path", func(t *testing.T) {
		got := run(t, "header", srv.URL+"/TagResource", testAKID, testSecret, "", testRegion, `{}`)
		wantOK(t, got, `{}`)
	})
	t.Run("presigned query form with token", func(t *testing.T) {
		got := run(t, "query", srv.URL+"/?X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-east-1%3A1%3Achannel%2Fdoor%2F1&X-Amz-ClientId=viewer-1",
			testAKID, testSecret, testToken, testRegion, "")
		wantOK(t, got, "")
	})
	t.Run("wrong region refused", func(t *testing.T) {
		got := run(t, "header", srv.URL+"/createStream", testAKID, testSecret, "", "eu-west-1", body)
		wantRefused(t, got, CodeInvalidSignature, "credential scope region eu-west-1 does not match us-east-1")
	})
	t.Run("wrong secret refused", func(t *testing.T) {
		got := run(t, "header", srv.URL+"/createStream", testAKID, strings.ToUpper(testSecret), "", testRegion, body)
		wantRefused(t, got, CodeInvalidSignature, "signature does not match", "content-type:application/json")
	})
	t.Run("without the body the hash cannot match", func(t *testing.T) {
		noBody := startServer(t, v, false)
		got := run(t, "header", noBody.URL+"/createStream", testAKID, testSecret, "", testRegion, body)
		wantRefused(t, got, CodeInvalidSignature, "signature does not match")
		if got.Status != http.StatusForbidden {
			t.Fatal(got.Status)
		}
	})
}
