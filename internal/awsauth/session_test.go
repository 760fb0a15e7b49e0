package awsauth

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func testIssuer(t testing.TB, fill byte) *SessionIssuer {
	t.Helper()
	s, err := NewSessionIssuer(bytes.Repeat([]byte{fill}, SessionKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parentLookup(id string) (string, bool) {
	if id == testAKID {
		return testSecret, true
	}
	return "", false
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

func TestSessionIssueResolve(t *testing.T) {
	iss := testIssuer(t, 1)
	parent := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	c, err := iss.Issue(parent, testNow, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 || c.SessionToken == "" {
		t.Fatalf("credentials %+v", c)
	}
	if exp, ok := SessionExpiry(c.SessionToken); !ok || !exp.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("expiry %v %v", exp, ok)
	}
	// A second issuer with the same key (a restarted server) resolves it.
	secret, err := testIssuer(t, 1).Resolve(c.AccessKeyID, c.SessionToken, parentLookup, testNow.Add(59*time.Minute))
	if err != nil || secret != c.SecretAccessKey {
		t.Fatalf("resolve: %q %v, want %q", secret, err, c.SecretAccessKey)
	}
	other, _ := iss.Issue(parent, testNow, testNow.Add(time.Hour))
	if other.AccessKeyID == c.AccessKeyID || other.SessionToken == c.SessionToken || other.SecretAccessKey == c.SecretAccessKey {
		t.Fatal("two issues gave the same credentials")
	}

	flip := []byte(c.SessionToken)
	flip[len(flip)/2] ^= 'A' ^ 'B'
	for _, tc := range []struct {
		name, akid, token string
		iss               *SessionIssuer
		lookup            func(string) (string, bool)
		now               time.Time
		code              string
	}{
		{"expired", c.AccessKeyID, c.SessionToken, iss, parentLookup, testNow.Add(time.Hour), CodeExpiredToken},
		{"another issuer's key", c.AccessKeyID, c.SessionToken, testIssuer(t, 2), parentLookup, testNow, CodeUnrecognizedClient},
		{"another access key id", other.AccessKeyID, c.SessionToken, iss, parentLookup, testNow, CodeUnrecognizedClient},
		{"the long-term key id", testAKID, c.SessionToken, iss, parentLookup, testNow, CodeUnrecognizedClient},
		{"tampered", c.AccessKeyID, string(flip), iss, parentLookup, testNow, CodeUnrecognizedClient},
		{"truncated", c.AccessKeyID, c.SessionToken[:20], iss, parentLookup, testNow, CodeUnrecognizedClient},
		{"not base64", c.AccessKeyID, "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/==", iss, parentLookup, testNow, CodeUnrecognizedClient},
		{"parent key removed", c.AccessKeyID, c.SessionToken, iss, func(string) (string, bool) { return "", false }, testNow, CodeUnrecognizedClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.iss.Resolve(tc.akid, tc.token, tc.lookup, tc.now)
			wantCode(t, err, tc.code)
		})
	}
	// A changed long-term secret changes the derived secret: old tokens no
	// longer sign.
	s2, err := iss.Resolve(c.AccessKeyID, c.SessionToken, func(string) (string, bool) { return "rotated", true }, testNow)
	if err != nil || s2 == c.SecretAccessKey {
		t.Fatalf("secret after rotation: %q %v", s2, err)
	}

	for _, bad := range []struct {
		p          Credentials
		now, until time.Time
	}{
		{Credentials{AccessKeyID: testAKID}, testNow, testNow.Add(time.Hour)},
		{Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "t"}, testNow, testNow.Add(time.Hour)},
		{parent, testNow, testNow},
		{parent, testNow, testNow.Add(MaxSessionDuration + time.Second)},
	} {
		if _, err := iss.Issue(bad.p, bad.now, bad.until); err == nil {
			t.Errorf("Issue(%+v, %v) succeeded", bad.p, bad.until.Sub(bad.now))
		}
	}
	if _, err := NewSessionIssuer([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

// TestSessionVerify signs with issued credentials through the SDK signer, in
// both forms, and checks the verifier's answers.
func TestSessionVerify(t *testing.T) {
	iss := testIssuer(t, 3)
	c, err := iss.Issue(Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, testNow, testNow.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	v := &Verifier{Region: testRegion, Lookup: parentLookup, Now: func() time.Time { return now },
		LookupSession: func(id, token string) (string, error) { return iss.Resolve(id, token, parentLookup, now) }}
	sdk := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	header := func() *http.Request {
		req := newReq(t, http.MethodPost, "http://127.0.0.1:4567/putMedia", nil)
		sdkSign(t, req, sdk, EmptyPayloadHash, Service, testRegion, now)
		return req
	}
	query := func() *http.Request {
		return newReq(t, http.MethodGet, sdkPresign(t, "http://127.0.0.1:4567/?X-Amz-Expires=60", sdk, testRegion, now), nil)
	}
	for _, build := range []func() *http.Request{header, query} {
		if id, err := v.Verify(build()); err != nil || id != c.AccessKeyID {
			t.Fatalf("issued credentials refused: %v", err)
		}
	}
	// Without the token the temporary key id is unknown.
	req := header()
	req.Header.Del("X-Amz-Security-Token")
	_, err = v.Verify(req)
	wantCode(t, err, CodeUnrecognizedClient)
	// The long-term key with an issued token is not the key it names.
	req = newReq(t, http.MethodPost, "http://127.0.0.1:4567/putMedia", nil)
	sdkSign(t, req, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: c.SessionToken}, EmptyPayloadHash, Service, testRegion, now)
	_, err = v.Verify(req)
	wantCode(t, err, CodeUnrecognizedClient)
	// No LookupSession: a token is refused.
	_, err = (&Verifier{Region: testRegion, Lookup: parentLookup, Now: v.Now}).Verify(header())
	wantCode(t, err, CodeUnrecognizedClient)
	// Expired.
	now = testNow.Add(10 * time.Minute)
	for _, build := range []func() *http.Request{header, query} {
		_, err = v.Verify(build())
		wantCode(t, err, CodeExpiredToken)
	}
}

// FuzzSessionResolve feeds arbitrary tokens to Resolve: it never panics,
// fails only with the two documented codes, and accepts only tokens
// authenticated under its own key.
func FuzzSessionResolve(f *testing.F) {
	iss, other := testIssuer(f, 4), testIssuer(f, 5)
	c, err := iss.Issue(Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, testNow, testNow.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add(c.AccessKeyID, c.SessionToken[:len(c.SessionToken)-4])
	f.Add("ASIA", "AQ")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, akid, token string) {
		secret, err := iss.Resolve(akid, token, parentLookup, testNow)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || (ae.Code != CodeUnrecognizedClient && ae.Code != CodeExpiredToken) {
				t.Fatalf("malformed error %v", err)
			}
			return
		}
		// What one key accepts, another refuses: the MAC binds the token.
		if _, err := other.Resolve(akid, token, parentLookup, testNow); err == nil || secret == "" {
			t.Fatalf("accepted %q %q under two keys", akid, token)
		}
	})
}
