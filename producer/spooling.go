package producer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"kvskit/fragment"
	"kvskit/media"
	"kvskit/producer/spool"
)

// spooler is the producer's side of the disk spool (Config.SpoolDir): a
// goroutine writes closed fragments to it and deletes acknowledged ones, so
// that neither the sender nor WriteFrame waits for the disk.
type spooler struct {
	sp     *spool.Spool
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	frames []media.Frame // scratch: a fragment's frames relative to its start

	// Guarded by the producer's mu.
	writes  []*entry
	removes []uint64
}

// openSpool opens the spool and turns the fragments a previous run left in
// it into entries, oldest first, sent before any new one.
func (p *Producer) openSpool() error {
	sp, err := spool.Open(p.cfg.SpoolDir, spool.WithMaxBytes(p.cfg.SpoolMaxBytes),
		spool.WithSync(!p.cfg.SpoolNoSync), spool.WithLogger(p.log))
	if err != nil {
		if errors.Is(err, spool.ErrLocked) {
			return fmt.Errorf("%w: stream %s: %w", ErrInvalidConfig, p.cfg.StreamName, err)
		}
		return fmt.Errorf("producer: stream %s: %w", p.cfg.StreamName, err)
	}
	left := sp.Entries()
	// The oldest fragment says whose spool this is.
	for len(left) > 0 {
		rec, err := sp.Read(left[0].ID)
		if err != nil {
			left = sp.Entries()
			continue
		}
		if rec.Stream != p.cfg.StreamName {
			_ = sp.Close()
			return fmt.Errorf("%w: spool %s holds fragments of stream %q, not %q",
				ErrInvalidConfig, p.cfg.SpoolDir, rec.Stream, p.cfg.StreamName)
		}
		break
	}
	p.spool = &spooler{sp: sp, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	for _, se := range left {
		p.buf = append(p.buf, &entry{
			ord: p.nextOrd, frag: &fragment.Fragment{}, tc: se.Timecode, size: se.Size,
			closedAt: p.cfg.Now(), spoolID: se.ID, onDisk: true, gopStart: true,
		})
		p.nextOrd++
	}
	p.stats.Recovered = uint64(len(left))
	if n := len(left); n > 0 {
		last := left[n-1].Timecode
		p.log.Info("spool: uploading fragments left by an earlier run first", "fragments", n,
			"bytes", sp.Stats().Bytes, "first_timecode", left[0].Timecode, "last_timecode", last)
		if p.cfg.StartTime.UnixMilli() <= last {
			p.log.Warn("spool: the new frames start before the last spooled fragment; the service may refuse them",
				"start", p.cfg.StartTime.UnixMilli(), "last_spooled", last)
		}
	}
	return nil
}

// spoolAddLocked queues a closed fragment for the spool; in live mode it
// then bounds the memory the spooled fragments take.
func (p *Producer) spoolAddLocked(e *entry) {
	e.spooling = true
	p.spool.writes = append(p.spool.writes, e)
	p.spool.signal()
	if !p.cfg.Block {
		p.evictLocked()
	}
}

func (s *spooler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// evictLocked keeps the fragments held in memory within BufferBytes and
// BufferDuration: the oldest spooled ones not being sent leave memory and are
// read back from the spool when their turn comes. A fragment the spool could
// not take is dropped instead, oldest first, as without a spool.
func (p *Producer) evictLocked() {
	over := func() bool { return p.bufBytes > p.cfg.BufferBytes || p.bufDur > p.cfg.BufferDuration }
	for _, e := range p.buf {
		if !over() {
			return
		}
		if e.onDisk || e.inflight || e.spoolID == 0 {
			continue
		}
		p.releaseLocked(e.frag)
		e.frag.Frames = nil
		e.onDisk = true
		p.bufBytes -= e.size
		p.bufDur -= e.dur
	}
	for i := 0; i < len(p.buf) && over(); {
		e := p.buf[i]
		if e.onDisk || e.spooling || e.spoolID != 0 {
			i++
			continue
		}
		p.log.Warn("buffer full and the spool cannot take the oldest fragment", "timecode", e.tc)
		p.dropWithGOPLocked(e)
	}
}

// dropWithGOPLocked drops a fragment and the fragments after it that
// continue its GOP.
func (p *Producer) dropWithGOPLocked(e *entry) {
	i, ok := p.indexLocked(e.ord)
	if !ok {
		return
	}
	p.dropLocked(e)
	// A fragment still being written to the spool is not dropped: its
	// frames are in use.
	for i < len(p.buf) && !p.buf[i].gopStart && !p.buf[i].spooling {
		p.dropLocked(p.buf[i])
	}
}

// spoolRemoveLocked deletes an entry's spool file once it leaves the buffer.
func (p *Producer) spoolRemoveLocked(e *entry) {
	if p.spool == nil || e.spoolID == 0 {
		return
	}
	p.spool.removes = append(p.spool.removes, e.spoolID)
	e.spoolID = 0
	p.spool.signal()
}

// spoolLoop writes queued fragments to the spool and deletes acknowledged
// ones, until stopSpool.
func (p *Producer) spoolLoop() {
	s := p.spool
	defer close(s.done)
	quitting := false
	for {
		p.mu.Lock()
		writes, removes := s.writes, s.removes
		s.writes, s.removes = nil, nil
		p.mu.Unlock()
		for _, e := range writes {
			p.spoolWrite(e)
		}
		for _, id := range removes {
			if err := s.sp.Remove(id); err != nil {
				p.log.Warn("spool: delete of an acknowledged fragment failed", "err", err)
			}
		}
		if len(writes) > 0 || len(removes) > 0 {
			continue
		}
		if quitting {
			return
		}
		select {
		case <-s.wake:
		case <-s.quit:
			quitting = true
		}
	}
}

// spoolWrite writes one fragment to the spool, then lets the sender send it.
func (p *Producer) spoolWrite(e *entry) {
	s := p.spool
	// Not sent, evicted nor dropped while spooling (the check is a guard).
	p.mu.Lock()
	if _, ok := p.indexLocked(e.ord); !ok {
		e.spooling = false
		p.mu.Unlock()
		return
	}
	fr := e.frag
	s.frames = append(s.frames[:0], fr.Frames...)
	p.mu.Unlock()
	for i := range s.frames {
		s.frames[i].PTS -= fr.Start
		s.frames[i].DTS -= fr.Start
	}
	rec := spool.Record{Stream: p.cfg.StreamName, Timecode: e.tc, Duration: fr.Duration, Tracks: p.tracks, Frames: s.frames}
	se, dropped, err := s.sp.Put(&rec)
	clear(s.frames)

	p.mu.Lock()
	e.spooling = false
	if err != nil {
		p.stats.SpoolErrors++
		p.log.Warn("spool: fragment kept in memory only", "timecode", e.tc, "err", err)
	} else {
		p.stats.Spooled++
		e.spoolID = se.ID
		if _, ok := p.indexLocked(e.ord); !ok {
			p.spoolRemoveLocked(e) // dropped meanwhile
		}
	}
	for _, d := range dropped {
		for _, old := range p.buf {
			if old.spoolID == d.ID {
				old.spoolID = 0
				p.stats.SpoolDropped++
				p.log.Warn("spool full: dropping its oldest fragment", "timecode", old.tc)
				p.dropWithGOPLocked(old)
				break
			}
		}
	}
	if !p.cfg.Block {
		p.evictLocked()
	}
	p.unlock()
	p.signal()
}

// stopSpool ends the spool goroutine after it has written what is queued,
// and closes the spool: fragments not acknowledged stay for the next run.
func (p *Producer) stopSpool() {
	if p.spool == nil {
		return
	}
	close(p.spool.quit)
	<-p.spool.done
	if err := p.spool.sp.Close(); err != nil {
		p.log.Warn("spool: close", "err", err)
	}
}

// spooled is a fragment read back from the spool for sending.
type spooled struct {
	e      *entry
	frag   *fragment.Fragment
	tracks []media.Track
	err    error
}

// readSpooled reads an evicted or recovered fragment back from the spool.
func (p *Producer) readSpooled(e *entry, id uint64) *spooled {
	rec, err := p.spool.sp.Read(id)
	if err == nil && rec.Stream != p.cfg.StreamName {
		err = fmt.Errorf("spool: fragment %d of stream %q", id, rec.Stream)
	}
	if err != nil {
		return &spooled{e: e, err: err}
	}
	return &spooled{
		e:      e,
		frag:   &fragment.Fragment{Frames: rec.Frames, Duration: rec.Duration, Seq: e.frag.Seq},
		tracks: rec.Tracks,
	}
}

// lostSpooledLocked drops an entry whose spool file could not be read.
func (p *Producer) lostSpooledLocked(e *entry, err error) {
	e.spoolID = 0 // the spool deleted a corrupt file itself
	p.removeLocked(e)
	p.stats.SpoolLost++
	p.recordLostLocked(FragmentFailure{Seq: e.frag.Seq, Timecode: e.tc, Err: fmt.Errorf("%w: %v", ErrSpoolCorrupt, err)})
	p.eventLocked(Event{Type: FragmentDropped, Fragment: e.frag.Seq, Timecode: e.tc, Err: ErrSpoolCorrupt})
	p.log.Warn("spool: fragment lost: its file cannot be read", "timecode", e.tc, "err", err)
}

// sameTracks reports whether two track lists describe the same stream.
func sameTracks(a, b []media.Track) bool {
	return slices.EqualFunc(a, b, func(x, y media.Track) bool {
		return x.Number == y.Number && x.Kind == y.Kind && x.Codec == y.Codec && x.Name == y.Name &&
			bytes.Equal(x.CodecPrivate, y.CodecPrivate) && x.Width == y.Width && x.Height == y.Height &&
			x.SampleRate == y.SampleRate && x.Channels == y.Channels
	})
}

// spoolStats adds the spool's counters to s.
func (p *Producer) spoolStats(s *Stats) {
	if p.spool == nil {
		return
	}
	st := p.spool.sp.Stats()
	s.SpoolFragments, s.SpoolBytes, s.SpoolCorrupt = st.Fragments, st.Bytes, st.Corrupt
}

// peekSpooled reads back the session's first fragment when it is on disk,
// so that the session's header carries its tracks.
func (p *Producer) peekSpooled(s *session) *spooled {
	if p.spool == nil {
		return nil
	}
	p.mu.Lock()
	var e *entry
	if i, _ := p.indexLocked(s.next); i < len(p.buf) && p.buf[i].onDisk {
		e = p.buf[i]
	}
	var id uint64
	if e != nil {
		id = e.spoolID
	}
	p.mu.Unlock()
	if e == nil {
		return nil
	}
	return p.readSpooled(e, id)
}

// resumedLocked skips a closed fragment that Config.ResumeAfter says an
// earlier upload persisted.
func (p *Producer) resumedLocked(fr *fragment.Fragment) bool {
	if p.cfg.ResumeAfter.IsZero() || p.cfg.StartTime.UnixMilli()+fr.Start.Milliseconds() > p.cfg.ResumeAfter.UnixMilli() {
		return false
	}
	p.releaseLocked(fr)
	p.stats.AlreadyPersisted++
	return true
}
