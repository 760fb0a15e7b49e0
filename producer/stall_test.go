package producer_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"kvskit/producer"
)

// blackhole accepts connections and then neither reads from nor writes to
// them until it is closed: a frozen server, or a middlebox that drops
// traffic without resetting.
type blackhole struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newBlackhole(t *testing.T) *blackhole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{l: l}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) url() string { return "http://" + b.l.Addr().String() }

func (b *blackhole) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

func (b *blackhole) close() {
	_ = b.l.Close()
	b.wg.Wait()
	b.mu.Lock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
}

// A PutMedia connection that is accepted and then answers nothing (a
// frozen server that reads the request but sends no status line, or a
// blackhole that does not even read) is abandoned after the staleness
// window and a new one is opened: nothing deadlocks, and every fragment is
// persisted once the endpoint answers again.
func TestFrozenEndpointIsAbandoned(t *testing.T) {
	for _, mode := range []string{"reads-no-answer", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			fake := newFakeKVS(t, "us-east-1")
			var hole *blackhole
			if mode == "blackhole" {
				hole = newBlackhole(t)
				fake.setDataURL(hole.url())
			} else {
				fake.freeze = make(chan struct{})
			}
			cfg := fake.config(t, "frozen")
			cfg.ConnectionStaleness = 500 * time.Millisecond
			cfg.FragmentDuration = 500 * time.Millisecond
			log := newEventLog()
			cfg.OnEvent = log.add
			p, err := producer.New(context.Background(), cfg, synthTracks())
			if err != nil {
				t.Fatal(err)
			}
			// Large frames, so that a peer that does not read fills the
			// socket buffers and the body write blocks.
			frames := synthFrames(90, 30, 15, 64<<10)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for i, f := range frames[:45] {
				if err := p.WriteFrame(ctx, f); err != nil {
					t.Fatalf("WriteFrame %d: %v", i, err)
				}
			}
			if hole != nil {
				deadline := time.Now().Add(10 * time.Second)
				for hole.accepted() == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if hole.accepted() == 0 {
					t.Fatal("the producer never connected to the blackhole")
				}
				fake.setDataURL("") // the endpoint answers again
			}
			// A live source pauses: the session waits for the next fragment
			// with its body open while the staleness window runs out.
			time.Sleep(3 * cfg.ConnectionStaleness)
			for i, f := range frames[45:] {
				if err := p.WriteFrame(ctx, f); err != nil {
					t.Fatalf("WriteFrame %d: %v", 45+i, err)
				}
			}
			done := make(chan error, 1)
			go func() { done <- p.Close(ctx) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			case <-time.After(45 * time.Second):
				t.Fatal("Close did not return: the producer is stuck")
			}
			st := p.Stats()
			if st.Persisted != st.Fragments || st.Reconnects < 1 {
				t.Errorf("stats %+v: want a reconnect, then every fragment persisted", st)
			}
			// Only fragments written whole into the one frozen session
			// count as sent again.
			if st.Duplicates > st.Fragments {
				t.Errorf("stats %+v: more duplicates than fragments", st)
			}
			if got := len(log.of(producer.SessionEnded)); got < 2 {
				t.Errorf("%d SessionEnded events, want the frozen session and the last", got)
			}
		})
	}
}

// Close honours its context while the endpoint is frozen: it gives up at
// the deadline, reports the fragments left unacknowledged and leaves no
// goroutine behind (TestMain checks with goleak).
func TestCloseHonoursContextWhileFrozen(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.freeze = make(chan struct{}) // reads the request, never answers
	cfg := fake.config(t, "frozen-close")
	cfg.ConnectionStaleness = time.Hour // the stall outlives Close
	cfg.FragmentDuration = 500 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range synthFrames(45, 30, 15, 1000) {
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatalf("WriteFrame %d: %v", i, err)
		}
	}
	for len(fake.records()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the session waits for more, its body open
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Close(ctx) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return 9 s after its context ended")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, producer.ErrNotAcknowledged) {
		t.Errorf("Close: %v, want the deadline and the unacknowledged fragments", err)
	}
}
