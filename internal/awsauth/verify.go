package awsauth

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxSkew is the clock skew a Verifier allows when MaxSkew is zero,
// the same as AWS.
const DefaultMaxSkew = 5 * time.Minute

// Verifier checks SigV4 signatures on incoming requests.
//
// It accepts the Authorization header form and the presigned query form.
// It verifies against the request exactly as received: the Host header as
// sent (never the server's own host:port), and the headers Go's HTTP server
// moves out of r.Header (Host, Content-Length, Transfer-Encoding) are put
// back when they are signed. It never reads the body.
type Verifier struct {
	// Region every credential scope must name, e.g. us-east-1.
	Region string
	// Service every credential scope must name; "kinesisvideo" when empty.
	Service string
	// Lookup returns the secret access key of an access key id. It is
	// consulted only for requests without a session token.
	Lookup func(accessKeyID string) (secret string, ok bool)
	// LookupSession returns the secret access key of temporary credentials:
	// the access key id and the session token (x-amz-security-token header,
	// or X-Amz-Security-Token in a presigned query) a request carries. A
	// failure should be an *Error (CodeUnrecognizedClient for a token that
	// was never issued, CodeExpiredToken for one past its expiry); any other
	// error counts as CodeUnrecognizedClient. When nil, every request that
	// carries a session token is refused, as AWS refuses a token it did not
	// issue.
	LookupSession func(accessKeyID, sessionToken string) (secret string, err error)
	// MaxSkew is how far a request's date may lie from Now, either way;
	// DefaultMaxSkew when zero.
	MaxSkew time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Verify checks the request's signature and returns the access key id that
// signed it. On failure the error is an *Error.
//
// The payload hash comes from the x-amz-content-sha256 header when present
// (the body is not hashed). Without that header Verify tries the SHA-256 of
// the empty string (what the KVS C producer signs for its streamed PutMedia
// body) and UNSIGNED-PAYLOAD. A client that signs the real hash of a body
// without sending the header (botocore does, for JSON calls) can only be
// verified with VerifyWithBody.
func (v *Verifier) Verify(r *http.Request) (accessKeyID string, err error) {
	return v.verify(r, nil, false)
}

// VerifyWithBody is Verify for a request whose (small) body the caller has
// already read in full, such as a JSON API call. The signature must cover
// the body: the payload hash signed is the SHA-256 of body, and an
// x-amz-content-sha256 header, when present, must hold that same hash.
// UNSIGNED-PAYLOAD (or any other value) is refused with
// CodeInvalidSignature, as are a hash that does not match the body and a
// signature computed over another body.
func (v *Verifier) VerifyWithBody(r *http.Request, body []byte) (accessKeyID string, err error) {
	return v.verify(r, body, true)
}

// sigInput is what a request says about its own signature, from either form.
type sigInput struct {
	presigned     bool
	credential    string
	accessKeyID   string
	scopeDay      string
	scopeRegion   string
	scopeService  string
	signedHeaders string
	headerNames   []string
	signature     []byte
	amzDate       string // as it enters the string to sign
	date          time.Time
	expires       time.Duration
	hasExpires    bool
}

func (v *Verifier) verify(r *http.Request, body []byte, withBody bool) (string, error) {
	if r == nil || r.URL == nil {
		return "", invalidf("no request to verify")
	}
	params, queryErr := parseQuery(r.URL.RawQuery)

	authHeaders := r.Header.Values(headerAuthorization)
	hasHeader := len(authHeaders) > 1 || (len(authHeaders) == 1 && strings.TrimSpace(authHeaders[0]) != "")
	hasQuery := false
	for _, p := range params {
		switch p.key {
		case queryAlgorithm, queryCredential, querySignedHeaders, querySignature:
			hasQuery = true
		}
	}
	switch {
	case !hasHeader && !hasQuery:
		return "", errorf(CodeMissingAuthenticationToken,
			"Missing Authentication Token: the request has neither an Authorization header nor X-Amz-Signature query parameters")
	case hasHeader && hasQuery:
		return "", invalidf("the request carries both an Authorization header and presigned X-Amz-* query parameters; only one is allowed")
	}
	if queryErr != nil {
		return "", invalidf("malformed query string: %v", queryErr)
	}

	var in *sigInput
	var e *Error
	if hasHeader {
		in, e = parseHeaderForm(r, authHeaders)
	} else {
		in, e = parseQueryForm(params)
	}
	if e != nil {
		return "", e
	}
	if e := v.checkTime(in); e != nil {
		return "", e
	}
	if e := v.checkScope(in); e != nil {
		return "", e
	}
	token, e := sessionToken(r, params, in.presigned)
	if e != nil {
		return "", e
	}
	secret, e := v.secret(in.accessKeyID, token)
	if e != nil {
		return "", e
	}

	hashes, e := payloadHashes(r, body, withBody)
	if e != nil {
		return "", e
	}
	headers, e := canonicalHeaders(r, in.headerNames)
	if e != nil {
		return "", e
	}
	skip := ""
	if in.presigned {
		skip = querySignature
	}
	query := canonicalQuery(params, skip)
	scope := in.scopeDay + "/" + in.scopeRegion + "/" + in.scopeService + "/" + scopeTerminator
	key := signingKey(secret, in.scopeDay, in.scopeRegion, in.scopeService)

	var firstCR, firstSTS string
	var tried []string
	for _, uri := range canonicalURIs(r) {
		for _, h := range hashes {
			cr := strings.Join([]string{r.Method, uri, query, headers, in.signedHeaders, h}, "\n")
			sts := strings.Join([]string{algorithm, in.amzDate, scope, hashHex([]byte(cr))}, "\n")
			if hmac.Equal(hmacSHA256(key, sts), in.signature) {
				return in.accessKeyID, nil
			}
			if firstCR == "" {
				firstCR, firstSTS = cr, sts
			}
			tried = append(tried, fmt.Sprintf("uri %s with payload hash %s", uri, h))
		}
	}
	msg := "signature does not match; canonical request was:\n" + firstCR + "\nstring to sign was:\n" + firstSTS
	if len(tried) > 1 {
		msg += "\n(also tried: " + strings.Join(tried[1:], "; ") + ")"
	}
	return "", invalidf("%s", msg)
}

// secret returns the secret key that must have signed a request from
// accessKeyID carrying token (empty: none).
func (v *Verifier) secret(accessKeyID, token string) (string, *Error) {
	if token != "" {
		if v.LookupSession == nil {
			return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid: this endpoint issued no session tokens")
		}
		secret, err := v.LookupSession(accessKeyID, token)
		if err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				return "", ae
			}
			return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid: %v", err)
		}
		return secret, nil
	}
	if v.Lookup == nil {
		return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid: no credentials are configured, so access key id %s is unknown", accessKeyID)
	}
	secret, ok := v.Lookup(accessKeyID)
	if !ok {
		return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid: unknown access key id %s", accessKeyID)
	}
	return secret, nil
}

// sessionToken returns the session token a request carries: the
// x-amz-security-token header or, in the presigned form, the
// X-Amz-Security-Token query parameter. Empty means none (an empty header
// counts as none: the signature must then verify with a long-term key).
func sessionToken(r *http.Request, params []queryParam, presigned bool) (string, *Error) {
	var vals []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" {
			vals = append(vals, v)
		}
	}
	for _, h := range r.Header.Values(querySecurityToken) {
		add(h)
	}
	if presigned {
		for _, p := range params {
			if p.key == querySecurityToken {
				add(p.value)
			}
		}
	}
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", invalidf("the request carries %d session tokens (x-amz-security-token); at most one is allowed", len(vals))
}

// payloadHashes lists the payload hashes to try, most likely first. With
// withBody only the SHA-256 of body may be signed; otherwise (a streamed
// body the verifier does not read) the x-amz-content-sha256 header is taken
// as sent, and without it the empty-string hash and UNSIGNED-PAYLOAD are
// tried.
func payloadHashes(r *http.Request, body []byte, withBody bool) ([]string, *Error) {
	vals := r.Header.Values(headerContentSHA256)
	if len(vals) > 1 {
		return nil, invalidf("x-amz-content-sha256 header appears %d times", len(vals))
	}
	h := ""
	if len(vals) == 1 {
		h = strings.TrimSpace(vals[0])
	}
	if withBody {
		sum := hashHex(body)
		switch {
		case h == "":
			return []string{sum}, nil
		case !isHexSHA256(h):
			return nil, invalidf("x-amz-content-sha256 %s is not accepted on this operation: its body must be signed with its SHA-256 hash (%s)", h, sum)
		case !strings.EqualFold(h, sum):
			return nil, invalidf("x-amz-content-sha256 %s does not match the SHA-256 of the body, %s", h, sum)
		}
		return []string{h}, nil
	}
	if h != "" {
		return []string{h}, nil
	}
	return []string{EmptyPayloadHash, UnsignedPayload}, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func parseHeaderForm(r *http.Request, authHeaders []string) (*sigInput, *Error) {
	if len(authHeaders) > 1 {
		return nil, invalidf("the request carries %d Authorization headers; exactly one is allowed", len(authHeaders))
	}
	auth := strings.TrimSpace(authHeaders[0])
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != algorithm {
		return nil, invalidf("Authorization header algorithm %q is not supported; only %s is", alg, algorithm)
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			return nil, invalidf("Authorization header component %q is not of the form name=value", p)
		}
		switch k {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return nil, invalidf("Authorization header has an unexpected component %q", k)
		}
		if _, dup := parts[k]; dup {
			return nil, invalidf("Authorization header repeats its %s component", k)
		}
		parts[k] = val
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if parts[k] == "" {
			return nil, invalidf("Authorization header is missing its %s= component", k)
		}
	}

	in := &sigInput{}
	if e := in.setCredential(parts["Credential"]); e != nil {
		return nil, e
	}
	if e := in.setSignedHeaders(parts["SignedHeaders"]); e != nil {
		return nil, e
	}
	if e := in.setSignature(parts["Signature"]); e != nil {
		return nil, e
	}

	switch dates := r.Header.Values(headerAmzDate); {
	case len(dates) > 1:
		return nil, invalidf("the request carries %d X-Amz-Date headers; exactly one is allowed", len(dates))
	case len(dates) == 1:
		if e := in.setAmzDate(dates[0], "X-Amz-Date header"); e != nil {
			return nil, e
		}
	default:
		d := r.Header.Get(headerDate)
		if d == "" {
			return nil, invalidf("Authorization header requires an X-Amz-Date or a Date header; the request has neither")
		}
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, invalidf("Date header %q is not an HTTP date: %v", d, err)
		}
		in.date = t.UTC()
		in.amzDate = in.date.Format(amzDateLayout)
	}
	return in, nil
}

func parseQueryForm(params []queryParam) (*sigInput, *Error) {
	get := func(name string, required bool) (string, *Error) {
		var vals []string
		for _, p := range params {
			if p.key == name {
				vals = append(vals, p.value)
			}
		}
		switch {
		case len(vals) > 1:
			return "", invalidf("query parameter %s appears %d times; exactly once is allowed", name, len(vals))
		case len(vals) == 0 || vals[0] == "":
			if required {
				return "", invalidf("presigned request is missing the %s query parameter", name)
			}
			return "", nil
		}
		return vals[0], nil
	}
	values := map[string]string{}
	for _, name := range []string{queryAlgorithm, queryCredential, queryDate, querySignedHeaders, querySignature, queryExpires} {
		val, e := get(name, name != queryExpires)
		if e != nil {
			return nil, e
		}
		values[name] = val
	}
	if alg := values[queryAlgorithm]; alg != algorithm {
		return nil, invalidf("X-Amz-Algorithm %q is not supported; only %s is", alg, algorithm)
	}
	in := &sigInput{presigned: true}
	if e := in.setCredential(values[queryCredential]); e != nil {
		return nil, e
	}
	if e := in.setSignedHeaders(values[querySignedHeaders]); e != nil {
		return nil, e
	}
	if e := in.setSignature(values[querySignature]); e != nil {
		return nil, e
	}
	if e := in.setAmzDate(values[queryDate], "X-Amz-Date query parameter"); e != nil {
		return nil, e
	}
	if s := values[queryExpires]; s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 1 || secs > int64(MaxPresignExpiry/time.Second) || strings.TrimLeft(s, "0123456789") != "" {
			return nil, invalidf("X-Amz-Expires %q must be a whole number of seconds from 1 to %d", s, int64(MaxPresignExpiry/time.Second))
		}
		in.expires, in.hasExpires = time.Duration(secs)*time.Second, true
	}
	return in, nil
}

func (in *sigInput) setCredential(c string) *Error {
	parts := strings.Split(c, "/")
	if len(parts) != 5 {
		return invalidf("credential %q is not of the form ACCESSKEYID/yyyymmdd/region/service/aws4_request", c)
	}
	for _, p := range parts {
		if p == "" {
			return invalidf("credential %q has an empty part; the form is ACCESSKEYID/yyyymmdd/region/service/aws4_request", c)
		}
	}
	if parts[4] != scopeTerminator {
		return invalidf("credential scope terminator %q is not %s", parts[4], scopeTerminator)
	}
	if _, err := time.Parse(scopeDateLayout, parts[1]); err != nil || len(parts[1]) != 8 {
		return invalidf("credential scope date %q is not of the form yyyymmdd", parts[1])
	}
	in.credential = c
	in.accessKeyID, in.scopeDay, in.scopeRegion, in.scopeService = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (in *sigInput) setSignedHeaders(s string) *Error {
	names := strings.Split(s, ";")
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" {
			return invalidf("SignedHeaders %q has an empty entry", s)
		}
		if n != strings.ToLower(n) || strings.ContainsAny(n, " \t:") {
			return invalidf("SignedHeaders entry %q is not a lower-case header name", n)
		}
		if seen[n] {
			return invalidf("SignedHeaders lists %q twice", n)
		}
		seen[n] = true
	}
	if !seen["host"] {
		return invalidf("SignedHeaders %q does not include host, which must be signed", s)
	}
	in.signedHeaders, in.headerNames = s, names
	return nil
}

func (in *sigInput) setSignature(s string) *Error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return invalidf("signature %q is not 64 hexadecimal digits", s)
	}
	in.signature = b
	return nil
}

func (in *sigInput) setAmzDate(s, where string) *Error {
	t, err := time.Parse(amzDateLayout, s)
	if err != nil || len(s) != len(amzDateLayout) {
		return invalidf("%s %q is not of the form yyyymmddThhmmssZ", where, s)
	}
	in.amzDate, in.date = s, t
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) service() string {
	if v.Service != "" {
		return v.Service
	}
	return Service
}

// checkTime refuses a date too far from now, and an expired presigned URL,
// with the messages AWS uses.
func (v *Verifier) checkTime(in *sigInput) *Error {
	now, skew := v.now(), v.maxSkew()
	f := func(t time.Time) string { return t.UTC().Format(amzDateLayout) }
	if in.date.Sub(now) > skew {
		return invalidf("Signature not yet current: %s is still later than %s (%s + %s)",
			in.amzDate, f(now.Add(skew)), f(now), fmtSkew(skew))
	}
	if in.hasExpires {
		if end := in.date.Add(in.expires); now.After(end) {
			return invalidf("Signature expired: %s (X-Amz-Date %s + X-Amz-Expires %d) is now earlier than %s",
				f(end), in.amzDate, int64(in.expires/time.Second), f(now))
		}
		return nil
	}
	if now.Sub(in.date) > skew {
		return invalidf("Signature expired: %s is now earlier than %s (%s - %s)",
			in.amzDate, f(now.Add(-skew)), f(now), fmtSkew(skew))
	}
	return nil
}

func fmtSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min.", int64(d/time.Minute))
	}
	return d.String()
}

// checkScope compares the credential scope with the request date and with
// the verifier's region and service.
func (v *Verifier) checkScope(in *sigInput) *Error {
	if day := in.date.Format(scopeDateLayout); in.scopeDay != day {
		return invalidf("credential scope date %s does not match the request date %s (%s)", in.scopeDay, day, in.amzDate)
	}
	if v.Region == "" {
		return invalidf("credential scope region %s cannot be checked: the verifier has no region configured", in.scopeRegion)
	}
	if in.scopeRegion != v.Region {
		return invalidf("credential scope region %s does not match %s", in.scopeRegion, v.Region)
	}
	if svc := v.service(); in.scopeService != svc {
		return invalidf("credential scope service %s does not match %s", in.scopeService, svc)
	}
	return nil
}
