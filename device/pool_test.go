package device

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"kvskit/media"
	sampleclip "kvskit/samples/clip"
)

func TestFramePool(t *testing.T) {
	var p framePool
	a := p.get(1000)
	if len(a) != 1000 || cap(a) < 1000 {
		t.Fatalf("get(1000): len %d cap %d", len(a), cap(a))
	}
	p.put(a)
	if b := p.get(900); &b[0] != &a[0] || len(b) != 900 {
		t.Fatal("get(900) did not reuse the kept 1000-byte buffer")
	}
	// A kept buffer far larger than asked for is not handed out.
	big := make([]byte, 1<<20)
	p.put(big)
	if b := p.get(100); &b[0] == &big[0] {
		t.Fatal("a 1 MB buffer was used for 100 bytes")
	}
	// Too small a buffer is not used either.
	if b := p.get(2 << 20); &b[0] == &big[0] {
		t.Fatal("a 1 MB buffer was used for 2 MB")
	}
	// The pool keeps at most poolMaxBytes.
	var q framePool
	for range 2 * poolMaxBytes / (1 << 20) {
		q.put(make([]byte, 1<<20))
	}
	if q.bytes > poolMaxBytes || len(q.free) != poolMaxBytes/(1<<20) {
		t.Fatalf("pool keeps %d bytes in %d buffers", q.bytes, len(q.free))
	}
	var nilPool *framePool
	nilPool.put(make([]byte, 10))
	if b := nilPool.get(10); len(b) != 10 {
		t.Fatal("nil pool get")
	}
}

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
