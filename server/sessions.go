package server

import (
	"time"
)

// maxPutMediaConnections is how many PutMedia connections a stream may
// have at once (the KVS quota: the newest is accepted, older ones end).
const maxPutMediaConnections = 5

// claimSession registers a new PutMedia session of a stream, unless the
// stream already has maxPutMediaConnections. The stream's older sessions
// are retired: each ends after the fragment it is receiving, and the new
// session stores nothing before they have ended (waitOlder), so the
// stream's fragments stay in order.
func (s *Server) claimSession(arn string, sess *ingestSession) bool {
	s.mu.Lock()
	list := s.sessions[arn]
	if len(list) >= maxPutMediaConnections {
		s.mu.Unlock()
		return false
	}
	sess.older = append([]*ingestSession(nil), list...)
	s.sessions[arn] = append(list, sess)
	s.mu.Unlock()
	for _, o := range sess.older {
		o.retire()
	}
	return true
}

func (s *Server) releaseSession(arn string, sess *ingestSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.sessions[arn]
	for i, o := range list {
		if o == sess {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.sessions, arn)
	} else {
		s.sessions[arn] = list
	}
}

// endSession stops every PutMedia session of a stream.
func (s *Server) endSession(arn string) {
	s.mu.Lock()
	list := append([]*ingestSession(nil), s.sessions[arn]...)
	s.mu.Unlock()
	for _, sess := range list {
		sess.stop()
	}
}

// retire asks the session to end after the fragment it is receiving; one
// between fragments stops at once. A fragment that starts while it is
// retired is cut off and never acknowledged, so its producer sends it again
// on the newer connection.
func (sess *ingestSession) retire() {
	sess.retireOnce.Do(func() {
		close(sess.retired)
		if !sess.fragOpen.Load() {
			sess.stop()
		}
	})
}

// waitOlder waits until the stream's older sessions have ended, stopping
// those still receiving a fragment after the longest a fragment may last.
// It reports false if this session was stopped meanwhile.
func (sess *ingestSession) waitOlder() bool {
	if len(sess.older) == 0 {
		return true
	}
	limit := time.NewTimer(sess.s.limits.MaxFragmentDuration)
	defer limit.Stop()
	expired := false
	for _, o := range sess.older {
		if !expired {
			select {
			case <-o.ended:
				continue
			case <-sess.done:
				return false
			case <-limit.C:
				expired = true
				sess.s.log.Info("putmedia: older connection still in a fragment; stopping it", "stream", sess.stream.Name)
			}
		}
		o.stop()
		select {
		case <-o.ended:
		case <-sess.done:
			return false
		}
	}
	sess.older = nil
	return true
}
