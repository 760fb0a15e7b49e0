package rtsp

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"kvskit/media"
)

// orderHarness runs one video track's frames through session.place and
// session.emit as the depacketizer hands them over, without a network.
type orderHarness struct {
	t    *testing.T
	src  *Source
	sess *session
	rx   *rxTrack
}

func newOrderHarness(t *testing.T, ri reorderInfo) *orderHarness {
	src := &Source{cfg: &config{}, log: slog.New(slog.DiscardHandler), base: time.Now(), ready: make(chan struct{})}
	src.q = newFrameQueue(time.Second, &src.stats.dropped, &src.stats.repairs)
	src.tracks = []*srcTrack{{number: 1, info: media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}, reorder: ri}}
	src.q.setTracks([]media.Kind{media.KindVideo}, 0)
	sess := &session{src: src, cfg: src.cfg, log: src.log, tl: newTimeline([]int{90000}), synced: true}
	rx := &rxTrack{idx: 0, spec: trackSpec{kind: media.KindVideo, codec: media.CodecH264, clockRate: 90000}}
	sess.tracks = []*rxTrack{rx}
	src.originSet = true
	return &orderHarness{t: t, src: src, sess: sess, rx: rx}
}

// feed hands over a frame with RTP timestamp ts that arrives at arrival
// (local time) and returns the frames the queue then releases.
func (h *orderHarness) feed(ts uint32, arrival time.Duration, key bool) []media.Frame {
	pf := pendingFrame{t: h.rx, ts: ts, arrival: arrival, data: []byte{byte(ts)}, key: key}
	at, reordered := h.sess.place(pf)
	h.sess.emit(pf, at, reordered)
	return h.drain()
}

func (h *orderHarness) drain() []media.Frame {
	var out []media.Frame
	for {
		f, ok, _, _ := h.src.q.next(h.src.now())
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

// frameTicks is one frame at 30 fps in 90 kHz ticks.
const frameTicks = 3000

// gops returns n GOPs of size pictures (a multiple of the mini-GOP of
// pattern, in decoding order, as offsets after the mini-GOP's start) in
// decoding order: the PTS in frames and the key flags.
func gops(n, size int, pattern []int) (pts []int, key []bool) {
	for g := range n {
		base := g * size
		pts, key = append(pts, base), append(key, true)
		for m := 0; m < size; m += len(pattern) {
			for _, p := range pattern {
				if v := base + m + p; v < base+size {
					pts, key = append(pts, v), append(key, false)
				}
			}
		}
	}
	return pts, key
}

func TestOrderDerivesDTS(t *testing.T) {
	ibbp := []int{3, 1, 2}
	pyramid := []int{4, 2, 1, 3}
	hier := []int{8, 4, 2, 1, 3, 6, 5, 7}
	none := []int{1}
	cases := []struct {
		name    string
		ri      reorderInfo
		pattern []int
		size    int
		// lag: how many frames may be held at most (0: each frame comes out
		// at once with DTS = PTS).
		lag     int
		dropped int // frames dropped after the first two
	}{
		{"IBBP, SPS says 1", reorderInfo{1, true}, ibbp, 30, 4, 0},
		{"IBBBP pyramid, SPS says 2", reorderInfo{2, true}, pyramid, 32, 6, 0},
		{"hierarchical GOP of 8, SPS says 3", reorderInfo{3, true}, hier, 32, 8, 0},
		{"no B-frames, SPS says 0", reorderInfo{0, true}, none, 30, 0, 0},
		{"no B-frames, SPS silent", reorderInfo{}, none, 30, 0, 0},
		// Learnt at the first B-frame, the third frame: the rest of the
		// first GOP is dropped.
		{"IBBP, SPS silent", reorderInfo{}, ibbp, 30, media.MaxReorderFrames, 28},
		{"pyramid, SPS silent", reorderInfo{}, pyramid, 32, media.MaxReorderFrames, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newOrderHarness(t, c.ri)
			pts, key := gops(4, c.size, c.pattern)
			const latency = 50 * time.Millisecond
			base := uint32(0xffff0000) // wraps
			var out []media.Frame
			for i, p := range pts {
				// Sent at its decoding time, stamped with its presentation time.
				arrival := time.Second + time.Duration(i)*time.Second/30 + latency
				got := h.feed(base+uint32(p*frameTicks), arrival, key[i])
				out = append(out, got...)
				if c.lag == 0 && (len(got) != 1 || got[0].DTS != got[0].PTS) {
					t.Fatalf("frame %d: %d frames out, want itself with DTS = PTS: %+v", i, len(got), got)
				}
				if held := i + 1 - len(out) - int(h.src.stats.dropped.Load()); held > c.lag {
					t.Fatalf("frame %d: %d frames held", i, held)
				}
			}
			h.sess.mu.Lock()
			h.sess.flushVideo()
			h.sess.mu.Unlock()
			out = append(out, h.drain()...)
			st := h.src.Stats()
			if st.TimestampRepairs != 0 || int(st.FramesDropped) != c.dropped || len(out)+c.dropped != len(pts) {
				t.Fatalf("%d frames out of %d, stats %+v, want %d dropped", len(out), len(pts), st, c.dropped)
			}
			first := out[0].PTS
			for i, f := range out {
				j := i
				if i >= 2 {
					j = i + c.dropped
				}
				want := time.Duration(pts[j]) * time.Second / 30
				if d := f.PTS - first - want; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("frame %d: PTS %v, want %v after the first", j, f.PTS-first, want)
				}
				if f.DTS > f.PTS || i > 0 && f.DTS <= out[i-1].DTS {
					t.Fatalf("frame %d: DTS %v PTS %v after DTS %v", j, f.DTS, f.PTS, out[i-1].DTS)
				}
				if f.Data[0] != byte(base+uint32(pts[j]*frameTicks)) {
					t.Fatalf("frame %d out of order", j)
				}
				if len(c.pattern) == 1 && f.DTS != f.PTS {
					t.Fatalf("frame %d: DTS %v != PTS %v without reordering", j, f.DTS, f.PTS)
				}
			}
		})
	}
}

// TestOrderJumps: timestamps that go back further than reordering can
// explain are repaired, and counted, with and without B-frames; the
// frames keep DTS <= PTS and increasing DTS.
func TestOrderJumps(t *testing.T) {
	cases := []struct {
		name    string
		ri      reorderInfo
		pattern []int
		back    time.Duration
		repairs uint64
	}{
		{"IBBP, 10 s back", reorderInfo{1, true}, []int{3, 1, 2}, 10 * time.Second, 1},
		{"pyramid, 5 s back", reorderInfo{2, true}, []int{4, 2, 1, 3}, 5 * time.Second, 1},
		{"no B-frames, SPS silent, 200 ms back", reorderInfo{}, []int{1}, 200 * time.Millisecond, 1},
		{"no B-frames, SPS silent, 210 ms back", reorderInfo{}, []int{1}, 210 * time.Millisecond, 1},
		{"no B-frames, SPS says 0, 2 frames back", reorderInfo{0, true}, []int{1}, 2 * time.Second / 30, 1},
		{"IBBP, SPS says 1, 5 frames back", reorderInfo{1, true}, []int{3, 1, 2}, 5 * time.Second / 30, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newOrderHarness(t, c.ri)
			pts, key := gops(3, 24, c.pattern)
			var out []media.Frame
			back := uint32(int64(c.back) * 90000 / int64(time.Second))
			for i, p := range pts {
				ts := uint32(p * frameTicks)
				if i >= 40 { // in the middle of a GOP
					ts -= back
				}
				arrival := time.Second + time.Duration(i)*time.Second/30
				out = append(out, h.feed(ts, arrival, key[i])...)
			}
			h.sess.mu.Lock()
			h.sess.flushVideo()
			h.sess.mu.Unlock()
			out = append(out, h.drain()...)
			st := h.src.Stats()
			if st.TimestampRepairs != c.repairs || st.FramesDropped != 0 || len(out) != len(pts) {
				t.Errorf("%d of %d frames, stats %+v, want %d repairs", len(out), len(pts), st, c.repairs)
			}
			for i, f := range out {
				if f.DTS > f.PTS || i > 0 && f.DTS <= out[i-1].DTS {
					t.Fatalf("frame %d: DTS %v PTS %v after DTS %v", i, f.DTS, f.PTS, out[i-1].DTS)
				}
			}
			// Presentation order survives the repair: the PTS are distinct.
			ptsOut := make([]time.Duration, len(out))
			for i, f := range out {
				ptsOut[i] = f.PTS
			}
			slices.Sort(ptsOut)
			if len(slices.Compact(ptsOut)) != len(out) {
				t.Errorf("repeated PTS: %v", fmt.Sprint(ptsOut))
			}
		})
	}
}

func TestBoundsJumped(t *testing.T) {
	ms := time.Millisecond
	var o orderState
	for i := range 20 {
		o.record(time.Duration(i) * 40 * ms) // 0..760 ms, 25 fps
	}
	cases := []struct {
		name    string
		reorder int
		at      time.Duration
		want    bool
	}{
		{"next frame", 2, 800 * ms, false},
		{"repeat", 2, 720 * ms, true},
		{"no reordering allowed", 0, 750 * ms, true},
		{"no hole", 16, 700 * ms, true},
		{"far back", 16, -5 * time.Second, true},
	}
	for _, c := range cases {
		b := o.bounds(760*ms, true, c.reorder)
		if got := b.jumped(c.at); got != c.want {
			t.Errorf("%s: jumped(%v) = %v, want %v (bounds %+v)", c.name, c.at, got, c.want, b)
		}
	}
	// A hole left by a P-frame sent before its B-frames.
	var p orderState
	for _, f := range []int{0, 1, 2, 3, 4, 5, 6, 9} {
		p.record(time.Duration(f) * 40 * ms)
	}
	for _, c := range []struct {
		reorder int
		at      time.Duration
		want    bool
	}{{1, 7 * 40 * ms, false}, {1, 8 * 40 * ms, false}, {1, 8*40*ms + 3*ms, false}, {1, 5*40*ms + 20*ms, true}, {0, 7 * 40 * ms, true}} {
		b := p.bounds(9*40*ms, true, c.reorder)
		if got := b.jumped(c.at); got != c.want {
			t.Errorf("hole: reorder %d jumped(%v) = %v, want %v", c.reorder, c.at, got, c.want)
		}
	}
}
