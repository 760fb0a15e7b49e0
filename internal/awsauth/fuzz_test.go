package awsauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzVerify builds requests from fuzzed parts and checks that Verify and
// VerifyWithBody never panic, always fail with a well-formed *Error, and
// succeed only for the one known access key.
func FuzzVerify(f *testing.F) {
	// A valid header-form request and a valid presigned one, so that the
	// fuzzer starts from requests that get all the way to the signature.
	hdr := newFuzzSeed(f)
	f.Add(hdr.Method, hdr.URL.RequestURI(), hdr.Host, hdr.Header.Get("Authorization"), hdr.Header.Get("X-Amz-Date"), "", "X-Amzn-Stream-Name", "cam-1")
	signed := sdkPresign(f, "http://127.0.0.1:4566/?X-Amz-ChannelARN=arn&X-Amz-Expires=299", testCreds(), testRegion, testNow)
	u, err := url.Parse(signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", u.RequestURI(), u.Host, "", "", "", "", "")
	f.Add("POST", "/putMedia", "127.0.0.1", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240517/us-east-1/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20240517T120000Z", UnsignedPayload, "Connection", "keep-alive")
	f.Add("GET", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%ZZ&X-Amz-Signature=", "", "", "", "", "", "")
	f.Add("", "", "", "AWS4-HMAC-SHA256 ,,,=", "garbage", "x", "", "")

	v := testVerifier(testNow)
	// The two valid seeds must pass, or the fuzzer never reaches the
	// signature comparison.
	for _, r := range []*http.Request{
		fuzzRequest(hdr.Method, hdr.URL.RequestURI(), hdr.Host, hdr.Header.Get("Authorization"), hdr.Header.Get("X-Amz-Date"), "", "X-Amzn-Stream-Name", "cam-1"),
		fuzzRequest("GET", u.RequestURI(), u.Host, "", "", "", "", ""),
	} {
		if _, err := v.Verify(r); err != nil {
			f.Fatalf("valid seed refused: %v", err)
		}
	}

	f.Fuzz(func(t *testing.T, method, target, host, auth, amzDate, contentSHA, name, value string) {
		r := fuzzRequest(method, target, host, auth, amzDate, contentSHA, name, value)
		for _, withBody := range []bool{false, true} {
			var id string
			var err error
			if withBody {
				id, err = v.VerifyWithBody(r, []byte(value))
			} else {
				id, err = v.Verify(r)
			}
			if err == nil {
				if id != testAKID {
					t.Fatalf("accepted with access key id %q", id)
				}
				continue
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Code == "" || ae.Message == "" || id != "" {
				t.Fatalf("bad failure: id %q err %#v", id, err)
			}
			switch ae.Code {
			case CodeMissingAuthenticationToken, CodeInvalidSignature, CodeUnrecognizedClient:
			default:
				t.Fatalf("unknown code %q", ae.Code)
			}
		}
	})
}

// fuzzRequest builds a request the way Go's server would hand it over.
func fuzzRequest(method, target, host, auth, amzDate, contentSHA, name, value string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		path, query, _ := strings.Cut(target, "?")
		u = &url.URL{Path: path, RawQuery: query}
	}
	r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}, ContentLength: int64(len(value))}
	if auth != "" {
		r.Header["Authorization"] = []string{auth}
	}
	if amzDate != "" {
		r.Header["X-Amz-Date"] = []string{amzDate}
	}
	if contentSHA != "" {
		r.Header["X-Amz-Content-Sha256"] = []string{contentSHA}
	}
	if name != "" {
		r.Header[name] = append(r.Header[name], value)
	}
	return r
}

func newFuzzSeed(f *testing.F) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/putMedia", nil)
	if err != nil {
		f.Fatal(err)
	}
	req.Header.Set("X-Amzn-Stream-Name", "cam-1")
	sdkSign(f, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow)
	return req
}
