package aac

import "errors"

// Errors returned (wrapped with context) by this package.
var (
	// ErrTruncated means the input ended inside a header, configuration or
	// frame.
	ErrTruncated = errors.New("aac: unexpected end of data")
	// ErrSync means an ADTS header does not start with the 0xFFF syncword.
	ErrSync = errors.New("aac: no ADTS syncword")
	// ErrInvalidValue means a field holds a value the specification forbids.
	ErrInvalidValue = errors.New("aac: invalid value")
	// ErrUnsupported means valid input this package does not handle, such as
	// program config elements or ADTS frames with several raw data blocks.
	ErrUnsupported = errors.New("aac: unsupported")
	// ErrConfigChanged means an ADTS stream changed object type, sampling
	// frequency or channel configuration between frames.
	ErrConfigChanged = errors.New("aac: ADTS configuration changed")
)
