package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"kvskit/media"
	"kvskit/producer"
)

// ExampleProducer uploads frames to a stream, creating it when missing, and
// reports what did not arrive. Point EndpointURL at `kvs serve` to run it
// without an AWS account; credentials come from the default AWS chain.
func ExampleProducer() {
	ctx := context.Background()
	tracks := []media.Track{{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264,
		Width: 1280, Height: 720, CodecPrivate: []byte{ /* AVCDecoderConfigurationRecord */ }}}
	p, err := producer.New(ctx, producer.Config{
		StreamName:     "front-door",
		EndpointURL:    "http://127.0.0.1:4566", // "" for AWS
		CreateStream:   true,
		RetentionHours: 24,
		OnEvent: func(ev producer.Event) {
			if ev.Type == producer.FragmentPersisted {
				fmt.Println("persisted", ev.Fragment, ev.Number, ev.Latency)
			}
		},
	}, tracks)
	if err != nil {
		log.Fatal(err)
	}
	var frames <-chan media.Frame // from a camera, a file, ...
	for f := range frames {
		if err := p.WriteFrame(ctx, f); err != nil {
			log.Print(err)
			break
		}
	}
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.Close(closeCtx); err != nil {
		var ce *producer.CloseError
		if errors.As(err, &ce) {
			for _, f := range ce.Fragments {
				log.Printf("fragment %d at %d: %v", f.Seq, f.Timecode, f.Err)
			}
		}
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Println(st.Persisted, "fragments persisted,", st.Dropped, "dropped")
}
