package fragment_test

import (
	"testing"
	"time"

	"kvskit/fragment"
	"kvskit/media"
)

// After Cut the frames that follow open the next fragment even without a
// key frame (counted as a forced cut); after Flush they wait for one.
func TestCutKeepsTheFramesAfterIt(t *testing.T) {
	tracks := []media.Track{{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}}
	for _, tc := range []struct {
		name        string
		cut         func(*fragment.Fragmenter) *fragment.Fragment
		wantFrames  int
		wantDropped uint64
		wantForced  uint64
	}{
		{"Cut", (*fragment.Fragmenter).Cut, 60, 0, 1},
		{"Flush", (*fragment.Fragmenter).Flush, 50, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := fragment.New(tracks, fragment.WithTargetDuration(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var frags []*fragment.Fragment
			for i := range 60 {
				if i == 20 {
					if fr := tc.cut(f); fr != nil {
						frags = append(frags, fr)
					}
				}
				pts := time.Duration(i) * time.Second / 30
				fr, err := f.Push(media.Frame{Track: 1, PTS: pts, DTS: pts, Key: i%30 == 0, Data: []byte{byte(i)}})
				if err != nil {
					t.Fatal(err)
				}
				if fr != nil {
					frags = append(frags, fr)
				}
			}
			if fr := f.Flush(); fr != nil {
				frags = append(frags, fr)
			}
			n := 0
			for i, fr := range frags {
				n += len(fr.Frames)
				if i > 0 && fr.Start <= frags[i-1].Start {
					t.Errorf("fragment %d starts at %v, not after %v", i, fr.Start, frags[i-1].Start)
				}
			}
			st := f.Stats()
			if n != tc.wantFrames || st.DroppedBeforeKey != tc.wantDropped || st.ForcedCuts != tc.wantForced {
				t.Errorf("%d frames in %d fragments, stats %+v; want %d frames, %d dropped, %d forced",
					n, len(frags), st, tc.wantFrames, tc.wantDropped, tc.wantForced)
			}
		})
	}
}
