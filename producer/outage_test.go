package producer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"kvskit/producer"
	"kvskit/server"
)

// An outage long enough for WriteFrame to wait on a full buffer for longer
// than the idle flush loses no frame: back-pressure is not a pause, and the
// fragment cut by an idle flush is followed by the frames after it, key
// frame or not.
func TestOutageLosesNothingToIdleFlush(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "outage")
	cfg.Block = true
	cfg.BufferDuration = time.Second
	cfg.IdleFlush = 200 * time.Millisecond
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.ConnectionStaleness = time.Second
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	frames := synthFrames(240, 30, 15, 2000)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, f := range frames {
			if err := p.WriteFrame(ctx, f); err != nil {
				done <- err
				return
			}
			if f.Track == 1 {
				time.Sleep(10 * time.Millisecond) // a source at 3x real time
			}
		}
		done <- p.Close(ctx)
	}()
	log.waitFor(t, producer.FragmentPersisted, 1, 20*time.Second)
	ep.stop()
	time.Sleep(2 * time.Second) // WriteFrame waits at the full buffer, 10 idle windows
	ep.start(ep.addr)
	if err := <-done; err != nil {
		t.Fatalf("upload: %v", err)
	}
	st := p.Stats()
	if st.FramesSkipped != 0 {
		t.Errorf("stats %+v: %d frames skipped", st, st.FramesSkipped)
	}
	got, _ := ep.readBack(t, "outage")
	wantFrames(t, p.StartTime(), frames, got)
}

// A live source that really pauses mid-GOP: the idle flush sends what it
// has, and the frames after the pause (not starting with a key frame) open
// the next fragment instead of being dropped.
func TestPauseMidGOPLosesNothing(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "pause")
	cfg.IdleFlush = 150 * time.Millisecond
	cfg.FragmentDuration = 500 * time.Millisecond
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	frames := synthFrames(60, 30, 30, 1000)
	for i, f := range frames {
		if i == 2*20 { // mid-GOP: frame 20 of 30
			log.waitFor(t, producer.FragmentPersisted, 1, 10*time.Second)
		}
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.FramesSkipped != 0 || st.Persisted != st.Fragments {
		t.Errorf("stats %+v: want nothing skipped, everything persisted", st)
	}
	got, _ := ep.readBack(t, "pause")
	wantFrames(t, p.StartTime(), frames, got)
}

// A full live buffer drops whole GOPs: the fragment an idle flush cut off
// the middle of a GOP goes with the fragment that holds the GOP's key frame,
// never stays behind as the oldest.
func TestLiveModeDropsWholeGOPs(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.hold = make(chan struct{}) // accepts the request, never reads nor acknowledges
	cfg := fake.config(t, "gops")
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.BufferDuration = 1900 * time.Millisecond
	cfg.IdleFlush = 100 * time.Millisecond
	cfg.ConnectionStaleness = time.Hour
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	// One-second GOPs, one fragment each; a pause in the seventh GOP cuts
	// it into fragments 6 (its key frame and 4 more) and 7 (the other 25
	// frames). Close then flushes the eighth GOP as fragment 8, and the
	// 1.9 s buffer must make room for it: dropping fragment 6 would be
	// enough, but 7 cannot be decoded without it.
	frames := synthFrames(8*30, 30, 30, 1000)
	for i, f := range frames {
		if i == 2*(6*30+5) {
			deadline := time.Now().Add(5 * time.Second)
			for p.Stats().Fragments < 7 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = p.Close(ctx)
	var ce *producer.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("Close: %v, want a CloseError", err)
	}
	var unacked []uint64
	for _, f := range ce.Fragments {
		if errors.Is(f.Err, producer.ErrNotAcknowledged) {
			unacked = append(unacked, f.Seq)
		}
	}
	st := p.Stats()
	if st.Fragments != 9 || len(unacked) != 1 || unacked[0] != 8 {
		t.Errorf("stats %+v, left unacknowledged %v: want fragment 7 dropped with 6, only 8 left", st, unacked)
	}
	if st.FramesDropped != 2*7*30 || st.FramesSkipped != 0 {
		t.Errorf("stats %+v: want the frames of the 7 dropped GOPs counted, none skipped", st)
	}
}
