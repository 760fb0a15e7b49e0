package rtsp

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestDigestRFC2617 checks the example of RFC 2617 section 3.5, with the
// client nonce the RFC uses.
func TestDigestRFC2617(t *testing.T) {
	a := authenticator{user: "Mufasa", pass: "Circle Of Life", hasCreds: true}
	stale, err := a.setChallenge([]string{`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`})
	if err != nil || stale {
		t.Fatalf("challenge: %v stale=%v", err, stale)
	}
	got := a.digestWithCnonce("GET", "/dir/index.html", "0a4f113b")
	params := splitParams(strings.TrimPrefix(got, "Digest "))
	want := map[string]string{
		"username": "Mufasa", "realm": "testrealm@host.com", "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		"uri": "/dir/index.html", "qop": "auth", "nc": "00000001", "cnonce": "0a4f113b",
		"response": "6629fae49393a05397450978507c4ef1", "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
	}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("%s = %q, want %q (header %s)", k, params[k], v, got)
		}
	}
	// The nonce count goes up with each request.
	if p := splitParams(strings.TrimPrefix(a.authorization("GET", "/"), "Digest ")); p["nc"] != "00000002" {
		t.Errorf("second nc = %q", p["nc"])
	}
}

// TestDigestNoQop checks RFC 2069 style digests (no qop), as many cameras and
// GStreamer use: response = MD5(HA1:nonce:HA2).
func TestDigestNoQop(t *testing.T) {
	a := authenticator{user: "user", pass: "pa\"ss", hasCreds: true}
	if _, err := a.setChallenge([]string{`Basic realm="cam"`, `Digest realm="cam", nonce="abc"`}); err != nil {
		t.Fatal(err)
	}
	p := splitParams(strings.TrimPrefix(a.authorization("DESCRIBE", "rtsp://h/p"), "Digest "))
	md := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	want := md(md("user:cam:pa\"ss") + ":abc:" + md("DESCRIBE:rtsp://h/p"))
	if p["response"] != want || p["qop"] != "" || p["cnonce"] != "" {
		t.Errorf("got %v, want response %s", p, want)
	}
}

func TestAuthChallenges(t *testing.T) {
	a := authenticator{user: "u", pass: "p", hasCreds: true}
	if _, err := a.setChallenge([]string{`Basic realm="x"`}); err != nil {
		t.Fatal(err)
	}
	if got := a.authorization("OPTIONS", "rtsp://h/"); got != "Basic dTpw" {
		t.Errorf("basic: %q", got)
	}
	if _, err := a.setChallenge([]string{`Negotiate abc`, `Digest realm="x"`}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("digest without nonce, unknown scheme: %v", err)
	}
	if _, err := a.setChallenge([]string{`Digest realm="x", nonce="1", algorithm=SHA-512-256`}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("unsupported algorithm: %v", err)
	}
	stale, err := a.setChallenge([]string{`Digest realm="x", nonce="2", stale=TRUE`, `Digest realm="x", nonce="3", algorithm=SHA-256`})
	if err != nil || a.nonce != "3" || a.algorithm != "SHA-256" || stale {
		t.Errorf("best of two: nonce %q alg %q stale %v err %v", a.nonce, a.algorithm, stale, err)
	}
	p := splitParams(strings.TrimPrefix(a.authorization("PLAY", "rtsp://h/"), "Digest "))
	if len(p["response"]) != 64 || p["algorithm"] != "SHA-256" {
		t.Errorf("SHA-256 digest: %v", p)
	}
	if stale, _ := a.setChallenge([]string{`Digest realm="x", nonce="4", stale=true`}); !stale {
		t.Error("stale not seen")
	}
}

func TestSplitParams(t *testing.T) {
	got := splitParams(`realm="a, \"b\"", nonce=xyz ,stale=FALSE, empty, q=""`)
	want := map[string]string{"realm": `a, "b"`, "nonce": "xyz", "stale": "FALSE", "empty": "", "q": ""}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
