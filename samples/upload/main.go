// Command upload sends a video file to a KVS stream with the producer package:
// go run ./samples/upload -stream NAME [-endpoint URL] FILE (AWS env for the rest).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"time"

	"kvskit/device"
	"kvskit/producer"
)

func main() {
	stream := flag.String("stream", "", "stream name")
	endpoint := flag.String("endpoint", "", "endpoint URL, e.g. a kvs serve URL (default AWS)")
	flag.Parse()
	ctx := context.Background()
	src, err := device.OpenFile(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	p, err := producer.New(ctx, producer.Config{
		StreamName: *stream, EndpointURL: *endpoint, CreateStream: true, RetentionHours: 24, Block: true,
	}, src.Tracks())
	if err != nil {
		log.Fatal(err)
	}
	for {
		frame, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			log.Fatal(err)
		}
		if err := p.WriteFrame(ctx, frame); err != nil {
			log.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d fragments persisted", p.Stats().Persisted)
}
