// Command picamera streams a Raspberry Pi camera (or any V4L2 camera) into a
// KVS stream: H.264 from the camera, or raw frames through the Pi's hardware
// encoder, fanned out so other consumers could share the capture.
//
//	go run ./samples/picamera -stream pi-cam -device /dev/video0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"syscall"
	"time"

	"kvskit/device"
	"kvskit/producer"
)

func main() {
	stream := flag.String("stream", "pi-cam", "stream name")
	dev := flag.String("device", "/dev/video0", "camera device")
	size := flag.String("size", "1280x720", "width x height")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var w, h int
	if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil {
		log.Fatalf("-size %q: %v", *size, err)
	}
	uri := fmt.Sprintf("v4l2://%s?width=%d&height=%d&fps=30&bitrate=2000000&keyint=60", *dev, w, h)
	cam, err := device.OpenURI(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	fan := device.NewFanout(cam)
	defer fan.Close()
	upload := fan.Subscribe(300) // 10 s of frames; a stalled upload loses frames, not the camera

	p, err := producer.New(ctx, producer.Config{
		StreamName: *stream, CreateStream: true, RetentionHours: 24, StartTime: cam.Origin(),
	}, fan.Tracks())
	if err != nil {
		log.Fatal(err)
	}
	context.AfterFunc(ctx, func() { upload.Close() })
	for {
		frame, err := upload.ReadFrame()
		if err != nil {
			break
		}
		if err := p.WriteFrame(ctx, frame); err != nil && ctx.Err() == nil {
			log.Print(err)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d fragments persisted", p.Stats().Persisted)
}
