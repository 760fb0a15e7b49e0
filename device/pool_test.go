package device

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"kvskit/media"
	sampleclip "kvskit/samples/clip"
)

// TestRecycledFramesKeepTheData reads the sample clip twice: once keeping
// every frame, once recycling each frame (after scribbling over it) as soon
// as it was read. The frames must be equal, and the second pass must have
// reused buffers.
func TestRecycledFramesKeepTheData(t *testing.T) {
	read := func(recycle bool) ([]media.Frame, int) {
		src, err := OpenReader(bytes.NewReader(sampleclip.MKV))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		r, ok := src.(Recycler)
		if !ok {
			t.Fatal("the source of OpenReader is not a Recycler")
		}
		var out []media.Frame
		seen := map[*byte]bool{}
		reused := 0
		for {
			f, err := src.ReadFrame()
			if errors.Is(err, io.EOF) {
				return out, reused
			}
			if err != nil {
				t.Fatal(err)
			}
			if seen[&f.Data[:1][0]] {
				reused++
			}
			seen[&f.Data[:1][0]] = true
			c := f
			c.Data = append([]byte(nil), f.Data...)
			out = append(out, c)
			if recycle {
				for i := range f.Data {
					f.Data[i] = 0xEE
				}
				r.Recycle(f)
			}
		}
	}
	want, _ := read(false)
	got, reused := read(true)
	if len(got) != len(want) {
		t.Fatalf("%d frames with recycling, %d without", len(got), len(want))
	}
	for i := range want {
		if got[i].PTS != want[i].PTS || got[i].Track != want[i].Track || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("frame %d differs with recycling", i)
		}
	}
	if reused < len(got)/2 {
		t.Errorf("only %d of %d frames reused a recycled buffer", reused, len(got))
	}
}
