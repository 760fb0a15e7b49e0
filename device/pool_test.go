package device

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"kvskit/media"
	sampleclip "kvskit/samples/clip"
)

// TestRecycledFramesKeepTheData reads the sample clip twice: once keeping
// every frame, once recycling each frame (after scribbling over it) as soon
// as it was read. The frames must be equal, and the second pass must have
// reused buffers.
func TestRecycledFramesKeepTheData(t *testing.T) {
	checkRecycling(t, sampleclip.MKV)
}

// TestRecycledLargeFramesKeepTheData does the same with video frames large
// enough to be read straight into buffers of their own.
func TestRecycledLargeFramesKeepTheData(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big.mkv")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-c:a", "aac", file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkRecycling(t, data)
}

func checkRecycling(t *testing.T, clip []byte) {
	read := func(recycle bool) ([]media.Frame, int) {
		src, err := OpenReader(bytes.NewReader(clip))
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
			// A buffer is known by its last byte: a frame may start at
			// another offset of a reused buffer.
			last := &f.Data[:cap(f.Data)][cap(f.Data)-1]
			if seen[last] {
				reused++
			}
			seen[last] = true
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
