package server

import (
	"slices"
	"testing"
	"time"
)

// awaitAck reads a session's ACKs until one of the event for the timecode
// arrives and returns all read.
func awaitAck(t *testing.T, pm *putMedia, event string, tc int64) []ack {
	t.Helper()
	var got []ack
	deadline := time.After(10 * time.Second)
	for {
		select {
		case a, ok := <-pm.acks:
			if !ok {
				t.Fatalf("response ended before %s %d: %+v", event, tc, got)
			}
			got = append(got, a)
			if a.EventType == event && a.FragmentTimecode != nil && *a.FragmentTimecode == tc {
				return got
			}
		case <-deadline:
			t.Fatalf("no %s %d: %+v", event, tc, got)
		}
	}
}

func persistedTimecodes(acks []ack) []int64 {
	var tcs []int64
	for _, a := range events(acks, ackPersisted) {
		tcs = append(tcs, *a.FragmentTimecode)
	}
	return tcs
}

// TestPutMediaNewerConnectionAccepted: a second PutMedia connection opened
// while the first is in a fragment is accepted; the first ends after that
// fragment; both sessions' fragments are stored, in timecode order, with no
// error.
func TestPutMediaNewerConnectionAccepted(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("busy", 1)
	old, err := e.putMedia("busy", nil)
	if err != nil {
		t.Fatal(err)
	}
	oc := newClip(t)
	old.write(oc.cluster(t, baseTC, 3).bytes())
	old.write(oc.cluster(t, baseTC+1000, 3).bytes()) // in flight: its end is not yet known
	oldAcks := awaitAck(t, old, ackBuffering, baseTC+1000)

	newer, err := e.putMedia("busy", nil)
	if err != nil {
		t.Fatalf("a newer connection on a busy stream: %v", err)
	}
	nc := newClip(t)
	newer.write(nc.cluster(t, baseTC+2000, 3).bytes())
	newer.write(nc.cluster(t, baseTC+3000, 3).bytes())
	// The old connection's next cluster ends its fragment in flight and
	// the connection: that cluster is not taken (the newer one has it).
	_, _ = old.pw.Write(oc.cluster(t, baseTC+2000, 3).bytes())
	oldAcks = append(oldAcks, old.finish()...)
	newAcks := newer.finish()

	if errs := append(events(oldAcks, ackError), events(newAcks, ackError)...); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if got := persistedTimecodes(oldAcks); !slices.Equal(got, []int64{baseTC, baseTC + 1000}) {
		t.Fatalf("older connection persisted %v, want its two fragments: %+v", got, oldAcks)
	}
	if got := persistedTimecodes(newAcks); !slices.Equal(got, []int64{baseTC + 2000, baseTC + 3000}) {
		t.Fatalf("newer connection persisted %v: %+v", got, newAcks)
	}
	var list struct {
		Fragments []struct {
			FragmentNumber    string
			ProducerTimestamp float64
		}
	}
	if code, typ := e.call("listFragments", map[string]any{"StreamName": "busy"}, &list); code != 200 {
		t.Fatalf("listFragments: %d %s", code, typ)
	}
	slices.SortFunc(list.Fragments, func(a, b struct {
		FragmentNumber    string
		ProducerTimestamp float64
	}) int {
		return compareNumbers(a.FragmentNumber, b.FragmentNumber)
	})
	var stored []int64
	for _, f := range list.Fragments {
		stored = append(stored, int64(f.ProducerTimestamp*1000+0.5))
	}
	want := []int64{baseTC, baseTC + 1000, baseTC + 2000, baseTC + 3000}
	if !slices.Equal(stored, want) {
		t.Fatalf("stored in number order: %v, want %v", stored, want)
	}
}

// compareNumbers orders fragment numbers (decimal strings).
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestPutMediaNewerConnectionEndsIdleOlder: an older connection between
// fragments is ended at once when a newer one opens.
func TestPutMediaNewerConnectionEndsIdleOlder(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("s", 1)
	old, err := e.putMedia("s", nil)
	if err != nil {
		t.Fatal(err)
	}
	old.write(newClip(t).bytes()) // header only: no fragment open
	time.Sleep(100 * time.Millisecond)
	newer, err := e.putMedia("s", nil)
	if err != nil {
		t.Fatalf("newer connection: %v", err)
	}
	done := make(chan []ack)
	go func() { done <- old.collect() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the older idle connection was not ended")
	}
	old.pw.Close()
	newer.write(newClip(t).cluster(t, baseTC, 2).bytes())
	if got := persistedTimecodes(newer.finish()); !slices.Equal(got, []int64{baseTC}) {
		t.Fatalf("newer connection persisted %v", got)
	}
}

// TestClaimSessionCap: a stream takes 5 PutMedia sessions at once; each new
// one retires the older ones, and a sixth is refused.
func TestClaimSessionCap(t *testing.T) {
	s := &Server{sessions: map[string][]*ingestSession{}}
	var all []*ingestSession
	for i := 0; i < maxPutMediaConnections+1; i++ {
		sess := &ingestSession{retired: make(chan struct{}), done: make(chan struct{})}
		sess.fragOpen.Store(true) // each in a fragment: retired, not stopped
		if ok := s.claimSession("arn", sess); ok != (i < maxPutMediaConnections) {
			t.Fatalf("session %d: claimed %v", i+1, ok)
		}
		if i < maxPutMediaConnections {
			if len(sess.older) != i {
				t.Fatalf("session %d waits for %d older ones, want %d", i+1, len(sess.older), i)
			}
			all = append(all, sess)
		}
	}
	for i, sess := range all {
		select {
		case <-sess.retired:
			if i == len(all)-1 {
				t.Fatal("the newest session was retired")
			}
		default:
			if i < len(all)-1 {
				t.Fatalf("session %d not retired by newer ones", i+1)
			}
		}
	}
	s.releaseSession("arn", all[0])
	if len(s.sessions["arn"]) != maxPutMediaConnections-1 {
		t.Fatalf("%d sessions after one ended", len(s.sessions["arn"]))
	}
}
