package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an error reported to a client in the AWS JSON shape: the
// x-amzn-ErrorType header plus a body with message and Message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error constructors, named after the AWS exceptions they produce.
func errInvalidArgument(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidArgumentException", format, args...)
}

func errNotFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, "ResourceNotFoundException", format, args...)
}

func errInUse(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "ResourceInUseException", format, args...)
}

func errVersionMismatch(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "VersionMismatchException", format, args...)
}

func errInternal(err error) *apiError {
	return errorf(http.StatusInternalServerError, "InternalFailure", "internal error: %v", err)
}

func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("x-amzn-ErrorType", e.Code)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"__type":  e.Code,
		"message": e.Message,
		"Message": e.Message,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		v = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(v)
}

// ErrDataDirInsecure is returned by New and PrepareDataDir for a data
// directory that group or others can write to.
var ErrDataDirInsecure = errors.New("data dir is writable by group or others")
