package fragment_test

import (
	"fmt"
	"time"

	"kvskit/fragment"
	"kvskit/media"
)

func ExampleFragmenter() {
	video := media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}
	f, err := fragment.New([]media.Track{video}, fragment.WithTargetDuration(2*time.Second))
	if err != nil {
		panic(err)
	}
	show := func(frag *fragment.Fragment) {
		last := frag.Frames[len(frag.Frames)-1]
		fmt.Printf("fragment %d: start %v, %d frames, duration %v, last block at %d ms\n",
			frag.Seq, frag.Start, len(frag.Frames), frag.Duration, frag.RelTimecode(last, time.Millisecond))
	}
	// 5 s of 25 fps video, a key frame every second; the third frame
	// repeats the second one's timestamp.
	for i := range 125 {
		ts := time.Duration(i) * 40 * time.Millisecond
		if i == 2 {
			ts = 40 * time.Millisecond
		}
		frame := media.Frame{Track: 1, PTS: ts, DTS: ts, Key: i%25 == 0, Data: []byte{0, 0, 0, 1, 0x65}}
		frag, err := f.Push(frame)
		if err != nil {
			panic(err)
		}
		if frag != nil {
			show(frag)
		}
	}
	if frag := f.Flush(); frag != nil { // end of input
		show(frag)
	}
	fmt.Printf("%+v\n", f.Stats())
	// Output:
	// fragment 0: start 0s, 50 frames, duration 2s, last block at 1960 ms
	// fragment 1: start 2s, 50 frames, duration 2s, last block at 1960 ms
	// fragment 2: start 4s, 25 frames, duration 1s, last block at 960 ms
	// {Fragments:3 Frames:125 Repaired:1 DroppedBeforeKey:0 DroppedVideoBeforeKey:0 ForcedCuts:0 DroppedOversize:0 OversizeGOPs:0}
}
