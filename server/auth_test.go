package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/awsauth"
)

// signedJSON sends op with body, signed over signedBody with payload hash
// hash (sent in x-amz-content-sha256 unless it is the empty-string hash).
func (e *testEnv) signedJSON(op string, body []byte, hash string) (int, string, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", hash, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(b)
}

// TestJSONAPIsRequireBodyHash shows that the body of every JSON API is
// covered by the signature: UNSIGNED-PAYLOAD, the empty-string hash and the
// hash of another body are refused with 403 InvalidSignatureException and
// change nothing, while PutMedia still takes UNSIGNED-PAYLOAD.
func TestJSONAPIsRequireBodyHash(t *testing.T) {
	e := newTestEnv(t, Limits{})
	swapped := []byte(`{"StreamName":"swapped","DataRetentionInHours":1}`)
	signedFor := []byte(`{"StreamName":"intended","DataRetentionInHours":1}`)
	for _, tc := range []struct {
		name, op, hash string
		body           []byte
	}{
		{"UNSIGNED-PAYLOAD on CreateStream", "createStream", awsauth.UnsignedPayload, swapped},
		{"UNSIGNED-PAYLOAD on ListFragments", "listFragments", awsauth.UnsignedPayload, []byte(`{"StreamName":"swapped"}`)},
		{"UNSIGNED-PAYLOAD on GetMedia", "getMedia", awsauth.UnsignedPayload, []byte(`{"StreamName":"swapped","StartSelector":{"StartSelectorType":"EARLIEST"}}`)},
		{"empty-string hash over a body", "createStream", awsauth.EmptyPayloadHash, swapped},
		{"hash of another body", "createStream", sha256Hex(signedFor), swapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, typ, msg := e.signedJSON(tc.op, tc.body, tc.hash)
			if code != http.StatusForbidden || typ != awsauth.CodeInvalidSignature {
				t.Fatalf("got %d %s %s, want 403 %s", code, typ, msg, awsauth.CodeInvalidSignature)
			}
		})
	}
	var out struct{ StreamInfoList []struct{ StreamName string } }
	if code, typ := e.call("listStreams", map[string]any{}, &out); code != http.StatusOK {
		t.Fatalf("listStreams: %d %s", code, typ)
	}
	if len(out.StreamInfoList) != 0 {
		t.Fatalf("a refused request created streams: %+v", out.StreamInfoList)
	}
	if code, typ, msg := e.signedJSON("createStream", swapped, sha256Hex(swapped)); code != http.StatusOK {
		t.Fatalf("createStream with its body's hash: %d %s %s", code, typ, msg)
	}
	pm, err := e.putMedia("swapped", nil)
	if err != nil {
		t.Fatalf("PutMedia under UNSIGNED-PAYLOAD: %v", err)
	}
	pm.finish()
	if code, _, msg := e.signedJSON("describeStream", []byte(`{"StreamName":"swapped"}`), sha256Hex([]byte(`{"StreamName":"swapped"}`))); code != http.StatusOK || !strings.Contains(msg, "swapped") {
		t.Fatalf("describeStream: %d %s", code, msg)
	}
}

// callAs performs a signed JSON operation with credentials c.
func (e *testEnv) callAs(c awsauth.Credentials, op string, body []byte) (int, string, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := awsauth.SignRequest(context.Background(), req, c, "us-east-1", sha256Hex(body), time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(b)
}

// TestSessionTokens: temporary credentials issued from the data dir's key
// are accepted, also by a restarted server; a token that was never issued
// gets 403 UnrecognizedClientException and an expired one 403
// ExpiredTokenException.
func TestSessionTokens(t *testing.T) {
	e := newTestEnv(t, Limits{})
	dir := e.srv.cfg.DataDir
	iss, err := SessionIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	temp, err := iss.Issue(testCreds, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := iss.Issue(testCreds, now.Add(-2*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged := testCreds
	forged.SessionToken = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
	borrowed := temp
	borrowed.AccessKeyID, borrowed.SecretAccessKey = testCreds.AccessKeyID, testCreds.SecretAccessKey

	body := []byte(`{"StreamName":"temp","DataRetentionInHours":1}`)
	if code, typ, msg := e.callAs(temp, "createStream", body); code != http.StatusOK {
		t.Fatalf("issued credentials: %d %s %s", code, typ, msg)
	}
	for _, tc := range []struct {
		name string
		c    awsauth.Credentials
		code string
	}{
		{"never issued", forged, awsauth.CodeUnrecognizedClient},
		{"issued token with the long-term key", borrowed, awsauth.CodeUnrecognizedClient},
		{"expired", expired, awsauth.CodeExpiredToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, typ, msg := e.callAs(tc.c, "listStreams", []byte(`{}`))
			if code != http.StatusForbidden || typ != tc.code {
				t.Fatalf("got %d %s %s, want 403 %s", code, typ, msg, tc.code)
			}
		})
	}
	if fi, err := os.Stat(filepath.Join(dir, SessionKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session key file: %v", err)
	}

	// The same data dir after a restart still knows the token.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv2, err := New(Config{DataDir: dir, NoSync: true,
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	e2 := &testEnv{t: t, srv: srv2, ts: httptest.NewServer(srv2.Handler()), hc: e.hc}
	defer e2.ts.Close()
	if code, typ, msg := e2.callAs(temp, "describeStream", []byte(`{"StreamName":"temp"}`)); code != http.StatusOK {
		t.Fatalf("issued credentials after restart: %d %s %s", code, typ, msg)
	}
}
