package awsauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Names of the SigV4 headers and query parameters.
const (
	algorithm           = "AWS4-HMAC-SHA256"
	scopeTerminator     = "aws4_request"
	amzDateLayout       = "20060102T150405Z"
	scopeDateLayout     = "20060102"
	headerAuthorization = "Authorization"
	headerAmzDate       = "X-Amz-Date"
	headerDate          = "Date"
	headerContentSHA256 = "X-Amz-Content-Sha256"
	queryAlgorithm      = "X-Amz-Algorithm"
	queryCredential     = "X-Amz-Credential"
	queryDate           = "X-Amz-Date"
	queryExpires        = "X-Amz-Expires"
	querySignedHeaders  = "X-Amz-SignedHeaders"
	querySignature      = "X-Amz-Signature"
	querySecurityToken  = "X-Amz-Security-Token"
)

// queryParam is one decoded name=value pair of a query string, in the order
// it was received.
type queryParam struct{ key, value string }

// parseQuery splits a raw query string into decoded pairs. It keeps going
// past a bad escape (keeping that part undecoded) and reports the first one,
// so that a caller can decide whether the query matters.
func parseQuery(raw string) ([]queryParam, error) {
	var out []queryParam
	var firstErr error
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
			if firstErr == nil {
				firstErr = fmt.Errorf("query parameter %q: %w", part, err)
			}
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
			if firstErr == nil {
				firstErr = fmt.Errorf("query parameter %q: %w", part, err)
			}
		}
		out = append(out, queryParam{dk, dv})
	}
	return out, firstErr
}

// canonicalQuery encodes every pair the SigV4 way and sorts them by encoded
// name, then encoded value. Pairs named skip are left out.
func canonicalQuery(params []queryParam, skip string) string {
	enc := make([]queryParam, 0, len(params))
	for _, p := range params {
		if skip != "" && p.key == skip {
			continue
		}
		enc = append(enc, queryParam{uriEncode(p.key, true), uriEncode(p.value, true)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].key != enc[j].key {
			return enc[i].key < enc[j].key
		}
		return enc[i].value < enc[j].value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// uriEncode percent-encodes every byte outside the RFC 3986 unreserved set
// (A-Z a-z 0-9 - . _ ~) with upper-case hex; '/' is kept when encodeSlash is
// false.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalURIs returns the canonical URI candidates for r: first the form
// AWS SDKs use for every service but S3 (the escaped path, escaped once
// more), then, when it differs, the escaped path as received (S3 style).
func canonicalURIs(r *http.Request) []string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	double := uriEncode(p, false)
	if double == p {
		return []string{p}
	}
	return []string{double, p}
}

// headerValues looks up the values of a header by lower-case name, putting
// back what Go's HTTP server moves out of r.Header: Host into r.Host,
// Content-Length into r.ContentLength (when chunked) and Transfer-Encoding
// into r.TransferEncoding.
func headerValues(r *http.Request, lower map[string][]string, name string) ([]string, bool) {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}, true
		}
		if v, ok := lower[name]; ok {
			return v, true
		}
		if r.URL.Host != "" {
			return []string{r.URL.Host}, true
		}
		return nil, false
	case "content-length":
		if v, ok := lower[name]; ok {
			return v, true
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, true
		}
		return nil, false
	case "transfer-encoding":
		if v, ok := lower[name]; ok {
			return v, true
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}, true
		}
		return nil, false
	}
	v, ok := lower[name]
	return v, ok
}

// lowerHeaders indexes r.Header by lower-case name, so that names Go did not
// canonicalise are found too.
func lowerHeaders(h http.Header) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		m[lk] = append(m[lk], vs...)
	}
	return m
}

// canonicalHeaders builds the canonical-headers block ("name:value\n" per
// signed header, values trimmed, inner runs of spaces collapsed, several
// values joined by ',').
func canonicalHeaders(r *http.Request, signed []string) (string, *Error) {
	lower := lowerHeaders(r.Header)
	var b strings.Builder
	for _, name := range signed {
		vals, ok := headerValues(r, lower, name)
		if !ok {
			return "", invalidf("signed header %q is not in the request", name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(collapseSpaces(v))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// collapseSpaces trims s and turns every run of spaces inside it into one.
func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the SigV4 key for one day, region and service.
func signingKey(secret, day, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}
