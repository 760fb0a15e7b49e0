package device_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"kvskit/device"
	"kvskit/media"
)

// ExampleOpenFile lists the tracks of a file and counts its frames.
func ExampleOpenFile() {
	src, err := device.OpenFile("testdata/clip.mp4")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	for _, t := range src.Tracks() {
		switch t.Kind {
		case media.KindVideo:
			fmt.Printf("track %d: %s %dx%d\n", t.Number, t.Codec, t.Width, t.Height)
		case media.KindAudio:
			fmt.Printf("track %d: %s %d Hz, %d channel(s)\n", t.Number, t.Codec, t.SampleRate, t.Channels)
		}
	}
	frames, keys := map[uint64]int{}, 0
	var last media.Frame
	for {
		f, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		frames[f.Track]++
		if f.Key && f.Track == 1 {
			keys++
		}
		last = f
	}
	fmt.Printf("video frames: %d (%d key), audio frames: %d\n", frames[1], keys, frames[2])
	fmt.Printf("last frame: track %d at %v\n", last.Track, last.DTS)
	// Output:
	// track 1: H264 160x120
	// track 2: AAC 16000 Hz, 1 channel(s)
	// video frames: 10 (1 key), audio frames: 17
	// last frame: track 2 at 1.024s
}
