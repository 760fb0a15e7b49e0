package awsauth

import (
	"fmt"
	"net/http"
)

// Error codes carried by *Error. They are the names AWS services put in the
// x-amzn-ErrorType header of a 403 response, so AWS clients recognise them.
const (
	// CodeMissingAuthenticationToken: the request carries no SigV4 at all.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeInvalidSignature: the signature is malformed, does not match, is
	// out of its time window, or names the wrong region or service.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeUnrecognizedClient: the access key id is unknown, or the session
	// token was never issued (or does not belong to the access key id).
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeExpiredToken: the session token was issued but has expired.
	CodeExpiredToken = "ExpiredTokenException"
)

// Error says why a request was refused. Code is one of the Code* constants;
// Message says precisely what did not match and is meant for the 403 body.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// StatusCode is the HTTP status a server should answer with: always 403,
// as AWS does for every authentication failure.
func (e *Error) StatusCode() int { return http.StatusForbidden }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) *Error {
	return errorf(CodeInvalidSignature, format, args...)
}
