package server

import (
	"bytes"
	"testing"
	"time"

	"kvskit/mkv"
)

// bigCluster returns a cluster at tc of n blocks of size bytes each.
func bigCluster(t *testing.T, w *mkv.Writer, buf *bytes.Buffer, tc int64, n, size int) []byte {
	t.Helper()
	if err := w.StartCluster(tc); err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0x42}, size)
	for i := 0; i < n; i++ {
		if err := w.WriteBlock(1, int16(i), i == 0, frame); err != nil {
			t.Fatal(err)
		}
	}
	b := append([]byte(nil), buf.Bytes()...)
	buf.Reset()
	return b
}

// TestSessionMemoryBudget: a fragment larger than a connection's budget is
// refused with ERROR 4001 and its bytes discarded; the connection goes on,
// and every reservation is given back when it ends.
func TestSessionMemoryBudget(t *testing.T) {
	e := newTestEnv(t, Limits{SessionMemory: 1 << 20, MemoryBudget: 8 << 20})
	e.createStream("s", 1)
	pm, err := e.putMedia("s", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	pm.write(c.bytes())
	pm.write(bigCluster(t, c.w, &c.buf, baseTC, 40, 64<<10)) // 2.5 MB: over
	pm.write(bigCluster(t, c.w, &c.buf, baseTC+1000, 4, 64<<10))
	acks := pm.finish()
	errs := events(acks, ackError)
	if len(errs) != 1 || errs[0].ErrorID != 4001 || *errs[0].FragmentTimecode != baseTC {
		t.Fatalf("want one ERROR 4001 for the large fragment: %+v", acks)
	}
	if got := persistedTimecodes(acks); len(got) != 1 || got[0] != baseTC+1000 {
		t.Fatalf("persisted %v, want the next fragment", got)
	}
	waitBudgetFree(t, e.srv)
}

// TestServerMemoryBudget: connections that together exceed the server's
// budget get ERROR 5000 for the fragment that does not fit; the server
// keeps serving, and the budget is free again afterwards.
func TestServerMemoryBudget(t *testing.T) {
	e := newTestEnv(t, Limits{SessionMemory: 8 << 20, MemoryBudget: 6 << 20})
	var sessions []*putMedia
	var clips []*clip
	for _, name := range []string{"a", "b"} {
		e.createStream(name, 1)
		pm, err := e.putMedia(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := newClip(t)
		pm.write(c.bytes())
		// An endless cluster: 2.5 MB, and no end yet.
		pm.write(bigCluster(t, c.w, &c.buf, baseTC, 40, 64<<10))
		sessions = append(sessions, pm)
		clips = append(clips, c)
		time.Sleep(200 * time.Millisecond)
	}
	var all []ack
	for i, pm := range sessions {
		c := clips[i]
		pm.write(bigCluster(t, c.w, &c.buf, baseTC+1000, 2, 1000))
		all = append(all, pm.finish()...)
	}
	var codes []int
	for _, a := range events(all, ackError) {
		codes = append(codes, a.ErrorID)
	}
	if len(codes) == 0 {
		t.Fatalf("two 2.5 MB fragments within a 6 MB budget (a buffer grows by copying): no error: %+v", all)
	}
	for _, c := range codes {
		if c != 5000 {
			t.Fatalf("errors %v, want 5000 (server budget)", codes)
		}
	}
	if n := len(events(all, ackPersisted)); n < 3 {
		t.Fatalf("%d fragments persisted; want at least one large and both small: %+v", n, all)
	}
	waitBudgetFree(t, e.srv)
}

func waitBudgetFree(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.mem.used.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of the memory budget still reserved after the sessions ended", s.mem.used.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
