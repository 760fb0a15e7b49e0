package server

import "testing"

// A fragment sent again in a new session (its PERSISTED ack was lost with
// the connection) is acknowledged with the stored fragment's number and not
// stored twice; a fragment with the same producer timestamp but other bytes
// is stored.
func TestResentFragmentStoredOnce(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("resend", 24)
	persisted := func(acks []ack) map[int64]string {
		out := map[int64]string{}
		for _, a := range acks {
			if a.EventType == ackError {
				t.Fatalf("unexpected error ack %+v", a)
			}
			if a.EventType == ackPersisted {
				out[*a.FragmentTimecode] = a.FragmentNumber
			}
		}
		return out
	}
	send := func(build func(c *clip)) map[int64]string {
		pm, err := e.putMedia("resend", nil)
		if err != nil {
			t.Fatal(err)
		}
		c := newClip(t)
		build(c)
		pm.write(c.bytes())
		return persisted(pm.finish())
	}
	first := send(func(c *clip) {
		for i := int64(0); i < 3; i++ {
			c.cluster(t, baseTC+i*2000, 10)
		}
	})
	// The producer resends from the fragment whose ack it lost (2000),
	// then goes on.
	second := send(func(c *clip) {
		for i := int64(1); i < 5; i++ {
			c.cluster(t, baseTC+i*2000, 10)
		}
	})
	for _, tc := range []int64{baseTC + 2000, baseTC + 4000} {
		if first[tc] == "" || second[tc] != first[tc] {
			t.Errorf("fragment %d: persisted as %q, then %q: want the stored number again", tc, first[tc], second[tc])
		}
	}
	if second[baseTC+6000] == "" || second[baseTC+8000] == "" {
		t.Errorf("new fragments not persisted: %v", second)
	}
	// Same timestamp, other frames: a different fragment, stored.
	third := send(func(c *clip) { c.cluster(t, baseTC+8000, 4) })
	if third[baseTC+8000] == "" || third[baseTC+8000] == second[baseTC+8000] {
		t.Errorf("a different fragment at a stored timestamp: %v after %v", third, second)
	}
	var list struct {
		Fragments []struct{ FragmentNumber string }
	}
	if code, typ := e.call("listFragments", map[string]any{"StreamName": "resend"}, &list); code != 200 {
		t.Fatalf("listFragments %d %s", code, typ)
	}
	if len(list.Fragments) != 6 {
		t.Errorf("%d fragments stored, want 5 distinct ones plus the changed one", len(list.Fragments))
	}
}
