package v4l2

import (
	"testing"
	"time"
)

func TestCaptureTime(t *testing.T) {
	now := 1000 * time.Second
	for _, c := range []struct {
		name      string
		ts        time.Duration
		flags     uint32
		trustCopy bool
		want      time.Duration
	}{
		{"monotonic", now - 40*time.Millisecond, bufFlagTimestampMonotone, false, now - 40*time.Millisecond},
		{"monotonic with other flags", now - time.Millisecond, bufFlagTimestampMonotone | bufFlagKeyframe, false, now - time.Millisecond},
		{"unknown source", now - 40*time.Millisecond, 0, false, now},
		{"copied, untrusted", now - 40*time.Millisecond, bufFlagTimestampCopy, false, now},
		{"copied from our own", now - 40*time.Millisecond, bufFlagTimestampCopy, true, now - 40*time.Millisecond},
		{"zero", 0, bufFlagTimestampMonotone, false, now},
		{"realtime clock", time.Duration(1.7e9) * time.Second, bufFlagTimestampMonotone, false, now},
		{"far in the past", now - time.Minute, bufFlagTimestampMonotone, false, now},
	} {
		if got := captureTime(c.ts, c.flags, c.trustCopy, now); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClockMapping(t *testing.T) {
	wall := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newClock(wall, 500*time.Second)
	if got := c.pts(500*time.Second + 40*time.Millisecond); got != 40*time.Millisecond {
		t.Errorf("pts = %v", got)
	}
	if got := c.pts(499 * time.Second); got != 0 {
		t.Errorf("pts before the origin = %v, want 0", got)
	}
	// The wall-clock time of a frame is origin + PTS, whatever the wall
	// clock does later.
	if got := c.origin.Add(c.pts(503 * time.Second)); !got.Equal(wall.Add(3 * time.Second)) {
		t.Errorf("frame wall time %v", got)
	}
	for _, d := range []time.Duration{0, time.Microsecond, 1500 * time.Millisecond, 123456789 * time.Microsecond} {
		if got := tvDuration(durationTV(d)); got != d {
			t.Errorf("timeval round trip of %v: %v", d, got)
		}
	}
}

func TestMonotonize(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		pts, last time.Duration
		have      bool
		want      time.Duration
		repaired  bool
	}{
		{0, 0, false, 0, false},
		{40 * ms, 0, true, 40 * ms, false},
		{40 * ms, 40 * ms, true, 41 * ms, true},
		{30 * ms, 40 * ms, true, 41 * ms, true},
		{40*ms + 500*time.Microsecond, 40 * ms, true, 41 * ms, true},
		{41 * ms, 40 * ms, true, 41 * ms, false},
	} {
		got, rep := monotonize(c.pts, c.last, c.have)
		if got != c.want || rep != c.repaired {
			t.Errorf("monotonize(%v, %v, %v) = %v, %v; want %v, %v", c.pts, c.last, c.have, got, rep, c.want, c.repaired)
		}
	}
}
