package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"kvskit/device"
	"kvskit/device/rtsp"
	"kvskit/media"
	"kvskit/samples/clip"
)

// liveSource is a source whose timestamps are offsets from a wall-clock origin.
type liveSource interface {
	device.Source
	Origin() time.Time
}

// openLive opens a live source by URI: rtsp://, rtsps:// or test://.
func openLive(ctx context.Context, uri string) (liveSource, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", uri, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "rtsp", "rtsps":
		return rtsp.Open(ctx, uri)
	case "test":
		return newTestPattern()
	case "v4l2":
		return nil, fmt.Errorf("source %q: V4L2 capture is not in this build yet", uri)
	default:
		return nil, fmt.Errorf("source %q: unknown scheme %q (want rtsp://, v4l2:// or test://)", uri, u.Scheme)
	}
}

// testPattern plays the sample clip in a loop at its real rate, as a camera
// would: each frame is returned when its time comes.
type testPattern struct {
	*loopSource
	origin time.Time
}

func newTestPattern() (*testPattern, error) {
	l, err := newLoopSource(clip.MKV)
	if err != nil {
		return nil, err
	}
	return &testPattern{loopSource: l, origin: time.Now()}, nil
}

func (t *testPattern) Origin() time.Time { return t.origin }

func (t *testPattern) ReadFrame() (media.Frame, error) {
	fr, err := t.loopSource.ReadFrame()
	if err != nil {
		return fr, err
	}
	if d := time.Until(t.origin.Add(fr.DTS)); d > 0 {
		time.Sleep(d)
	}
	return fr, nil
}
