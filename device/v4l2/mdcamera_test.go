//go:build linux

package v4l2

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"github.com/pion/mediadevices/pkg/frame"
)

// TestMDDecode checks what the mediadevices path does with each captured
// buffer before the encoder sees it: damaged or wrongly sized pictures are
// errors (the source drops them), good ones keep the camera's size.
func TestMDDecode(t *testing.T) {
	const w, h = 64, 32
	jpegOf := func(w, h int) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420), nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	mk := func(pix uint32, f frame.Format) *mdCamera {
		dec, err := frame.NewDecoder(f)
		if err != nil {
			t.Fatal(err)
		}
		return &mdCamera{path: "/dev/videoX", dec: dec, lay: frameLayout{pixfmt: pix, width: w, height: h}}
	}
	mj := mk(pixMJPG, frame.FormatMJPEG)
	good := jpegOf(w, h)
	img, release, err := mj.decode(good)
	if err != nil || img.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("good JPEG: %v, %v", img, err)
	}
	release()
	for name, b := range map[string][]byte{
		"truncated":  good[:len(good)/2],
		"garbage":    bytes.Repeat([]byte{0xff, 0xd8, 0x00}, 50),
		"other size": jpegOf(w*2, h),
	} {
		if _, release, err := mj.decode(b); err == nil {
			t.Errorf("%s JPEG decoded", name)
		} else {
			release()
		}
	}
	yu := mk(pixYUYV, frame.FormatYUYV)
	if _, _, err := yu.decode(make([]byte, w*h)); err == nil {
		t.Error("short YUYV buffer decoded")
	}
	img, _, err = yu.decode(yuyvFrame(w, h, 2*w))
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := img.(*image.YCbCr); !ok || m.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Fatalf("YUYV decoded to %T", img)
	}
}

func TestChooseFormatMJPEG(t *testing.T) {
	offer := func(fs ...uint32) []fmtDesc {
		var out []fmtDesc
		for _, f := range fs {
			out = append(out, fmtDesc{pixfmt: f})
		}
		return out
	}
	for _, c := range []struct {
		want    PixelFormat
		offered []fmtDesc
		mjpeg   bool
		got     uint32
		err     error
	}{
		{"", offer(pixMJPG, pixYUYV), true, pixYUYV, nil},
		{"", offer(pixMJPG, pixYUYV, pixH264), true, pixH264, nil},
		{"", offer(pixMJPG), true, pixMJPG, nil},
		{"", offer(pixMJPG), false, 0, ErrUnsupportedFormat},
		{FormatMJPEG, offer(pixMJPG, pixYUYV), true, pixMJPG, nil},
		{FormatMJPEG, offer(pixMJPG, pixYUYV), false, 0, ErrUnsupportedFormat},
		{FormatMJPEG, offer(pixYUYV), true, 0, ErrUnsupportedFormat},
		{"", offer(pixFWHT), true, 0, ErrUnsupportedFormat},
	} {
		got, err := chooseFormat(c.want, c.offered, c.mjpeg)
		if got != c.got || !errors.Is(err, c.err) {
			t.Errorf("chooseFormat(%q, %v, %v) = %s, %v; want %s, %v", c.want, c.offered, c.mjpeg, fourccString(got), err, fourccString(c.got), c.err)
		}
	}
	for _, c := range []struct {
		pix    uint32
		mplane bool
		want   string
	}{
		{pixH264, false, "native"}, {pixYUYV, false, "native"}, {pixNV12, true, "native"},
		{pixMJPG, false, "mediadevices"}, {pixMJPG, true, ""}, {pixFWHT, false, ""},
	} {
		if got := formatCapture(c.pix, c.mplane); got != c.want {
			t.Errorf("formatCapture(%s, %v) = %q, want %q", fourccString(c.pix), c.mplane, got, c.want)
		}
	}
	// M2M OUTPUT format for decoded pictures: I420 first, and YUYV when
	// that is all the encoder takes (raw MJPEG bytes convert to nothing).
	if got := pickRaw(pixMJPG, true, offer(pixYUYV, pixNV12, pixI420)); got != pixI420 {
		t.Errorf("pickRaw(MJPG, image) = %s", fourccString(got))
	}
	if got := pickRaw(pixNV12, true, offer(pixYUYV)); got != pixYUYV {
		t.Errorf("pickRaw(NV12 image, YUYV only) = %s", fourccString(got))
	}
	if got := pickRaw(pixNV12, false, offer(pixYUYV)); got != 0 {
		t.Errorf("pickRaw(NV12 bytes, YUYV only) = %s", fourccString(got))
	}
}
