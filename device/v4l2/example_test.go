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

func ExampleListDevices() {
	devs, err := v4l2.ListDevices()
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range devs {
		fmt.Println(d.Path, d.Card, d.Capture, d.H264Encoder)
	}
}
