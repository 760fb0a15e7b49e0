package clip

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"kvskit/mkv"
)

func TestClipIsLoopableH264AndAAC(t *testing.T) {
	r := mkv.NewReader(bytes.NewReader(MKV))
	clusters, keys := 0, 0
	var tracks []mkv.TrackEntry
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case mkv.EventTracks:
			tracks = ev.Tracks
		case mkv.EventClusterStart:
			clusters++
		case mkv.EventBlock:
			if ev.Block.Track == 1 && ev.Block.Key {
				keys++
			}
		}
	}
	if len(tracks) != 2 || tracks[0].CodecID != mkv.CodecIDH264 || tracks[1].CodecID != mkv.CodecIDAAC {
		t.Fatalf("tracks %+v", tracks)
	}
	if tracks[0].Width != 640 || tracks[0].Height != 360 || len(tracks[0].CodecPrivate) == 0 {
		t.Fatalf("video track %+v", tracks[0].Track)
	}
	if keys != 10 || clusters < 5 {
		t.Fatalf("%d key frames in %d clusters; want one key frame a second for 10 s", keys, clusters)
	}
}
