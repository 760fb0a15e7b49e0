package device

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"

	"kvskit/media"
)

// Source yields the tracks of a stream, then its frames.
//
// ReadFrame is not safe for concurrent use; Close may be called from another
// goroutine, after which ReadFrame returns ErrClosed (a ReadFrame blocked in a
// read of the underlying input returns once that read does).
type Source interface {
	// Tracks lists the tracks, numbered 1..n with video first, each with
	// Codec, CodecPrivate (AVCDecoderConfigurationRecord,
	// HEVCDecoderConfigurationRecord or AudioSpecificConfig), Width and Height
	// (from the SPS, cropping applied) or SampleRate and Channels. The slice
	// and the tracks must not be modified.
	Tracks() []media.Track
	// ReadFrame returns the next frame in decoding order across tracks (DTS
	// non-decreasing when interleaving tracks), io.EOF at the clean end.
	// Frame.Data belongs to the caller and is never reused by the source
	// (consumers may share it read-only) unless the caller gives it back
	// through Recycler. Video data is length-prefixed
	// (4-byte AVCC/HVCC) access units, AAC raw frames. PTS and DTS are
	// offsets from the stream's first timestamp (>= 0). After an error every
	// call returns that error.
	ReadFrame() (media.Frame, error)
	// Close releases the input (the file of OpenFile, temporary files); it
	// does not close the reader given to OpenReader.
	Close() error
}

// Format names a file format.
type Format string

// Formats this package reads.
const (
	FormatMKV  Format = "mkv"  // Matroska, also WebM
	FormatMP4  Format = "mp4"  // ISO base media file format, progressive or fragmented
	FormatH264 Format = "h264" // H.264 Annex-B elementary stream
	FormatH265 Format = "h265" // H.265 Annex-B elementary stream
	FormatTS   Format = "ts"   // MPEG-2 transport stream
)

func (f Format) valid() bool {
	switch f {
	case FormatMKV, FormatMP4, FormatH264, FormatH265, FormatTS:
		return true
	}
	return false
}

// config is what the options set.
type config struct {
	fps    float64 // 0: from the SPS, else defaultFPS
	format Format  // "": detect
	log    *slog.Logger
	pool   *media.BufferPool // the source's frame buffers (see Recycler)
}

const defaultFPS = 30

// Option configures OpenFile and OpenReader.
type Option func(*config) error

// WithFPS sets the frame rate of Annex-B elementary streams (FormatH264,
// FormatH265), which carry no timestamps. Without it the rate comes from the
// H.264 SPS timing information, or is 30. Other formats ignore it.
func WithFPS(fps float64) Option {
	return func(c *config) error {
		if !(fps > 0) || math.IsInf(fps, 0) || fps > 1000 {
			return fmt.Errorf("%w: frame rate %v (want 0 < fps <= 1000)", ErrInvalidOption, fps)
		}
		c.fps = fps
		return nil
	}
}

// WithFormat forces the input format instead of detecting it.
func WithFormat(f Format) Option {
	return func(c *config) error {
		if !f.valid() {
			return fmt.Errorf("%w: format %q (want mkv, mp4, h264, h265 or ts)", ErrInvalidOption, string(f))
		}
		c.format = f
		return nil
	}
}

// WithLogger sets the logger for warnings about the input (dropped tracks and
// frames, timestamp repairs). The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// withPool makes the source read frames into pool (Loop shares one pool
// across its passes).
func withPool(pool *media.BufferPool) Option {
	return func(c *config) error {
		c.pool = pool
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{log: slog.New(slog.DiscardHandler), pool: &media.BufferPool{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// detectSize is how many bytes OpenFile and OpenReader look at to detect the
// format.
const detectSize = 4096

// readBufferSize is the size of the buffer over the input.
const readBufferSize = 64 << 10

// OpenFile opens the file at path, detects its format (unless WithFormat is
// given) and reads its tracks. MP4 files are read at random in DTS order; the
// other formats are read as a stream.
func OpenFile(path string, opts ...Option) (Source, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("device: %w", err)
	}
	format := cfg.format
	if format == "" {
		head := make([]byte, detectSize)
		n, err := f.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			f.Close()
			return nil, fmt.Errorf("device: %s: %w", path, err)
		}
		if format, err = Detect(head[:n]); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var d demuxer
	switch {
	case format == FormatMP4 && fi.Mode().IsRegular():
		d, err = newMP4FileDemuxer(f, fi.Size(), cfg)
	case format == FormatMKV:
		// The Matroska reader buffers what it reads and reads large blocks
		// straight into frame buffers: a buffer of our own in between
		// would copy every block once more.
		d, err = newMKVDemuxer(f, cfg)
	default:
		d, err = newDemuxer(format, bufio.NewReaderSize(f, readBufferSize), cfg)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := newSource(d, cfg, f.Close)
	if err != nil {
		d.close()
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// OpenReader reads a stream from r, for example stdin, detecting its format
// from the first bytes (unless WithFormat is given) and reading its tracks.
// It reads r once from the start and never holds the whole input in memory;
// the one exception to streaming is a progressive MP4 whose moov box follows
// its mdat, which is copied from the mdat on to a temporary file (removed by
// Close). Close does not close r.
func OpenReader(r io.Reader, opts ...Option) (Source, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, readBufferSize)
	format := cfg.format
	if format == "" {
		head, err := br.Peek(detectSize)
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("device: reading the first bytes: %w", err)
		}
		if format, err = Detect(head); err != nil {
			return nil, err
		}
	}
	d, err := newDemuxer(format, br, cfg)
	if err != nil {
		return nil, err
	}
	s, err := newSource(d, cfg, nil)
	if err != nil {
		d.close()
		return nil, err
	}
	return s, nil
}

// newDemuxer returns the demuxer of format reading the stream br.
func newDemuxer(format Format, br *bufio.Reader, cfg *config) (demuxer, error) {
	switch format {
	case FormatMKV:
		return newMKVDemuxer(br, cfg)
	case FormatMP4:
		return newMP4StreamDemuxer(br, cfg)
	case FormatH264, FormatH265:
		return newAnnexBDemuxer(br, format, cfg)
	case FormatTS:
		return newTSDemuxer(br, cfg)
	}
	return nil, fmt.Errorf("%w: format %q", ErrInvalidOption, string(format))
}

// source is the Source of every file format: it completes and numbers the
// demuxer's tracks, merges their frames by DTS and makes the timestamps
// relative to the first frame.
type source struct {
	d      demuxer
	pool   *media.BufferPool
	log    *slog.Logger
	closer func() error

	tracks []media.Track
	out    []int // demuxer track index -> output track index, -1 if dropped
	in     []int // output track index -> demuxer track index
	il     interleaver
	ended  bool  // the demuxer returned io.EOF or an error
	fail   error // that error, returned once the queues are empty
	err    error // returned by every further ReadFrame

	started bool
	origin  int64 // ns
	lastDTS int64
	warned  []bool

	mu     sync.Mutex
	closed bool
}

var _ Source = (*source)(nil)

// Limits of waiting for a silent track, see the package documentation.
const (
	maxQueueSpan  = int64(30e9)
	maxQueueBytes = 64 << 20
	// maxResolvePackets bounds how many frames are read while completing
	// the tracks' decoder configurations.
	maxResolvePackets = 4096
)

func newSource(d demuxer, cfg *config, closer func() error) (*source, error) {
	s := &source{d: d, pool: cfg.pool, log: cfg.log, closer: closer}
	infos := d.tracks()
	if len(infos) == 0 {
		return nil, errorf(d.format(), ErrNoTracks, "no audio or video track of a supported codec")
	}
	completed := make([]bool, len(infos))
	for i, t := range infos {
		if t.ready() {
			t.complete()
			completed[i] = true
		}
	}

	// Read frames until every track has its decoder configuration.
	var pending []packet
	var span spanTracker
	pendingBytes := 0
	dropped := make([]int, len(infos))
	for !allReady(infos) {
		p, err := d.next()
		if err == io.EOF {
			s.ended = true
			break
		}
		if err != nil {
			return nil, err
		}
		if !completed[p.track] {
			t := infos[p.track]
			if !t.ready() && !t.resolve(p.data) {
				dropped[p.track]++
				continue
			}
			t.complete()
			completed[p.track] = true
		}
		pending = append(pending, p)
		pendingBytes += len(p.data)
		span.add(p.dts)
		if len(pending) >= maxResolvePackets || pendingBytes >= maxQueueBytes || span.width() > maxQueueSpan {
			break
		}
	}

	// Number the usable tracks, video first.
	s.out = make([]int, len(infos))
	var missing []string
	noParams := false
	for _, kind := range []media.Kind{media.KindVideo, media.KindAudio} {
		for i, t := range infos {
			if t.Kind != kind {
				continue
			}
			if !t.ready() {
				s.out[i] = -1
				what := fmt.Sprintf("%s track %d %s", t.Codec, i+1, t.Name)
				if t.Kind == media.KindVideo {
					noParams = true
					what += " (no parameter sets)"
				} else {
					what += " (no configuration)"
				}
				missing = append(missing, what)
				continue
			}
			s.out[i] = len(s.tracks)
			s.in = append(s.in, i)
			tr := t.Track
			tr.Number = uint64(len(s.tracks) + 1)
			s.tracks = append(s.tracks, tr)
		}
	}
	for i, t := range infos {
		if t.Kind != media.KindVideo && t.Kind != media.KindAudio {
			s.out[i] = -1
		}
		if dropped[i] > 0 && s.out[i] >= 0 {
			s.log.Warn("device: dropped frames before the decoder configuration",
				"format", d.format(), "codec", t.Codec, "frames", dropped[i])
		}
	}
	if len(s.tracks) == 0 {
		if noParams {
			return nil, errorf(d.format(), ErrNoParameterSets, "no SPS/PPS before the first picture: %v", missing)
		}
		return nil, errorf(d.format(), ErrNoTracks, "no track could be configured: %v", missing)
	}
	for _, m := range missing {
		s.log.Warn("device: dropping a track without decoder configuration", "format", d.format(), "track", m)
	}
	s.warned = make([]bool, len(s.tracks))
	s.il.init(len(s.tracks))
	for _, p := range pending {
		if o := s.out[p.track]; o >= 0 {
			s.il.push(o, p)
		}
	}
	return s, nil
}

func allReady(ts []*trackInfo) bool {
	for _, t := range ts {
		if !t.ready() {
			return false
		}
	}
	return true
}

func (s *source) Tracks() []media.Track { return s.tracks }

func (s *source) ReadFrame() (media.Frame, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return media.Frame{}, ErrClosed
	}
	if s.err != nil {
		return media.Frame{}, s.err
	}
	for {
		if o, ok := s.il.pick(s.ended, s.trackDone); ok {
			return s.emit(o, s.il.pop(o)), nil
		}
		if s.ended {
			s.err = io.EOF
			if s.fail != nil {
				s.err = s.fail
			}
			return media.Frame{}, s.err
		}
		p, err := s.d.next()
		if err != nil {
			// Deliver what is queued, then the error.
			s.ended = true
			if err != io.EOF {
				s.fail = err
			}
			continue
		}
		if o := s.out[p.track]; o >= 0 {
			s.il.push(o, p)
		}
	}
}

func (s *source) trackDone(o int) bool { return s.d.done(s.in[o]) }

// emit turns a queued packet into a frame relative to the origin.
func (s *source) emit(o int, p packet) media.Frame {
	if !s.started {
		s.started = true
		s.origin = p.dts
		s.lastDTS = p.dts
	}
	if p.dts < s.lastDTS {
		if !s.warned[o] {
			s.warned[o] = true
			s.log.Warn("device: raising the DTS of a lagging track to keep decoding order",
				"format", s.d.format(), "track", o+1, "by", fmtDur(s.lastDTS-p.dts))
		}
		p.dts = s.lastDTS
	}
	if p.pts < p.dts {
		p.pts = p.dts
	}
	s.lastDTS = p.dts
	return media.Frame{
		Track: uint64(o + 1),
		PTS:   dur(p.pts - s.origin),
		DTS:   dur(p.dts - s.origin),
		Key:   p.key,
		Data:  p.data,
	}
}

func (s *source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.d.close()
	if s.closer != nil {
		if cerr := s.closer(); err == nil {
			err = cerr
		}
	}
	return err
}
