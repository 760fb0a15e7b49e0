package device

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"kvskit/media"
)

// chanSource is a Source fed by the test.
type chanSource struct {
	tracks []media.Track
	frames chan media.Frame
	once   sync.Once
	closed chan struct{}
}

func newChanSource() *chanSource {
	return &chanSource{
		tracks: []media.Track{{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}, {Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC}},
		frames: make(chan media.Frame), closed: make(chan struct{}),
	}
}

func (c *chanSource) Tracks() []media.Track { return c.tracks }
func (c *chanSource) ReadFrame() (media.Frame, error) {
	select {
	case fr, ok := <-c.frames:
		if !ok {
			return media.Frame{}, io.EOF
		}
		return fr, nil
	case <-c.closed:
		return media.Frame{}, ErrClosed
	}
}
func (c *chanSource) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

func video(i int) media.Frame {
	return media.Frame{Track: 1, DTS: time.Duration(i) * 33 * time.Millisecond, Key: i%10 == 0, Data: []byte{byte(i)}}
}

func TestFanoutSharesFramesAndIsolatesSlowConsumers(t *testing.T) {
	src := newChanSource()
	f := NewFanout(src)
	fast := f.Subscribe(100)
	slow := f.Subscribe(5)

	var got []media.Frame
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fr, err := fast.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("fast consumer: %v", err)
				}
				return
			}
			got = append(got, fr)
		}
	}()
	// The slow consumer reads nothing while 40 frames go by: the source and
	// the fast consumer must not wait for it.
	var sent []media.Frame
	for i := 0; i < 40; i++ {
		fr := video(i)
		sent = append(sent, fr)
		select {
		case src.frames <- fr:
		case <-time.After(5 * time.Second):
			t.Fatalf("the source was stalled at frame %d by a slow consumer", i)
		}
	}
	close(src.frames)
	<-done
	if len(got) != 40 {
		t.Fatalf("fast consumer got %d frames, want 40", len(got))
	}
	if &got[7].Data[0] != &sent[7].Data[0] {
		t.Error("frame data was copied, not shared")
	}
	// The slow one gets its first 5 (from the first key frame), then resumes
	// only at a key frame after what it lost.
	var slowGot []int
	for {
		fr, err := slow.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		slowGot = append(slowGot, int(fr.Data[0]))
	}
	if len(slowGot) != 5 || slowGot[0] != 0 || slowGot[4] != 4 {
		t.Fatalf("slow consumer got %v", slowGot)
	}
	if d := slow.Dropped(); d != 35 {
		t.Fatalf("slow consumer dropped %d, want 35", d)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFanoutResumesOnKeyFrameAfterLoss(t *testing.T) {
	src := newChanSource()
	f := NewFanout(src)
	defer f.Close()
	s := f.Subscribe(3)
	for i := 0; i < 6; i++ { // 0..2 queued, 3..5 lost
		src.frames <- video(i)
	}
	for i := 0; i < 3; i++ {
		if fr, err := s.ReadFrame(); err != nil || fr.Data[0] != byte(i) {
			t.Fatalf("frame %d: %v %v", i, fr.Data, err)
		}
	}
	for i := 6; i < 12; i++ { // 6..9 skipped (no key frame), 10 is a key frame
		src.frames <- video(i)
	}
	if fr, err := s.ReadFrame(); err != nil || fr.Data[0] != 10 || !fr.Key {
		t.Fatalf("after a loss the consumer resumed on %v (%v), want key frame 10", fr.Data, err)
	}
	// Audio is never held back waiting for a key frame.
	src.frames <- media.Frame{Track: 2, Data: []byte{200}}
	if fr, err := s.ReadFrame(); err != nil || fr.Data[0] != 11 {
		t.Fatalf("got %v %v", fr.Data, err)
	}
	if fr, err := s.ReadFrame(); err != nil || fr.Data[0] != 200 {
		t.Fatalf("audio frame: %v %v", fr.Data, err)
	}
}

func TestFanoutCloseEndsReaders(t *testing.T) {
	src := newChanSource()
	f := NewFanout(src)
	s := f.Subscribe(4)
	left := f.Subscribe(4)
	errc := make(chan error, 2)
	go func() { _, err := s.ReadFrame(); errc <- err }()
	go func() { _, err := left.ReadFrame(); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	left.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("closed subscription: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("reader after fanout close: %v", err)
	}
	if late := f.Subscribe(1); late != nil {
		if _, err := late.ReadFrame(); !errors.Is(err, ErrClosed) {
			t.Fatalf("subscribing after the end: %v", err)
		}
	}
}
