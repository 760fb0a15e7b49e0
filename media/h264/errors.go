package h264

import "errors"

// Errors returned (wrapped with context) by this package.
var (
	// ErrTruncated means the input ended inside a syntax element.
	ErrTruncated = errors.New("h264: unexpected end of data")
	// ErrInvalidValue means a syntax element holds a value the specification
	// forbids or this package cannot represent.
	ErrInvalidValue = errors.New("h264: invalid value")
	// ErrNALType means a NAL unit of another type was expected.
	ErrNALType = errors.New("h264: unexpected NAL unit type")
	// ErrInvalidLength means a NAL unit length prefix is truncated or points
	// past the end of the data.
	ErrInvalidLength = errors.New("h264: invalid NAL unit length")
	// ErrInvalidRecord means an AVCDecoderConfigurationRecord is malformed.
	ErrInvalidRecord = errors.New("h264: invalid AVCDecoderConfigurationRecord")
	// ErrMissingParameterSets means an SPS or PPS is needed but absent.
	ErrMissingParameterSets = errors.New("h264: missing SPS or PPS")
	// ErrFieldPicture means a picture is coded as a field (interlaced field
	// coding), whose output order needs the other field of its frame.
	ErrFieldPicture = errors.New("h264: field-coded picture (interlaced field coding is not supported)")
)
