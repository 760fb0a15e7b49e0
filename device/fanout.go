package device

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"kvskit/media"
)

// Fanout reads one Source and hands every frame to each of its subscribers,
// so one capture feeds several consumers (an upload and live viewers, say).
// Frame data is shared, never copied: consumers only read it. A consumer that
// falls behind never stalls the others: when its queue is full it loses
// frames, and then skips the rest of that video group of pictures so that it
// resumes on a key frame (audio resumes at once); its Dropped count says how
// many frames it lost.
type Fanout struct {
	src    Source
	tracks []media.Track
	video  map[uint64]bool

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	err    error // why reading ended (io.EOF at the clean end)
	closed bool
	done   chan struct{}
}

// NewFanout starts reading src in a goroutine. Close stops it and closes src.
func NewFanout(src Source) *Fanout {
	f := &Fanout{
		src: src, tracks: src.Tracks(), video: map[uint64]bool{},
		subs: map[*Subscription]struct{}{}, done: make(chan struct{}),
	}
	for _, t := range f.tracks {
		if t.Kind == media.KindVideo {
			f.video[t.Number] = true
		}
	}
	go f.run()
	return f
}

// Tracks returns the source's tracks.
func (f *Fanout) Tracks() []media.Track { return f.tracks }

func (f *Fanout) run() {
	defer close(f.done)
	for {
		fr, err := f.src.ReadFrame()
		if err != nil {
			f.mu.Lock()
			if f.closed {
				err = ErrClosed
			}
			f.err = err
			for s := range f.subs {
				s.end(err)
			}
			f.mu.Unlock()
			return
		}
		f.mu.Lock()
		for s := range f.subs {
			s.offer(fr, f.video[fr.Track])
		}
		f.mu.Unlock()
	}
}

// Subscribe adds a consumer with a queue of the given number of frames
// (at least 1). It receives frames from the next one read on; a video
// consumer may want to wait for a key frame, which the first frames it gets
// start with: a new subscriber skips video until the next key frame.
func (f *Fanout) Subscribe(queue int) *Subscription {
	if queue < 1 {
		queue = 1
	}
	s := &Subscription{f: f, ring: make([]media.Frame, queue), ready: make(chan struct{}, 1), skipVideo: true}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		s.end(f.err)
		return s
	}
	f.subs[s] = struct{}{}
	return s
}

// Close stops reading, closes the source and ends every subscription with
// ErrClosed.
func (f *Fanout) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		<-f.done
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	err := f.src.Close()
	<-f.done
	if err != nil {
		return fmt.Errorf("fanout: close source: %w", err)
	}
	return nil
}

// Subscription is one consumer of a Fanout; it is itself a Source.
type Subscription struct {
	f     *Fanout
	ready chan struct{} // signalled when frames or the end arrive

	mu        sync.Mutex
	ring      []media.Frame // queued frames: n of them from head, wrapping
	head, n   int
	err       error
	skipVideo bool // lost frames: wait for the next video key frame
	dropped   uint64
	left      bool
}

// offer queues a frame or drops it; called with the fanout's lock held.
func (s *Subscription) offer(fr media.Frame, video bool) {
	s.mu.Lock()
	if video && s.skipVideo {
		if !fr.Key {
			s.dropped++
			s.mu.Unlock()
			return
		}
		s.skipVideo = false
	}
	if s.left {
		s.mu.Unlock()
		return
	}
	if s.n == len(s.ring) {
		s.dropped++
		if video {
			s.skipVideo = true
		}
		s.mu.Unlock()
		return
	}
	s.ring[(s.head+s.n)%len(s.ring)] = fr
	s.n++
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Tracks returns the source's tracks.
func (s *Subscription) Tracks() []media.Track { return s.f.tracks }

// ReadFrame returns the next frame, waiting for it. After the source ended it
// returns the rest of the queue, then io.EOF (or the source's error, or
// ErrClosed once the subscription or the fanout was closed).
func (s *Subscription) ReadFrame() (media.Frame, error) {
	for {
		s.mu.Lock()
		if s.left {
			s.mu.Unlock()
			return media.Frame{}, ErrClosed
		}
		if s.n > 0 {
			fr := s.ring[s.head]
			s.ring[s.head] = media.Frame{} // let the data go once consumed
			s.head = (s.head + 1) % len(s.ring)
			s.n--
			s.mu.Unlock()
			return fr, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return media.Frame{}, io.EOF
			}
			return media.Frame{}, err
		}
		<-s.ready
	}
}

// Dropped returns how many frames this consumer lost by falling behind.
func (s *Subscription) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close leaves the fanout; a ReadFrame waiting returns ErrClosed.
func (s *Subscription) Close() error {
	s.f.mu.Lock()
	delete(s.f.subs, s)
	s.f.mu.Unlock()
	s.mu.Lock()
	s.left = true
	clear(s.ring)
	s.n = 0
	s.mu.Unlock()
	s.signal()
	return nil
}
