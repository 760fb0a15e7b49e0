package main

import (
	"bytes"
	"strings"
	"testing"

	"kvskit/device/v4l2"
)

func TestPrintDevices(t *testing.T) {
	var b bytes.Buffer
	printDevices(&b, []v4l2.DeviceInfo{
		{Path: "/dev/video0", Card: "Cam", Driver: "uvcvideo", BusInfo: "usb-1", Capture: true,
			Formats: []v4l2.FormatInfo{{PixelFormat: "YUYV", Description: "YUYV 4:2:2",
				Sizes: []v4l2.FrameSize{{Width: 1280, Height: 720, Intervals: []v4l2.Interval{{Num: 1, Den: 30}}}}}}},
		{Path: "/dev/video11", Card: "enc", Driver: "bcm2835-codec", M2M: true, H264Encoder: true},
		{Path: "/dev/video2", Err: "permission denied"},
	})
	out := b.String()
	for _, want := range []string{"/dev/video0  Cam (uvcvideo, usb-1) — camera", "YUYV  YUYV 4:2:2: 1280x720@30fps",
		"/dev/video11", "H.264 encoder", "error: permission denied", "encoders in this build: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
