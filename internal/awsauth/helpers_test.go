package awsauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testRegion = "us-east-1"
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testToken  = "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=="
)

// testNow is the server's clock in the tests that do not use the real one.
var testNow = time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)

func testCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
}

func testVerifier(now time.Time) *Verifier {
	return &Verifier{
		Region:  testRegion,
		Service: Service,
		Lookup: func(id string) (string, bool) {
			if id == testAKID {
				return testSecret, true
			}
			return "", false
		},
		LookupSession: func(id, token string) (string, error) {
			if id == testAKID && token == testToken {
				return testSecret, nil
			}
			return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid")
		},
		Now: func() time.Time { return now },
	}
}

// verdict is what the test server saw: the outcome of verification and the
// body it could still read afterwards.
type verdict struct {
	Status  int    `json:"-"`
	AKID    string `json:"akid"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Body    string `json:"body"`
	Host    string `json:"host"`
}

// startServer runs a real HTTP server that verifies every request. With
// withBody it reads the body first and calls VerifyWithBody; otherwise it
// calls Verify and reads the body afterwards, which shows that Verify left
// the stream alone.
func startServer(t *testing.T, v *Verifier, withBody bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out verdict
		var id string
		var err error
		if withBody {
			b, rerr := io.ReadAll(r.Body)
			if rerr != nil {
				http.Error(w, rerr.Error(), http.StatusBadRequest)
				return
			}
			out.Body = string(b)
			id, err = v.VerifyWithBody(r, b)
		} else {
			id, err = v.Verify(r)
			b, rerr := io.ReadAll(r.Body)
			if rerr != nil {
				http.Error(w, rerr.Error(), http.StatusBadRequest)
				return
			}
			out.Body = string(b)
		}
		out.Host = r.Host
		status := http.StatusOK
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				http.Error(w, "not an *Error: "+err.Error(), http.StatusInternalServerError)
				return
			}
			out.Code, out.Message = ae.Code, ae.Message
			status = ae.StatusCode()
		}
		out.AKID = id
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, req *http.Request) verdict {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("send %s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	return readVerdict(t, resp)
}

func readVerdict(t *testing.T, resp *http.Response) verdict {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	var out verdict
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response %d %q: %v", resp.StatusCode, b, err)
	}
	out.Status = resp.StatusCode
	return out
}

func wantOK(t *testing.T, got verdict, body string) {
	t.Helper()
	if got.Status != http.StatusOK || got.AKID != testAKID {
		t.Fatalf("refused: status %d akid %q code %s\n%s", got.Status, got.AKID, got.Code, got.Message)
	}
	if got.Body != body {
		t.Fatalf("server read body %q, want %q", got.Body, body)
	}
}

func wantRefused(t *testing.T, got verdict, code string, msgParts ...string) {
	t.Helper()
	if got.Status != http.StatusForbidden || got.Code != code {
		t.Fatalf("got status %d code %q (%s), want 403 %s", got.Status, got.Code, got.Message, code)
	}
	if got.AKID != "" {
		t.Fatalf("refused request still returned access key id %q", got.AKID)
	}
	for _, p := range msgParts {
		if !strings.Contains(got.Message, p) {
			t.Fatalf("message %q does not mention %q", got.Message, p)
		}
	}
}

// sdkSign signs req in the header form with the AWS SDK's own signer.
func sdkSign(t testing.TB, req *http.Request, creds aws.Credentials, payloadHash, service, region string, at time.Time) {
	t.Helper()
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, region, at); err != nil {
		t.Fatalf("sdk sign: %v", err)
	}
}

// sdkPresign presigns a GET of rawURL with the AWS SDK's own signer.
func sdkPresign(t testing.TB, rawURL string, creds aws.Credentials, region string, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, EmptyPayloadHash, Service, region, at)
	if err != nil {
		t.Fatalf("sdk presign: %v", err)
	}
	return signed
}

// unknownLength hides the length of s, so Go's client sends it chunked.
func unknownLength(s string) io.Reader {
	return io.MultiReader(strings.NewReader(s))
}
