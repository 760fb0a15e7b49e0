package v4l2

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"slices"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// encoderM2M names the V4L2 memory-to-memory encoders.
const encoderM2M = "v4l2-m2m"

// swFactory builds a software encoder for a bit rate and key-frame interval.
type swFactory func(bitrate, keyint int) (codec.VideoEncoderBuilder, error)

// softwareEncoders holds the software encoders compiled in; the files behind
// the x264 and openh264 build tags add theirs.
var softwareEncoders = map[string]swFactory{}

// Encoders lists the encoders this build has: "v4l2-m2m" always (the
// devices themselves are found at run time, see ListDevices), then "x264"
// and "openh264" when built with those tags and cgo.
func Encoders() []string {
	names := []string{encoderM2M}
	var sw []string
	for n := range softwareEncoders {
		sw = append(sw, n)
	}
	slices.Sort(sw)
	return append(names, sw...)
}

// rawFrame is a captured picture: a view of a capture buffer that is valid
// until the buffer is queued again (native capture), or a decoded image
// (mediadevices capture) of the size in layout.
type rawFrame struct {
	data      []byte
	img       image.Image
	fullRange bool // img has JPEG's full-range samples
	layout    frameLayout
	ts        time.Duration // monotonic capture time
}

// encodedFrame is an encoder's output: an Annex-B access unit (owned) and
// the monotonic capture time of its picture.
type encodedFrame struct {
	data []byte
	ts   time.Duration
	key  bool // the encoder flagged it as a key frame
}

// encoder is an H.264 encoder stage.
type encoder interface {
	// send hands over a picture; accepted is false when the encoder has no
	// room yet (the caller waits for pollFD and retries).
	send(f rawFrame) (accepted bool, err error)
	// receive returns an encoded frame when one is ready, without blocking.
	receive() (f encodedFrame, ok bool, err error)
	// pollFD is the descriptor that becomes readable or writable when the
	// encoder progresses, or -1 for encoders that finish in send.
	pollFD() int
	forceKeyFrame() error
	name() string
	close() error
}

var errEncoderWantsMore = errors.New("v4l2: software encoder asked for a second picture before returning the first; only zero-latency encoders are supported")

// swEncoder adapts a github.com/pion/mediadevices encoder, which pulls
// pictures from a video.Reader, to the push model: send stores the picture
// and runs one Read of the encoder.
type swEncoder struct {
	label string
	rc    codec.ReadCloser
	in    image.Image
	out   []encodedFrame
}

func newSWEncoder(label string, b codec.VideoEncoderBuilder, width, height int, fps float64) (*swEncoder, error) {
	e := &swEncoder{label: label}
	r := video.ReaderFunc(func() (image.Image, func(), error) {
		if e.in == nil {
			return nil, nil, errEncoderWantsMore
		}
		img := e.in
		e.in = nil
		return img, func() {}, nil
	})
	rc, err := b.BuildVideoEncoder(r, prop.Media{Video: prop.Video{
		Width: width, Height: height, FrameRate: float32(fps), FrameFormat: frame.FormatI420,
	}})
	if err != nil {
		return nil, fmt.Errorf("v4l2: building %s encoder: %w", label, err)
	}
	e.rc = rc
	return e, nil
}

func (e *swEncoder) send(f rawFrame) (bool, error) {
	var img *image.YCbCr
	var err error
	switch m, ok := f.img.(*image.YCbCr); {
	case ok && !f.fullRange && m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}):
		img = m
	case f.img != nil:
		img, err = imageToYCbCr(f.img, f.fullRange)
	default:
		img, err = toYCbCr(f.data, f.layout)
	}
	if err != nil {
		return false, err
	}
	e.in = img
	b, release, err := e.rc.Read()
	e.in = nil
	if err != nil {
		return false, fmt.Errorf("v4l2: %s encoder: %w", e.label, err)
	}
	if len(b) > 0 {
		e.out = append(e.out, encodedFrame{data: bytes.Clone(b), ts: f.ts})
	}
	if release != nil {
		release()
	}
	return true, nil
}

func (e *swEncoder) receive() (encodedFrame, bool, error) {
	if len(e.out) == 0 {
		return encodedFrame{}, false, nil
	}
	f := e.out[0]
	e.out = e.out[1:]
	return f, true, nil
}

func (e *swEncoder) pollFD() int  { return -1 }
func (e *swEncoder) name() string { return e.label }

func (e *swEncoder) forceKeyFrame() error {
	if kc, ok := e.rc.Controller().(codec.KeyFrameController); ok {
		return kc.ForceKeyFrame()
	}
	return nil
}

func (e *swEncoder) close() error { return e.rc.Close() }
