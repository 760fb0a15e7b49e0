package mkv

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error caused by malformed Matroska data.
var ErrInvalid = errors.New("mkv: invalid data")

// ErrElementTooLarge is wrapped when an element body that must be read is
// larger than the Reader's maximum element size (see WithMaxElementSize).
var ErrElementTooLarge = errors.New("mkv: element too large")

// FormatError describes malformed data at a stream offset. It unwraps to
// ErrInvalid.
type FormatError struct {
	// Offset is the stream offset of the element (or byte) at fault.
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("mkv: invalid data at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}
