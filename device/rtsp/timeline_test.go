package rtsp

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestUnwrapper(t *testing.T) {
	var u unwrapper
	in := []uint32{0xfffffff0, 0xfffffffa, 4, 100, 50, 0x80000000 + 10, 0xf000000a, 20, 0x80000000 + 30}
	want := []int64{0xfffffff0, 0xfffffffa, 1<<32 + 4, 1<<32 + 100, 1<<32 + 50, 1<<32 + 0x80000000 + 10, 1<<32 + 0xf000000a, 2<<32 + 20, 1<<32 + 0x80000000 + 30}
	for i, ts := range in {
		if p := u.peek(ts); i > 0 && p != want[i] {
			t.Errorf("peek(%#x) = %#x, want %#x", ts, p, want[i])
		}
		if got := u.unwrap(ts); got != want[i] {
			t.Errorf("unwrap(%#x) = %#x, want %#x", ts, got, want[i])
		}
	}
}

func TestTicks(t *testing.T) {
	if got := ticks(90000*3600*24*365, 90000); got != 365*24*time.Hour {
		t.Errorf("a year of 90 kHz ticks = %v", got)
	}
	if got := ticks(-1024, 48000); got != -21333334*time.Nanosecond {
		t.Errorf("negative: %v", got)
	}
	// Rounded down on both sides of the anchor, times a whole number of
	// nanoseconds apart stay exactly that far apart: a unit just before a
	// sender report and one 2 s later are 2 s apart, not 1.999999999 s
	// (which would make a fragment of 2 s cut a key frame later).
	for _, d := range []int64{-1, -3000, -44999, -90001, 1, 3000} {
		if got := ticks(d+180000, 90000) - ticks(d, 90000); got != 2*time.Second {
			t.Errorf("ticks(%d+2 s) - ticks(%d) = %v", d, d, got)
		}
	}
	if got := ntpDuration(3<<32 | 1<<31); got != 3500*time.Millisecond {
		t.Errorf("ntp: %v", got)
	}
}

// feeder drives a timeline track: frames every step ticks, arriving after
// latency plus jitter.
type feeder struct {
	tl      *timeline
	i       int
	rate    int64
	last    time.Duration
	hasLast bool
	repairs int
}

func (f *feeder) place(t *testing.T, ts uint32, arrival time.Duration) time.Duration {
	t.Helper()
	p := f.tl.place(f.i, ts, arrival, bounds{has: f.hasLast, floor: f.last, top: f.last})
	if f.hasLast && p.at <= f.last {
		t.Fatalf("track %d went back: %v after %v (ts %d)", f.i, p.at, f.last, ts)
	}
	if p.repair != "" {
		f.repairs++
	}
	f.last, f.hasLast = p.at, true
	return p.at
}

// TestTimelineArrivalAnchor: without sender reports the first frame is
// anchored at its arrival and later ones follow the RTP clock, whatever the
// network jitter.
func TestTimelineArrivalAnchor(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tl := newTimeline([]int{90000})
	f := &feeder{tl: tl, rate: 90000}
	start := 5 * time.Second
	base := uint32(0xffff0000) // wraps after a few frames
	for n := range 300 {
		capture := start + time.Duration(n)*time.Second/30
		arrival := capture + 50*time.Millisecond + time.Duration(r.IntN(30))*time.Millisecond
		if n == 0 {
			arrival = capture + 50*time.Millisecond
		}
		at := f.place(t, base+uint32(n*3000), arrival)
		if want := start + 50*time.Millisecond + time.Duration(n)*time.Second/30; absDiff(at, want) > time.Microsecond {
			t.Fatalf("frame %d at %v, want %v", n, at, want)
		}
	}
	if f.repairs != 0 {
		t.Errorf("%d repairs", f.repairs)
	}
}

// TestTimelineSenderReports: with sender reports, audio and video captured
// at the same instant land at the same local time, although the camera's
// NTP clock is far off and video arrives later than audio.
func TestTimelineSenderReports(t *testing.T) {
	tl := newTimeline([]int{90000, 48000})
	video := &feeder{tl: tl, i: 0, rate: 90000}
	audio := &feeder{tl: tl, i: 1, rate: 48000}
	cameraNTP := func(local time.Duration) uint64 { // camera clock 1000 s ahead
		d := local + 1000*time.Second + 3900000000*time.Second
		return uint64(d/time.Second)<<32 | uint64(d%time.Second)<<32/uint64(time.Second)
	}
	vBase, aBase := uint32(12345), uint32(999999)
	vts := func(local time.Duration) uint32 { return vBase + uint32(local*90000/time.Second) }
	ats := func(local time.Duration) uint32 { return aBase + uint32(local*48000/time.Second) }
	// Sender reports arrive 2 ms after they are sent.
	tl.senderReport(0, cameraNTP(time.Second), vts(time.Second), time.Second+2*time.Millisecond)
	tl.senderReport(1, cameraNTP(1100*time.Millisecond), ats(1100*time.Millisecond), 1102*time.Millisecond)
	if !tl.allReported() {
		t.Fatal("not all reported")
	}
	for n := range 100 {
		capture := time.Second + time.Duration(n)*40*time.Millisecond
		v := video.place(t, vts(capture), capture+150*time.Millisecond)
		a := audio.place(t, ats(capture), capture+20*time.Millisecond)
		if absDiff(v, a) > time.Millisecond || absDiff(v, capture+2*time.Millisecond) > time.Millisecond {
			t.Fatalf("capture %v: video at %v, audio at %v", capture, v, a)
		}
	}
}

// TestTimelineJumps: timestamps that go back, repeat or leap forward
// re-anchor the track at the arrival time; spacing resumes afterwards.
func TestTimelineJumps(t *testing.T) {
	tl := newTimeline([]int{90000})
	f := &feeder{tl: tl, rate: 90000}
	frame := time.Second / 30
	ts := uint32(1000)
	arrival := time.Second
	next := func(step int) time.Duration {
		ts += uint32(step)
		arrival += frame
		return f.place(t, ts, arrival)
	}
	f.place(t, ts, arrival)
	for range 50 {
		next(3000)
	}
	prev := f.last
	// Back by 10 s.
	at := next(-900000)
	if f.repairs != 1 || absDiff(at, prev+frame) > time.Millisecond {
		t.Errorf("after step back: at %v (prev %v), repairs %d", at, prev, f.repairs)
	}
	for range 10 {
		prev = f.last
		if at := next(3000); absDiff(at-prev, frame) > time.Millisecond {
			t.Errorf("spacing after repair: %v", at-prev)
		}
	}
	// Repeated timestamps.
	for range 3 {
		next(0)
	}
	if f.repairs != 4 {
		t.Errorf("repeats: %d repairs, want 4", f.repairs)
	}
	// An hour forward.
	prev = f.last
	at = next(90000 * 3600)
	if f.repairs != 5 || absDiff(at, prev+frame) > time.Millisecond {
		t.Errorf("after leap: at %v, prev %v, repairs %d", at, prev, f.repairs)
	}
	// Small steps back (a camera resending a timestamp 1 tick lower).
	next(-1)
	if f.repairs != 6 {
		t.Errorf("one tick back: %d repairs", f.repairs)
	}
	for range 10 {
		next(3000)
	}
	if f.repairs != 6 {
		t.Errorf("steady frames repaired: %d", f.repairs)
	}
}

// TestTimelineDrift: a camera clock 500 ppm slow or fast is slewed towards
// local time: after an hour the frames are within a fraction of a second of
// their capture time (uncorrected: 1.8 s off), without repairs.
func TestTimelineDrift(t *testing.T) {
	for _, ppm := range []float64{-500, 500} {
		tl := newTimeline([]int{90000, 48000})
		video := &feeder{tl: tl, i: 0, rate: 90000}
		audio := &feeder{tl: tl, i: 1, rate: 48000}
		r := rand.New(rand.NewPCG(7, 8))
		frame := 40 * time.Millisecond
		var worst time.Duration
		for n := 0; n < int(time.Hour/frame); n++ {
			capture := time.Second + time.Duration(n)*frame
			camera := float64(capture) * (1 + ppm/1e6) // the camera's idea of the time
			vts := uint32(int64(camera * 90000 / 1e9))
			ats := uint32(int64(camera * 48000 / 1e9))
			jitter := time.Duration(r.IntN(20)) * time.Millisecond
			v := video.place(t, vts, capture+100*time.Millisecond+jitter)
			a := audio.place(t, ats, capture+30*time.Millisecond+jitter)
			if n > int(5*time.Minute/frame) {
				// Video was anchored at its arrival, 100 ms after capture.
				worst = max(worst, absDiff(v, capture+100*time.Millisecond), absDiff(a, capture+30*time.Millisecond))
			}
		}
		if worst > 150*time.Millisecond {
			t.Errorf("%+.0f ppm: frames up to %v away from their capture", ppm, worst)
		}
		if video.repairs+audio.repairs != 0 {
			t.Errorf("%+.0f ppm: %d repairs", ppm, video.repairs+audio.repairs)
		}
	}
}

// TestTimelineFloor: a floor (the previous session's last frame) is never
// crossed.
func TestTimelineFloor(t *testing.T) {
	tl := newTimeline([]int{90000})
	p := tl.place(0, 5, time.Second, bounds{has: true, floor: 2 * time.Second, top: 2 * time.Second})
	if p.at <= 2*time.Second || p.repair == "" {
		t.Errorf("placed at %v (%q)", p.at, p.repair)
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}
