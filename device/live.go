package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
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
//	test:///path/to/clip.mkv         a file of one's own looped at its real rate
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
		if u.Host != "" || u.Opaque != "" {
			return nil, fmt.Errorf("device: source %q: %w: a test pattern file takes an absolute path (test:///path/to/clip.mkv)", uri, ErrInvalidOption)
		}
		if u.Path != "" && u.Path != "/" {
			return NewTestPatternFile(u.Path)
		}
		return NewTestPattern()
	default:
		return nil, fmt.Errorf("device: source %q: %w: scheme %q (want rtsp://, v4l2:// or test://)", uri, ErrUnsupported, u.Scheme)
	}
}

// PassesThrough reports whether OpenURI would open a source that hands on
// its frames as they come, never encoding them: RTSP cameras and test
// patterns. A V4L2 camera may convert and encode pixels; a URI OpenURI
// refuses passes nothing.
func PassesThrough(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "rtsp", "rtsps", "test":
		return true
	}
	return false
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
	m := passMeter{track: src.Tracks()[0].Number}
	for {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		m.add(fr)
	}
	return m.length()
}

// passMeter measures one pass of a looped file from its frames: the span of
// one track from its first frame to its last plus one frame interval.
type passMeter struct {
	track             uint64
	first, last, step time.Duration
	seen              bool
}

func (m *passMeter) add(fr media.Frame) {
	if fr.Track != m.track {
		return
	}
	if !m.seen {
		m.first = fr.PTS
	} else if fr.PTS > m.last {
		m.step = fr.PTS - m.last
	}
	m.last, m.seen = max(m.last, fr.PTS), true
}

func (m *passMeter) length() (time.Duration, error) {
	if !m.seen || m.last-m.first+m.step <= 0 {
		return 0, fmt.Errorf("device: loop: %w: no frames of track %d", ErrNoTracks, m.track)
	}
	return m.last - m.first + m.step, nil
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

// testPattern plays a clip demuxed once, in a loop at its real rate.
type testPattern struct {
	tracks []media.Track
	frames []media.Frame   // one pass, in DTS order; Data read-only, shared by every pass
	wake   []time.Duration // when frames[i] may go, from its pass's start
	pass   time.Duration   // length of one pass
	origin time.Time
	once   sync.Once
	closed chan struct{}

	// Used by ReadFrame only.
	next    int           // index in frames of the next frame
	offset  time.Duration // start of the current pass
	through time.Duration // the last wake-up: frames due by then go at once
	timer   *time.Timer
}

// NewTestPattern returns the sample clip of package samples/clip (640x360
// H.264 at 30 fps and AAC) looped with continuing timestamps, each frame
// returned once its time has come, as a camera would. The video paces both
// tracks with one timer: an audio frame goes out with the first video frame
// due at or after it, so the source wakes once per video frame.
//
// The clip is demuxed once, when the source is opened, and its frames are
// handed out from the clip's own bytes: every pass hands out the same
// read-only memory, so reading allocates nothing and there is nothing to
// recycle (the source is no Recycler).
func NewTestPattern() (LiveSource, error) {
	t, err := newClipPattern(sampleclip.MKV)
	if err != nil {
		return nil, fmt.Errorf("device: test pattern: %w", err)
	}
	return t, nil
}

// maxPatternFile bounds the size of a file NewTestPatternFile loops: the
// file is held in memory.
const maxPatternFile = 64 << 20

// NewTestPatternFile is NewTestPattern with the file at path (any format
// Open reads) in place of the sample clip, for example a recording of the
// camera to be installed. The file is read into memory once; it must hold
// less than 64 MB.
func NewTestPatternFile(path string) (LiveSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("device: test pattern: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxPatternFile {
		return nil, fmt.Errorf("device: test pattern: %s: %w: %d MB, more than %d MB (the file is held in memory)", path, ErrInvalidOption, fi.Size()>>20, maxPatternFile>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPatternFile+1))
	if err != nil {
		return nil, fmt.Errorf("device: test pattern: %s: %w", path, err)
	}
	if len(data) > maxPatternFile {
		return nil, fmt.Errorf("device: test pattern: %s: %w: more than %d MB (the file is held in memory)", path, ErrInvalidOption, maxPatternFile>>20)
	}
	t, err := newClipPattern(data)
	if err != nil {
		return nil, fmt.Errorf("device: test pattern: %s: %w", path, err)
	}
	return t, nil
}

// newClipPattern demuxes data (any format OpenReader reads) into one pass
// of frames and works out when each frame is due. A frame stored verbatim in
// data (as Matroska stores unlaced frames) keeps pointing into data; any
// other is copied.
func newClipPattern(data []byte) (*testPattern, error) {
	pool := &media.BufferPool{}
	src, err := OpenReader(bytes.NewReader(data), withPool(pool))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	tracks := src.Tracks()
	m := passMeter{track: tracks[0].Number}
	var frames []media.Frame
	from := map[uint64]int{} // per track: where in data to look for its next frame
	for {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		m.add(fr)
		read := fr.Data
		if i := bytes.Index(data[from[fr.Track]:], read); i >= 0 {
			at := from[fr.Track] + i
			fr.Data = data[at : at+len(read) : at+len(read)]
			from[fr.Track] = at + len(read)
		} else {
			fr.Data = bytes.Clone(read)
		}
		pool.Put(read)
		frames = append(frames, fr)
	}
	pass, err := m.length()
	if err != nil {
		return nil, err
	}
	// Frames beyond the pass would overlap the next one.
	frames = slices.Clip(slices.DeleteFunc(frames, func(fr media.Frame) bool { return fr.PTS >= pass }))
	// A frame of the pacing (first) track is due at its DTS; any other frame
	// with the pacing frame that is due at or after it: the one before it
	// when they share a DTS, else the next one, or the next pass's first.
	wake := make([]time.Duration, len(frames))
	next := pass
	for i := range frames {
		if frames[i].Track == m.track {
			next += frames[i].DTS
			break
		}
	}
	for i := len(frames) - 1; i >= 0; i-- {
		if frames[i].Track == m.track {
			next = frames[i].DTS
		}
		wake[i] = next
	}
	through := time.Duration(-1)
	for i := range frames {
		if frames[i].DTS <= through {
			wake[i] = through
		}
		through = wake[i]
	}
	return &testPattern{
		tracks: tracks, frames: frames, wake: wake, pass: pass,
		origin: time.Now(), closed: make(chan struct{}), through: -1,
	}, nil
}

func (t *testPattern) Tracks() []media.Track { return t.tracks }
func (t *testPattern) Origin() time.Time     { return t.origin }

func (t *testPattern) ReadFrame() (media.Frame, error) {
	select {
	case <-t.closed:
		return media.Frame{}, ErrClosed
	default:
	}
	if t.next == len(t.frames) {
		t.next, t.offset = 0, t.offset+t.pass
	}
	fr, wake := t.frames[t.next], t.offset+t.wake[t.next]
	t.next++
	fr.PTS += t.offset
	fr.DTS += t.offset
	if wake <= t.through {
		return fr, nil
	}
	t.through = wake
	if d := time.Until(t.origin.Add(wake)); d > 0 {
		if t.timer == nil {
			t.timer = time.NewTimer(d)
		} else {
			t.timer.Reset(d)
		}
		select {
		case <-t.timer.C:
		case <-t.closed:
			t.timer.Stop()
			return media.Frame{}, ErrClosed
		}
	}
	return fr, nil
}

func (t *testPattern) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}

var _ LiveSource = (*rtsp.Source)(nil)
var _ LiveSource = (*v4l2.Source)(nil)
