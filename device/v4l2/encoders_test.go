package v4l2

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"kvskit/media/h264"
)

// TestSoftwareEncoderPath runs the adapter for mediadevices encoders with
// the tests' I_PCM encoder: YUYV pictures in, one H.264 access unit per
// picture out with the picture's timestamp, key frames on the encoder's
// interval and on request.
func TestSoftwareEncoderPath(t *testing.T) {
	const w, h = 32, 16
	e, err := newSWEncoder("pcm", pcmEncoder{keyint: 3}, w, h, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if e.pollFD() != -1 || e.name() != "pcm" {
		t.Fatalf("pollFD %d name %q", e.pollFD(), e.name())
	}
	l := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: 2 * w, sizeImage: 2 * w * h}
	var a assembler
	for i := 0; i < 7; i++ {
		if i == 5 {
			if err := e.forceKeyFrame(); err != nil {
				t.Fatal(err)
			}
		}
		ts := time.Duration(i) * 33 * time.Millisecond
		ok, err := e.send(rawFrame{data: yuyvFrame(w, h, 2*w), layout: l, ts: ts})
		if err != nil || !ok {
			t.Fatalf("send %d: %v %v", i, ok, err)
		}
		f, ok, err := e.receive()
		if err != nil || !ok {
			t.Fatalf("receive %d: %v %v", i, ok, err)
		}
		if f.ts != ts {
			t.Fatalf("frame %d: timestamp %v, want %v", i, f.ts, ts)
		}
		u, ok := a.push(f.data)
		if !ok {
			t.Fatalf("frame %d is no access unit", i)
		}
		if want := i == 0 || i == 3 || i == 5; u.key != want {
			t.Fatalf("frame %d: key %v, want %v", i, u.key, want)
		}
		if _, ok, _ := e.receive(); ok {
			t.Fatalf("frame %d: a second output", i)
		}
	}
	sps, err := h264.ParseSPS(a.sps[0])
	if err != nil || sps.Width() != w || sps.Height() != h {
		t.Fatalf("SPS %dx%d, %v", sps.Width(), sps.Height(), err)
	}
}

// greedy is an encoder that reads two pictures per output, which the push
// adapter cannot serve.
type greedy struct{}

func (greedy) RTPCodec() *codec.RTPCodec { return codec.NewRTPH264Codec(90000) }
func (greedy) BuildVideoEncoder(r video.Reader, _ prop.Media) (codec.ReadCloser, error) {
	return &greedyRC{r: r}, nil
}

type greedyRC struct{ r video.Reader }

func (g *greedyRC) Read() ([]byte, func(), error) {
	for i := 0; i < 2; i++ {
		if _, _, err := g.r.Read(); err != nil {
			return nil, func() {}, err
		}
	}
	return []byte{0, 0, 0, 1, 0x65}, func() {}, nil
}
func (g *greedyRC) Close() error                        { return nil }
func (g *greedyRC) Controller() codec.EncoderController { return nil }

func TestSoftwareEncoderWantsMore(t *testing.T) {
	e, err := newSWEncoder("greedy", greedy{}, 8, 4, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	l := frameLayout{pixfmt: pixYUYV, width: 8, height: 4, stride: 16, sizeImage: 64}
	if _, err := e.send(rawFrame{data: make([]byte, 64), layout: l}); !errors.Is(err, errEncoderWantsMore) {
		t.Fatalf("send: %v", err)
	}
	if err := e.forceKeyFrame(); err != nil {
		t.Fatalf("forceKeyFrame on an encoder without the control: %v", err)
	}
}
