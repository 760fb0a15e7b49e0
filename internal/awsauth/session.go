package awsauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// MaxSessionDuration is the longest validity Issue grants, the most AWS STS
// GetSessionToken grants an IAM user.
const MaxSessionDuration = 36 * time.Hour

// SessionKeySize is the size of a SessionIssuer's key in bytes.
const SessionKeySize = 32

const (
	sessionVersion  = 1
	sessionNonce    = 16
	sessionMACSize  = sha256.Size
	sessionFixed    = 1 + 8 + sessionNonce + 1 // version, expiry, nonce, parent id length
	sessionIDPrefix = "ASIA"
)

// SessionIssuer mints temporary credentials (access key id, secret access
// key, session token) for the holder of a long-term key, and resolves them
// again without keeping any state: the token carries the long-term access
// key id it was issued to, its expiry and a random part, authenticated by
// an HMAC-SHA256 under the issuer's key. The temporary access key id and
// secret are derived from the token with the same key (the secret also from
// the long-term secret), so an issuer with the same key, for example a
// restarted server reading its key from disk, resolves every token it
// issued. Changing or removing the long-term key, or the issuer's key,
// invalidates the tokens issued under it.
type SessionIssuer struct {
	key []byte
}

// NewSessionIssuer returns an issuer keyed with key, which must hold
// SessionKeySize random bytes.
func NewSessionIssuer(key []byte) (*SessionIssuer, error) {
	if len(key) != SessionKeySize {
		return nil, fmt.Errorf("session issuer: key of %d bytes, want %d", len(key), SessionKeySize)
	}
	return &SessionIssuer{key: append([]byte(nil), key...)}, nil
}

// Issue returns temporary credentials for parent, valid until expires
// (whole seconds; at most MaxSessionDuration from now).
func (s *SessionIssuer) Issue(parent Credentials, now, expires time.Time) (Credentials, error) {
	if parent.AccessKeyID == "" || parent.SecretAccessKey == "" {
		return Credentials{}, errors.New("issue session: the long-term credentials need an access key id and a secret")
	}
	if parent.SessionToken != "" {
		return Credentials{}, errors.New("issue session: the credentials are temporary already; use a long-term key")
	}
	if len(parent.AccessKeyID) > 255 {
		return Credentials{}, errors.New("issue session: access key id longer than 255 bytes")
	}
	if d := expires.Sub(now); d < time.Second || d > MaxSessionDuration {
		return Credentials{}, fmt.Errorf("issue session: duration %v is outside 1s..%v", d, MaxSessionDuration)
	}
	payload := make([]byte, sessionFixed, sessionFixed+len(parent.AccessKeyID)+sessionMACSize)
	payload[0] = sessionVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(expires.Unix()))
	if _, err := rand.Read(payload[9 : 9+sessionNonce]); err != nil {
		return Credentials{}, fmt.Errorf("issue session: %w", err)
	}
	payload[sessionFixed-1] = byte(len(parent.AccessKeyID))
	payload = append(payload, parent.AccessKeyID...)
	token := append(payload, s.mac("token", payload)...)
	return Credentials{
		AccessKeyID:     s.accessKeyID(payload),
		SecretAccessKey: s.secret(payload, parent.SecretAccessKey),
		SessionToken:    base64.RawURLEncoding.EncodeToString(token),
	}, nil
}

// Resolve returns the secret access key of the temporary credentials
// (accessKeyID, token), asking parentSecret for the secret of the long-term
// key the token was issued to. A token this issuer did not issue, or one
// presented with another access key id or whose long-term key is gone, is
// refused with CodeUnrecognizedClient; an expired one with CodeExpiredToken.
func (s *SessionIssuer) Resolve(accessKeyID, token string, parentSecret func(accessKeyID string) (string, bool), now time.Time) (string, error) {
	invalid := func(why string) (string, error) {
		return "", errorf(CodeUnrecognizedClient, "The security token included in the request is invalid: %s", why)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < sessionFixed+1+sessionMACSize || raw[0] != sessionVersion {
		return invalid("it was not issued by this endpoint")
	}
	payload, mac := raw[:len(raw)-sessionMACSize], raw[len(raw)-sessionMACSize:]
	if !hmac.Equal(mac, s.mac("token", payload)) {
		return invalid("it was not issued by this endpoint")
	}
	idLen := int(payload[sessionFixed-1])
	if len(payload) != sessionFixed+idLen {
		return invalid("it was not issued by this endpoint")
	}
	if s.accessKeyID(payload) != accessKeyID {
		return invalid(fmt.Sprintf("it was not issued with access key id %s", accessKeyID))
	}
	parentID := string(payload[sessionFixed:])
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0).UTC()
	if !now.Before(expires) {
		return "", errorf(CodeExpiredToken, "The security token included in the request is expired: it expired at %s", expires.Format(time.RFC3339))
	}
	parent, ok := "", false
	if parentSecret != nil {
		parent, ok = parentSecret(parentID)
	}
	if !ok {
		return invalid(fmt.Sprintf("the access key %s it was issued to is no longer configured", parentID))
	}
	return s.secret(payload, parent), nil
}

// SessionExpiry returns the expiry written in a token, without checking it.
func SessionExpiry(token string) (time.Time, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < sessionFixed || raw[0] != sessionVersion {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0).UTC(), true
}

func (s *SessionIssuer) mac(purpose string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("kvs-session/" + purpose + "\x00"))
	for _, p := range parts {
		m.Write(p)
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (s *SessionIssuer) accessKeyID(payload []byte) string {
	return sessionIDPrefix + base32.StdEncoding.EncodeToString(s.mac("access-key-id", payload)[:10])
}

func (s *SessionIssuer) secret(payload []byte, parentSecret string) string {
	return base64.StdEncoding.EncodeToString(s.mac("secret", payload, []byte(parentSecret))[:30])
}
