package producer

import (
	"testing"
	"time"

	"kvskit/fragment"
	"kvskit/media"
)

func TestDiscardOpenDropsOnlyTheOpenFragment(t *testing.T) {
	tracks := []media.Track{{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}}
	fr, err := fragment.New(tracks)
	if err != nil {
		t.Fatal(err)
	}
	p := &Producer{frag: fr}
	if n := p.DiscardOpen(); n != 0 {
		t.Fatalf("nothing open, discarded %d", n)
	}
	for i := 0; i < 5; i++ {
		ts := time.Duration(i) * 33 * time.Millisecond
		if _, err := fr.Push(media.Frame{Track: 1, PTS: ts, DTS: ts, Key: i == 0, Data: []byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	p.open = true
	if n := p.DiscardOpen(); n != 5 {
		t.Fatalf("discarded %d frames, want 5", n)
	}
	if p.open {
		t.Fatal("still open after DiscardOpen")
	}
}
