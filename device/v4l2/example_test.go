package v4l2_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"kvskit/device/v4l2"
)

// Open a USB webcam that encodes H.264 itself, or a raw one through the
// Raspberry Pi's hardware encoder, and read frames.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := v4l2.Open(ctx, "v4l2:///dev/video0?width=1280&height=720&fps=30&format=yuyv&encoder=/dev/video11&bitrate=2000000&keyint=60")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	tr := src.Tracks()[0]
	fmt.Println(tr.Codec, tr.Width, tr.Height)
	for i := 0; i < 100; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(src.Origin().Add(f.PTS), f.Key, len(f.Data))
	}
}

// Read a raw webcam with the package's own ioctl code, whose frames carry
// the kernel's capture timestamps, rather than through mediadevices.
func ExampleWithCapture() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := v4l2.Open(ctx, "v4l2:///dev/video0?format=yuyv&width=640&height=480",
		v4l2.WithCapture(v4l2.CaptureNative), v4l2.WithEncoderName("/dev/video11"))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	fmt.Println(src.Stats().Capture)
}

// An MJPEG-only webcam: decoded on the mediadevices path, then encoded.
func ExampleOpen_mjpeg() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := v4l2.Open(ctx, "v4l2:///dev/video0?format=mjpeg&width=1280&height=720&fps=30&keyint=60")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	st := src.Stats()
	fmt.Println(st.Capture, st.PixelFormat, st.Encoder)
}

func ExampleListDevices() {
	devs, err := v4l2.ListDevices()
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range devs {
		fmt.Println(d.Path, d.Card, d.Capture, d.H264Encoder)
	}
}
