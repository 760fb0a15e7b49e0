package producer

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"kvskit/fragment"
	"kvskit/media"
)

// maxReported bounds the fragment failures Close reports individually, so a
// long-running live producer that drops often does not grow without bound.
const maxReported = 1000

// entry is one fragment held in the buffer until it is acknowledged.
type entry struct {
	ord      uint64 // position in the producer's order (sending order)
	frag     *fragment.Fragment
	tc       int64 // cluster timecode, ms since the epoch
	size     int64
	dur      time.Duration
	closedAt time.Time
	number   string
	sentIn   uint64 // id of the last session that sent it (0: never)
	sends    int
	written  bool // a session wrote it whole (its ACK may have been lost)
	gopStart bool // its video starts with a key frame (or it has no video)
	frames   int  // frames in it (0: unknown, for a fragment an earlier run spooled)
	inflight bool
	removed  bool // taken out of the buffer while in flight: release when written

	// With a spool: spooling while queued for the spool (not sent before it
	// is written), spoolID its file, onDisk when its frames left memory (or
	// it was recovered from an earlier run) and must be read back to send.
	spooling bool
	spoolID  uint64
	onDisk   bool
}

// Producer uploads one stream. Its methods are safe for concurrent use,
// but frames must be written in order.
type Producer struct {
	cfg    Config
	tracks []media.Track
	cp     *controlPlane
	log    *slog.Logger
	hc     *http.Client
	ownHC  bool

	ctx     context.Context // lives until Close; cancelled to abort
	cancel  context.CancelCauseFunc
	runDone chan struct{}
	wake    chan struct{}
	idle    *time.Timer

	bytesSent atomic.Int64

	mu         sync.Mutex
	frag       *fragment.Fragmenter
	open       bool // the fragmenter holds frames of an open fragment
	lastFrame  time.Time
	waiting    int      // WriteFrame calls waiting for buffer space
	buf        []*entry // ordered by ord; all unacknowledged
	bufBytes   int64
	bufDur     time.Duration
	nextOrd    uint64
	room       chan struct{} // closed when buffer space is freed
	closing    bool
	retention  int
	endpoint   string
	endpointAt time.Time
	redescribe bool
	sessSeq    uint64
	stats      Stats
	lost       []FragmentFailure
	lostMore   int
	evq        []Event

	evMu    sync.Mutex
	evSpare []Event

	spool *spooler // nil without Config.SpoolDir
}

// New prepares the upload of cfg.StreamName with the given tracks: it
// describes the stream, creates it when missing and cfg.CreateStream is set
// (waiting until it is ACTIVE), tags it, and finds its PutMedia endpoint.
// ctx bounds this setup only; the producer then runs until Close.
func New(ctx context.Context, cfg Config, tracks []media.Track) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(tracks) == 0 || len(tracks) > 3 {
		return nil, fmt.Errorf("%w: stream %s: %d tracks; 1 to 3 are allowed", ErrInvalidConfig, cfg.StreamName, len(tracks))
	}
	tracks = slices.Clone(tracks)
	for i, t := range tracks {
		if t.Number == 0 {
			return nil, fmt.Errorf("%w: stream %s: track %d has number 0", ErrInvalidConfig, cfg.StreamName, i)
		}
		for _, u := range tracks[:i] {
			if u.Number == t.Number {
				return nil, fmt.Errorf("%w: stream %s: track number %d used twice", ErrInvalidConfig, cfg.StreamName, t.Number)
			}
		}
	}
	frag, err := fragment.New(tracks,
		fragment.WithTargetDuration(cfg.FragmentDuration),
		fragment.WithTimecodeUnit(time.Millisecond),
		fragment.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("producer: stream %s: fragmenter: %w", cfg.StreamName, err)
	}
	p := &Producer{
		cfg:     cfg,
		tracks:  tracks,
		log:     cfg.Logger.With("stream", cfg.StreamName),
		frag:    frag,
		runDone: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		room:    make(chan struct{}),
	}
	if cfg.SpoolDir != "" {
		if err := p.openSpool(); err != nil {
			return nil, err
		}
	}
	p.cp, p.ownHC, err = newControlPlane(ctx, &p.cfg)
	if err != nil {
		if p.spool != nil {
			_ = p.spool.sp.Close()
		}
		return nil, err
	}
	p.hc = p.cfg.HTTPClient
	fail := func(err error) (*Producer, error) {
		if p.ownHC {
			p.hc.CloseIdleConnections()
		}
		if p.spool != nil {
			_ = p.spool.sp.Close()
		}
		return nil, err
	}
	st, err := p.cp.ensureStream(ctx, &p.cfg, tracks, true)
	if err != nil {
		return fail(err)
	}
	ep, err := p.cp.dataEndpoint(ctx)
	if err != nil {
		return fail(err)
	}
	p.retention = st.retention
	p.endpoint, p.endpointAt = ep, time.Now()
	p.log.Info("stream ready", "arn", st.arn, "retention_hours", st.retention, "endpoint", ep, "created", st.created)
	if st.retention == 0 {
		p.warnStoresNothing()
	}

	p.ctx, p.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	p.mu.Lock()
	p.eventLocked(Event{Type: StreamReady})
	p.unlock()
	go p.run()
	if p.spool != nil {
		go p.spoolLoop()
	}
	if p.cfg.IdleFlush > 0 {
		p.idle = time.AfterFunc(p.cfg.IdleFlush, p.idleFlush)
	}
	return p, nil
}

// WriteFrame adds a frame. Frames must come in decoding order, per the
// fragmenter's rules; f.Data must stay unchanged until the fragment is
// acknowledged. In Block mode it waits while the buffer is full (ctx bounds
// the wait); otherwise it never waits for the network.
func (p *Producer) WriteFrame(ctx context.Context, f media.Frame) error {
	if !p.knownTrack(f.Track) {
		return fmt.Errorf("producer: stream %s: %w: track %d", p.cfg.StreamName, ErrUnknownTrack, f.Track)
	}
	p.mu.Lock()
	for p.cfg.Block && !p.closing && p.fullLocked() {
		// A writer held back by a full buffer is not an idle source: the
		// idle flush waits (see idleFlush).
		room := p.room
		p.waiting++
		p.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-ctx.Done():
			err = fmt.Errorf("producer: stream %s: wait for buffer space: %w", p.cfg.StreamName, ctx.Err())
		}
		p.mu.Lock()
		p.waiting--
		p.lastFrame = time.Now()
		if err != nil {
			p.mu.Unlock()
			return err
		}
	}
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	closed, err := p.frag.Push(f)
	if err != nil {
		if closed != nil {
			// Whole GOPs closed before a refused one are sent.
			p.addLocked(closed)
			p.unlock()
		} else {
			p.mu.Unlock()
		}
		return fmt.Errorf("producer: stream %s: %w", p.cfg.StreamName, err)
	}
	p.stats.Frames++
	p.open = true
	p.lastFrame = time.Now()
	if closed != nil {
		p.addLocked(closed)
	}
	p.unlock()
	return nil
}

func (p *Producer) knownTrack(n uint64) bool {
	for i := range p.tracks {
		if p.tracks[i].Number == n {
			return true
		}
	}
	return false
}

// warnStoresNothing logs that the stream keeps no data.
func (p *Producer) warnStoresNothing() {
	p.log.Warn("the stream stores nothing: its data retention is 0 hours, so fragments are received and "+
		"passed to live readers but never kept; give it a retention (aws kinesisvideo update-data-retention, "+
		"or create it with a retention)", "retention_hours", 0)
}

// RetentionHours returns the stream's data retention as last described; 0
// means the stream keeps nothing (fragments are acknowledged RECEIVED, never
// PERSISTED).
func (p *Producer) RetentionHours() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retention
}

// StartTime returns the producer time of the frames' origin (PTS 0), as
// used: Config.StartTime, or the time of New, truncated to milliseconds.
func (p *Producer) StartTime() time.Time { return p.cfg.StartTime }

// Stats returns a snapshot of the counters.
func (p *Producer) Stats() Stats {
	p.mu.Lock()
	s := p.stats
	fs := p.frag.Stats()
	s.FramesSkipped, s.FramesSkippedVideo, s.FramesRepaired = fs.DroppedBeforeKey, fs.DroppedVideoBeforeKey, fs.Repaired
	s.BufferFragments = len(p.buf)
	s.BufferBytes = p.bufBytes
	s.BufferDuration = p.bufDur
	p.mu.Unlock()
	s.BytesSent = p.bytesSent.Load()
	p.spoolStats(&s)
	return s
}

// Close flushes the open fragment, waits until every fragment is
// acknowledged (PERSISTED, or RECEIVED when the stream keeps no data) and
// ends the session. ctx bounds the wait: when it ends, the upload is
// abandoned. Every goroutine of the producer has ended when Close returns.
// The error is a *CloseError listing the fragments that were refused,
// dropped or left unacknowledged.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closing = true
	if p.open {
		if fr := p.frag.Flush(); fr != nil {
			p.addLocked(fr)
		}
		p.open = false
	}
	p.roomLocked()
	p.unlock()
	if p.idle != nil {
		p.idle.Stop()
	}
	p.signal()

	var ctxErr error
	select {
	case <-p.runDone:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		p.cancel(ctxErr)
		<-p.runDone
	}
	p.cancel(ErrClosed)
	p.stopSpool()
	if p.ownHC {
		p.hc.CloseIdleConnections()
	}
	p.drainEvents()

	p.mu.Lock()
	defer p.mu.Unlock()
	ce := &CloseError{Stream: p.cfg.StreamName, Err: ctxErr, Omitted: p.lostMore}
	ce.Fragments = append(ce.Fragments, p.lost...)
	for _, e := range p.buf {
		if len(ce.Fragments) >= maxReported {
			ce.Omitted++
			continue
		}
		ce.Fragments = append(ce.Fragments, FragmentFailure{
			Seq: e.frag.Seq, Timecode: e.tc, Number: e.number, Err: ErrNotAcknowledged, Spooled: e.spoolID != 0,
		})
	}
	if len(ce.Fragments) == 0 && ce.Omitted == 0 && ctxErr == nil {
		return nil
	}
	sort.SliceStable(ce.Fragments, func(i, j int) bool { return ce.Fragments[i].Seq < ce.Fragments[j].Seq })
	return ce
}

// DiscardOpen drops the frames of the fragment still open, so that Close
// sends only whole fragments: for input that ended in an error, where the
// open fragment may lack the rest of its pictures. It returns how many frames
// were dropped.
func (p *Producer) DiscardOpen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open {
		return 0
	}
	p.open = false
	if fr := p.frag.Flush(); fr != nil {
		n := len(fr.Frames)
		p.releaseLocked(fr)
		return n
	}
	return 0
}

// idleFlush closes the open fragment when no frame came for IdleFlush, so
// that it is sent and acknowledged while the source pauses. It never runs
// while a writer waits for buffer space (that is back-pressure, not a
// pause), and it cuts with Fragmenter.Cut: the frames that follow the pause
// open the next fragment whether or not they start with a key frame, so
// none is lost to the cut.
func (p *Producer) idleFlush() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	next := p.cfg.IdleFlush
	if p.open && p.waiting == 0 {
		if since := time.Since(p.lastFrame); since < p.cfg.IdleFlush {
			next = p.cfg.IdleFlush - since
		} else {
			if fr := p.frag.Cut(); fr != nil {
				p.log.Debug("idle: flushing the open fragment", "seq", fr.Seq, "idle", since)
				p.addLocked(fr)
			}
			p.open = false
		}
	}
	p.idle.Reset(next)
	p.unlock()
}

// addLocked puts a closed fragment into the buffer and, in live mode, drops
// the oldest fragments while the buffer is over its bounds.
func (p *Producer) addLocked(fr *fragment.Fragment) {
	if p.resumedLocked(fr) {
		return
	}
	e := &entry{
		ord:      p.nextOrd,
		frag:     fr,
		tc:       p.cfg.StartTime.UnixMilli() + int64(fr.Start/time.Millisecond),
		size:     int64(fr.Size()),
		dur:      fr.Duration,
		closedAt: p.cfg.Now(),
		gopStart: p.startsGOP(fr),
		frames:   len(fr.Frames),
	}
	p.nextOrd++
	p.buf = append(p.buf, e)
	p.bufBytes += e.size
	p.bufDur += e.dur
	p.stats.Fragments++
	if p.spool != nil {
		p.spoolAddLocked(e)
	} else if !p.cfg.Block {
		// Drop whole GOPs, oldest first: a fragment that continues the GOP
		// of a dropped one (cut without a key frame) cannot be decoded
		// without it and goes too.
		for len(p.buf) > 1 && (p.bufBytes > p.cfg.BufferBytes || p.bufDur > p.cfg.BufferDuration) {
			p.dropLocked(p.buf[0])
			for len(p.buf) > 1 && !p.buf[0].gopStart {
				p.dropLocked(p.buf[0])
			}
		}
	}
	p.signal()
}

// dropLocked takes an unacknowledged fragment out of a full buffer and
// reports it.
func (p *Producer) dropLocked(old *entry) {
	p.removeLocked(old) // releases the frames: count them apart
	p.stats.Dropped++
	p.stats.FramesDropped += uint64(old.frames)
	p.recordLostLocked(FragmentFailure{Seq: old.frag.Seq, Timecode: old.tc, Number: old.number, Err: ErrFragmentDropped})
	p.eventLocked(Event{Type: FragmentDropped, Fragment: old.frag.Seq, Timecode: old.tc, Number: old.number, Err: ErrFragmentDropped})
	p.log.Warn("buffer full: dropped the oldest fragment", "seq", old.frag.Seq, "timecode", old.tc,
		"frames", old.frames, "buffer_bytes", p.bufBytes, "buffer_duration", p.bufDur)
}

// startsGOP reports whether the fragment's first video frame is a key
// frame, or it has no video.
func (p *Producer) startsGOP(fr *fragment.Fragment) bool {
	video := uint64(0)
	for _, t := range p.tracks {
		if t.Kind == media.KindVideo {
			video = t.Number
			break
		}
	}
	for _, f := range fr.Frames {
		if f.Track == video {
			return f.Key
		}
	}
	return true
}

// fullLocked reports whether the buffer has reached a bound.
func (p *Producer) fullLocked() bool {
	return len(p.buf) > 0 && (p.bufBytes >= p.cfg.BufferBytes || p.bufDur >= p.cfg.BufferDuration)
}

// removeLocked takes an entry out of the buffer.
func (p *Producer) removeLocked(e *entry) {
	i, ok := p.indexLocked(e.ord)
	if !ok {
		return
	}
	p.buf = slices.Delete(p.buf, i, i+1)
	if !e.onDisk {
		p.bufBytes -= e.size
		p.bufDur -= e.dur
	}
	p.spoolRemoveLocked(e)
	if e.inflight {
		e.removed = true
	} else {
		p.releaseLocked(e.frag)
	}
	p.roomLocked()
}

// releaseLocked hands the frames of a fragment the producer is done with to
// Config.ReleaseFrame. The fragment must not be written again.
func (p *Producer) releaseLocked(fr *fragment.Fragment) {
	if p.cfg.ReleaseFrame == nil || fr == nil {
		return
	}
	for _, f := range fr.Frames {
		p.cfg.ReleaseFrame(f)
	}
	fr.Frames = nil
}

// indexLocked finds the buffer position of the entry with that order.
func (p *Producer) indexLocked(ord uint64) (int, bool) {
	i := sort.Search(len(p.buf), func(i int) bool { return p.buf[i].ord >= ord })
	return i, i < len(p.buf) && p.buf[i].ord == ord
}

// roomLocked wakes writers waiting for buffer space.
func (p *Producer) roomLocked() {
	close(p.room)
	p.room = make(chan struct{})
}

func (p *Producer) recordLostLocked(fe FragmentFailure) {
	if len(p.lost) >= maxReported {
		p.lostMore++
		return
	}
	p.lost = append(p.lost, fe)
}

// signal wakes the sender.
func (p *Producer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// eventLocked queues an event for delivery after the lock is released.
func (p *Producer) eventLocked(ev Event) {
	if p.cfg.OnEvent == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = p.cfg.Now()
	}
	p.evq = append(p.evq, ev)
}

// unlock releases p.mu and delivers queued events.
func (p *Producer) unlock() {
	pending := len(p.evq) > 0
	p.mu.Unlock()
	if pending {
		p.drainEvents()
	}
}

// drainEvents delivers queued events in order, one deliverer at a time,
// without holding p.mu (so OnEvent may call Stats).
func (p *Producer) drainEvents() {
	if p.cfg.OnEvent == nil {
		return
	}
	p.evMu.Lock()
	defer p.evMu.Unlock()
	for {
		p.mu.Lock()
		evs := p.evq
		p.evq = p.evSpare[:0]
		p.mu.Unlock()
		if len(evs) == 0 {
			p.evSpare = evs
			return
		}
		for _, ev := range evs {
			p.cfg.OnEvent(ev)
		}
		clear(evs)
		p.evSpare = evs[:0]
	}
}
