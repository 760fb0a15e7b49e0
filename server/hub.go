package server

import (
	"sync"

	"kvskit/server/store"
)

// liveFragment is a fragment as published to live readers.
type liveFragment struct {
	rec      store.Fragment
	header   []byte
	data     []byte
	retained bool     // also in the store
	ref      *fragRef // holders of data's buffer when not retained
}

// recentKept is how many fragments of a stream without retention are kept in
// memory for live readers.
const recentKept = 8

// hub tells live readers (GetMedia tails) about new fragments, and keeps the
// last few fragments of streams whose retention is 0, which the store never sees.
type hub struct {
	mu      sync.Mutex
	streams map[string]*liveStream
}

type liveStream struct {
	changed chan struct{} // closed and replaced on every publish
	recent  []liveFragment
}

func newHub() *hub { return &hub{streams: make(map[string]*liveStream)} }

func (h *hub) stream(arn string) *liveStream {
	ls := h.streams[arn]
	if ls == nil {
		ls = &liveStream{changed: make(chan struct{})}
		h.streams[arn] = ls
	}
	return ls
}

func (h *hub) publish(arn string, f liveFragment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := h.stream(arn)
	if !f.retained {
		if len(ls.recent) == recentKept {
			ls.recent[0].ref.release()
			copy(ls.recent, ls.recent[1:])
			ls.recent = ls.recent[:recentKept-1]
		}
		ls.recent = append(ls.recent, f)
	}
	close(ls.changed)
	ls.changed = make(chan struct{})
}

// watch returns a channel closed at the next publish on the stream.
func (h *hub) watch(arn string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stream(arn).changed
}

// recentAfter returns the in-memory fragments numbered after the given one;
// the caller releases each (releaseAll) once it has written them.
func (h *hub) recentAfter(arn, after string) []liveFragment {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []liveFragment
	for _, f := range h.stream(arn).recent {
		if f.rec.Number > after {
			f.ref.retain()
			out = append(out, f)
		}
	}
	return out
}

// releaseAll releases the fragments' buffers (see recentAfter).
func releaseAll(frags []liveFragment) {
	for _, f := range frags {
		f.ref.release()
	}
}

// lastRecent returns the newest in-memory fragment number, or "".
func (h *hub) lastRecent(arn string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.stream(arn).recent
	if len(r) == 0 {
		return ""
	}
	return r[len(r)-1].rec.Number
}

// drop forgets a deleted stream, waking its readers.
func (h *hub) drop(arn string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ls := h.streams[arn]; ls != nil {
		close(ls.changed)
		releaseAll(ls.recent)
		delete(h.streams, arn)
	}
}
