package h265

import "errors"

// Errors returned (wrapped with context) by this package.
var (
	// ErrTruncated means the input ended inside a syntax element.
	ErrTruncated = errors.New("h265: unexpected end of data")
	// ErrInvalidValue means a syntax element holds a value the specification
	// forbids or this package cannot represent.
	ErrInvalidValue = errors.New("h265: invalid value")
	// ErrNALType means a NAL unit of another type was expected.
	ErrNALType = errors.New("h265: unexpected NAL unit type")
	// ErrInvalidRecord means an HEVCDecoderConfigurationRecord is malformed.
	ErrInvalidRecord = errors.New("h265: invalid HEVCDecoderConfigurationRecord")
	// ErrMissingParameterSets means a VPS, SPS or PPS is needed but absent.
	ErrMissingParameterSets = errors.New("h265: missing VPS, SPS or PPS")
)
