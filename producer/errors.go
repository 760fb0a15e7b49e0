package producer

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrClosed is returned by WriteFrame and Close once Close has been called.
	ErrClosed = errors.New("producer: closed")
	// ErrInvalidConfig is wrapped by New for a configuration it cannot use.
	ErrInvalidConfig = errors.New("producer: invalid configuration")
	// ErrUnknownTrack is returned by WriteFrame for a frame whose track number
	// was not declared to New.
	ErrUnknownTrack = errors.New("producer: frame of an undeclared track")
	// ErrFragmentRefused is wrapped by a FragmentFailure for a fragment the
	// service refused with a non-retriable ACK error; it is not sent again.
	ErrFragmentRefused = errors.New("producer: fragment refused by the service")
	// ErrFragmentDropped is wrapped by a FragmentFailure for a fragment dropped
	// from a full buffer before it was acknowledged.
	ErrFragmentDropped = errors.New("producer: fragment dropped from a full buffer")
	// ErrNotAcknowledged is wrapped by a FragmentFailure for a fragment still
	// unacknowledged when Close gave up (its context ended).
	ErrNotAcknowledged = errors.New("producer: fragment not acknowledged")
	// ErrSpoolCorrupt is wrapped by a FragmentFailure for a spooled fragment
	// whose file was found damaged (after a power cut) when read back.
	ErrSpoolCorrupt = errors.New("producer: spooled fragment lost: its file is damaged")
	// ErrStreamNotFound is wrapped by New when the stream does not exist and
	// Config.CreateStream is false.
	ErrStreamNotFound = errors.New("producer: stream not found")
)

// FragmentFailure describes one fragment that did not reach the service's
// archive: refused, dropped, or unacknowledged at Close.
type FragmentFailure struct {
	// Seq is the fragment's sequence number (fragment.Fragment.Seq).
	Seq uint64
	// Timecode is the cluster timecode written for it: milliseconds since the
	// Unix epoch.
	Timecode int64
	// Number is the fragment number the service assigned, if any.
	Number string
	// ErrorID and ErrorCode are the ACK error (refused fragments only).
	ErrorID   int
	ErrorCode string
	// Message is the service's explanation, when it gave one.
	Message string
	// Err is ErrFragmentRefused, ErrFragmentDropped, ErrNotAcknowledged or
	// ErrSpoolCorrupt.
	Err error
	// Spooled is set for a fragment not acknowledged at Close that stays in
	// the spool: the next producer on the spool sends it.
	Spooled bool
}

func (e *FragmentFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fragment %d (timecode %d", e.Seq, e.Timecode)
	if e.Number != "" {
		fmt.Fprintf(&b, ", number %s", e.Number)
	}
	b.WriteString("): ")
	b.WriteString(e.Err.Error())
	if e.ErrorID != 0 {
		fmt.Fprintf(&b, ": %d %s", e.ErrorID, e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Spooled {
		b.WriteString(" (kept in the spool for the next run)")
	}
	return b.String()
}

// Unwrap returns the sentinel error saying what happened to the fragment.
func (e *FragmentFailure) Unwrap() error { return e.Err }

// CloseError is returned by Close when fragments were lost or the wait for
// acknowledgements ended early.
type CloseError struct {
	// Stream is the stream name.
	Stream string
	// Fragments lists the fragments that failed, were dropped or were left
	// unacknowledged, in sequence order. At most 1000 are kept; Omitted
	// counts the others.
	Fragments []FragmentFailure
	Omitted   int
	// Err is the reason the wait ended early (the context's error), or nil.
	Err error
}

func (e *CloseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "producer: stream %s: close:", e.Stream)
	if e.Err != nil {
		fmt.Fprintf(&b, " %v;", e.Err)
	}
	fmt.Fprintf(&b, " %d fragment(s) not delivered", len(e.Fragments)+e.Omitted)
	for i := range e.Fragments {
		b.WriteString("\n\t")
		b.WriteString(e.Fragments[i].Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n\t... and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap returns the context error (if any) and every fragment's error, so
// errors.Is finds ErrFragmentRefused, ErrFragmentDropped, ErrNotAcknowledged
// or context.DeadlineExceeded.
func (e *CloseError) Unwrap() []error {
	errs := make([]error, 0, len(e.Fragments)+1)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	for i := range e.Fragments {
		errs = append(errs, &e.Fragments[i])
	}
	return errs
}
