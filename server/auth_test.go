package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
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
