package server

import (
	"bytes"
	"errors"

	"kvskit/server/store"
)

// storedCopy finds a fragment of the stream already stored with the same
// producer timestamp and the same bytes as p: a producer that lost the
// PERSISTED acknowledgement of a fragment with its connection sends it
// again after reconnecting. Such a fragment is acknowledged with the stored
// fragment's number and not stored twice. Only fragments no later than the
// stream's newest stored one are looked up, so a stream whose timestamps
// increase pays one index read per fragment.
func (s *Server) storedCopy(arn string, p *pendingFragment) (store.Fragment, bool) {
	ts := p.rec.ProducerTimestamp
	last, err := s.store.LastFragment(arn)
	if err != nil || ts.After(last.ProducerTimestamp) {
		return store.Fragment{}, false
	}
	same, err := s.store.FragmentsInRange(arn, store.ProducerTimestamp, ts, ts, "", 0)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("putmedia: duplicate check", "stream", arn, "err", err)
		}
		return store.Fragment{}, false
	}
	for _, f := range same {
		if f.Size != int64(len(p.data)) {
			continue
		}
		b, err := s.store.ReadFragment(arn, f.Number)
		if err == nil && bytes.Equal(b, p.data) {
			return f, true
		}
	}
	return store.Fragment{}, false
}
