package producer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/producer"
	"kvskit/server"
)

// releaseRecorder is a Config.ReleaseFrame that overwrites every released
// frame's Data, as a source reusing the buffer would, and records it.
type releaseRecorder struct {
	mu       sync.Mutex
	released map[*byte]int
}

func (r *releaseRecorder) release(f media.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(f.Data) == 0 {
		return
	}
	r.released[&f.Data[0]]++
	for i := range f.Data {
		f.Data[i] = 0xEE
	}
}

// TestReleasedFramesAreNotUsedAgain uploads with a restart of the endpoint in
// the middle (so fragments are sent again from the buffer) while every
// released frame is overwritten: the archive must still hold exactly the
// frames written, and every frame must be released once.
func TestReleasedFramesAreNotUsedAgain(t *testing.T) {
	tracks := synthTracks()
	frames := synthFrames(30*10, 30, 15, 3000)
	want := make([]media.Frame, len(frames))
	for i, f := range frames {
		want[i] = f
		want[i].Data = append([]byte(nil), f.Data...)
	}
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "release")
	cfg.StartTime = time.Now().Add(-time.Hour)
	cfg.Block = true
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.MaxFragmentsPerSecond = 8
	rec := &releaseRecorder{released: map[*byte]int{}}
	cfg.ReleaseFrame = rec.release
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	if err := uploadWithRestart(t, ep, p, frames, log, 3); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if st := p.Stats(); st.Reconnects < 1 || st.Persisted < st.Fragments {
		t.Errorf("stats %+v: want a reconnect and every fragment persisted", st)
	}
	got, _ := ep.readBack(t, "release")
	wantFrames(t, cfg.StartTime, want, got)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, f := range frames {
		if n := rec.released[&f.Data[0]]; n != 1 {
			t.Fatalf("frame %d (track %d, %v) released %d times, want once", i, f.Track, f.PTS, n)
		}
	}
}

// TestDiscardOpenReleasesTheOpenFragment checks that frames dropped by
// DiscardOpen are released, and only those.
func TestDiscardOpenReleasesTheOpenFragment(t *testing.T) {
	tracks := synthTracks()
	frames := synthFrames(30*3, 30, 30, 1000) // key frames at 0, 1 and 2 s
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "release-discard")
	cfg.Block = true
	rec := &releaseRecorder{released: map[*byte]int{}}
	cfg.ReleaseFrame = rec.release
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range frames {
		if err := p.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// The fragment from 2 s on is still open.
	open := 0
	for _, f := range frames {
		if f.PTS >= 2*time.Second {
			open++
		}
	}
	rec.mu.Lock()
	before := len(rec.released)
	rec.mu.Unlock()
	if n := p.DiscardOpen(); n != open {
		t.Fatalf("DiscardOpen = %d, want %d", n, open)
	}
	rec.mu.Lock()
	if got := len(rec.released) - before; got != open {
		t.Errorf("DiscardOpen released %d frames, want %d", got, open)
	}
	rec.mu.Unlock()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.released) != len(frames) {
		t.Errorf("%d of %d frames released after Close", len(rec.released), len(frames))
	}
}
