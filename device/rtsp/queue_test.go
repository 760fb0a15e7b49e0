package rtsp

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"kvskit/media"
)

func newTestQueue(window time.Duration) (*frameQueue, *atomic.Uint64, *atomic.Uint64) {
	var dropped, raised atomic.Uint64
	q := newFrameQueue(window, &dropped, &raised)
	q.setTracks([]media.Kind{media.KindVideo, media.KindAudio}, 0)
	return q, &dropped, &raised
}

func frame(track uint64, ms int, key bool) media.Frame {
	d := time.Duration(ms) * time.Millisecond
	return media.Frame{Track: track, PTS: d, DTS: d, Key: key, Data: make([]byte, 10)}
}

// TestQueueOrder: frames of both tracks come out in DTS order, and a frame
// waits while the other track, still active, has nothing queued.
func TestQueueOrder(t *testing.T) {
	q, _, raised := newTestQueue(time.Second)
	now := 10 * time.Millisecond
	q.push(0, frame(1, 0, true), now)
	q.push(0, frame(1, 33, false), now)
	q.push(1, frame(2, 10, true), now)
	q.push(1, frame(2, 31, true), now)
	var got []time.Duration
	for {
		f, ok, wait, err := q.next(now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if wait <= 0 || wait > time.Second {
				t.Errorf("wait %v", wait)
			}
			break
		}
		got = append(got, f.DTS)
	}
	want := []time.Duration{0, 10 * time.Millisecond, 31 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v (33 ms waits for audio)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	// Once audio stays silent for the window, video goes on alone.
	if _, ok, _, _ := q.next(now + time.Second - time.Millisecond); ok {
		t.Error("returned before the window")
	}
	if f, ok, _, _ := q.next(now + time.Second); !ok || f.DTS != 33*time.Millisecond {
		t.Errorf("after the window: %v %v", f.DTS, ok)
	}
	// A late audio frame older than what was returned is moved up.
	q.push(1, frame(2, 20, true), now+time.Second)
	f, ok, _, _ := q.next(now + time.Second)
	if !ok || f.DTS != 33*time.Millisecond || f.PTS != 33*time.Millisecond || raised.Load() != 1 {
		t.Errorf("late frame: %+v ok=%v raised=%d", f, ok, raised.Load())
	}
	// And its successor, raised as well, stays after it within its track.
	q.push(1, frame(2, 25, true), now+time.Second)
	f, _, _, _ = q.next(now + time.Second)
	if f.DTS != 34*time.Millisecond || raised.Load() != 2 {
		t.Errorf("second late frame at %v, raised %d", f.DTS, raised.Load())
	}
}

// TestQueueOverflow: when the reader falls behind, the oldest frames go, and
// video up to its next key frame.
func TestQueueOverflow(t *testing.T) {
	q, dropped, _ := newTestQueue(time.Second)
	for i := range maxQueueFrames {
		q.push(0, frame(1, i, i%30 == 0), 0)
	}
	q.push(1, frame(2, 0, true), time.Millisecond)
	// Making room dropped video frame 0 and the 29 frames depending on it.
	if dropped.Load() != 30 {
		t.Errorf("dropped %d, want 30", dropped.Load())
	}
	f, ok, _, _ := q.next(time.Millisecond)
	if !ok || f.Track != 2 {
		t.Fatalf("first %+v", f)
	}
	f, ok, _, _ = q.next(2 * time.Second) // audio went silent
	if !ok || f.DTS != 30*time.Millisecond || !f.Key {
		t.Errorf("video resumes at %v key=%v", f.DTS, f.Key)
	}
}

func TestQueueError(t *testing.T) {
	q, _, _ := newTestQueue(0)
	q.push(1, frame(2, 0, true), 0)
	q.setErr(ErrTracksChanged)
	if _, ok, _, err := q.next(0); !ok || err != nil {
		t.Fatal("queued frame not returned before the error")
	}
	if _, _, _, err := q.next(0); !errors.Is(err, ErrTracksChanged) {
		t.Errorf("err = %v", err)
	}
}
