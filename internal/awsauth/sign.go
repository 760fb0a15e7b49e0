package awsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Payload hashes for SignRequest.
const (
	// UnsignedPayload leaves the body out of the signature, for streamed
	// bodies such as PutMedia.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// EmptyPayloadHash is the hex SHA-256 of the empty string, for requests
	// without a body (and what the KVS C producer signs for PutMedia).
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Service is the SigV4 signing name of Kinesis Video Streams, for the control
// plane, the data plane and WebRTC signaling alike.
const Service = "kinesisvideo"

// MaxPresignExpiry is the longest validity SigV4 allows for a presigned URL.
const MaxPresignExpiry = 7 * 24 * time.Hour

// SignRequest signs r in place in the Authorization header form for service
// kinesisvideo in region, at time t. payloadHash is UnsignedPayload,
// EmptyPayloadHash or the hex SHA-256 of the body; for anything but
// EmptyPayloadHash the x-amz-content-sha256 header is set (and signed) so a
// server can verify without reading the body. A session token goes into the
// signed x-amz-security-token header.
func SignRequest(ctx context.Context, r *http.Request, c Credentials, region, payloadHash string, t time.Time) error {
	if err := checkSigningInput(c, region); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	if r == nil || r.URL == nil {
		return errors.New("sign request: nil request or URL")
	}
	if payloadHash == "" {
		return errors.New("sign request: empty payload hash (use EmptyPayloadHash for no body)")
	}
	if payloadHash != EmptyPayloadHash {
		r.Header.Set(headerContentSHA256, payloadHash)
	} else {
		r.Header.Del(headerContentSHA256)
	}
	if err := v4.NewSigner().SignHTTP(ctx, sdkCredentials(c), r, payloadHash, Service, region, t); err != nil {
		return fmt.Errorf("sign request %s %s: %w", r.Method, r.URL.Path, err)
	}
	return nil
}

// PresignURL returns rawURL presigned in the SigV4 query form for a GET
// (the WebSocket upgrade of KVS signaling): service kinesisvideo, signed
// header host, payload hash of the empty string, X-Amz-Expires set from
// expires (1 s to 7 days, whole seconds) and the session token, if any, as
// X-Amz-Security-Token inside the canonical query. Query parameters already
// in rawURL (X-Amz-ChannelARN, X-Amz-ClientId) stay and are signed.
func PresignURL(ctx context.Context, rawURL string, c Credentials, region string, expires time.Duration, t time.Time) (string, error) {
	if err := checkSigningInput(c, region); err != nil {
		return "", fmt.Errorf("presign %s: %w", rawURL, err)
	}
	secs := int64(expires / time.Second)
	if secs < 1 || expires > MaxPresignExpiry {
		return "", fmt.Errorf("presign %s: expiry %v is outside 1s..%v", rawURL, expires, MaxPresignExpiry)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	if u.Host == "" {
		return "", fmt.Errorf("presign %s: URL has no host", rawURL)
	}
	q := u.Query()
	for _, k := range []string{queryAlgorithm, queryCredential, queryDate, querySignedHeaders, querySignature, querySecurityToken} {
		q.Del(k)
	}
	q.Set(queryExpires, strconv.FormatInt(secs, 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", rawURL, err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, sdkCredentials(c), req, EmptyPayloadHash, Service, region, t)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", rawURL, err)
	}
	return signed, nil
}

func checkSigningInput(c Credentials, region string) error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("credentials need an access key id and a secret access key")
	}
	if region == "" {
		return errors.New("no region")
	}
	return nil
}

func sdkCredentials(c Credentials) aws.Credentials {
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}
