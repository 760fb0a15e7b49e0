package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// Stats are counters of a Source since Open.
type Stats struct {
	// Packets is the number of RTP packets received.
	Packets uint64
	// PacketsLost is the number of RTP packets missing in the sequence
	// numbers.
	PacketsLost uint64
	// Frames is the number of access units assembled.
	Frames uint64
	// FramesDropped counts the frames that could not be delivered: broken by
	// lost or malformed packets, undecodable until the next key frame, or
	// dropped because the reader fell behind.
	FramesDropped uint64
	// Reconnects is the number of sessions re-established after the camera
	// or the network went away.
	Reconnects uint64
	// TimestampRepairs counts the frames whose timestamps were re-anchored
	// (camera timestamps that went back further than B-frames explain,
	// repeated or jumped ahead) or moved later to keep the frames of all
	// tracks in order. Reordered B-frames are not repairs.
	TimestampRepairs uint64
	// Transport is the lower transport in use, UDP or TCP.
	Transport Transport
}

type counters struct {
	packets, lost, frames, dropped, reconnects, repairs atomic.Uint64
}

// srcTrack is a track of the source, kept across sessions.
type srcTrack struct {
	number        uint64
	info          media.Track // guarded by Source.mu
	vps, sps, pps [][]byte    // the parameter sets in info.CodecPrivate

	reorder reorderInfo // from the SPS in info.CodecPrivate, guarded by Source.mu

	// The local time of the track's latest frame, and the state of video
	// reordering; used by one session at a time.
	last    time.Duration
	hasLast bool
	order   orderState
}

// Source is a live RTSP camera stream: its tracks, then its frames for as
// long as it runs. A lost camera or network is reconnected with backoff and
// the timestamps go on from where they were.
//
// ReadFrame is not safe for concurrent use; the other methods are.
type Source struct {
	pool       media.BufferPool // frames' buffers, given back through Recycle
	cfg        *config
	log        *slog.Logger
	hostport   string
	requestURL string // without credentials
	redacted   string // for messages
	user, pass string
	hasCreds   bool
	base       time.Time // local time 0

	mu          sync.Mutex
	tracks      []*srcTrack
	originSet   bool
	origin      time.Duration
	ready       chan struct{} // closed when every track has its configuration and the origin is set
	readyClosed bool
	transport   atomic.Int32
	tcpOnly     bool

	stats counters
	q     *frameQueue

	ctx       context.Context // lifetime, cancelled by Close
	cancel    context.CancelFunc
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	timer     *time.Timer
}

// Open connects to the camera at rawURL (rtsp://user:pass@host:554/path),
// reads its session description, sets the tracks up and starts playing. It
// returns once the tracks are complete (video parameter sets from the SDP,
// or from the stream within the timeout) and the first frames arrived.
// Failures of this first connection are returned; later ones are
// reconnected. ctx bounds Open only; Close stops the source.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Source, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.log, base: time.Now(), ready: make(chan struct{}), closed: make(chan struct{})}
	if err := s.parseURL(rawURL); err != nil {
		return nil, err
	}
	s.q = newFrameQueue(cfg.interleaveWindow, &s.stats.dropped, &s.stats.repairs)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	sess, err := s.openFirst(ctx)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.wg.Add(1)
	go s.run(sess)
	return s, nil
}

// parseURL checks the URL and splits the credentials off.
func (s *Source) parseURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if !strings.EqualFold(u.Scheme, "rtsp") || u.Hostname() == "" {
		u.User = nil
		return fmt.Errorf("%w: %q: want rtsp://host[:port]/path", ErrInvalidURL, u.Redacted())
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		s.hasCreds = true
		u.User = nil
	}
	port := u.Port()
	if port == "" {
		port = "554"
	}
	s.hostport = net.JoinHostPort(u.Hostname(), port)
	u.Scheme = "rtsp"
	s.requestURL = u.String()
	s.redacted = s.requestURL
	return nil
}

// now is the local time: the monotonic time since the source was created.
func (s *Source) now() time.Duration { return time.Since(s.base) }

// transportFor returns the transport the next session tries.
func (s *Source) transportFor() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cfg.transport != Auto:
		return s.cfg.transport
	case s.tcpOnly:
		return TCP
	}
	return UDP
}

func (s *Source) useTCP() {
	s.mu.Lock()
	s.tcpOnly = true
	s.mu.Unlock()
}

// connect runs a handshake, falling back from UDP to TCP under Auto when the
// server refuses UDP, and starts the session.
func (s *Source) connect(ctx context.Context) (*session, error) {
	for {
		tr := s.transportFor()
		sess := newSession(s, tr)
		err := sess.handshake(ctx)
		if err == nil {
			s.transport.Store(int32(tr))
			sess.start()
			var tracks []string
			for _, t := range s.Tracks() {
				tracks = append(tracks, describeTrack(t))
			}
			s.log.Info("rtsp: playing", "url", s.redacted, "transport", tr.String(), "session", sess.id,
				"tracks", strings.Join(tracks, ", "))
			return sess, nil
		}
		if s.cfg.transport == Auto && tr == UDP && errors.Is(err, ErrTransport) && ctx.Err() == nil {
			s.log.Info("rtsp: UDP refused, using TCP", "err", err)
			s.useTCP()
			continue
		}
		return nil, err
	}
}

// openFirst connects and waits until the source is ready.
func (s *Source) openFirst(ctx context.Context) (*session, error) {
	for {
		sess, err := s.connect(ctx)
		if err != nil {
			return nil, err
		}
		timer := time.NewTimer(s.cfg.timeout + s.cfg.syncWait)
		select {
		case <-s.ready:
			timer.Stop()
			return sess, nil
		case <-sess.done:
			timer.Stop()
			err = sess.err
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = s.notReadyError()
		}
		sess.close()
		if errors.Is(err, errUDPSilent) && ctx.Err() == nil {
			s.log.Info("rtsp: nothing over UDP, using TCP")
			s.useTCP()
			continue
		}
		return nil, fmt.Errorf("rtsp: open %s: %w", s.redacted, err)
	}
}

// notReadyError says what Open is still waiting for.
func (s *Source) notReadyError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tracks {
		if len(t.info.CodecPrivate) == 0 {
			return fmt.Errorf("%w for track %d (%s) within %v", ErrNoParameterSets, t.number, t.info.Codec, s.cfg.timeout)
		}
	}
	return fmt.Errorf("%w: no frames within %v", ErrNoPackets, s.cfg.timeout)
}

// run keeps the source going: it waits for the session to end and
// reconnects with backoff until Close.
func (s *Source) run(sess *session) {
	defer s.wg.Done()
	backoff := s.cfg.minBackoff
	for {
		err := sess.wait(s.ctx)
		sess.close()
		if s.ctx.Err() != nil {
			return
		}
		if sess.delivered.Load() > 0 {
			backoff = s.cfg.minBackoff
		}
		switchOnly := errors.Is(err, errUDPSilent)
		if switchOnly {
			s.log.Info("rtsp: nothing over UDP, using TCP")
			s.useTCP()
		} else {
			s.log.Warn("rtsp: connection lost, reconnecting", "url", s.redacted, "err", err, "in", backoff)
		}
		for {
			if !switchOnly {
				if !s.sleep(backoff) {
					return
				}
				backoff = min(backoff*2, s.cfg.maxBackoff)
			}
			next, err := s.connect(s.ctx)
			if err == nil {
				if !switchOnly {
					s.stats.reconnects.Add(1)
				}
				sess = next
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrTracksChanged) {
				s.log.Error("rtsp: stopping", "url", s.redacted, "err", err)
				s.q.setErr(err)
				return
			}
			switchOnly = false
			s.log.Warn("rtsp: reconnect failed", "url", s.redacted, "err", err, "retry_in", backoff)
		}
	}
}

// sleep waits d or until Close; it reports whether the source is still open.
func (s *Source) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// adoptTracks takes the tracks of a new session: the first time they become
// the source's tracks; later they must have the same codecs, and parameter
// sets in the session description replace the old ones.
func (s *Source) adoptTracks(specs []trackSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracks == nil {
		kinds := make([]media.Kind, len(specs))
		for i, sp := range specs {
			t := &srcTrack{number: uint64(i + 1)}
			t.info = media.Track{Number: t.number, Kind: sp.kind, Codec: sp.codec}
			if sp.kind == media.KindAudio {
				t.info.SampleRate, t.info.Channels = sp.sampleRate, sp.channels
				t.info.CodecPrivate = sp.asc
			}
			s.tracks = append(s.tracks, t)
			kinds[i] = sp.kind
		}
		s.q.setTracks(kinds, s.now())
	} else {
		if len(specs) != len(s.tracks) {
			return fmt.Errorf("%w: %d tracks, were %d", ErrTracksChanged, len(specs), len(s.tracks))
		}
		for i, sp := range specs {
			if sp.codec != s.tracks[i].info.Codec {
				return fmt.Errorf("%w: track %d is %s, was %s", ErrTracksChanged, i+1, sp.codec, s.tracks[i].info.Codec)
			}
		}
	}
	for i, sp := range specs {
		t := s.tracks[i]
		switch sp.kind {
		case media.KindVideo:
			if len(sp.sps) > 0 && len(sp.pps) > 0 {
				s.setParameterSets(t, sp.vps, sp.sps, sp.pps, "session description")
			}
		case media.KindAudio:
			if sp.asc != nil && !slices.Equal(sp.asc, t.info.CodecPrivate) {
				s.log.Info("rtsp: audio configuration changed", "track", t.number, "config", fmt.Sprintf("%x", sp.asc))
				t.info.CodecPrivate = sp.asc
				t.info.SampleRate, t.info.Channels = sp.sampleRate, sp.channels
			}
		}
	}
	s.checkReady()
	return nil
}

// setParameterSets updates a video track's configuration when the parameter
// sets differ from the current ones (s.mu held).
func (s *Source) setParameterSets(t *srcTrack, vps, sps, pps [][]byte, from string) {
	if sameNALUs(t.vps, vps) && sameNALUs(t.sps, sps) && sameNALUs(t.pps, pps) {
		return
	}
	cp, w, h, ri, err := videoConfig(t.info.Codec, vps, sps, pps)
	if err != nil {
		s.log.Warn("rtsp: unusable parameter sets", "track", t.number, "from", from, "err", err)
		return
	}
	if slices.Equal(cp, t.info.CodecPrivate) {
		return
	}
	if len(t.info.CodecPrivate) > 0 {
		s.log.Info("rtsp: parameter sets changed", "track", t.number, "from", from, "width", w, "height", h)
	}
	clone := func(x [][]byte) [][]byte {
		out := make([][]byte, len(x))
		for i := range x {
			out[i] = slices.Clone(x[i])
		}
		return out
	}
	t.vps, t.sps, t.pps = clone(vps), clone(sps), clone(pps)
	t.info.CodecPrivate, t.info.Width, t.info.Height = cp, w, h
	if ri != t.reorder && len(t.sps) > 0 {
		s.log.Debug("rtsp: frame reordering of the SPS", "track", t.number, "frames", ri.frames, "known", ri.known)
	}
	t.reorder = ri
}

// reorderInfo returns what the SPS of video track i says about frame
// reordering.
func (s *Source) reorderInfo(i int) reorderInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracks[i].reorder
}

// inBandParameterSets looks for parameter sets in an access unit of track i.
func (s *Source) inBandParameterSets(i int, au [][]byte) {
	var vps, sps, pps [][]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracks[i]
	switch t.info.Codec {
	case media.CodecH264:
		sps, pps = h264.ParameterSets(au)
	case media.CodecH265:
		vps, sps, pps = h265.ParameterSets(au)
	}
	if len(vps)+len(sps)+len(pps) == 0 {
		return
	}
	if len(vps) == 0 {
		vps = t.vps
	}
	if len(sps) == 0 {
		sps = t.sps
	}
	if len(pps) == 0 {
		pps = t.pps
	}
	if len(sps) == 0 || len(pps) == 0 || t.info.Codec == media.CodecH265 && len(vps) == 0 {
		return
	}
	s.setParameterSets(t, vps, sps, pps, "stream")
	s.checkReady()
}

// hasConfig reports whether track i has its decoder configuration.
func (s *Source) hasConfig(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tracks[i].info.CodecPrivate) > 0 || s.tracks[i].info.Codec == media.CodecPCMA || s.tracks[i].info.Codec == media.CodecPCMU
}

// setOrigin fixes the origin at the earliest of the first frames.
func (s *Source) setOrigin(ats []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.originSet || len(ats) == 0 {
		return
	}
	s.origin, s.originSet = slices.Min(ats), true
	s.checkReady()
}

// originLocal returns the local time of PTS 0.
func (s *Source) originLocal() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.origin, s.originSet
}

// checkReady closes s.ready once the source is complete (s.mu held).
func (s *Source) checkReady() {
	if s.readyClosed || !s.originSet || s.tracks == nil {
		return
	}
	for _, t := range s.tracks {
		if len(t.info.CodecPrivate) == 0 && t.info.Codec != media.CodecPCMA && t.info.Codec != media.CodecPCMU {
			return
		}
	}
	s.readyClosed = true
	close(s.ready)
}

// Tracks returns the tracks: video first (number 1) when there is one, then
// audio. CodecPrivate follows parameter set changes in the stream; the
// returned slice is a copy.
func (s *Source) Tracks() []media.Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]media.Track, len(s.tracks))
	for i, t := range s.tracks {
		out[i] = t.info
		out[i].CodecPrivate = slices.Clone(t.info.CodecPrivate)
	}
	return out
}

// ReadFrame returns the next frame: an access unit with 4-byte NAL unit
// lengths for video, a raw AAC (or G.711) frame for audio. Frames come in
// DTS order across tracks; per track the DTS increase strictly. PTS equals
// DTS except for video with B-frames, whose PTS follow the presentation
// order and whose DTS are derived (see the package documentation). PTS is
// measured from Origin. Video frames before the first key frame, and
// after lost packets until the next key frame, are dropped. ReadFrame blocks
// until a frame is there, across reconnects; after Close it returns an error
// wrapping ErrClosed, and if the camera comes back with other codecs an
// error wrapping ErrTracksChanged.
func (s *Source) ReadFrame() (media.Frame, error) {
	for {
		select {
		case <-s.closed:
			return media.Frame{}, ErrClosed
		default:
		}
		f, ok, wait, err := s.q.next(s.now())
		if ok {
			return f, nil
		}
		if err != nil {
			return media.Frame{}, err
		}
		var timeout <-chan time.Time
		if wait > 0 {
			if s.timer == nil {
				s.timer = time.NewTimer(wait)
			} else {
				s.timer.Reset(wait)
			}
			timeout = s.timer.C
		}
		select {
		case <-s.closed:
			return media.Frame{}, ErrClosed
		case <-s.q.notify:
		case <-timeout:
		}
		if s.timer != nil {
			s.timer.Stop()
		}
	}
}

// Origin returns the wall-clock time of PTS 0: the capture time of the
// earliest first frame, in local time.
func (s *Source) Origin() time.Time {
	o, _ := s.originLocal()
	return s.base.Add(o)
}

// Stats returns the counters.
func (s *Source) Stats() Stats {
	return Stats{
		Packets:          s.stats.packets.Load(),
		PacketsLost:      s.stats.lost.Load(),
		Frames:           s.stats.frames.Load(),
		FramesDropped:    s.stats.dropped.Load(),
		Reconnects:       s.stats.reconnects.Load(),
		TimestampRepairs: s.stats.repairs.Load(),
		Transport:        Transport(s.transport.Load()),
	}
}

// Close tears the session down and stops the source. ReadFrame then returns
// ErrClosed.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// Recycle gives a frame's Data back once the consumer is done with it (for
// the producer: once its fragment is acknowledged); later access units are
// gathered into that memory instead of new allocations. Buffers that stay
// unused for 10 s are dropped, so the source keeps about what the consumer
// holds at once. Nothing may use the Data afterwards. It implements
// kvskit/device's Recycler.
func (s *Source) Recycle(f media.Frame) { s.pool.Put(f.Data) }
