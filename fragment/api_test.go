package fragment

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"kvskit/media"
)

func TestNewErrors(t *testing.T) {
	v, a := videoTrack, audioTrack
	cases := []struct {
		name   string
		tracks []media.Track
		opts   []Option
		want   error
	}{
		{"no tracks", nil, nil, ErrNoTracks},
		{"four tracks", []media.Track{v, a, audio2Track, {Number: 4, Kind: media.KindAudio}}, nil, ErrTooManyTracks},
		{"duplicate number", []media.Track{v, {Number: vTrack, Kind: media.KindAudio}}, nil, ErrDuplicateTrack},
		{"number 0", []media.Track{{Number: 0, Kind: media.KindVideo}}, nil, ErrInvalidTrack},
		{"target 0", []media.Track{v}, []Option{WithTargetDuration(0)}, ErrInvalidOption},
		{"max negative", []media.Track{v}, []Option{WithMaxDuration(-time.Second)}, ErrInvalidOption},
		{"target above max", []media.Track{v}, []Option{WithTargetDuration(30 * time.Second)}, ErrInvalidOption},
		{"unit 0", []media.Track{v}, []Option{WithTimecodeUnit(0)}, ErrInvalidOption},
		{"unit above 1s", []media.Track{v}, []Option{WithTimecodeUnit(2 * time.Second)}, ErrInvalidOption},
		{"max below two units", []media.Track{v}, []Option{WithTimecodeUnit(time.Second), WithTargetDuration(time.Second), WithMaxDuration(time.Second)}, ErrInvalidOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := New(c.tracks, c.opts...)
			if !errors.Is(err, c.want) || f != nil {
				t.Fatalf("New = %v, %v; want error wrapping %v", f, err, c.want)
			}
		})
	}
	f, err := New([]media.Track{v, a, audio2Track}, WithTargetDuration(30*time.Second), WithMaxDuration(60*time.Second),
		WithTimecodeUnit(time.Microsecond), WithKeyFrameFragmentation(false), WithLogger(nil), nil)
	if err != nil || f == nil {
		t.Fatalf("New with valid options: %v", err)
	}
}

func TestPushRefusesFrames(t *testing.T) {
	f, err := New([]media.Track{videoTrack})
	if err != nil {
		t.Fatal(err)
	}
	key := media.Frame{Track: vTrack, Key: true, Data: []byte{1}}
	bad := []struct {
		fr   media.Frame
		want error
	}{
		{media.Frame{Track: badTrack, Key: true}, ErrUnknownTrack},
		{media.Frame{Track: vTrack, PTS: math.MaxInt64, DTS: 0, Key: true}, ErrInvalidTimestamp},
		{media.Frame{Track: vTrack, PTS: math.MinInt64, DTS: math.MinInt64, Key: true}, ErrInvalidTimestamp},
		{media.Frame{Track: vTrack, PTS: 2 * time.Hour, DTS: 0, Key: true}, ErrInvalidTimestamp},
		{media.Frame{Track: vTrack, PTS: 0, DTS: 2 * time.Hour, Key: true}, ErrInvalidTimestamp},
	}
	for _, b := range bad {
		out, err := f.Push(b.fr)
		if !errors.Is(err, b.want) || out != nil {
			t.Errorf("Push(%+v) = %v, %v; want error wrapping %v", b.fr, out, err, b.want)
		}
	}
	if n, _ := f.Pending(); n != 0 {
		t.Fatalf("refused frames are pending: %d", n)
	}
	if _, err := f.Push(key); err != nil {
		t.Fatalf("Fragmenter unusable after refusals: %v", err)
	}
	if n, _ := f.Pending(); n != 1 {
		t.Fatalf("Pending = %d, want 1", n)
	}
	if st := f.Stats(); st != (Stats{}) {
		t.Fatalf("Stats after refusals %+v, want zero", st)
	}
}

func TestNegativeFirstPTS(t *testing.T) {
	f, err := New([]media.Track{videoTrack})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ts := time.Duration(i-1) * 40 * time.Millisecond
		if _, err := f.Push(media.Frame{Track: vTrack, PTS: ts, DTS: ts, Key: i == 0, Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	frag := f.Flush()
	if frag.Start != 0 || frag.Frames[0].PTS != 0 || frag.Frames[0].DTS != 0 {
		t.Fatalf("first fragment starts at %v with frame PTS %v: a cluster timecode cannot be negative", frag.Start, frag.Frames[0].PTS)
	}
	// The second frame (PTS 0) now repeats the first one's DTS: one unit later.
	if frag.Frames[1].DTS != time.Millisecond || frag.Frames[2].DTS != 40*time.Millisecond {
		t.Fatalf("later frames at %v, %v; want 1ms, 40ms", frag.Frames[1].DTS, frag.Frames[2].DTS)
	}
	if f.Stats().Repaired != 2 {
		t.Fatalf("Repaired = %d, want 2", f.Stats().Repaired)
	}
}

func TestRelTimecode(t *testing.T) {
	f := &Fragment{Start: 1000 * time.Millisecond}
	cases := []struct {
		pts  time.Duration
		unit time.Duration
		want int16
	}{
		{1000 * time.Millisecond, time.Millisecond, 0},
		{1999999 * time.Microsecond, time.Millisecond, 999},
		{999999 * time.Microsecond, time.Millisecond, -1}, // rounded down, not toward zero
		{900 * time.Millisecond, time.Millisecond, -100},
		{1040 * time.Millisecond, 10 * time.Millisecond, 4},
		{time.Hour, time.Millisecond, math.MaxInt16},
		{-time.Hour, time.Millisecond, math.MinInt16},
		{2 * time.Second, 0, 0},
	}
	for _, c := range cases {
		if got := f.RelTimecode(media.Frame{PTS: c.pts}, c.unit); got != c.want {
			t.Errorf("RelTimecode(%v, %v) = %d, want %d", c.pts, c.unit, got, c.want)
		}
	}
}

func TestForcedCutLogsWarning(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f, err := New([]media.Track{videoTrack}, WithLogger(log), WithMaxDuration(time.Second), WithTargetDuration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var frags []*Fragment
	for i := range 60 {
		ts := time.Duration(i) * 40 * time.Millisecond
		if i == 5 {
			ts = 0 // repeated timestamp: repaired, logged at debug
		}
		out, err := f.Push(media.Frame{Track: vTrack, PTS: ts, DTS: ts, Key: i == 0, Data: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			frags = append(frags, out)
		}
	}
	logs := buf.String()
	if f.Stats().ForcedCuts != 2 || len(frags) != 2 {
		t.Fatalf("ForcedCuts %d, fragments %d; want 2 and 2 over 2.4 s with a 1 s cap", f.Stats().ForcedCuts, len(frags))
	}
	if n := strings.Count(logs, "level=WARN msg=\"fragment cut without a key frame\""); n != 2 {
		t.Errorf("%d forced-cut warnings, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs, "level=DEBUG msg=\"frame timestamps repaired\"") {
		t.Errorf("repair not logged at debug:\n%s", logs)
	}
}

// TestPushAllocations: inside a fragment, Push allocates nothing once the
// Frames slice has the capacity of the previous fragment.
func TestPushAllocations(t *testing.T) {
	f, err := New([]media.Track{videoTrack, audioTrack})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte{1, 2, 3}
	T := time.Second / 30
	i := 0
	push := func() {
		ts := time.Duration(i) * T
		if _, err := f.Push(media.Frame{Track: vTrack, PTS: ts, DTS: ts, Key: i%60 == 0, Data: data}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Push(media.Frame{Track: aTrack, PTS: ts + T/2, DTS: ts + T/2, Key: true, Data: data}); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range 121 { // two whole fragments; the third has just opened
		push()
	}
	// 40 more frame pairs stay inside the open fragment (it holds 120).
	allocs := testing.AllocsPerRun(40, push)
	if allocs != 0 {
		t.Fatalf("Push allocates %.1f times per frame pair inside a fragment", allocs)
	}
}

// TestMovedFramesStayInRange: audio frames are moved to the next fragment
// only if all of them keep an int16 relative timecode there; otherwise they
// stay and the key frame moves after them.
func TestMovedFramesStayInRange(t *testing.T) {
	sc := scenario{
		params: defaultParams(videoTrack, audioTrack),
		frames: tag([]media.Frame{
			{Track: vTrack, PTS: 0, DTS: 0, Key: true},
			// Audio with a huge PTS-DTS offset: A at +30 s, B at -3 s.
			{Track: aTrack, PTS: 30 * time.Second, DTS: -5 * time.Second, Key: true},
			{Track: aTrack, PTS: -3 * time.Second, DTS: -4990 * time.Millisecond, Key: true},
			{Track: vTrack, PTS: 29900 * time.Millisecond, DTS: 29900 * time.Millisecond, Key: true},
		}),
	}
	sc.maxDur = 60 * time.Second
	res := drive(t, sc)
	check(t, sc, res)
	// Moving A to a fragment starting at 29.9 s would leave B (which must
	// follow it) at -32.9 s: out of range. So both stay and the key frame
	// starts after A.
	if got, want := starts(res.frags), ms(0, 30001); !slices.Equal(got, want) {
		t.Fatalf("starts %v, want %v", got, want)
	}
	if len(res.frags[0].Frames) != 3 || res.stats.Repaired != 1 {
		t.Fatalf("first fragment has %d frames, %d repaired; want 3 and 1", len(res.frags[0].Frames), res.stats.Repaired)
	}
}

// TestRebasedTimestampOutOfRange: a track whose clock restarted keeps an
// offset; a later timestamp that the offset would carry past the range is
// refused rather than overflowing.
func TestRebasedTimestampOutOfRange(t *testing.T) {
	f, err := New([]media.Track{videoTrack})
	if err != nil {
		t.Fatal(err)
	}
	for i, ts := range []time.Duration{maxTimestamp, minTimestamp} {
		if _, err := f.Push(media.Frame{Track: vTrack, PTS: ts, DTS: ts, Key: true, Data: []byte{1}}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	_, err = f.Push(media.Frame{Track: vTrack, PTS: maxTimestamp, DTS: maxTimestamp, Key: true})
	if !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("Push = %v, want ErrInvalidTimestamp", err)
	}
}

// TestMaxSize: two GOPs that together pass the size limit are cut at the
// second one's key frame before the target duration; a GOP that alone passes
// it is refused with ErrFragmentTooLarge as soon as it does, dropped with the
// open fragment, and the next key frame starts afresh.
func TestMaxSize(t *testing.T) {
	f, err := New([]media.Track{videoTrack, audioTrack}, WithMaxSize(20<<10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New([]media.Track{videoTrack}, WithMaxSize(100)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithMaxSize(100): %v", err)
	}
	// 1 kB pictures: GOPs of 10 (0-9, 10-19), one of 40 (20-59), then 60.
	keys := map[int]bool{0: true, 10: true, 20: true, 60: true}
	frames := interleave(videoFrames(70, func(i int) bool { return keys[i] }), audioFrames(aTrack, 70*time.Second/30))
	var frags []*Fragment
	var refusals []error
	for i, fr := range frames {
		fr.Data = make([]byte, 1024)
		if fr.Track == aTrack {
			fr.Data = fr.Data[:100]
		}
		out, err := f.Push(fr)
		if err != nil {
			if !errors.Is(err, ErrFragmentTooLarge) {
				t.Fatalf("frame %d: %v", i, err)
			}
			refusals = append(refusals, err)
		}
		if out != nil {
			frags = append(frags, out)
		}
	}
	if last := f.Flush(); last != nil {
		frags = append(frags, last)
	}
	if len(refusals) != 1 {
		t.Fatalf("%d refusals, want 1: %v", len(refusals), refusals)
	}
	msg := refusals[0].Error()
	for _, want := range []string{"key frame at 666.666666ms", "pictures", "bytes", "-g"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not mention %q", msg, want)
		}
	}
	st := f.Stats()
	if st.OversizeGOPs != 1 || st.DroppedOversize == 0 || st.ForcedCuts != 0 {
		t.Errorf("stats %+v: want one GOP refused, no forced cut", st)
	}
	// Fragments: the first two GOPs (cut at picture 10 for size), then the
	// GOP from picture 60 on; nothing of pictures 20-59 is sent.
	var firstPics []int
	for _, fr := range frags {
		if fr.Size() > 20<<10 {
			t.Errorf("fragment %d holds %d bytes", fr.Seq, fr.Size())
		}
		for _, x := range fr.Frames {
			if x.Track == vTrack {
				firstPics = append(firstPics, int((x.PTS*30+time.Second/2)/time.Second))
				break
			}
		}
		for _, x := range fr.Frames {
			if p := int((x.PTS*30 + time.Second/2) / time.Second); x.Track == vTrack && p >= 20 && p < 60 {
				t.Fatalf("fragment %d holds picture %d of the refused GOP", fr.Seq, p)
			}
		}
	}
	if !slices.Equal(firstPics, []int{0, 10, 60}) {
		t.Errorf("fragments start at pictures %v, want [0 10 60]", firstPics)
	}
	// A single frame larger than a fragment may be is refused too.
	if _, err := f.Push(media.Frame{Track: vTrack, PTS: 10 * time.Second, DTS: 10 * time.Second, Key: true, Data: make([]byte, 21<<10)}); !errors.Is(err, ErrFragmentTooLarge) {
		t.Errorf("a 21 kB frame: %v", err)
	}
}
