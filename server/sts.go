package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"kvskit/internal/awsauth"
)

// AWS STS GetSessionToken bounds on DurationSeconds, and its default.
const (
	stsMinDuration     = 900
	stsMaxDuration     = 129600
	stsDefaultDuration = 43200
	stsNamespace       = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// stsHandler answers GetSessionToken as AWS STS does (query protocol: a
// form-encoded POST to /, signed for service sts, answered in XML), so the
// AWS CLI and botocore's STS client can get temporary credentials from
// kvs serve. Only long-term keys may call it, as on AWS.
type stsHandler struct {
	log    *slog.Logger
	auth   *awsauth.Verifier
	issuer *awsauth.SessionIssuer
	lookup func(id string) (string, bool)
	now    func() time.Time
}

func newSTSHandler(cfg Config, issuer *awsauth.SessionIssuer, lookup func(string) (string, bool)) *stsHandler {
	return &stsHandler{
		log:    cfg.Logger,
		issuer: issuer,
		lookup: lookup,
		now:    cfg.Now,
		auth: &awsauth.Verifier{
			Region: cfg.Region, Service: "sts", Lookup: lookup, Now: cfg.Now,
			LookupSession: func(string, string) (string, error) {
				return "", &awsauth.Error{Code: "AccessDenied", Message: "Cannot call GetSessionToken with session credentials"}
			},
		},
	}
}

// stsCodes maps the verifier's codes to the names STS (a query-protocol
// service) uses for them.
var stsCodes = map[string]string{
	awsauth.CodeInvalidSignature:           "SignatureDoesNotMatch",
	awsauth.CodeUnrecognizedClient:         "InvalidClientTokenId",
	awsauth.CodeExpiredToken:               "ExpiredToken",
	awsauth.CodeMissingAuthenticationToken: "MissingAuthenticationToken",
}

func (h *stsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(body) > 64<<10 {
		h.fail(w, reqID, http.StatusBadRequest, "InvalidParameterValue", "request body unreadable or larger than 64 KiB")
		return
	}
	id, err := h.auth.VerifyWithBody(r, body)
	if err != nil {
		code, msg := "SignatureDoesNotMatch", err.Error()
		var ae *awsauth.Error
		if errors.As(err, &ae) {
			code, msg = ae.Code, ae.Message
			if c, ok := stsCodes[code]; ok {
				code = c
			}
		}
		h.log.Warn("request refused", "op", "sts", "remote", r.RemoteAddr, "code", code, "reason", msg)
		h.fail(w, reqID, http.StatusForbidden, code, msg)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.fail(w, reqID, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("form body: %v", err))
		return
	}
	if a := form.Get("Action"); a != "GetSessionToken" {
		h.fail(w, reqID, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s; this endpoint answers GetSessionToken only", a, form.Get("Version")))
		return
	}
	secs := stsDefaultDuration
	if d := form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < stsMinDuration || n > stsMaxDuration {
			h.fail(w, reqID, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d", d, stsMinDuration, stsMaxDuration))
			return
		}
		secs = n
	}
	secret, ok := h.lookup(id)
	if !ok {
		h.fail(w, reqID, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid")
		return
	}
	now := h.now()
	expires := now.Add(time.Duration(secs) * time.Second).Truncate(time.Second)
	c, err := h.issuer.Issue(awsauth.Credentials{AccessKeyID: id, SecretAccessKey: secret}, now, expires)
	if err != nil {
		h.fail(w, reqID, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type response struct {
		XMLName     xml.Name    `xml:"GetSessionTokenResponse"`
		Xmlns       string      `xml:"xmlns,attr"`
		Credentials credentials `xml:"GetSessionTokenResult>Credentials"`
		RequestID   string      `xml:"ResponseMetadata>RequestId"`
	}
	out, err := xml.Marshal(response{Xmlns: stsNamespace, RequestID: reqID, Credentials: credentials{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		Expiration: expires.UTC().Format(time.RFC3339),
	}})
	if err != nil {
		h.fail(w, reqID, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

func (h *stsHandler) fail(w http.ResponseWriter, reqID string, status int, code, msg string) {
	type stsError struct {
		Type    string
		Code    string
		Message string
	}
	type errorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     stsError
		RequestID string `xml:"RequestId"`
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	out, _ := xml.Marshal(errorResponse{Xmlns: stsNamespace, Error: stsError{typ, code, msg}, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}
