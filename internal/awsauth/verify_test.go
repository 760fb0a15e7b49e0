package awsauth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newReq(t *testing.T, method, rawURL string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRoundTripSDKSigner signs with the AWS SDK's signer, sends through a
// real HTTP server and checks that the server verifies what arrived.
func TestRoundTripSDKSigner(t *testing.T) {
	signedAt := testNow.Add(-30 * time.Second)
	withToken := testCreds()
	withToken.SessionToken = testToken

	cases := []struct {
		name     string
		withBody bool
		body     string
		build    func(t *testing.T, base string) *http.Request
	}{
		{
			name: "unsigned payload with x-amz-content-sha256",
			body: "\x1a\x45\xdf\xa3 mkv bytes",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", strings.NewReader("\x1a\x45\xdf\xa3 mkv bytes"))
				req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
				req.Header.Set("x-amzn-stream-name", "cam-1")
				req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
				sdkSign(t, req, testCreds(), UnsignedPayload, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name: "empty-string hash without header, body streamed",
			body: "fragment data",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", strings.NewReader("fragment data"))
				req.Header.Set("x-amzn-stream-name", "cam-1")
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name:     "real body hash without header, VerifyWithBody",
			withBody: true,
			body:     `{"StreamName":"cam-1","DataRetentionInHours":2}`,
			build: func(t *testing.T, base string) *http.Request {
				body := `{"StreamName":"cam-1","DataRetentionInHours":2}`
				req := newReq(t, http.MethodPost, base+"/createStream", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				sdkSign(t, req, testCreds(), sha256Hex(body), Service, testRegion, signedAt)
				return req
			},
		},
		{
			name:     "real body hash in x-amz-content-sha256, VerifyWithBody",
			withBody: true,
			body:     `{}`,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/TagResource", strings.NewReader(`{}`))
				req.Header.Set("X-Amz-Content-Sha256", sha256Hex(`{}`))
				sdkSign(t, req, testCreds(), sha256Hex(`{}`), Service, testRegion, signedAt)
				return req
			},
		},
		{
			name: "empty body, no header, Verify",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/listStreams", nil)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name:     "session token",
			withBody: true,
			body:     `{"StreamName":"cam-1"}`,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/describeStream", strings.NewReader(`{"StreamName":"cam-1"}`))
				sdkSign(t, req, withToken, sha256Hex(`{"StreamName":"cam-1"}`), Service, testRegion, signedAt)
				if req.Header.Get("X-Amz-Security-Token") != testToken {
					t.Fatal("signer did not add the session token")
				}
				return req
			},
		},
		{
			name: "Host header without the port the server listens on",
			body: "x",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", strings.NewReader("x"))
				req.Host = "127.0.0.1"
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name: "chunked body",
			body: strings.Repeat("chunk ", 1000),
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", unknownLength(strings.Repeat("chunk ", 1000)))
				req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
				sdkSign(t, req, testCreds(), UnsignedPayload, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name: "escaped path and awkward query",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodGet, base+"/a%2Fb/c%20d?z=last&b=x%20y&a=1%2F2&a=0&plus=%2B&empty=", nil)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, signedAt)
				return req
			},
		},
		{
			name: "presigned query form with security token",
			build: func(t *testing.T, base string) *http.Request {
				q := url.Values{
					"X-Amz-ChannelARN": {"arn:aws:kinesisvideo:us-east-1:123456789012:channel/door/1700000000000"},
					"X-Amz-ClientId":   {"viewer 1"},
					"X-Amz-Expires":    {"299"},
				}
				signed := sdkPresign(t, base+"/?"+q.Encode(), withToken, testRegion, signedAt)
				if !strings.Contains(signed, "X-Amz-Security-Token=") {
					t.Fatalf("presigned URL lacks the token: %s", signed)
				}
				return newReq(t, http.MethodGet, signed, nil)
			},
		},
		{
			name: "presigned with this package's PresignURL",
			build: func(t *testing.T, base string) *http.Request {
				c := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
				signed, err := PresignURL(context.Background(), base+"/?X-Amz-ChannelARN=arn%3Aaws%3Akinesisvideo%3Aus-east-1%3A1%3Achannel%2Fx%2F1", c, testRegion, 5*time.Minute, signedAt)
				if err != nil {
					t.Fatal(err)
				}
				return newReq(t, http.MethodGet, signed, nil)
			},
		},
		{
			name: "signed with this package's SignRequest",
			body: "stream",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", unknownLength("stream"))
				req.Host = "127.0.0.1"
				c := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
				if err := SignRequest(context.Background(), req, c, testRegion, UnsignedPayload, signedAt); err != nil {
					t.Fatal(err)
				}
				return req
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, testVerifier(testNow), tc.withBody)
			req := tc.build(t, srv.URL)
			got := send(t, req)
			wantOK(t, got, tc.body)
			if req.Host != "" && got.Host != req.Host {
				t.Fatalf("server saw host %q, client set %q", got.Host, req.Host)
			}
		})
	}
}

// TestRoundTripCProducerStyle sends a PutMedia the way the KVS C producer
// does, byte for byte over TCP: Host without the port, chunked body, and
// connection, transfer-encoding and user-agent among the signed headers,
// with the empty-string payload hash and no x-amz-content-sha256 header.
// The AWS SDK signer leaves Transfer-Encoding and User-Agent out when they
// are given under their canonical names, so they are handed to it under
// lower-case keys, which it signs like any other header.
func TestRoundTripCProducerStyle(t *testing.T) {
	srv := startServer(t, testVerifier(testNow), false)

	headers := [][2]string{
		{"connection", "keep-alive"},
		{"transfer-encoding", "chunked"},
		{"user-agent", "AWS-SDK-KVS-CPP-CLIENT/3.4.1  GCC/12.2.0 Linux/6.1.0 x86_64"},
		{"x-amzn-stream-name", "front-door"},
		{"x-amzn-fragment-timecode-type", "ABSOLUTE"},
		{"x-amzn-producer-start-timestamp", "1715947200.000"},
		{"x-amzn-fragment-acknowledgment-required", "1"},
	}
	req := newReq(t, http.MethodPost, srv.URL+"/putMedia", nil)
	req.Host = "127.0.0.1"
	for _, h := range headers {
		req.Header[h[0]] = []string{h[1]}
	}
	sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow)
	auth := req.Header.Get("Authorization")
	for _, want := range []string{"connection;", "transfer-encoding;", "user-agent;", "host;"} {
		if !strings.Contains(auth, want) {
			t.Fatalf("SDK did not sign %q: %s", want, auth)
		}
	}

	var raw strings.Builder
	raw.WriteString("POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	for _, h := range headers {
		fmt.Fprintf(&raw, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&raw, "X-Amz-Date: %s\r\nAuthorization: %s\r\n\r\n", req.Header.Get("X-Amz-Date"), auth)
	body := ""
	for _, chunk := range []string{"\x1a\x45\xdf\xa3", "cluster one", "cluster two"} {
		fmt.Fprintf(&raw, "%x\r\n%s\r\n", len(chunk), chunk)
		body += chunk
	}
	raw.WriteString("0\r\n\r\n")

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := readVerdict(t, resp)
	wantOK(t, got, body)
	if got.Host != "127.0.0.1" {
		t.Fatalf("server saw host %q", got.Host)
	}
}

// TestRefusals checks that each kind of bad request is refused with the
// right code and a message naming what did not match.
func TestRefusals(t *testing.T) {
	at := testNow.Add(-10 * time.Second)
	wrongSecret := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "not-the-secret"}
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNKEY000000", SecretAccessKey: testSecret}
	putMedia := func(t *testing.T, base string) *http.Request {
		req := newReq(t, http.MethodPost, base+"/putMedia", strings.NewReader("data"))
		req.Header.Set("x-amzn-stream-name", "cam-1")
		return req
	}

	cases := []struct {
		name     string
		withBody bool
		build    func(t *testing.T, base string) *http.Request
		code     string
		msg      []string
	}{
		{
			name:  "no authentication",
			build: putMedia,
			code:  CodeMissingAuthenticationToken,
			msg:   []string{"Missing Authentication Token"},
		},
		{
			name: "wrong secret",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, wrongSecret, EmptyPayloadHash, Service, testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "canonical request was:\nPOST\n/putMedia\n", "x-amzn-stream-name:cam-1", "string to sign was:\nAWS4-HMAC-SHA256"},
		},
		{
			name: "unknown access key",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, unknown, EmptyPayloadHash, Service, testRegion, at)
				return req
			},
			code: CodeUnrecognizedClient,
			msg:  []string{"unknown access key id AKIAUNKNOWNKEY000000"},
		},
		{
			name: "wrong region",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, "eu-west-1", at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"credential scope region eu-west-1 does not match us-east-1"},
		},
		{
			name: "wrong service",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, "s3", testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"credential scope service s3 does not match kinesisvideo"},
		},
		{
			name: "stale date, 6 minutes old",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow.Add(-6*time.Minute))
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"Signature expired: 20240517T115400Z is now earlier than 20240517T115500Z (20240517T120000Z - 5 min.)"},
		},
		{
			name: "future date, 6 minutes ahead",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow.Add(6*time.Minute))
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"Signature not yet current: 20240517T120600Z is still later than 20240517T120500Z"},
		},
		{
			name: "expired presigned URL",
			build: func(t *testing.T, base string) *http.Request {
				signed := sdkPresign(t, base+"/?X-Amz-ChannelARN=x&X-Amz-Expires=60", testCreds(), testRegion, testNow.Add(-2*time.Minute))
				return newReq(t, http.MethodGet, signed, nil)
			},
			code: CodeInvalidSignature,
			msg:  []string{"Signature expired: 20240517T115900Z", "X-Amz-Expires 60", "is now earlier than 20240517T120000Z"},
		},
		{
			name: "presigned URL expiry beyond seven days",
			build: func(t *testing.T, base string) *http.Request {
				signed := sdkPresign(t, base+"/?X-Amz-Expires=604801", testCreds(), testRegion, at)
				return newReq(t, http.MethodGet, signed, nil)
			},
			code: CodeInvalidSignature,
			msg:  []string{`X-Amz-Expires "604801"`},
		},
		{
			name: "header changed after signing",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.Header.Set("x-amzn-stream-name", "someone-elses-stream")
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "x-amzn-stream-name:someone-elses-stream"},
		},
		{
			name: "signed header removed after signing",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.Header.Del("x-amzn-stream-name")
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{`signed header "x-amzn-stream-name" is not in the request`},
		},
		{
			name: "query parameter changed after presigning",
			build: func(t *testing.T, base string) *http.Request {
				signed := sdkPresign(t, base+"/?X-Amz-ChannelARN=mine&X-Amz-Expires=299", testCreds(), testRegion, at)
				return newReq(t, http.MethodGet, strings.Replace(signed, "X-Amz-ChannelARN=mine", "X-Amz-ChannelARN=theirs", 1), nil)
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "X-Amz-ChannelARN=theirs"},
		},
		{
			name: "query parameter added after header signing",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodGet, base+"/getMedia?a=1", nil)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.URL.RawQuery += "&b=2"
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "\na=1&b=2\n"},
		},
		{
			name: "path changed after signing",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/describeStream", nil)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.URL.Path = "/deleteStream"
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "POST\n/deleteStream\n"},
		},
		{
			name:     "body changed after signing its hash",
			withBody: true,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/deleteStream", strings.NewReader(`{"StreamName":"b"}`))
				sdkSign(t, req, testCreds(), sha256Hex(`{"StreamName":"a"}`), Service, testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match", "\n" + sha256Hex(`{"StreamName":"b"}`) + "\nstring to sign"},
		},
		{
			name:     "JSON body swapped under UNSIGNED-PAYLOAD",
			withBody: true,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/createStream", strings.NewReader(`{"StreamName":"evil"}`))
				req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
				sdkSign(t, req, testCreds(), UnsignedPayload, Service, testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"x-amz-content-sha256 UNSIGNED-PAYLOAD is not accepted on this operation", sha256Hex(`{"StreamName":"evil"}`)},
		},
		{
			name:     "JSON body signed as UNSIGNED-PAYLOAD without the header",
			withBody: true,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/createStream", strings.NewReader(`{"StreamName":"evil"}`))
				sdkSign(t, req, testCreds(), UnsignedPayload, Service, testRegion, at)
				req.Header.Del("X-Amz-Content-Sha256")
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match"},
		},
		{
			name:     "JSON body signed with the empty-string hash",
			withBody: true,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/deleteStream", strings.NewReader(`{"StreamName":"b"}`))
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"signature does not match"},
		},
		{
			name: "session token never issued",
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/putMedia", nil)
				c := testCreds()
				c.SessionToken = "forged-token"
				sdkSign(t, req, c, EmptyPayloadHash, Service, testRegion, at)
				return req
			},
			code: CodeUnrecognizedClient,
			msg:  []string{"The security token included in the request is invalid"},
		},
		{
			name: "session token in the presigned query never issued",
			build: func(t *testing.T, base string) *http.Request {
				c := testCreds()
				c.SessionToken = "forged-token"
				return newReq(t, http.MethodGet, sdkPresign(t, base+"/?X-Amz-Expires=60", c, testRegion, at), nil)
			},
			code: CodeUnrecognizedClient,
			msg:  []string{"The security token included in the request is invalid"},
		},
		{
			name:     "x-amz-content-sha256 not the hash of the body",
			withBody: true,
			build: func(t *testing.T, base string) *http.Request {
				req := newReq(t, http.MethodPost, base+"/deleteStream", strings.NewReader(`{"StreamName":"b"}`))
				req.Header.Set("X-Amz-Content-Sha256", sha256Hex(`{"StreamName":"a"}`))
				sdkSign(t, req, testCreds(), sha256Hex(`{"StreamName":"a"}`), Service, testRegion, at)
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"x-amz-content-sha256 " + sha256Hex(`{"StreamName":"a"}`) + " does not match the SHA-256 of the body"},
		},
		{
			name: "credential day differs from X-Amz-Date",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/20240517/", "/20240516/", 1))
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"credential scope date 20240516 does not match the request date 20240517"},
		},
		{
			name: "no date",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.Header.Del("X-Amz-Date")
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"requires an X-Amz-Date or a Date header"},
		},
		{
			name: "other authorization scheme",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				req.Header.Set("Authorization", "Bearer abc")
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{`algorithm "Bearer" is not supported`},
		},
		{
			name: "host not signed",
			build: func(t *testing.T, base string) *http.Request {
				req := putMedia(t, base)
				sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, at)
				req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=content-length;host;", "SignedHeaders=content-length;", 1))
				return req
			},
			code: CodeInvalidSignature,
			msg:  []string{"does not include host"},
		},
		{
			name: "presigned URL missing its signature",
			build: func(t *testing.T, base string) *http.Request {
				signed := sdkPresign(t, base+"/?X-Amz-Expires=299", testCreds(), testRegion, at)
				u, _ := url.Parse(signed)
				q := u.Query()
				q.Del("X-Amz-Signature")
				u.RawQuery = q.Encode()
				return newReq(t, http.MethodGet, u.String(), nil)
			},
			code: CodeInvalidSignature,
			msg:  []string{"missing the X-Amz-Signature query parameter"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, testVerifier(testNow), tc.withBody)
			wantRefused(t, send(t, tc.build(t, srv.URL)), tc.code, tc.msg...)
		})
	}
}

// TestSkewBoundaries checks the edges of the time window: a date exactly
// MaxSkew away is accepted, one second more is not, and a custom MaxSkew
// is honoured.
func TestSkewBoundaries(t *testing.T) {
	for _, tc := range []struct {
		offset time.Duration
		skew   time.Duration
		ok     bool
	}{
		{-5 * time.Minute, 0, true},
		{5 * time.Minute, 0, true},
		{-5*time.Minute - time.Second, 0, false},
		{5*time.Minute + time.Second, 0, false},
		{-50 * time.Second, time.Minute, true},
		{-61 * time.Second, time.Minute, false},
	} {
		v := testVerifier(testNow)
		v.MaxSkew = tc.skew
		req := newReq(t, http.MethodPost, "http://127.0.0.1:1/listStreams", nil)
		sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow.Add(tc.offset))
		_, err := v.Verify(req)
		if (err == nil) != tc.ok {
			t.Errorf("offset %v skew %v: err %v, want ok=%v", tc.offset, tc.skew, err, tc.ok)
		}
	}
}

// TestPresignedWindow checks that a presigned URL older than MaxSkew but
// within X-Amz-Expires is accepted.
func TestPresignedWindow(t *testing.T) {
	c := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	signed, err := PresignURL(context.Background(), "wss://127.0.0.1:8443/?X-Amz-ChannelARN=a", c, testRegion, time.Hour, testNow.Add(-50*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "3600" {
		t.Fatalf("X-Amz-Expires = %q", got)
	}
	if got := u.Query().Get("X-Amz-SignedHeaders"); got != "host" {
		t.Fatalf("X-Amz-SignedHeaders = %q", got)
	}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: u.Path, RawQuery: u.RawQuery}, Host: u.Host, Header: http.Header{}}
	if _, err := testVerifier(testNow).Verify(req); err != nil {
		t.Fatalf("within expiry: %v", err)
	}
	if _, err := testVerifier(testNow.Add(11 * time.Minute)).Verify(req); err == nil || !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("after expiry: %v", err)
	}
}

// TestCanonicalQueryMatchesSDK compares the canonical query built here with
// the one the SDK signer writes into a presigned URL (minus the signature).
func TestCanonicalQueryMatchesSDK(t *testing.T) {
	signed := sdkPresign(t, "http://h/?b=x y&a=1/2&a=0&c=%2B&d=~_.-&e=é&X-Amz-Expires=1", testCreds(), testRegion, testNow)
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	params, err := parseQuery(u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	got := canonicalQuery(params, querySignature)
	want := u.RawQuery[:strings.Index(u.RawQuery, "&X-Amz-Signature=")]
	if got != want {
		t.Fatalf("canonical query\n got %s\nwant %s", got, want)
	}
	parts := strings.Split(got, "&")
	if !sort.StringsAreSorted(parts) {
		t.Fatalf("not sorted: %s", got)
	}
}

func TestCollapseSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"  a  ":          "a",
		"a   b  c":       "a b c",
		"\ta  b\t":       "a b",
		"x y":            "x y",
		"GCC/12  Linux ": "GCC/12 Linux",
	} {
		if got := collapseSpaces(in); got != want {
			t.Errorf("collapseSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestVerifyDoesNotTouchBody hands Verify a body that fails on any read.
func TestVerifyDoesNotTouchBody(t *testing.T) {
	req := newReq(t, http.MethodPost, "http://127.0.0.1:9/putMedia", nil)
	sdkSign(t, req, testCreds(), EmptyPayloadHash, Service, testRegion, testNow)
	req.Body = explodingBody{t}
	req.ContentLength = -1
	if _, err := testVerifier(testNow).Verify(req); err != nil {
		t.Fatal(err)
	}
}

type explodingBody struct{ t *testing.T }

func (b explodingBody) Read([]byte) (int, error) {
	b.t.Error("Verify read the body")
	return 0, io.ErrUnexpectedEOF
}
func (b explodingBody) Close() error { return nil }

func TestSignRequestInputs(t *testing.T) {
	good := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	req := newReq(t, http.MethodPost, "http://127.0.0.1:9/listStreams", nil)
	if err := SignRequest(context.Background(), req, Credentials{}, testRegion, EmptyPayloadHash, testNow); err == nil {
		t.Error("signed with empty credentials")
	}
	if err := SignRequest(context.Background(), req, good, "", EmptyPayloadHash, testNow); err == nil {
		t.Error("signed without a region")
	}
	if err := SignRequest(context.Background(), req, good, testRegion, "", testNow); err == nil {
		t.Error("signed without a payload hash")
	}
	if _, err := PresignURL(context.Background(), "wss://h/", good, testRegion, 8*24*time.Hour, testNow); err == nil {
		t.Error("presigned for 8 days")
	}
	if _, err := PresignURL(context.Background(), "wss://h/", good, testRegion, 0, testNow); err == nil {
		t.Error("presigned for 0 s")
	}
	if _, err := PresignURL(context.Background(), "/no-host", good, testRegion, time.Minute, testNow); err == nil {
		t.Error("presigned a URL without host")
	}
	if err := SignRequest(context.Background(), req, good, testRegion, EmptyPayloadHash, testNow); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("X-Amz-Content-Sha256") != "" {
		t.Error("empty-payload signing set x-amz-content-sha256")
	}
}
