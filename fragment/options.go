package fragment

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Fragmenter.
type Option func(*Fragmenter) error

// Defaults, as known from the official producer SDK and kvssink.
const (
	DefaultTargetDuration = 2 * time.Second
	DefaultMaxDuration    = 20 * time.Second
	DefaultTimecodeUnit   = time.Millisecond
	// DefaultMaxSize is the service's fragment size limit (50 MB).
	DefaultMaxSize = 50 << 20
)

// blockOverhead bounds what a frame adds to a Cluster beside its data: a
// SimpleBlock's ID, size, track number, timecode and flags.
const blockOverhead = 16

// clusterOverhead bounds a Cluster's own header and timecode.
const clusterOverhead = 64

// WithMaxSize sets the largest a fragment may be, in bytes of frame data
// plus Matroska block headers (default 50 MB, the service's limit). A
// fragment about to grow past it is cut at a video key frame, or at any
// frame without key-frame fragmentation; inside a video GOP Push refuses the
// frame with ErrFragmentTooLarge instead. It must be at least 1 kB.
func WithMaxSize(n int) Option {
	return func(f *Fragmenter) error {
		if n < 1024 {
			return fmt.Errorf("%w: max size %d bytes is below 1 kB", ErrInvalidOption, n)
		}
		f.maxSize = n
		return nil
	}
}

// WithTargetDuration sets the fragment duration aimed for (default 2 s): a
// fragment is cut at the first video key frame (or, without key-frame
// fragmentation, the first frame) at or after Start + d. It must be positive
// and not longer than the maximum duration.
func WithTargetDuration(d time.Duration) Option {
	return func(f *Fragmenter) error {
		if d <= 0 {
			return fmt.Errorf("%w: target duration %v must be positive", ErrInvalidOption, d)
		}
		f.target = d
		return nil
	}
}

// WithMaxDuration sets the hard cap on a fragment's duration (default 20 s,
// the service's limit). A fragment is cut before a frame that would make it
// longer, key frame or not. It must be at least two timecode units.
func WithMaxDuration(d time.Duration) Option {
	return func(f *Fragmenter) error {
		if d <= 0 {
			return fmt.Errorf("%w: max duration %v must be positive", ErrInvalidOption, d)
		}
		f.maxDur = d
		return nil
	}
}

// WithKeyFrameFragmentation sets whether fragments start on video key frames
// (default true). With false, fragments are cut on duration alone at any
// frame and frames before the first key frame are kept.
func WithKeyFrameFragmentation(on bool) Option {
	return func(f *Fragmenter) error {
		f.keyFrames = on
		return nil
	}
}

// WithTimecodeUnit sets the timecode unit, the Matroska TimecodeScale
// (default 1 ms). It must lie in (0, 1 s].
func WithTimecodeUnit(u time.Duration) Option {
	return func(f *Fragmenter) error {
		if u <= 0 || u > time.Second {
			return fmt.Errorf("%w: timecode unit %v must lie in (0, 1s]", ErrInvalidOption, u)
		}
		f.unit = u
		return nil
	}
}

// WithLogger sets the logger for forced cuts (warn) and timestamp repairs
// (debug). A nil logger discards.
func WithLogger(l *slog.Logger) Option {
	return func(f *Fragmenter) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		f.log = l
		return nil
	}
}
