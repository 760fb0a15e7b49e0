package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Group commit: writers hand their index changes to one committer goroutine,
// which applies everything queued so far in a single transaction and so
// pays one fsync for the whole group. A group forms while the previous
// commit is being synced; no writer waits for a timer.

const maxGroup = 512

type commitReq struct {
	fn func(*bolt.Tx) error // nil for a barrier
	// then, if set, runs on the committer with the outcome before finished
	// is closed; it must be quick.
	then     func(error)
	err      error
	finished chan struct{} // closed once the outcome is known
}

// commit queues fn and waits until its transaction is durable. fn may run
// more than once (when another member of its group fails) and must not keep
// state between runs. The caller must have entered the store.
func (s *Store) commit(fn func(*bolt.Tx) error) error {
	r := s.queue(fn, nil)
	<-r.finished
	return r.err
}

// queue hands fn to the committer without waiting. Requests are applied in
// the order they are queued.
func (s *Store) queue(fn func(*bolt.Tx) error, then func(error)) *commitReq {
	r := &commitReq{fn: fn, then: then, finished: make(chan struct{})}
	s.commits <- r
	return r
}

// settle waits until every commit queued before the call has finished.
func (s *Store) settle() {
	<-s.queue(nil, nil).finished
}

func (r *commitReq) finish(err error) {
	r.err = err
	if r.then != nil {
		r.then(err)
	}
	close(r.finished)
}

func (s *Store) committer() {
	defer close(s.committerDone)
	group := make([]*commitReq, 0, maxGroup)
	for {
		select {
		case r := <-s.commits:
			group = append(group[:0], r)
		case <-s.stop:
			return
		}
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-s.commits:
				group = append(group, r)
			default:
				break fill
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// memberError marks a transaction rolled back because of one member.
type memberError struct {
	index int
	err   error
}

func (e *memberError) Error() string { return e.err.Error() }

// commitGroup applies the group in one transaction. A member whose fn fails
// gets its error and the rest are retried without it; a failed commit fails
// every member.
func (s *Store) commitGroup(group []*commitReq) {
	// Barriers need no transaction; they finish after the changes queued
	// before them.
	writes := 0
	for _, r := range group {
		if r.fn != nil {
			writes++
		}
	}
	if writes == 0 {
		for _, r := range group {
			r.finish(nil)
		}
		return
	}
	for len(group) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, r := range group {
				if r.fn == nil {
					continue
				}
				if err := r.fn(tx); err != nil {
					return &memberError{index: i, err: err}
				}
			}
			return nil
		})
		var me *memberError
		if errors.As(err, &me) {
			// Barriers queued before the failed member stay in the group
			// and still finish after the changes before them.
			group[me.index].finish(me.err)
			group = append(group[:me.index:me.index], group[me.index+1:]...)
			continue
		}
		if err != nil {
			s.log.Error("store: index commit failed", "changes", len(group), "err", err)
		}
		for _, r := range group {
			r.finish(err)
		}
		return
	}
}
