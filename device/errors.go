package device

import (
	"errors"
	"fmt"
)

// Errors returned by this package, wrapped with details about where and why.
// Test for them with errors.Is.
var (
	// ErrUnknownFormat means Detect did not recognise the input; the error
	// names the bytes it saw.
	ErrUnknownFormat = errors.New("device: unknown input format")
	// ErrUnsupported means valid input this package does not handle: a
	// recognised but unsupported container, codec or layout.
	ErrUnsupported = errors.New("device: unsupported input")
	// ErrEmptyInput means the input holds no bytes at all.
	ErrEmptyInput = errors.New("device: empty input")
	// ErrNoTracks means the input holds no track of a supported codec.
	ErrNoTracks = errors.New("device: no usable tracks")
	// ErrNoParameterSets means a video stream carries pictures before the
	// SPS/PPS (and VPS) needed to decode them.
	ErrNoParameterSets = errors.New("device: no SPS/PPS before the first picture")
	// ErrTruncated means the input ends inside a structure (a box, element,
	// packet or frame).
	ErrTruncated = errors.New("device: input truncated")
	// ErrInvalid means the input is malformed.
	ErrInvalid = errors.New("device: malformed input")
	// ErrTooLarge means a structure is larger than this package reads into
	// memory.
	ErrTooLarge = errors.New("device: structure too large")
	// ErrClosed is returned by ReadFrame after Close.
	ErrClosed = errors.New("device: source closed")
	// ErrInvalidOption means an Option got a value it cannot use.
	ErrInvalidOption = errors.New("device: invalid option")
)

// inputError is an error about the input of one format. It prints as
// "device: <format>: <message>" and unwraps to its kind (one of the sentinel
// errors above) and, when set, to the underlying cause.
type inputError struct {
	format Format
	kind   error
	msg    string
	cause  error
}

func (e *inputError) Error() string {
	s := "device: "
	if e.format != "" {
		s += string(e.format) + ": "
	}
	s += e.msg
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *inputError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// errorf returns an inputError of the given kind.
func errorf(f Format, kind error, format string, args ...any) error {
	return &inputError{format: f, kind: kind, msg: fmt.Sprintf(format, args...)}
}

// wrapf returns an inputError of the given kind caused by err.
func wrapf(f Format, kind, err error, format string, args ...any) error {
	return &inputError{format: f, kind: kind, msg: fmt.Sprintf(format, args...), cause: err}
}
