package fragment

import (
	"slices"
	"testing"
	"time"

	"kvskit/media"
)

func ms(v ...int64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func av(videoFrames_ []media.Frame, audioDur time.Duration) []media.Frame {
	return tag(interleave(videoFrames_, audioFrames(aTrack, audioDur)))
}

// tableCase is one stream with the cut points and counters it must produce.
// Every case is also checked against all invariants (check) and seeds the
// fuzz test.
type tableCase struct {
	name     string
	build    func() scenario
	starts   []time.Duration
	forced   uint64
	repaired int // -1: only the invariants
	dropped  uint64
	extra    func(t *testing.T, sc scenario, res result)
}

func tableCases() []tableCase {
	va := defaultParams(videoTrack, audioTrack)
	return []tableCase{
		{
			name: "30fps+aac key every 1s target 2s",
			build: func() scenario {
				return scenario{params: va, frames: av(videoFrames(300, gop(30, 0)), 10*time.Second)}
			},
			starts: ms(0, 2000, 4000, 6000, 8000),
			extra: func(t *testing.T, _ scenario, res result) {
				// Fragments of 2 s: video to the next key frame plus the
				// audio frame (21.3 ms) that straddles it; 1 ns lost to
				// rounding 1/30 s.
				for _, f := range res.frags {
					if f.Duration < 2*time.Second-time.Nanosecond || f.Duration > 2*time.Second+22*time.Millisecond {
						t.Errorf("fragment %d: Duration %v, want 2 s", f.Seq, f.Duration)
					}
				}
			},
		},
		{
			// A camera clock being corrected: every key frame comes 100 us
			// (less than half a timecode unit) before its 2 s mark. Each
			// is still due; waiting for the next would make 4 s fragments.
			name: "key frames a hair early",
			build: func() scenario {
				v := videoFrames(300, gop(60, 0))
				for i := range v {
					if i > 0 && v[i].Key {
						v[i].PTS -= 100 * time.Microsecond
						v[i].DTS = v[i].PTS
					}
				}
				return scenario{params: defaultParams(videoTrack), frames: tag(v)}
			},
			starts: ms(0, 1999, 3999, 5999, 7999), // starts are whole ms, rounded down
		},
		{
			name: "key every 3s",
			build: func() scenario {
				return scenario{params: va, frames: av(videoFrames(300, gop(90, 0)), 10*time.Second)}
			},
			starts: ms(0, 3000, 6000, 9000),
		},
		{
			name: "no key frames for 25s",
			build: func() scenario {
				v := videoFrames(900, func(i int) bool { return i == 0 || i == 750 })
				return scenario{params: defaultParams(videoTrack), frames: tag(v)}
			},
			// The frame at 20 s would end the fragment at 20.033 s > 20 s.
			starts: ms(0, 20000, 25000),
			forced: 1,
			extra: func(t *testing.T, _ scenario, res result) {
				if d := res.frags[0].Duration; d != 20*time.Second && d != 20*time.Second-time.Nanosecond {
					t.Errorf("forced fragment lasts %v, want 20s", d)
				}
				if f := res.frags[1].Frames[0]; f.Key {
					t.Errorf("fragment after the forced cut starts on a key frame")
				}
			},
		},
		{
			name: "int16 limit, 1ms unit, key every 40s",
			build: func() scenario {
				p := va
				p.maxDur = 60 * time.Second
				return scenario{params: p, frames: av(videoFrames(1500, gop(1200, 0)), 50*time.Second)}
			},
			// Audio frame 1536 is at exactly 32.768 s: relative timecode
			// 32768 > 32767, so the fragment is cut before it; the video
			// frame before it (32.7667 s) still fits.
			starts: ms(0, 32768, 40000),
			forced: 1,
		},
		{
			name: "int16 boundary",
			build: func() scenario {
				p := defaultParams(videoTrack)
				p.maxDur = 60 * time.Second
				var fr []media.Frame
				for _, t := range append(ms(0, 10000, 20000, 30000, 32000), ms(32767, 32768)...) {
					fr = append(fr, media.Frame{Track: vTrack, PTS: t, DTS: t, Key: t == 0})
				}
				return scenario{params: p, frames: tag(fr)}
			},
			// 32767 units still fit the first cluster, 32768 do not.
			starts: ms(0, 32768),
			forced: 1,
		},
		{
			name: "audio only",
			build: func() scenario {
				return scenario{params: defaultParams(audioTrack), frames: tag(audioFrames(aTrack, 10*time.Second))}
			},
			// First AAC frame at or after Start + 2 s: frame 94 at 2005.3 ms,
			// 188 at 4010.7 ms, 282 at 6016 ms, 376 at 8021.3 ms.
			starts: ms(0, 2005, 4010, 6016, 8021),
		},
		{
			name: "repeated and backwards DTS",
			build: func() scenario {
				fr := av(videoFrames(180, gop(30, 0)), 6*time.Second)
				v44 := fr[nth(fr, vTrack, 44)]
				i := nth(fr, vTrack, 45) // repeats frame 44
				fr[i].PTS, fr[i].DTS = v44.PTS, v44.DTS
				i = nth(fr, vTrack, 100) // 50 ms back, behind frame 99
				fr[i].PTS -= 50 * time.Millisecond
				fr[i].DTS -= 50 * time.Millisecond
				a9 := fr[nth(fr, aTrack, 9)]
				i = nth(fr, aTrack, 10) // repeats audio frame 9
				fr[i].PTS, fr[i].DTS = a9.PTS, a9.DTS
				return scenario{params: va, frames: fr}
			},
			starts:   ms(0, 2000, 4000),
			repaired: 3,
			extra: func(t *testing.T, sc scenario, res result) {
				out := outByID(res)
				v44, v45 := out[idOf(sc.frames[nth(sc.frames, vTrack, 44)])], out[idOf(sc.frames[nth(sc.frames, vTrack, 45)])]
				if v45.DTS != v44.DTS+time.Millisecond || v45.PTS != v44.PTS+time.Millisecond {
					t.Errorf("repeated frame repaired to %v/%v, want one unit after %v/%v", v45.PTS, v45.DTS, v44.PTS, v44.DTS)
				}
				v99, v100 := out[idOf(sc.frames[nth(sc.frames, vTrack, 99)])], out[idOf(sc.frames[nth(sc.frames, vTrack, 100)])]
				if v100.DTS != v99.DTS+time.Millisecond {
					t.Errorf("backwards frame repaired to DTS %v, want %v", v100.DTS, v99.DTS+time.Millisecond)
				}
			},
		},
		{
			name: "B-frames open GOP",
			build: func() scenario {
				return scenario{params: va, frames: tag(interleave(bframes(6), audioFrames(aTrack, 6*time.Second)))}
			},
			// I frames are displayed 2 frames into each GOP: 66.7 ms, 2066.7 ms, 4066.7 ms.
			starts: ms(66, 2066, 4066),
			extra: func(t *testing.T, _ scenario, res result) {
				neg, reordered := 0, 0
				for _, f := range res.frags {
					var last time.Duration = -1 << 62
					for _, fr := range f.Frames {
						if fr.Track != vTrack {
							continue
						}
						if f.RelTimecode(fr, time.Millisecond) < 0 {
							neg++
						}
						if fr.PTS < last {
							reordered++
						}
						last = fr.PTS
					}
				}
				if neg == 0 || reordered == 0 {
					t.Errorf("%d negative relative timecodes, %d reordered PTS: B-frames lost", neg, reordered)
				}
			},
		},
		{
			name: "audio arrives 100ms ahead of video",
			build: func() scenario {
				fr := interleaveSkew(map[uint64]time.Duration{aTrack: -100 * time.Millisecond},
					videoFrames(300, gop(30, 0)), audioFrames(aTrack, 10*time.Second))
				return scenario{params: va, frames: tag(fr)}
			},
			starts: ms(0, 2000, 4000, 6000, 8000),
			// Audio frames 0-4 (up to 85.3 ms) arrive before the first key
			// frame: they wait for it and follow it.
			dropped: 0,
			extra: func(t *testing.T, _ scenario, res result) {
				// Audio at or after each key frame arrived before it: it must
				// follow the key frame in the new fragment, timestamps intact.
				for _, f := range res.frags {
					if len(f.Frames) < 2 || f.Frames[1].Track != aTrack || f.Frames[1].PTS < f.Start {
						t.Errorf("fragment %d: audio that arrived before the key frame was not moved after it", f.Seq)
					}
				}
			},
		},
		{
			name: "key frame earlier than a preceding video frame",
			build: func() scenario {
				fr := av(videoFrames(180, gop(30, 0)), 6*time.Second)
				fr[nth(fr, vTrack, 59)].PTS = 2100 * time.Millisecond
				return scenario{params: va, frames: fr}
			},
			// Key frame 60 (2.0 s) must start after frame 59's 2.1 s: it moves
			// to 2.101 s, and frames 61-63 follow one unit apart. The next
			// key frame at or after 4.101 s is at 5 s.
			starts:   ms(0, 2101, 5000),
			repaired: 4,
		},
		{
			name: "source restarts its clock after a flush",
			build: func() scenario {
				// 25 fps keeps the arithmetic exact.
				first := interleave(videoFramesAt(75, 25, gop(25, 0)), audioFrames(aTrack, 3*time.Second))
				second := interleave(videoFramesAt(75, 25, gop(25, 0)), audioFrames(aTrack, 3*time.Second))
				return scenario{params: va, frames: tag(append(first, second...)), flushAfter: []int{len(first) - 1}}
			},
			// The second half continues one frame after the first: video at
			// +3 s (2960 ms + 40 ms), audio at +3.008 s (2986.7 ms + 21.3 ms).
			starts:   ms(0, 2000, 3000, 5000),
			repaired: 75 + 141,
			extra: func(t *testing.T, sc scenario, res result) {
				out := outByID(res)
				half := len(sc.frames) / 2
				for id, fr := range out {
					if id < half || fr.Track != vTrack {
						continue
					}
					if in := sc.frames[id]; fr.PTS != in.PTS+3*time.Second {
						t.Fatalf("video frame %d at %v after the restart, want %v", id, fr.PTS, in.PTS+3*time.Second)
					}
				}
			},
		},
		{
			name: "frames before the first key frame",
			build: func() scenario {
				return scenario{params: va, frames: av(videoFrames(180, gop(30, 15)), 6*time.Second)}
			},
			// Video frames 0-14 and audio frames 0-23 (up to 490.7 ms) precede
			// the key frame at 500 ms: the video frames are dropped, the audio
			// frames open the first fragment with the key frame right behind.
			starts:  ms(0, 2500, 4500),
			dropped: 15,
			extra: func(t *testing.T, _ scenario, res result) {
				f := res.frags[0]
				for i, fr := range f.Frames[:25] {
					if want := i < 24; (fr.Track == aTrack) != want || (i == 24 && !(fr.Track == vTrack && fr.Key)) {
						t.Fatalf("fragment 0 frame %d: track %d key %v; want 24 audio frames, then the key frame", i, fr.Track, fr.Key)
					}
				}
				if res.stats.DroppedVideoBeforeKey != 15 || res.stats.Repaired != 0 {
					t.Errorf("stats %+v: want 15 video frames dropped, nothing repaired", res.stats)
				}
			},
		},
		{
			name: "key-frame fragmentation off",
			build: func() scenario {
				p := va
				p.keyFrames = false
				return scenario{params: p, frames: av(videoFrames(180, gop(90, 0)), 6*time.Second)}
			},
			starts: ms(0, 2000, 4000),
		},
		{
			name: "unknown track and flush mid-GOP",
			build: func() scenario {
				fr := interleave(videoFrames(180, gop(30, 0)), audioFrames(aTrack, 6*time.Second))
				at := nth(fr, vTrack, 35)
				bad := media.Frame{Track: badTrack, PTS: fr[at].PTS, DTS: fr[at].DTS, Key: true}
				fr = slices.Insert(fr, 100, bad)
				fr = slices.Insert(fr, 10, bad)
				return scenario{params: va, frames: tag(fr), flushAfter: []int{nth(fr, vTrack, 35)}}
			},
			// After the flush at 1.167 s: video 36-59 are dropped and audio
			// 55-93 (from 1.173 s) wait for the key frame at 2 s and lead its
			// fragment in; the next key frame at or after 3.173 s is at 4 s.
			starts:  ms(0, 1173, 4000),
			dropped: 24,
			extra: func(t *testing.T, _ scenario, res result) {
				if d := res.frags[0].Duration; d < 1166*time.Millisecond || d > 1200*time.Millisecond {
					t.Errorf("flushed fragment lasts %v, want about 1.2 s", d)
				}
			},
		},
	}
}

// outByID maps frame identities to the frames as they came out.
func outByID(res result) map[int]media.Frame {
	out := map[int]media.Frame{}
	for _, f := range res.frags {
		for _, fr := range f.Frames {
			out[idOf(fr)] = fr
		}
	}
	return out
}

func TestFragmenter(t *testing.T) {
	for _, c := range tableCases() {
		t.Run(c.name, func(t *testing.T) {
			sc := c.build()
			res := drive(t, sc)
			check(t, sc, res)
			if c.starts != nil {
				if got := starts(res.frags); !slices.Equal(got, c.starts) {
					t.Errorf("fragment starts %v, want %v", got, c.starts)
				}
			}
			st := res.stats
			if st.ForcedCuts != c.forced {
				t.Errorf("ForcedCuts = %d, want %d", st.ForcedCuts, c.forced)
			}
			if c.repaired >= 0 && st.Repaired != uint64(c.repaired) {
				t.Errorf("Repaired = %d, want %d", st.Repaired, c.repaired)
			}
			if st.DroppedBeforeKey != c.dropped {
				t.Errorf("DroppedBeforeKey = %d, want %d", st.DroppedBeforeKey, c.dropped)
			}
			if c.extra != nil && !t.Failed() {
				c.extra(t, sc, res)
			}
		})
	}
}
