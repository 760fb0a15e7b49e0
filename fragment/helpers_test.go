package fragment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"time"

	"kvskit/media"
)

// Track numbers used by the generated streams.
const (
	vTrack    uint64 = 1
	aTrack    uint64 = 2
	a2Track   uint64 = 3
	badTrack  uint64 = 99 // never configured: Push must refuse it
	frameRate        = 30
	aacRate          = 48000
)

var (
	videoTrack  = media.Track{Number: vTrack, Kind: media.KindVideo, Codec: media.CodecH264}
	audioTrack  = media.Track{Number: aTrack, Kind: media.KindAudio, Codec: media.CodecAAC}
	audio2Track = media.Track{Number: a2Track, Kind: media.KindAudio, Codec: media.CodecAAC}
)

// params are a Fragmenter's configuration as the checker needs it.
type params struct {
	tracks    []media.Track
	target    time.Duration
	maxDur    time.Duration
	unit      time.Duration
	keyFrames bool
}

func defaultParams(tracks ...media.Track) params {
	return params{tracks: tracks, target: DefaultTargetDuration, maxDur: DefaultMaxDuration,
		unit: DefaultTimecodeUnit, keyFrames: true}
}

func (p params) options() []Option {
	return []Option{WithTargetDuration(p.target), WithMaxDuration(p.maxDur),
		WithTimecodeUnit(p.unit), WithKeyFrameFragmentation(p.keyFrames)}
}

func (p params) videoNumber() (uint64, bool) {
	for _, t := range p.tracks {
		if t.Kind == media.KindVideo {
			return t.Number, true
		}
	}
	return 0, false
}

// scenario is a Fragmenter configuration and the input it is fed.
type scenario struct {
	params
	frames []media.Frame
	// flushAfter lists input indexes after which Flush is called.
	flushAfter []int
}

// tag gives every frame a unique identity in its Data (the frame's index).
func tag(frames []media.Frame) []media.Frame {
	for i := range frames {
		d := make([]byte, 4, 4+i%7)
		binary.BigEndian.PutUint32(d, uint32(i))
		frames[i].Data = append(d, make([]byte, i%7)...)
	}
	return frames
}

func idOf(fr media.Frame) int {
	if len(fr.Data) < 4 {
		return -1
	}
	return int(binary.BigEndian.Uint32(fr.Data))
}

// videoFrames returns n frames at 30 fps starting at PTS 0, with a key frame
// whenever isKey says so. (1/30 s is no whole number of nanoseconds: frame i
// is at i s / 30 rounded down.)
func videoFrames(n int, isKey func(i int) bool) []media.Frame {
	return videoFramesAt(n, frameRate, isKey)
}

func videoFramesAt(n, fps int, isKey func(i int) bool) []media.Frame {
	out := make([]media.Frame, n)
	for i := range out {
		ts := time.Duration(i) * time.Second / time.Duration(fps)
		out[i] = media.Frame{Track: vTrack, PTS: ts, DTS: ts, Key: isKey(i)}
	}
	return out
}

// gop returns a key-frame rule with a key frame every n frames from first on.
func gop(n, first int) func(int) bool {
	return func(i int) bool { return i >= first && (i-first)%n == 0 }
}

// audioFrames returns AAC frames (1024 samples at 48 kHz) covering d.
func audioFrames(track uint64, d time.Duration) []media.Frame {
	var out []media.Frame
	for k := 0; ; k++ {
		ts := time.Duration(int64(k) * 1024 * int64(time.Second) / aacRate)
		if ts >= d {
			return out
		}
		out = append(out, media.Frame{Track: track, PTS: ts, DTS: ts, Key: true})
	}
}

// interleave merges streams by DTS (stable: earlier streams first on ties),
// as a muxer does.
func interleave(streams ...[]media.Frame) []media.Frame {
	return interleaveSkew(nil, streams...)
}

// interleaveSkew merges streams by DTS plus a per-track arrival skew, as a
// live source whose tracks arrive out of step delivers them.
func interleaveSkew(skew map[uint64]time.Duration, streams ...[]media.Frame) []media.Frame {
	var all []media.Frame
	for _, s := range streams {
		all = append(all, s...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		return all[i].DTS+skew[all[i].Track] < all[j].DTS+skew[all[j].Track]
	})
	return all
}

// nth returns the index in frames of the n-th (0-based) frame of the track.
func nth(frames []media.Frame, track uint64, n int) int {
	for i := range frames {
		if frames[i].Track == track {
			if n == 0 {
				return i
			}
			n--
		}
	}
	panic(fmt.Sprintf("no frame %d of track %d", n, track))
}

// bframes returns n video frames of an open-GOP stream with two B-frames
// between references: per GOP of 30 displayed frames starting at g the
// decoding order is I(g+2) B(g) B(g+1) P(g+5) B(g+3) B(g+4) ... P(g+29)
// B(g+27) B(g+28). PTS is the display slot, DTS = (decode index - 1) frames.
func bframes(gops int) []media.Frame {
	T := time.Second / frameRate
	var out []media.Frame
	k := 0
	add := func(display int, key bool) {
		out = append(out, media.Frame{Track: vTrack, PTS: time.Duration(display) * T,
			DTS: time.Duration(k-1) * T, Key: key})
		k++
	}
	for g := 0; g < gops*30; g += 30 {
		add(g+2, true)
		add(g, false)
		add(g+1, false)
		for p := g + 5; p < g+30; p += 3 {
			add(p, false)
			add(p-2, false)
			add(p-1, false)
		}
	}
	return out
}

// result is what driving a Fragmenter produced.
type result struct {
	frags []*Fragment
	errs  []error // per input frame
	stats Stats
}

type failer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// drive feeds the scenario to a new Fragmenter, flushing where asked and at
// the end, and checks Pending along the way.
func drive(t failer, sc scenario) result {
	t.Helper()
	fr, err := New(sc.tracks, sc.options()...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res := result{errs: make([]error, len(sc.frames))}
	flush := map[int]bool{}
	for _, i := range sc.flushAfter {
		flush[i] = true
	}
	emitted := 0
	collect := func(f *Fragment) {
		if f != nil {
			res.frags = append(res.frags, f)
			emitted += len(f.Frames)
		}
	}
	accepted := 0
	for i, in := range sc.frames {
		out, err := fr.Push(in)
		res.errs[i] = err
		if err != nil && out != nil {
			t.Fatalf("frame %d: Push returned a fragment and an error", i)
		}
		if err == nil {
			accepted++
		}
		collect(out)
		// Frames of other tracks held for the video key frame are neither
		// pending nor dropped yet.
		n, span := fr.Pending()
		if dropped := int(fr.Stats().DroppedBeforeKey); n+emitted+dropped > accepted {
			t.Fatalf("frame %d: Pending frames %d + %d emitted + %d dropped > %d accepted", i, n, emitted, dropped, accepted)
		}
		if span < 0 || span > sc.maxDur || (n == 0 && span != 0) {
			t.Fatalf("frame %d: Pending span %v out of [0, %v]", i, span, sc.maxDur)
		}
		if flush[i] {
			collect(fr.Flush())
			if n, _ := fr.Pending(); n != 0 {
				t.Fatalf("frame %d: %d frames pending after Flush", i, n)
			}
			if dropped := int(fr.Stats().DroppedBeforeKey); emitted+dropped != accepted {
				t.Fatalf("frame %d: after Flush %d emitted + %d dropped != %d accepted", i, emitted, dropped, accepted)
			}
		}
	}
	collect(fr.Flush())
	if dropped := int(fr.Stats().DroppedBeforeKey); emitted+dropped != accepted {
		t.Fatalf("at the end %d emitted + %d dropped != %d accepted", emitted, dropped, accepted)
	}
	if fr.Flush() != nil {
		t.Fatalf("second Flush returned a fragment")
	}
	res.stats = fr.Stats()
	return res
}

// check verifies every rule the Fragmenter guarantees on a run's output.
func check(t failer, sc scenario, res result) {
	t.Helper()
	unit := sc.unit
	u := func(d time.Duration) int64 { return floorDivRef(int64(d), int64(unit)) }
	vNum, hasVideo := sc.videoNumber()
	keyMode := sc.keyFrames && hasVideo
	known := map[uint64]bool{}
	for _, tr := range sc.tracks {
		known[tr.Number] = true
	}

	// Frames are known by their data (never copied), which every input frame
	// has its own of.
	index := map[*byte]int{}
	for i, in := range sc.frames {
		if len(in.Data) == 0 {
			t.Fatalf("input frame %d has no data", i)
		}
		index[&in.Data[0]] = i
	}
	if len(index) != len(sc.frames) {
		t.Fatalf("input frames share data")
	}

	// Which frames must come out, per track, in order.
	flush := map[int]bool{}
	for _, i := range sc.flushAfter {
		flush[i] = true
	}
	// While a video key frame is awaited, video frames are dropped and
	// frames of other tracks are held: each held frame either comes out
	// (ahead of or right behind the key frame, in its track's order) or is
	// dropped and counted.
	want := map[uint64][]int{}
	optional := map[int]bool{}
	waiting := keyMode
	var dropped, droppedVideo uint64
	for i, in := range sc.frames {
		switch {
		case !known[in.Track]:
			if !errors.Is(res.errs[i], ErrUnknownTrack) {
				t.Fatalf("frame %d of unknown track %d: error %v, want ErrUnknownTrack", i, in.Track, res.errs[i])
			}
		case res.errs[i] != nil:
			t.Fatalf("frame %d: unexpected error %v", i, res.errs[i])
		case waiting && in.Track == vNum && !in.Key:
			dropped++
			droppedVideo++
		case waiting && in.Track != vNum:
			optional[i] = true
			want[in.Track] = append(want[in.Track], i)
		default:
			waiting = false
			want[in.Track] = append(want[in.Track], i)
		}
		if flush[i] && keyMode {
			waiting = true
		}
	}
	if res.stats.DroppedVideoBeforeKey != droppedVideo {
		t.Fatalf("DroppedVideoBeforeKey = %d, want %d", res.stats.DroppedVideoBeforeKey, droppedVideo)
	}
	emittedIDs := map[int]bool{}
	for _, f := range res.frags {
		for _, fr := range f.Frames {
			if len(fr.Data) > 0 {
				if id, ok := index[&fr.Data[0]]; ok {
					emittedIDs[id] = true
				}
			}
		}
	}
	for tr, ids := range want {
		kept := ids[:0:0]
		for _, id := range ids {
			if optional[id] && !emittedIDs[id] {
				dropped++
				continue
			}
			kept = append(kept, id)
		}
		want[tr] = kept
	}
	if res.stats.DroppedBeforeKey != dropped {
		t.Fatalf("DroppedBeforeKey = %d, want %d", res.stats.DroppedBeforeKey, dropped)
	}

	got := map[uint64][]int{}
	lastDTS := map[uint64]time.Duration{}
	var (
		prevStart   time.Duration
		prevMaxUnit int64
		total       uint64
		repaired    uint64
		notKeyStart uint64
	)
	for n, f := range res.frags {
		if f.Seq != uint64(n) {
			t.Fatalf("fragment %d: Seq %d", n, f.Seq)
		}
		if len(f.Frames) == 0 {
			t.Fatalf("fragment %d is empty", n)
		}
		total += uint64(len(f.Frames))
		first := f.Frames[0]
		if f.Start < 0 || f.Start%unit != 0 || u(f.Start) != u(first.PTS) {
			t.Fatalf("fragment %d: Start %v is not the first frame's PTS %v truncated to %v", n, f.Start, first.PTS, unit)
		}
		if n > 0 {
			if f.Start <= prevStart {
				t.Fatalf("fragment %d: Start %v not after previous Start %v", n, f.Start, prevStart)
			}
			if u(first.PTS) <= prevMaxUnit {
				t.Fatalf("fragment %d: first frame at %d units not after previous fragment's last frame at %d units (4004)",
					n, u(first.PTS), prevMaxUnit)
			}
		}
		// A fragment opened at a key frame may begin with frames of other
		// tracks (its lead-in), with the key frame right behind them.
		leadKey := -1
		if keyMode {
			v := slices.IndexFunc(f.Frames, func(fr media.Frame) bool { return fr.Track == vNum })
			lead := v >= 0 && f.Frames[v].Key
			for _, fr := range f.Frames[:max(v, 0)] {
				lead = lead && len(fr.Data) > 0 && optional[index[&fr.Data[0]]]
			}
			if lead {
				leadKey = v
			} else {
				notKeyStart++
			}
		}
		maxUnit := int64(math.MinInt64)
		var maxPTS time.Duration = math.MinInt64
		size := 0
		for i, fr := range f.Frames {
			rel := u(fr.PTS) - u(f.Start)
			if rel > math.MaxInt16 || rel < math.MinInt16 {
				t.Fatalf("fragment %d frame %d: relative timecode %d outside int16", n, i, rel)
			}
			if got := f.RelTimecode(fr, unit); int64(got) != rel {
				t.Fatalf("fragment %d frame %d: RelTimecode %d, want %d", n, i, got, rel)
			}
			maxUnit = max(maxUnit, u(fr.PTS))
			maxPTS = max(maxPTS, fr.PTS)
			size += len(fr.Data)
			if i > 0 && i != leadKey {
				cuttable := !keyMode || (fr.Track == vNum && fr.Key)
				if cuttable && fr.PTS >= f.Start+sc.target {
					t.Fatalf("fragment %d frame %d (track %d key %v) at %v should have started a fragment (Start %v, target %v)",
						n, i, fr.Track, fr.Key, fr.PTS, f.Start, sc.target)
				}
			}
			if len(fr.Data) == 0 {
				t.Fatalf("fragment %d frame %d: data lost", n, i)
			}
			id, ok := index[&fr.Data[0]]
			if !ok {
				t.Fatalf("fragment %d frame %d: data of no pushed frame", n, i)
			}
			in := sc.frames[id]
			if fr.Track != in.Track || fr.Key != in.Key || len(fr.Data) != len(in.Data) {
				t.Fatalf("fragment %d frame %d: not the frame pushed as %d", n, i, id)
			}
			got[fr.Track] = append(got[fr.Track], id)
			if fr.PTS < fr.DTS {
				t.Fatalf("fragment %d frame %d: PTS %v before DTS %v", n, i, fr.PTS, fr.DTS)
			}
			if last, ok := lastDTS[fr.Track]; ok && fr.DTS <= last {
				t.Fatalf("fragment %d frame %d: track %d DTS %v not after %v", n, i, fr.Track, fr.DTS, last)
			}
			lastDTS[fr.Track] = fr.DTS
			if fr.DTS < in.DTS || fr.PTS-fr.DTS != max(in.PTS-in.DTS, 0) {
				t.Fatalf("fragment %d frame %d: repair of (pts %v dts %v) to (pts %v dts %v) moved it back or changed PTS-DTS",
					n, i, in.PTS, in.DTS, fr.PTS, fr.DTS)
			}
			if fr.PTS != in.PTS || fr.DTS != in.DTS {
				repaired++
			}
		}
		if f.Size() != size {
			t.Fatalf("fragment %d: Size %d, want %d", n, f.Size(), size)
		}
		if f.Duration < maxPTS-f.Start || f.Duration > sc.maxDur {
			t.Fatalf("fragment %d: Duration %v, want within [%v, %v]", n, f.Duration, maxPTS-f.Start, sc.maxDur)
		}
		prevStart, prevMaxUnit = f.Start, maxUnit
	}
	for tr, ids := range want {
		if !slices.Equal(got[tr], ids) {
			t.Fatalf("track %d: frames out %s, want %s", tr, short(got[tr]), short(ids))
		}
	}
	for tr := range got {
		if _, ok := want[tr]; !ok {
			t.Fatalf("track %d: frames emitted but none expected", tr)
		}
	}
	st := res.stats
	if st.Fragments != uint64(len(res.frags)) || st.Frames != total {
		t.Fatalf("Stats %+v, want %d fragments and %d frames", st, len(res.frags), total)
	}
	if st.Repaired != repaired {
		t.Fatalf("Stats.Repaired = %d, but %d frames came out changed", st.Repaired, repaired)
	}
	if keyMode && st.ForcedCuts != notKeyStart {
		t.Fatalf("Stats.ForcedCuts = %d, but %d fragments do not start on a video key frame", st.ForcedCuts, notKeyStart)
	}
	if st.ForcedCuts > st.Fragments {
		t.Fatalf("Stats.ForcedCuts = %d > %d fragments", st.ForcedCuts, st.Fragments)
	}
}

// floorDivRef is the checker's own floor division (Euclidean division
// equals flooring for a positive divisor).
func floorDivRef(a, b int64) int64 {
	return new(big.Int).Div(big.NewInt(a), big.NewInt(b)).Int64()
}

func short(ids []int) string {
	if len(ids) <= 12 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v ... %v (%d)", ids[:6], ids[len(ids)-6:], len(ids))
}

func starts(frags []*Fragment) []time.Duration {
	out := make([]time.Duration, len(frags))
	for i, f := range frags {
		out[i] = f.Start
	}
	return out
}
