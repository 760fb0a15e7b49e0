package rtsp

import (
	"sync"
	"sync/atomic"
	"time"

	"kvskit/media"
)

// Queue limits: when the reader falls this far behind, the oldest frames are
// dropped.
const (
	maxQueueFrames = 8192
	maxQueueBytes  = 64 << 20
)

type queuedFrame struct {
	f   media.Frame
	enq time.Duration
}

// frameQueue holds the frames of all tracks for ReadFrame and returns them
// in DTS order across tracks: a frame is returned once every other track has
// a frame queued, has been silent for the window, or the frame has waited
// the window. Frames of a track that was not waited for and comes later with
// an older DTS are moved later, so the output never goes back.
type frameQueue struct {
	mu        sync.Mutex
	q         [][]queuedFrame
	room      [][]queuedFrame // the arrays of q, from their start
	video     []bool
	lastPush  []time.Duration
	trackLast []time.Duration
	trackHas  []bool
	dropToKey []bool
	frames    int
	bytes     int
	lastDTS   time.Duration
	hasLast   bool
	err       error
	window    time.Duration
	notify    chan struct{}

	dropped *atomic.Uint64
	raised  *atomic.Uint64
}

func newFrameQueue(window time.Duration, dropped, raised *atomic.Uint64) *frameQueue {
	return &frameQueue{window: window, notify: make(chan struct{}, 1), dropped: dropped, raised: raised}
}

// setTracks sizes the queue for the tracks (kinds in order).
func (q *frameQueue) setTracks(kinds []media.Kind, now time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.q) == len(kinds) {
		return
	}
	n := len(kinds)
	q.q = make([][]queuedFrame, n)
	q.room = make([][]queuedFrame, n)
	q.video = make([]bool, n)
	q.lastPush = make([]time.Duration, n)
	q.trackLast = make([]time.Duration, n)
	q.trackHas = make([]bool, n)
	q.dropToKey = make([]bool, n)
	for i, k := range kinds {
		q.video[i] = k == media.KindVideo
		q.lastPush[i] = now
	}
}

func (q *frameQueue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// push queues a frame of track i.
func (q *frameQueue) push(i int, f media.Frame, now time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i >= len(q.q) {
		return
	}
	q.lastPush[i] = now
	if q.dropToKey[i] {
		if !f.Key {
			q.dropped.Add(1)
			return
		}
		q.dropToKey[i] = false
	}
	for q.frames > 0 && (q.frames >= maxQueueFrames || q.bytes+len(f.Data) > maxQueueBytes) {
		q.dropOldest()
	}
	c := cap(q.q[i])
	q.q[i] = append(q.q[i], queuedFrame{f: f, enq: now})
	if cap(q.q[i]) != c {
		q.room[i] = q.q[i][:0] // a new array
	}
	q.frames++
	q.bytes += len(f.Data)
	q.signal()
}

// dropOldest drops the frame queued longest; for video also the frames that
// depend on it, up to the next key frame.
func (q *frameQueue) dropOldest() {
	best := -1
	for i := range q.q {
		if len(q.q[i]) > 0 && (best < 0 || q.q[i][0].enq < q.q[best][0].enq) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	q.popFront(best)
	q.dropped.Add(1)
	if !q.video[best] {
		return
	}
	for len(q.q[best]) > 0 && !q.q[best][0].f.Key {
		q.popFront(best)
		q.dropped.Add(1)
	}
	if len(q.q[best]) == 0 {
		q.dropToKey[best] = true
	}
}

func (q *frameQueue) popFront(i int) queuedFrame {
	f := q.q[i][0]
	q.q[i][0] = queuedFrame{}
	switch {
	case len(q.q[i]) > 1:
		q.q[i] = q.q[i][1:]
	case cap(q.room[i]) <= 64:
		q.q[i] = q.room[i][:0] // the next frames reuse the room: no allocation per frame
	default:
		q.q[i], q.room[i] = nil, nil // after a backlog
	}
	q.frames--
	q.bytes -= len(f.f.Data)
	return f
}

// setErr makes next return err once the queue is empty.
func (q *frameQueue) setErr(err error) {
	q.mu.Lock()
	q.err = err
	q.mu.Unlock()
	q.signal()
}

// next returns the next frame if one may be returned at time now; otherwise
// how long to wait at most before asking again (0: until signalled), or the
// queue's error.
func (q *frameQueue) next(now time.Duration) (f media.Frame, ok bool, wait time.Duration, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	best := -1
	for i := range q.q {
		if len(q.q[i]) > 0 && (best < 0 || q.q[i][0].f.DTS < q.q[best][0].f.DTS) {
			best = i
		}
	}
	if best < 0 {
		return media.Frame{}, false, 0, q.err
	}
	head := q.q[best][0]
	if until := head.enq + q.window - now; until > 0 {
		for i := range q.q {
			if i == best || len(q.q[i]) > 0 {
				continue
			}
			if silent := q.lastPush[i] + q.window - now; silent > 0 {
				// Track i may still deliver an older frame.
				return media.Frame{}, false, min(until, silent), nil
			}
		}
	}
	f = q.popFront(best).f
	if q.hasLast && f.DTS < q.lastDTS {
		d := q.lastDTS - f.DTS
		if q.trackHas[best] && f.DTS+d <= q.trackLast[best] {
			d = q.trackLast[best] + minStep - f.DTS
		}
		f.DTS += d
		f.PTS += d
		q.raised.Add(1)
	}
	q.lastDTS, q.hasLast = f.DTS, true
	q.trackLast[best], q.trackHas[best] = f.DTS, true
	return f, true, 0, nil
}
