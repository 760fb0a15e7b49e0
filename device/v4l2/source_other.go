//go:build !linux

package v4l2

import (
	"context"
	"time"

	"kvskit/media"
)

// Source is an open camera yielding H.264 frames (Linux only).
type Source struct{}

// Open fails with ErrUnsupportedPlatform: V4L2 exists only on Linux.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Source, error) {
	if _, err := newConfig(rawURL, opts); err != nil {
		return nil, err
	}
	return nil, ErrUnsupportedPlatform
}

// ListDevices fails with ErrUnsupportedPlatform: V4L2 exists only on Linux.
func ListDevices() ([]DeviceInfo, error) { return nil, ErrUnsupportedPlatform }

// Tracks returns nothing.
func (s *Source) Tracks() []media.Track { return nil }

// ReadFrame fails with ErrUnsupportedPlatform.
func (s *Source) ReadFrame() (media.Frame, error) { return media.Frame{}, ErrUnsupportedPlatform }

// Origin returns the zero time.
func (s *Source) Origin() time.Time { return time.Time{} }

// Stats returns zero stats.
func (s *Source) Stats() Stats { return Stats{} }

// RequestKeyFrame does nothing.
func (s *Source) RequestKeyFrame() {}

// Close does nothing.
func (s *Source) Close() error { return nil }
