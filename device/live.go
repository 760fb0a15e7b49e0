package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"kvskit/device/rtsp"
	"kvskit/device/v4l2"
	"kvskit/media"
	sampleclip "kvskit/samples/clip"
)

// LiveSource is a source whose timestamps are offsets from a wall-clock
// origin: cameras, RTSP feeds and the test pattern.
type LiveSource interface {
	Source
	// Origin is the wall-clock time of PTS 0.
	Origin() time.Time
}

// OpenURI opens a live source:
//
//	rtsp://user:pass@host:554/path   an RTSP camera (package rtsp)
//	v4l2:///dev/video0?width=...     a V4L2 camera (package v4l2)
//	test://                          the sample clip looped at its real rate
//
// ctx bounds the opening only.
func OpenURI(ctx context.Context, uri string) (LiveSource, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("device: source %q: %w", uri, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "rtsp", "rtsps":
		return rtsp.Open(ctx, uri)
	case "v4l2":
		return v4l2.Open(ctx, uri)
	case "test":
		return NewTestPattern()
	default:
		return nil, fmt.Errorf("device: source %q: %w: scheme %q (want rtsp://, v4l2:// or test://)", uri, ErrUnsupported, u.Scheme)
	}
}

// loop plays a file's bytes over and over. Every pass lasts as long as the
// first track (the video, when there is one): last frame plus one frame
// interval; frames of other tracks beyond that are left out, so the tracks
// stay in step and every track's timestamps keep increasing.
type loop struct {
	data   []byte
	opts   []Option
	pool   *media.BufferPool
	cur    Source
	tracks []media.Track
	pass   time.Duration // length of one pass
	offset time.Duration // added to the current pass's timestamps
}

// Loop returns a source that plays data (the bytes of a file in any format
// OpenReader reads) endlessly with continuing timestamps, as fast as it is
// read.
func Loop(data []byte, opts ...Option) (Source, error) {
	pass, err := passLength(data, opts)
	if err != nil {
		return nil, err
	}
	// Every pass reads into the same pool, so frames given back from one
	// pass serve the next.
	pool := &media.BufferPool{}
	opts = append(slices.Clip(opts), withPool(pool))
	src, err := OpenReader(bytes.NewReader(data), opts...)
	if err != nil {
		return nil, err
	}
	return &loop{data: data, opts: opts, pool: pool, cur: src, tracks: src.Tracks(), pass: pass}, nil
}

// passLength reads data once: the span of the first track from its first
// frame to its last plus one frame interval.
func passLength(data []byte, opts []Option) (time.Duration, error) {
	src, err := OpenReader(bytes.NewReader(data), opts...)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	first := src.Tracks()[0].Number
	var firstPTS, last, step time.Duration
	seen := false
	for {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		if fr.Track != first {
			continue
		}
		if !seen {
			firstPTS = fr.PTS
		} else if fr.PTS > last {
			step = fr.PTS - last
		}
		last, seen = max(last, fr.PTS), true
	}
	if !seen || last-firstPTS+step <= 0 {
		return 0, fmt.Errorf("device: loop: %w: no frames of track %d", ErrNoTracks, first)
	}
	return last - firstPTS + step, nil
}

func (l *loop) Tracks() []media.Track { return l.tracks }

func (l *loop) ReadFrame() (media.Frame, error) {
	for reopened := false; ; {
		fr, err := l.cur.ReadFrame()
		if errors.Is(err, io.EOF) && !reopened {
			_ = l.cur.Close()
			next, err := OpenReader(bytes.NewReader(l.data), l.opts...)
			if err != nil {
				return media.Frame{}, fmt.Errorf("device: loop: reopen: %w", err)
			}
			l.cur, l.offset, reopened = next, l.offset+l.pass, true
			continue
		}
		if err != nil {
			return media.Frame{}, err
		}
		if fr.PTS >= l.pass {
			continue // overlaps the next pass
		}
		fr.PTS += l.offset
		fr.DTS += l.offset
		return fr, nil
	}
}

func (l *loop) Close() error { return l.cur.Close() }

// Recycle gives a frame's Data back for later passes; see Recycler.
func (l *loop) Recycle(f media.Frame) { l.pool.Put(f.Data) }

// Recycle forwards to the looped clip; see Recycler.
func (t *testPattern) Recycle(f media.Frame) {
	if r, ok := t.src.(Recycler); ok {
		r.Recycle(f)
	}
}

// testPattern paces a loop of the sample clip at its real rate.
type testPattern struct {
	src    Source
	origin time.Time
	once   sync.Once
	closed chan struct{}
}

// NewTestPattern returns the sample clip of package samples/clip (640x360
// H.264 at 30 fps and AAC) looped with continuing timestamps, each frame
// returned when its time comes, as a camera would.
func NewTestPattern() (LiveSource, error) {
	src, err := Loop(sampleclip.MKV)
	if err != nil {
		return nil, fmt.Errorf("device: test pattern: %w", err)
	}
	return &testPattern{src: src, origin: time.Now(), closed: make(chan struct{})}, nil
}

func (t *testPattern) Tracks() []media.Track { return t.src.Tracks() }
func (t *testPattern) Origin() time.Time     { return t.origin }

func (t *testPattern) ReadFrame() (media.Frame, error) {
	select {
	case <-t.closed:
		return media.Frame{}, ErrClosed
	default:
	}
	fr, err := t.src.ReadFrame()
	if err != nil {
		return fr, err
	}
	if d := time.Until(t.origin.Add(fr.DTS)); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-t.closed:
			return media.Frame{}, ErrClosed
		}
	}
	return fr, nil
}

func (t *testPattern) Close() error {
	t.once.Do(func() { close(t.closed) })
	return t.src.Close()
}

var _ LiveSource = (*rtsp.Source)(nil)
var _ LiveSource = (*v4l2.Source)(nil)
