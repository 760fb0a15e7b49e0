package media_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"kvskit/media"
)

// dtsCases are PTS in decoding order, in frames, with the steady reordering
// delay the deriver must settle on.
var dtsCases = []struct {
	name  string
	order []int64
	delay int64
	// late: the reordering starts after the first window, so the delay
	// is raised once and one DTS repeats the previous one.
	late bool
}{
	{"no reordering", seq(0, 40), 0, false},
	{"IPBB", []int64{0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11, 15, 13, 14, 18, 16, 17, 21, 19, 20, 24, 22, 23}, 1, false},
	{"IBBBP pyramid", []int64{0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11, 16, 14, 13, 15, 20, 18, 17, 19, 24, 22, 21, 23}, 2, false},
	// H.265 hierarchical GOP of 8 (random access configuration).
	{"hierarchical 8", hierarchical(5), 3, false},
	{"reordering starts late", append(seq(0, 31), 33, 31, 32, 36, 34, 35, 39, 37, 38), 1, true},
}

func seq(from, n int64) []int64 {
	var out []int64
	for i := range n {
		out = append(out, from+i)
	}
	return out
}

// hierarchical returns the decoding order of gops GOPs of 8 pictures with
// a dyadic B-pyramid: 8, 4, 2, 1, 3, 6, 5, 7 after the leading I picture.
func hierarchical(gops int) []int64 {
	out := []int64{0}
	for g := range int64(gops) {
		for _, p := range []int64{8, 4, 2, 1, 3, 6, 5, 7} {
			out = append(out, g*8+p)
		}
	}
	return out
}

func TestDTSDeriver(t *testing.T) {
	const frame = 40 * time.Millisecond
	for _, c := range dtsCases {
		for _, window := range []int{media.MaxReorderFrames, 8} {
			t.Run(fmt.Sprintf("%s/window %d", c.name, window), func(t *testing.T) {
				d := media.NewDTSDeriver[int](window)
				var out []media.Derived[int]
				for i, p := range c.order {
					d.Push(time.Duration(p)*frame, i)
					for f, ok := d.Pop(); ok; f, ok = d.Pop() {
						out = append(out, f)
					}
					if d.Len() > window {
						t.Fatalf("%d frames held with a window of %d", d.Len(), window)
					}
				}
				d.Flush()
				for f, ok := d.Pop(); ok; f, ok = d.Pop() {
					out = append(out, f)
				}
				if len(out) != len(c.order) || d.Len() != 0 {
					t.Fatalf("%d frames out of %d, %d held", len(out), len(c.order), d.Len())
				}
				for i, f := range out {
					if f.Value != i || f.PTS != time.Duration(c.order[i])*frame {
						t.Fatalf("frame %d: value %d pts %v: order or PTS changed", i, f.Value, f.PTS)
					}
					if f.DTS > f.PTS {
						t.Fatalf("frame %d: dts %v > pts %v", i, f.DTS, f.PTS)
					}
					if i > 0 && (f.DTS < out[i-1].DTS || f.DTS == out[i-1].DTS && !c.late) {
						t.Fatalf("frame %d: dts %v after %v", i, f.DTS, out[i-1].DTS)
					}
				}
				// At the end the DTS run one frame apart, delay frames behind
				// the sorted PTS.
				sorted := slices.Clone(c.order)
				slices.Sort(sorted)
				for i := len(out) - 6; i < len(out); i++ {
					if want := time.Duration(sorted[i]-c.delay) * frame; out[i].DTS != want {
						t.Errorf("frame %d: dts %v, want %v", i, out[i].DTS, want)
					}
				}
				if c.delay == 0 {
					for i, f := range out {
						if f.DTS != f.PTS {
							t.Fatalf("frame %d: dts %v != pts %v without reordering", i, f.DTS, f.PTS)
						}
					}
				}
			})
		}
	}
}

// TestDTSDeriverWindowZero checks that a deriver without a window holds
// nothing and keeps DTS non-decreasing when PTS go back.
func TestDTSDeriverWindowZero(t *testing.T) {
	d := media.NewDTSDeriver[string](0)
	in := []time.Duration{0, 10, 20, 15, 30}
	want := []time.Duration{0, 10, 20, 20, 30}
	for i, p := range in {
		d.Push(p, "x")
		f, ok := d.Pop()
		if !ok {
			t.Fatalf("frame %d held", i)
		}
		if f.PTS != p || f.DTS != want[i] {
			t.Errorf("frame %d: pts %v dts %v, want %v %v", i, f.PTS, f.DTS, p, want[i])
		}
		if _, ok := d.Pop(); ok {
			t.Fatalf("frame %d: second pop", i)
		}
	}
}

// TestDTSDeriverFlushContinues checks that frames pushed after a Flush go on
// from the delay and DTS reached before it.
func TestDTSDeriverFlushContinues(t *testing.T) {
	d := media.NewDTSDeriver[int](4)
	order := []int64{0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11}
	var dts []time.Duration
	pop := func() {
		for f, ok := d.Pop(); ok; f, ok = d.Pop() {
			dts = append(dts, f.DTS)
		}
	}
	for i, p := range order {
		d.Push(time.Duration(p), i)
		pop()
		if i == 6 {
			d.Flush()
			pop()
			if d.Len() != 0 {
				t.Fatalf("%d held after Flush", d.Len())
			}
		}
	}
	d.Flush()
	pop()
	if len(dts) != len(order) {
		t.Fatalf("%d of %d frames", len(dts), len(order))
	}
	for i := 1; i < len(dts); i++ {
		if dts[i] < dts[i-1] {
			t.Fatalf("dts went back at %d: %v", i, dts)
		}
	}
}

func ExampleDTSDeriver() {
	// PTS of an I P B B P B B stream in decoding order, 40 ms apart.
	order := []int{0, 3, 1, 2, 6, 4, 5}
	d := media.NewDTSDeriver[string](4)
	show := func() {
		for f, ok := d.Pop(); ok; f, ok = d.Pop() {
			fmt.Println(f.Value, f.PTS, f.DTS)
		}
	}
	for i, p := range order {
		d.Push(time.Duration(p)*40*time.Millisecond, fmt.Sprint("frame", i))
		show()
	}
	d.Flush()
	show()
	// Output:
	// frame0 0s -40ms
	// frame1 120ms 0s
	// frame2 40ms 40ms
	// frame3 80ms 80ms
	// frame4 240ms 120ms
	// frame5 160ms 160ms
	// frame6 200ms 200ms
}

// BenchmarkDTSDeriver pushes and pops one frame of an IBBP stream (window
// 4, as an RTSP track whose SPS says 1) or of a stream without reordering
// (window 0).
func BenchmarkDTSDeriver(b *testing.B) {
	pattern := []time.Duration{3, 1, 2}
	for _, window := range []int{0, 4, media.MaxReorderFrames} {
		b.Run(fmt.Sprintf("window %d", window), func(b *testing.B) {
			d := media.NewDTSDeriver[int](window)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pts := time.Duration(i) * 40 * time.Millisecond
				if window > 0 {
					pts = (time.Duration(i/3*3) + pattern[i%3]) * 40 * time.Millisecond
				}
				d.Push(pts, i)
				if _, ok := d.Pop(); !ok && i > window {
					b.Fatal("nothing popped")
				}
			}
		})
	}
}
