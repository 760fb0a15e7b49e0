package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kvskit/mkv"
	"kvskit/server/store"
)

const (
	maxTracks           = 3
	maxMetadataTags     = 10
	maxTagNameLen       = 128
	maxTagValueLen      = 256
	maxMetadataElement  = 1 << 20 // largest Info, Tracks or Tags element read
	shutdownGracePeriod = 5 * time.Second
)

// maxProducerTime bounds producer timestamps: later ones are refused with
// INVALID_PRODUCER_TIMESTAMP (and would overflow nanosecond arithmetic).
var maxProducerTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// ingestSession is one PutMedia request: the reader loop (the handler's
// goroutine) parses fragments, a persister stores them in order, and an ack
// writer is the only one writing to the response.
type ingestSession struct {
	s        *Server
	stream   store.Stream
	relative bool
	start    time.Time // producer start timestamp (RELATIVE)
	began    time.Time // system time the request began (connection-duration limit)

	acks     chan ack
	persistQ chan *pendingFragment
	done     chan struct{} // closed to stop the session early (stream deleted)
	stopOnce sync.Once

	// A newer PutMedia connection of the stream retires this one: it ends
	// after the fragment in flight (sessions.go).
	older      []*ingestSession // sessions of the stream this one waits for
	retired    chan struct{}
	retireOnce sync.Once
	fragOpen   atomic.Bool   // a fragment is being received
	ended      chan struct{} // closed when every fragment is stored or refused

	mem      *sessionMem  // fragment bytes in flight (membudget.go)
	lastData atomic.Int64 // unix nanos of the last body read
	rc       *http.ResponseController
}

// pendingFragment is a fragment received whole, waiting to be stored.
type pendingFragment struct {
	rec    store.Fragment
	header []byte
	data   []byte
	buf    []byte // the buffer data is in, whole
	// reserved is the memory budget buf holds, given back once the buffer
	// is written to the store or handed to live readers.
	reserved int64
}

func (s *Server) putMedia(w http.ResponseWriter, r *http.Request, _ []byte) *apiError {
	ref := streamRef{StreamName: r.Header.Get("x-amzn-stream-name"), StreamARN: r.Header.Get("x-amzn-stream-arn")}
	st, e := s.lookupStream(ref)
	if e != nil {
		return e
	}
	if st.Status != "ACTIVE" {
		return errorf(http.StatusBadRequest, "ResourceInUseException", "stream %s is %s, not ACTIVE", st.Name, st.Status)
	}
	sess := &ingestSession{
		s: s, stream: st, began: time.Now(),
		acks:     make(chan ack, 64),
		persistQ: make(chan *pendingFragment, 16),
		done:     make(chan struct{}),
		mem:      &sessionMem{limit: s.limits.SessionMemory, global: s.mem},
		retired:  make(chan struct{}),
		ended:    make(chan struct{}),
		rc:       http.NewResponseController(w),
	}
	switch tt := strings.ToUpper(r.Header.Get("x-amzn-fragment-timecode-type")); tt {
	case "", "ABSOLUTE":
	case "RELATIVE":
		sess.relative = true
	default:
		return errInvalidArgument("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE, not %q", tt)
	}
	if v := r.Header.Get("x-amzn-producer-start-timestamp"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || f > 1e11 {
			return errInvalidArgument("x-amzn-producer-start-timestamp %q is not epoch seconds", v)
		} else {
			sess.start = time.Unix(0, int64(f*1e9)).Round(time.Millisecond)
		}
	} else if sess.relative {
		return errInvalidArgument("x-amzn-producer-start-timestamp is required with RELATIVE timecodes")
	}
	if !s.claimSession(st.ARN, sess) {
		return errorf(http.StatusBadRequest, "ConnectionLimitExceededException",
			"stream %s already has %d PutMedia connections", st.Name, maxPutMediaConnections)
	}
	defer s.releaseSession(st.ARN, sess)
	defer close(sess.ended)
	if err := sess.rc.EnableFullDuplex(); err != nil {
		s.log.Warn("putmedia: full duplex unavailable", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	// A session is one request: a client must not reuse the connection,
	// which closes when the session ends.
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	_ = sess.rc.Flush()
	s.log.Info("putmedia session started", "stream", st.Name, "remote", r.RemoteAddr, "relative", sess.relative)

	sess.lastData.Store(time.Now().UnixNano())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		sess.writeAcks(w)
	}()
	persistDone := make(chan struct{})
	go func() {
		defer close(persistDone)
		sess.persist()
	}()

	stats := sess.read(r.Body)
	if stats.reason != reasonEndOfBody {
		// The rest of the body is not wanted: stop reading so the connection
		// closes after the response instead of being drained, which a slow
		// producer could drag out and which would hold up a shutdown.
		sess.stop()
	}
	close(sess.persistQ)
	<-persistDone
	close(sess.acks)
	<-writerDone
	s.log.Info("putmedia session ended", "stream", st.Name, "fragments", stats.fragments,
		"bytes", stats.bytes, "reason", stats.reason)
	if stats.reason != reasonEndOfBody {
		// What follows in the connection is the rest of this body, never a
		// request: it must not be parsed as one.
		s.endConnection(w, r)
	}
	return nil
}

func (sess *ingestSession) stop() {
	sess.stopOnce.Do(func() {
		close(sess.done)
		_ = sess.rc.SetReadDeadline(time.Now())
	})
}

// send queues an ACK; it never blocks the reader for long, since the writer
// drains continuously.
func (sess *ingestSession) send(a ack) { sess.acks <- a }

// writeAcks writes ACK lines as they come, IDLE events while the producer is
// silent, and enforces the idle, connection-duration and shutdown limits by
// cutting the body read.
func (sess *ingestSession) writeAcks(w io.Writer) {
	lim := sess.s.limits
	tick := time.NewTicker(tickInterval(lim))
	defer tick.Stop()
	var lastIdle time.Time
	var shutdownAt time.Time
	writeFailed := false
	write := func(a ack) {
		if writeFailed {
			return
		}
		// A producer that reads no ACKs for the idle timeout ends the
		// session, instead of holding it (and its memory) forever.
		_ = sess.rc.SetWriteDeadline(time.Now().Add(lim.IdleTimeout))
		if _, err := w.Write(a.line()); err != nil {
			writeFailed = true
			sess.stop()
			return
		}
		if err := sess.rc.Flush(); err != nil {
			writeFailed = true
			sess.stop()
		}
	}
	ctxDone := sess.s.ctx.Done()
	for {
		select {
		case a, ok := <-sess.acks:
			if !ok {
				return
			}
			write(a)
		case <-ctxDone:
			ctxDone = nil
			shutdownAt = time.Now()
		case now := <-tick.C:
			last := time.Unix(0, sess.lastData.Load())
			silent := now.Sub(last)
			switch {
			case !shutdownAt.IsZero() && now.Sub(shutdownAt) > shutdownGracePeriod:
				sess.stop()
			case silent > lim.IdleTimeout:
				sess.s.log.Info("putmedia idle timeout", "stream", sess.stream.Name, "silent", silent)
				sess.stop()
			case time.Since(sess.began) > lim.MaxConnectionDuration:
				write(errorAck(errMaxConnectionTime, nil, "", "connection open longer than %s", lim.MaxConnectionDuration))
				sess.stop()
			case silent >= lim.IdleAckInterval && now.Sub(lastIdle) >= lim.IdleAckInterval:
				lastIdle = now
				write(ack{EventType: ackIdle})
			}
		}
	}
}

func tickInterval(l Limits) time.Duration {
	d := l.IdleAckInterval / 2
	if l.IdleTimeout/4 < d {
		d = l.IdleTimeout / 4
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	if d > time.Second {
		d = time.Second
	}
	return d
}

// persistDepth is how many fragments of a session are being stored at
// once: the next fragments' files are written while earlier ones wait for
// the store's flush, so a fast session's fragments share flushes. A
// fragment's buffer goes back to the free list once its bytes are written,
// so the depth costs no buffers. ACKs and live publication stay in arrival
// order. Measured with BenchmarkIngestOneStream on a disk: 16 and 32 beat 3
// by 1.3-1.6x, 32 a little ahead of 16 (BENCHMARKS.md, "Group flushes").
const persistDepth = 32

// persistJob is a fragment on its way to the store.
type persistJob struct {
	p         *pendingFragment
	retained  bool
	headerErr error
	append    *store.PendingAppend // nil if not retained or the header failed
	dup       bool                 // already stored: p.rec is the stored fragment
}

// persist stores fragments in arrival order, up to persistDepth at once,
// and hands them to complete, which acknowledges them in the same order.
func (sess *ingestSession) persist() {
	s := sess.s
	arn := sess.stream.ARN
	headerIDs := map[string]string{} // header bytes -> stored id
	// The completer holds one job and the send of the next blocks until
	// it takes it: persistDepth jobs in flight.
	jobs := make(chan *persistJob, persistDepth-2)
	completed := make(chan struct{})
	go func() {
		defer close(completed)
		for j := range jobs {
			sess.complete(j)
		}
	}()
	for p := range sess.persistQ {
		j := &persistJob{p: p, retained: sess.stream.DataRetentionInHours > 0}
		if j.retained {
			if rec, ok := s.storedCopy(arn, p); ok {
				j.dup = true
				p.rec = rec
				s.bufs.put(p.buf)
				p.data, p.buf = nil, nil
				jobs <- j
				continue
			}
		}
		if j.retained {
			id, ok := headerIDs[string(p.header)]
			if !ok {
				id, j.headerErr = s.store.PutHeader(arn, p.header)
				if j.headerErr == nil {
					headerIDs[string(p.header)] = id
				}
			}
			if j.headerErr == nil {
				p.rec.HeaderID = id
				j.append = s.store.StartAppend(arn, p.rec, p.data)
				// Readers, live ones too, read stored fragments from the
				// store: the buffer is free once the store has written it.
				go func(a *store.PendingAppend, buf []byte, n int64) {
					<-a.Written()
					s.bufs.put(buf)
					sess.releaseQueued(n)
				}(j.append, p.buf, p.reserved)
				p.data, p.buf = nil, nil
			}
		}
		jobs <- j
	}
	close(jobs)
	<-completed
}

// complete waits for a fragment's append, then publishes the fragment to
// live readers and acknowledges it.
func (sess *ingestSession) complete(j *persistJob) {
	s := sess.s
	p := j.p
	tc := p.rec.Timecode
	if j.dup {
		s.log.Info("putmedia: fragment already stored; acknowledged without storing it again",
			"stream", sess.stream.Name, "timecode", tc, "fragment", p.rec.Number)
		sess.send(fragmentAck(ackPersisted, tc, p.rec.Number))
		return
	}
	if j.headerErr != nil {
		s.log.Error("putmedia: store header", "stream", sess.stream.Name, "err", j.headerErr)
		sess.send(errorAck(errArchival, &tc, p.rec.Number, "storing the stream header failed: %v", j.headerErr))
		s.bufs.put(p.buf)
		sess.releaseQueued(p.reserved)
		return
	}
	if j.append != nil {
		rec, err := j.append.Wait()
		if errors.Is(err, store.ErrNotFound) {
			sess.send(errorAck(errStreamNotActive, &tc, p.rec.Number, "stream %s was deleted", sess.stream.Name))
			sess.stop()
			return
		}
		if err != nil {
			s.log.Error("putmedia: store fragment", "stream", sess.stream.Name, "fragment", p.rec.Number, "err", err)
			sess.send(errorAck(errArchival, &tc, p.rec.Number, "storing the fragment failed: %v", err))
			return
		}
		p.rec = rec
	}
	f := liveFragment{rec: p.rec, header: p.header, data: p.data, retained: j.retained}
	if !j.retained {
		// Kept in memory for live readers; the buffer comes back when the
		// last of them is done with it.
		f.ref = newFragRef(&s.bufs, p.buf)
		sess.releaseQueued(p.reserved)
	}
	s.hub.publish(sess.stream.ARN, f)
	if j.retained {
		sess.send(fragmentAck(ackPersisted, tc, p.rec.Number))
	}
}

// countingReader records when data last arrived and throttles to a byte rate.
type countingReader struct {
	r       io.Reader
	sess    *ingestSession
	rate    float64
	began   time.Time
	total   int64
	readErr error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.total += int64(n)
		c.sess.lastData.Store(time.Now().UnixNano())
		// Throttle: never run ahead of rate*elapsed by more than one second's worth.
		allowed := time.Duration(float64(c.total-int64(c.rate)) / c.rate * float64(time.Second))
		if ahead := allowed - time.Since(c.began); ahead > 0 {
			select {
			case <-time.After(ahead):
			case <-c.sess.done:
			}
		}
	}
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return n, err
}

// reasonEndOfBody is the ingestStats reason of a body read to its end.
const reasonEndOfBody = "end of body"

// reasonReplaced ends a session that a newer connection of its stream retired.
const reasonReplaced = "replaced by a newer connection"

type ingestStats struct {
	fragments int
	bytes     int64
	reason    string
}

// fragmentState is the fragment being received.
type fragmentState struct {
	open      bool
	skip      bool // an error was reported; its blocks are dropped
	timecode  int64
	producer  time.Time
	server    time.Time
	number    string
	blocks    []byte // clusterHeadRoom free bytes, then the block elements
	placed    int    // where the block being read was placed in blocks, or -1
	nblocks   int
	maxEnd    int64 // largest block end, scale units relative to the cluster
	lastTC    map[uint64]int64
	lastDelta map[uint64]int64
}

// read parses the body and hands whole fragments to the persister.
func (sess *ingestSession) read(body io.Reader) ingestStats {
	s := sess.s
	lim := s.limits
	cr := &countingReader{r: body, sess: sess, rate: lim.MaxBytesPerSecond, began: time.Now()}
	stats := ingestStats{}
	frag := fragmentState{placed: -1}
	var space func(n int) []byte // below
	mr := mkv.NewReader(cr, mkv.WithMaxElementSize(lim.MaxFragmentSize+(1<<20)),
		mkv.WithMaxMetadataSize(maxMetadataElement),
		mkv.WithBlockSpace(func(n int) []byte { return space(n) }))
	mem := sess.mem
	// releaseFrag gives back the buffer of a fragment not handed on.
	releaseFrag := func() {
		if frag.blocks != nil {
			n := int64(cap(frag.blocks))
			s.bufs.put(frag.blocks)
			frag.blocks = nil
			mem.release(n)
		}
	}
	defer releaseFrag()

	var (
		info        []byte
		header      []byte
		scale       int64 = 1_000_000
		tracks            = map[uint64]uint64{} // track number -> default duration (ns)
		haveTracks  bool
		metaTags    int
		metaProblem string
		prevProd    time.Time
		havePrev    bool
		fragLimiter = newRateLimiter(lim.MaxFragmentsPerSecond)
		sizeHint    = 64 << 10 // buffer for a fragment: the size of the last one
	)
	fail := func(e ackErr, format string, args ...any) {
		var tc *int64
		if frag.open {
			t := frag.timecode
			tc = &t
			frag.skip = true
		}
		msg := fmt.Sprintf(format, args...)
		s.log.Warn("putmedia error", "stream", sess.stream.Name, "id", e.ID, "code", e.Code, "msg", msg)
		sess.send(errorAck(e, tc, frag.number, "%s", msg))
		releaseFrag() // a refused fragment's blocks are discarded
	}
	// growFrag makes room for need bytes in the fragment's buffer (its
	// clusterHeadRoom included), reserving the new buffer before it is
	// made; it refuses the fragment if the memory budgets do not allow it.
	growFrag := func(need int) bool {
		old := cap(frag.blocks)
		want := max(need, 2*old, sizeHint+sizeHint/8)
		want = min(want, clusterHeadRoom+int(lim.MaxFragmentSize))
		room := int(min(mem.limit-mem.held.Load(), mem.global.limit-mem.global.used.Load()))
		if want > room && need <= room {
			want = room // grow less than twofold near a budget
		}
		switch mem.reserve(int64(want), sess.done) {
		case memOK:
		case memOverSession:
			fail(errMaxFragmentSize, "fragment of over %d bytes exceeds the memory budget of a PutMedia connection (%d bytes)",
				need-clusterHeadRoom, mem.limit)
			return false
		case memOverServer:
			fail(errInternalError, "the server's memory for fragments in flight is exhausted; retry later")
			return false
		default: // stopped: the read ends
			frag.skip = true
			return false
		}
		// A kept buffer may be larger than reserved: that memory exists
		// already (the free list's), and is counted from now on.
		nb := s.bufs.get(max(len(frag.blocks), clusterHeadRoom), want)
		mem.force(int64(cap(nb) - want))
		copy(nb, frag.blocks)
		if frag.blocks != nil {
			s.bufs.put(frag.blocks)
			mem.release(int64(old))
		}
		frag.blocks = nb
		return true
	}
	// Blocks are read straight into the fragment's buffer, grown as
	// needed, if the fragment takes them; a block refused later is cut off
	// again. Blocks of a refused fragment are discarded unread.
	skipBlock := []byte{}
	space = func(n int) []byte {
		frag.placed = -1
		if !frag.open || frag.skip {
			return skipBlock
		}
		l := max(len(frag.blocks), clusterHeadRoom)
		if int64(l-clusterHeadRoom+n) > lim.MaxFragmentSize {
			fail(errMaxFragmentSize, "fragment larger than %d bytes", lim.MaxFragmentSize)
			return skipBlock
		}
		if n > cap(frag.blocks)-l && !growFrag(l+n) {
			return skipBlock
		}
		frag.placed = l
		frag.blocks = frag.blocks[:l+n]
		return frag.blocks[l:]
	}
	finish := func() {
		if !frag.open {
			return
		}
		frag.open = false
		if frag.skip {
			return
		}
		if frag.nblocks == 0 {
			fail(errFramesMissing, "fragment at timecode %d has no frames", frag.timecode)
			return
		}
		// Known-size cluster with an absolute timecode, so archived fragments
		// of RELATIVE sessions keep increasing across sessions.
		absTC := frag.producer.UnixNano() / scale
		data := closeCluster(frag.blocks, absTC)
		sizeHint = len(frag.blocks)
		dur := time.Duration(frag.maxEnd * scale)
		rec := store.Fragment{
			Number: frag.number, ProducerTimestamp: frag.producer, ServerTimestamp: frag.server,
			Duration: dur, Size: int64(len(data)), Timecode: frag.timecode,
		}
		sess.send(fragmentAck(ackReceived, frag.timecode, frag.number))
		stats.fragments++
		reserved := int64(cap(frag.blocks))
		mem.queued.Add(reserved)
		sess.persistQ <- &pendingFragment{rec: rec, header: header, data: data, buf: frag.blocks, reserved: reserved}
		frag.blocks = nil // the persister's now
	}

	for {
		ev, err := mr.Next()
		if frag.placed >= 0 && (err != nil || ev.Type != mkv.EventBlock) {
			// Not a whole block (the read failed): take the space back.
			frag.blocks = frag.blocks[:frag.placed]
			frag.placed = -1
		}
		if err != nil {
			stats.bytes = cr.total
			select {
			case <-sess.done:
				stats.reason = "stopped"
				frag.open = false // cut off: never stored
				return stats
			default:
			}
			if err == io.EOF {
				finish()
				stats.reason = reasonEndOfBody
				return stats
			}
			if cr.readErr != nil {
				frag.open = false
				if errors.Is(cr.readErr, os.ErrDeadlineExceeded) {
					stats.reason = "read deadline"
				} else {
					stats.reason = "connection: " + cr.readErr.Error()
				}
				return stats
			}
			fail(errInvalidMKV, "invalid MKV data at byte %d: %v", mr.Offset(), err)
			frag.open = false
			stats.reason = "invalid mkv"
			return stats
		}
		switch ev.Type {
		case mkv.EventHeader:
			finish()
			info, header, haveTracks = nil, nil, false
			scale = 1_000_000
		case mkv.EventInfo:
			info = append([]byte(nil), ev.Raw...)
			if ev.Info.TimecodeScale > 0 && ev.Info.TimecodeScale <= uint64(time.Second) {
				scale = int64(ev.Info.TimecodeScale)
			}
		case mkv.EventTracks:
			finish()
			if len(ev.Tracks) > maxTracks {
				fail(errTooManyTracks, "%d tracks; at most %d are allowed", len(ev.Tracks), maxTracks)
				stats.reason = "too many tracks"
				return stats
			}
			clear(tracks)
			for _, t := range ev.Tracks {
				tracks[t.Number] = t.DefaultDuration
			}
			header = packHeader(info, ev.Raw)
			haveTracks = true
		case mkv.EventTags:
			finish()
			// Tags describe the next fragment; they are judged when it starts,
			// so file-level tags after the last cluster are no error.
			n, bad := checkMetadataTags(ev.Tags)
			metaTags += n
			if bad != "" && metaProblem == "" {
				metaProblem = bad
			}
		case mkv.EventClusterStart:
			finish()
			select {
			case <-s.ctx.Done():
				stats.reason = "server shutting down"
				stats.bytes = cr.total
				return stats
			case <-sess.done:
				stats.reason = "stopped"
				return stats
			case <-sess.retired:
				stats.reason = reasonReplaced
				stats.bytes = cr.total
				return stats
			default:
			}
			if !sess.waitOlder() {
				stats.reason = "stopped"
				stats.bytes = cr.total
				return stats
			}
			sess.fragOpen.Store(true)
			fragLimiter.wait(sess.done)
			releaseFrag()
			// Each fragment gets its own buffer (the persister and live
			// readers keep it), made at its first block (growFrag) with
			// the size of the last fragment, so that it rarely grows.
			frag = fragmentState{
				open: true, timecode: ev.Timecode, server: s.cfg.Now(), placed: -1,
				lastTC: map[uint64]int64{}, lastDelta: map[uint64]int64{},
			}
			frag.number = s.store.NextNumber()
			if metaProblem == "" && metaTags > maxMetadataTags {
				metaProblem = fmt.Sprintf("%d fragment metadata tags; at most %d are allowed", metaTags, maxMetadataTags)
			}
			metaTags = 0
			if !haveTracks {
				fail(errInvalidMKV, "cluster at byte %d before any Tracks element", ev.Offset)
				stats.reason = "no tracks"
				return stats
			}
			sess.send(fragmentAck(ackBuffering, frag.timecode, frag.number))
			if ev.Timecode < 0 || ev.Timecode > maxProducerTime.UnixNano()/scale {
				fail(errInvalidProducerTime, "cluster timecode %d is outside the producer timestamps this endpoint accepts", ev.Timecode)
				continue
			}
			off := time.Duration(ev.Timecode * scale)
			if sess.relative {
				frag.producer = sess.start.Add(off)
			} else {
				frag.producer = time.Unix(0, int64(off))
			}
			if frag.producer.After(maxProducerTime) {
				fail(errInvalidProducerTime, "producer timestamp %s is too far in the future", frag.producer.UTC().Format(time.RFC3339))
				continue
			}
			if metaProblem != "" {
				fail(errMetadataLimit, "%s", metaProblem)
				metaProblem = ""
				continue
			}
			if havePrev && frag.producer.Before(prevProd) {
				fail(errTimecodeLesser, "fragment timecode %d (%s) is earlier than the previous fragment's (%s)",
					ev.Timecode, frag.producer.UTC().Format(time.RFC3339Nano), prevProd.UTC().Format(time.RFC3339Nano))
				continue
			}
			prevProd, havePrev = frag.producer, true
		case mkv.EventBlock:
			placed := frag.placed
			frag.placed = -1
			if placed >= 0 {
				// Read into frag.blocks: cut it off again; appended below
				// (without a copy) if the fragment takes it.
				frag.blocks = frag.blocks[:placed]
			}
			if !frag.open || frag.skip {
				continue
			}
			b := ev.Block
			defDur, ok := tracks[b.Track]
			if !ok {
				fail(errTrackNumberMismatch, "block for track %d, which the Tracks element does not declare", b.Track)
				continue
			}
			rel := int64(b.Timecode)
			if time.Duration(rel*scale) > lim.MaxFragmentDuration {
				fail(errMaxFragmentDuration, "fragment longer than %s", lim.MaxFragmentDuration)
				continue
			}
			if int64(len(frag.blocks)-clusterHeadRoom+len(ev.Raw)) > lim.MaxFragmentSize {
				fail(errMaxFragmentSize, "fragment larger than %d bytes", lim.MaxFragmentSize)
				continue
			}
			if placed >= 0 {
				frag.blocks = frag.blocks[:placed+len(ev.Raw)] // already there
			} else {
				l := max(len(frag.blocks), clusterHeadRoom)
				if len(ev.Raw) > cap(frag.blocks)-l && !growFrag(l+len(ev.Raw)) {
					continue
				}
				frag.blocks = append(frag.blocks, ev.Raw...)
			}
			frag.nblocks++
			dur := int64(b.Duration)
			if dur == 0 && defDur > 0 {
				dur = int64(defDur) / scale
			}
			if last, seen := frag.lastTC[b.Track]; seen && rel > last {
				frag.lastDelta[b.Track] = rel - last
			}
			frag.lastTC[b.Track] = rel
			if dur == 0 {
				dur = frag.lastDelta[b.Track]
			}
			if end := rel + dur; end > frag.maxEnd {
				frag.maxEnd = end
			}
		case mkv.EventClusterEnd:
			finish()
		case mkv.EventSegmentEnd:
			finish()
		}
		if !frag.open && sess.fragOpen.Load() {
			sess.fragOpen.Store(false)
			select {
			case <-sess.retired:
				stats.reason = reasonReplaced
				stats.bytes = cr.total
				return stats
			default:
			}
		}
	}
}

// clusterHeadRoom is the space kept in front of a fragment's blocks for its
// Cluster header: ID (4), size (at most 8), Timecode element (at most 10).
const clusterHeadRoom = 24

// closeCluster turns a fragment buffer (clusterHeadRoom bytes, then block
// elements) into a known-size Cluster with the timecode, written in front
// of the blocks so that they are not copied. A negative timecode is
// written as 0, as mkv.AppendCluster does.
func closeCluster(buf []byte, timecode int64) []byte {
	blocks := buf[clusterHeadRoom:]
	var tc [16]byte
	tcElem := mkv.AppendUint(tc[:0], mkv.IDTimecode, uint64(max(timecode, 0)))
	var hd [32]byte
	head := mkv.AppendID(hd[:0], mkv.IDCluster)
	head = mkv.AppendVint(head, uint64(len(tcElem)+len(blocks)))
	head = append(head, tcElem...)
	start := clusterHeadRoom - len(head)
	copy(buf[start:], head)
	return buf[start:]
}

// checkMetadataTags counts producer fragment-metadata tags and says what is
// wrong with them, if anything.
func checkMetadataTags(tags []mkv.Tag) (int, string) {
	n := 0
	for _, t := range tags {
		if t.Name == "AWS_KINESISVIDEO_END_OF_FRAGMENT" {
			continue
		}
		n++
		switch {
		case len(t.Name) > maxTagNameLen:
			return n, fmt.Sprintf("metadata tag name longer than %d bytes", maxTagNameLen)
		case len(t.Value) > maxTagValueLen:
			return n, fmt.Sprintf("metadata tag %q has a value longer than %d bytes", t.Name, maxTagValueLen)
		}
	}
	return n, ""
}

// rateLimiter spaces events to a rate, allowing a burst of one second.
type rateLimiter struct {
	interval time.Duration
	next     time.Time
}

func newRateLimiter(perSecond float64) *rateLimiter {
	return &rateLimiter{interval: time.Duration(float64(time.Second) / perSecond)}
}

func (l *rateLimiter) wait(stop <-chan struct{}) {
	now := time.Now()
	if floor := now.Add(-time.Second); l.next.Before(floor) {
		l.next = floor
	}
	if d := l.next.Sub(now); d > 0 {
		select {
		case <-time.After(d):
		case <-stop:
		}
	}
	l.next = l.next.Add(l.interval)
}

// packHeader joins a stream's raw Info and Tracks elements into the header
// blob kept per fragment: a 4-byte big-endian length of Info, Info, Tracks.
func packHeader(info, tracks []byte) []byte {
	b := make([]byte, 4, 4+len(info)+len(tracks))
	binary.BigEndian.PutUint32(b, uint32(len(info)))
	return append(append(b, info...), tracks...)
}

// unpackHeader splits a header blob made by packHeader.
func unpackHeader(b []byte) (info, tracks []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("stream header blob too short")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errors.New("stream header blob: bad Info length")
	}
	return b[4 : 4+n], b[4+n:], nil
}
