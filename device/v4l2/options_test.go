package v4l2

import (
	"errors"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url     string
		opts    []Option
		want    config
		wantErr error
	}{
		{url: "v4l2:///dev/video0", want: config{path: "/dev/video0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000}},
		{url: "/dev/video2", want: config{path: "/dev/video2", width: 1280, height: 720, fps: 30, bitrate: 2_000_000}},
		{
			url:  "v4l2:///dev/video0?width=640&height=480&fps=29.97&bitrate=500000&keyint=90&format=YUYV&encoder=/dev/video11",
			want: config{path: "/dev/video0", width: 640, height: 480, fps: 29.97, bitrate: 500000, keyint: 90, format: FormatYUYV, encoder: "/dev/video11"},
		},
		{url: "v4l2:///dev/v4l/by-id/usb-cam-video-index0?format=h264", want: config{path: "/dev/v4l/by-id/usb-cam-video-index0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000, format: FormatH264}},
		{url: "v4l2:///dev/video0?encoder=v4l2-m2m&format=nv12", want: config{path: "/dev/video0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000, format: FormatNV12, encoder: "v4l2-m2m"}},
		{
			url:  "v4l2:///dev/video0?width=640&height=480&bitrate=500000",
			opts: []Option{WithSize(1920, 1080), WithBitrate(4_000_000), WithKeyFrameInterval(30), WithFrameRate(25), WithPixelFormat(FormatI420)},
			want: config{path: "/dev/video0", width: 1920, height: 1080, fps: 25, bitrate: 4_000_000, keyint: 30, format: FormatI420},
		},
		{url: "v4l2://host/dev/video0", wantErr: ErrInvalidURL},
		{url: "http:///dev/video0", wantErr: ErrInvalidURL},
		{url: "video0", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/../dev/video0", wantErr: ErrInvalidURL},
		{url: "v4l2://", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?widht=640", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?width=640&width=320", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?width=abc", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?width=641", wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0?fps=0", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?fps=NaN", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?bitrate=10", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?keyint=0", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?format=rgb", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0?encoder=ffmpeg", wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0?encoder=x264", wantErr: ErrNoEncoder},
		{url: "v4l2:///dev/video0?format=mjpeg", want: config{path: "/dev/video0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000, format: FormatMJPEG}},
		{url: "v4l2:///dev/video0?format=yuyv&capture=NATIVE", want: config{path: "/dev/video0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000, format: FormatYUYV, capture: CaptureNative}},
		{url: "v4l2:///dev/video0?capture=native", opts: []Option{WithCapture(CaptureMediadevices)}, want: config{path: "/dev/video0", width: 1280, height: 720, fps: 30, bitrate: 2_000_000, capture: CaptureMediadevices}},
		{url: "v4l2:///dev/video0?format=mjpeg&capture=native", wantErr: ErrUnsupportedFormat},
		{url: "v4l2:///dev/video0?format=mjpeg", opts: []Option{WithCapture(CaptureNative)}, wantErr: ErrUnsupportedFormat},
		{url: "v4l2:///dev/video0?format=h264&capture=mediadevices", wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0?capture=webcam", wantErr: ErrInvalidURL},
		{url: "v4l2:///dev/video0", opts: []Option{WithCapture("cgo")}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0?format=h264&encoder=/dev/video11", wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithLogger(nil)}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithEncoder(nil)}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithBuffers(1)}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithStallTimeout(0)}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithReconnectBackoff(time.Second, time.Millisecond)}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithPixelFormat("rgb")}, wantErr: ErrInvalidOption},
		{url: "v4l2:///dev/video0", opts: []Option{WithEncoderName("gpu")}, wantErr: ErrInvalidOption},
	} {
		got, err := newConfig(c.url, c.opts)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: error %v, want %v", c.url, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.path != c.want.path || got.width != c.want.width || got.height != c.want.height || got.fps != c.want.fps ||
			got.bitrate != c.want.bitrate || got.keyint != c.want.keyint || got.format != c.want.format || got.encoder != c.want.encoder || got.capture != c.want.capture {
			t.Errorf("%s: got %+v, want %+v", c.url, *got, c.want)
		}
	}
}

func TestKeyInterval(t *testing.T) {
	c := defaultConfig()
	if c.keyInterval() != 60 {
		t.Errorf("default key interval at 30 fps: %d", c.keyInterval())
	}
	c.fps = 0.2
	if c.keyInterval() != 1 {
		t.Errorf("key interval at 0.2 fps: %d", c.keyInterval())
	}
	c.keyint = 7
	if c.keyInterval() != 7 {
		t.Errorf("set key interval: %d", c.keyInterval())
	}
}

func TestFPSFraction(t *testing.T) {
	for _, c := range []struct {
		fps      float64
		num, den uint32
	}{
		{30, 1, 30}, {25, 1, 25}, {1, 1, 1}, {29.97, 1001, 30000}, {59.94, 1001, 60000}, {12.5, 1000, 12500}, {0.5, 1000, 500},
	} {
		if n, d := fpsFraction(c.fps); n != c.num || d != c.den {
			t.Errorf("fpsFraction(%v) = %d/%d, want %d/%d", c.fps, n, d, c.num, c.den)
		}
	}
}

func TestEncoders(t *testing.T) {
	got := Encoders()
	if len(got) == 0 || got[0] != encoderM2M {
		t.Fatalf("Encoders() = %v", got)
	}
	if len(got) != 1+len(softwareEncoders) {
		t.Fatalf("Encoders() = %v with software encoders %v", got, softwareEncoders)
	}
}
