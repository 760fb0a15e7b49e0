package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// Memory budgets for fragment bytes in flight: the buffers of fragments
// being received and of received fragments not yet written to the store
// (or handed to live readers). Every buffer is reserved, from its session's
// budget and from the server's, before it is allocated or grown.
//
// A session whose own fragments wait for the store waits for them (the
// producer is slowed down, nothing is lost). A fragment that does not fit
// in the session's budget alone is refused with ERROR 4001
// (MAX_FRAGMENT_SIZE_REACHED). A fragment that does not fit in what the
// server has left, after waiting up to memoryWait for other sessions to
// free some, is refused with ERROR 5000 (INTERNAL_ERROR, which producers
// retry). A refused fragment's remaining bytes are read and discarded.

// memoryWait is how long a fragment waits for the server's budget.
const memoryWait = time.Second

// memBudget is the server's budget.
type memBudget struct {
	limit int64
	used  atomic.Int64

	mu    sync.Mutex
	freed chan struct{} // closed and replaced whenever memory is released
}

func newMemBudget(limit int64) *memBudget {
	return &memBudget{limit: limit, freed: make(chan struct{})}
}

func (b *memBudget) tryReserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *memBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	b.mu.Lock()
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// changed returns a channel closed at the next release.
func (b *memBudget) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed
}

// sessionMem is a session's share: what it holds, within its limit.
type sessionMem struct {
	limit  int64
	held   atomic.Int64
	queued atomic.Int64 // bytes of received fragments not yet released
	global *memBudget
}

// memRefusal says why a reservation failed.
type memRefusal int

const (
	memOK          memRefusal = iota
	memOverSession            // the fragment alone exceeds the session's budget
	memOverServer             // the server's budget stayed exhausted
	memStopped                // the session was stopped while waiting
)

// reserve reserves n bytes, waiting while the session's own queued
// fragments or other sessions may free memory.
func (m *sessionMem) reserve(n int64, stop <-chan struct{}) memRefusal {
	var deadline <-chan time.Time
	for {
		ch := m.global.changed()
		if m.held.Load()+n <= m.limit {
			if m.global.tryReserve(n) {
				m.held.Add(n)
				return memOK
			}
			if deadline == nil {
				t := time.NewTimer(memoryWait)
				defer t.Stop()
				deadline = t.C
			}
		} else if m.queued.Load() == 0 {
			return memOverSession
		}
		select {
		case <-ch:
		case <-deadline:
			return memOverServer
		case <-stop:
			return memStopped
		}
	}
}

// force counts n bytes more without a check, for memory that exists
// already (a kept buffer larger than asked for).
func (m *sessionMem) force(n int64) {
	m.held.Add(n)
	m.global.used.Add(n)
}

// release gives back n bytes of a buffer no longer held.
func (m *sessionMem) release(n int64) {
	if n == 0 {
		return
	}
	m.held.Add(-n)
	m.global.release(n)
}

// releaseQueued gives back the reservation of a received fragment's buffer.
func (sess *ingestSession) releaseQueued(n int64) {
	sess.mem.queued.Add(-n)
	sess.mem.release(n)
}
