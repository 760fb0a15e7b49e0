package spool

import "errors"

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrLocked is returned by Open when another process holds the spool.
	ErrLocked = errors.New("spool: directory in use by another process")
	// ErrCorrupt is wrapped by Decode and Read for a fragment file that is
	// not whole: bad magic, length or checksum, or an invalid payload.
	ErrCorrupt = errors.New("spool: corrupt fragment file")
	// ErrTooLarge is returned by Put for a fragment larger than the spool.
	ErrTooLarge = errors.New("spool: fragment larger than the spool")
	// ErrNotFound is wrapped by Read for a fragment the spool no longer
	// holds (removed, or dropped to make room).
	ErrNotFound = errors.New("spool: no such fragment")
	// ErrClosed is returned once Close has been called.
	ErrClosed = errors.New("spool: closed")
)
