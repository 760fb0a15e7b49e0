package producer_test

import (
	"context"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/producer"
)

// Frames of dropped fragments are counted even when ReleaseFrame took them
// back before the count.
func TestDroppedFramesCountedWithReleaseFrame(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.hold = make(chan struct{}) // accepts the request, never acknowledges
	cfg := fake.config(t, "released")
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.BufferDuration = 1900 * time.Millisecond
	cfg.ConnectionStaleness = time.Hour
	released := 0
	cfg.ReleaseFrame = func(media.Frame) { released++ }
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, p, synthFrames(6*30, 30, 30, 1000)) // six one-second GOPs, five closed
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
	st := p.Stats()
	if st.Dropped == 0 || st.FramesDropped != st.Dropped*2*30 {
		t.Fatalf("stats %+v: want the %d frames of the %d dropped fragments counted", st, st.Dropped*2*30, st.Dropped)
	}
}
