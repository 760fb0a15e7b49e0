// Command rtspcamera streams an IP camera into a KVS stream. The RTSP source
// reconnects when the camera or the network goes away, and keeps timestamps
// increasing, so the stream never sees a 4004 error.
//
//	go run ./samples/rtspcamera -stream door -url rtsp://user:pass@192.0.2.10:554/stream1
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"syscall"
	"time"

	"kvskit/device/rtsp"
	"kvskit/producer"
)

func main() {
	stream := flag.String("stream", "", "stream name")
	url := flag.String("url", "", "rtsp:// URL of the camera")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cam, err := rtsp.Open(ctx, *url)
	if err != nil {
		log.Fatal(err)
	}
	context.AfterFunc(ctx, func() { cam.Close() })
	p, err := producer.New(ctx, producer.Config{
		StreamName: *stream, CreateStream: true, RetentionHours: 24, StartTime: cam.Origin(),
	}, cam.Tracks())
	if err != nil {
		log.Fatal(err)
	}
	for {
		frame, err := cam.ReadFrame()
		if err != nil {
			break // closed
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
	st := cam.Stats()
	log.Printf("%d fragments persisted; camera reconnects: %d", p.Stats().Persisted, st.Reconnects)
}
