package awsauth

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestDateHeaderVector checks the Date-header fallback against the
// "get-vanilla" case of AWS's original SigV4 test suite, which dates the
// request with a Date header and no X-Amz-Date.
func TestDateHeaderVector(t *testing.T) {
	v := &Verifier{
		Region:  "us-east-1",
		Service: "host",
		Lookup: func(id string) (string, bool) {
			return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", id == "AKIDEXAMPLE"
		},
		Now: func() time.Time { return time.Date(2011, 9, 9, 23, 38, 0, 0, time.UTC) },
	}
	r := &http.Request{
		Method: http.MethodGet,
		URL:    &url.URL{Path: "/"},
		Host:   "host.foo.com",
		Header: http.Header{
			"Date": {"Mon, 09 Sep 2011 23:36:00 GMT"},
			"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, " +
				"SignedHeaders=date;host, Signature=b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470"},
		},
	}
	id, err := v.Verify(r)
	if err != nil || id != "AKIDEXAMPLE" {
		t.Fatalf("got %q, %v", id, err)
	}
	r.Header.Set("Date", "Mon, 09 Sep 2011 23:36:01 GMT")
	if _, err := v.Verify(r); err == nil {
		t.Fatal("a changed Date header still verified")
	}
}
