package rtsp

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// authenticator answers the WWW-Authenticate challenges of a server with the
// credentials of the URL: Basic, or Digest (RFC 2617 and RFC 7616) with MD5,
// MD5-sess or SHA-256, qop auth, auth-int or none.
type authenticator struct {
	user, pass string
	hasCreds   bool

	scheme    string // "", "basic" or "digest"
	realm     string
	nonce     string
	opaque    string
	algorithm string // "MD5", "MD5-sess", "SHA-256", "SHA-256-sess"
	qop       string // "", "auth" or "auth-int"
	nc        uint32
	cnonce    string
}

// challenge is one parsed WWW-Authenticate value.
type challenge struct {
	scheme string
	params map[string]string
}

func parseChallenge(v string) (challenge, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	scheme = strings.ToLower(scheme)
	if scheme != "basic" && scheme != "digest" {
		return challenge{}, false
	}
	return challenge{scheme: scheme, params: splitParams(rest)}, true
}

// digestAlgorithmRank orders the algorithms the client supports, best last.
func digestAlgorithmRank(alg string) int {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return 1
	case "MD5-SESS":
		return 2
	case "SHA-256":
		return 3
	case "SHA-256-SESS":
		return 4
	}
	return 0
}

// setChallenge takes the WWW-Authenticate values of a 401 response. It
// reports whether the server only declared the previous nonce stale (so the
// same credentials may be sent again), and fails when no challenge can be
// answered.
func (a *authenticator) setChallenge(values []string) (stale bool, err error) {
	var best *challenge
	bestRank := 0
	for _, v := range values {
		c, ok := parseChallenge(v)
		if !ok {
			continue
		}
		rank := 0
		switch c.scheme {
		case "basic":
			rank = 1
		case "digest":
			if c.params["nonce"] == "" {
				continue
			}
			r := digestAlgorithmRank(c.params["algorithm"])
			if r == 0 {
				continue
			}
			rank = 1 + r
		}
		if rank > bestRank {
			best, bestRank = &c, rank
		}
	}
	if best == nil {
		return false, fmt.Errorf("%w: no supported authentication scheme in %q", ErrUnauthorized, values)
	}
	a.scheme = best.scheme
	if best.scheme == "basic" {
		a.realm = best.params["realm"]
		return false, nil
	}
	p := best.params
	stale = strings.EqualFold(p["stale"], "true")
	if p["nonce"] != a.nonce {
		a.nc = 0
	}
	a.realm, a.nonce, a.opaque = p["realm"], p["nonce"], p["opaque"]
	a.algorithm = p["algorithm"]
	a.qop = ""
	for _, q := range strings.Split(p["qop"], ",") {
		switch q = strings.ToLower(strings.TrimSpace(q)); q {
		case "auth":
			a.qop = q
		case "auth-int":
			if a.qop == "" {
				a.qop = q
			}
		}
	}
	return stale, nil
}

// authorization returns the Authorization header value for a request, or ""
// before any challenge.
func (a *authenticator) authorization(method, uri string) string {
	switch a.scheme {
	case "basic":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.user+":"+a.pass))
	case "digest":
		return a.digest(method, uri)
	}
	return ""
}

func (a *authenticator) digest(method, uri string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return a.digestWithCnonce(method, uri, hex.EncodeToString(b[:]))
}

// digestWithCnonce computes the Digest credentials with the given client
// nonce.
func (a *authenticator) digestWithCnonce(method, uri, cnonce string) string {
	var newHash func() hash.Hash = md5.New
	alg := strings.ToUpper(a.algorithm)
	if strings.HasPrefix(alg, "SHA-256") {
		newHash = sha256.New
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	if a.qop != "" || strings.HasSuffix(alg, "-SESS") {
		a.nc++
		a.cnonce = cnonce
	}
	ha1 := h(a.user + ":" + a.realm + ":" + a.pass)
	if strings.HasSuffix(alg, "-SESS") {
		ha1 = h(ha1 + ":" + a.nonce + ":" + a.cnonce)
	}
	ha2 := h(method + ":" + uri)
	if a.qop == "auth-int" {
		ha2 = h(method + ":" + uri + ":" + h("")) // RTSP requests of this client carry no body
	}
	nc := fmt.Sprintf("%08x", a.nc)
	var resp string
	if a.qop != "" {
		resp = h(ha1 + ":" + a.nonce + ":" + nc + ":" + a.cnonce + ":" + a.qop + ":" + ha2)
	} else {
		resp = h(ha1 + ":" + a.nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
		quote(a.user), quote(a.realm), quote(a.nonce), quote(uri), resp)
	if a.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", a.algorithm)
	}
	if a.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, quote(a.opaque))
	}
	if a.qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce="%s"`, a.qop, nc, a.cnonce)
	} else if strings.HasSuffix(alg, "-SESS") {
		fmt.Fprintf(&b, `, cnonce="%s"`, a.cnonce)
	}
	return b.String()
}

// quote escapes a quoted-string value.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
