//go:build cgo && (x264 || openh264)

package v4l2

import (
	"testing"
	"time"

	"kvskit/media/h264"
)

// TestSoftwareEncoders runs the encoders compiled in with the x264 and
// openh264 build tags through the software encoder path: one access unit
// per picture, key frames on the interval, parameter sets of the size.
func TestSoftwareEncoders(t *testing.T) {
	if len(softwareEncoders) == 0 {
		t.Fatal("built with an encoder tag but no software encoder registered")
	}
	const w, h, keyint = 64, 48, 10
	for name, factory := range softwareEncoders {
		t.Run(name, func(t *testing.T) {
			b, err := factory(500_000, keyint)
			if err != nil {
				t.Fatal(err)
			}
			e, err := newSWEncoder(name, b, w, h, 30)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			l := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: 2 * w, sizeImage: 2 * w * h}
			var a assembler
			keys := 0
			for i := 0; i < 3*keyint; i++ {
				frame := yuyvFrame(w, h, 2*w)
				for j := range frame {
					frame[j] += byte(3 * i) // motion, so that P frames differ
				}
				ts := time.Duration(i) * time.Second / 30
				if ok, err := e.send(rawFrame{data: frame, layout: l, ts: ts}); err != nil || !ok {
					t.Fatalf("send %d: %v %v", i, ok, err)
				}
				f, ok, err := e.receive()
				if err != nil || !ok {
					t.Fatalf("picture %d: no output (%v)", i, err)
				}
				if f.ts != ts {
					t.Fatalf("picture %d: timestamp %v, want %v", i, f.ts, ts)
				}
				u, ok := a.push(f.data)
				if !ok {
					t.Fatalf("picture %d: no access unit", i)
				}
				if i == 0 && !u.key {
					t.Fatal("first frame is not a key frame")
				}
				if u.key {
					keys++
				}
			}
			if keys < 2 || keys > 4 {
				t.Errorf("%d key frames in %d pictures at interval %d", keys, 3*keyint, keyint)
			}
			sps, err := h264.ParseSPS(a.sps[0])
			if err != nil || sps.Width() != w || sps.Height() != h {
				t.Fatalf("SPS %dx%d, %v", sps.Width(), sps.Height(), err)
			}
		})
	}
}
