package device

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLoopContinuesTimestamps(t *testing.T) {
	src, err := NewTestPattern()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Read the underlying loop unpaced: two and a half passes of the 10 s clip.
	l := src.(*testPattern).src
	var lastDTS, lastVideo [3]time.Duration
	keys := 0
	for i := 0; i < 2000; i++ {
		fr, err := l.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if fr.DTS < lastDTS[fr.Track] {
			t.Fatalf("frame %d: track %d DTS went back from %s to %s", i, fr.Track, lastDTS[fr.Track], fr.DTS)
		}
		if fr.Track == 1 {
			if lastVideo[1] > 0 {
				if gap := fr.DTS - lastVideo[1]; gap < 30*time.Millisecond || gap > 37*time.Millisecond {
					t.Fatalf("frame %d: video frame interval %s across the loop, want ~33 ms", i, gap)
				}
			}
			lastVideo[1] = fr.DTS
			if fr.Key {
				keys++
			}
		}
		lastDTS[fr.Track] = fr.DTS
	}
	if lastVideo[1] < 20*time.Second || keys < 20 {
		t.Fatalf("after 2000 frames video reached %s with %d key frames", lastVideo[1], keys)
	}
}

func TestTestPatternIsPacedAndCloses(t *testing.T) {
	src, err := OpenURI(context.Background(), "test://")
	if err != nil {
		t.Fatal(err)
	}
	if tr := src.Tracks(); len(tr) != 2 || tr[0].Width != 640 {
		t.Fatalf("tracks %+v", tr)
	}
	start := time.Now()
	var last time.Duration
	for i := 0; i < 40; i++ {
		fr, err := src.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		last = fr.DTS
	}
	// A frame is never handed out before its time.
	if elapsed := time.Since(start); src.Origin().Add(last).After(time.Now()) || elapsed < last-50*time.Millisecond {
		t.Fatalf("frame at %s handed out after %s", last, elapsed)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := src.ReadFrame(); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	src.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop a waiting ReadFrame")
	}
	if _, err := OpenURI(context.Background(), "ftp://x"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown scheme: %v", err)
	}
}
