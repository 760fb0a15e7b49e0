package rtsp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"kvskit/device/rtsp"
)

// ExampleOpen plays a camera over TCP and prints its tracks and the first
// frames. The source keeps reconnecting when the camera goes away; ReadFrame
// only fails after Close, or when the camera comes back with other codecs.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := rtsp.Open(ctx, "rtsp://admin:secret@192.168.1.64:554/Streaming/Channels/101",
		rtsp.WithTransport(rtsp.TCP),
		rtsp.WithReconnectBackoff(time.Second, 30*time.Second),
		rtsp.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		if errors.Is(err, rtsp.ErrUnauthorized) {
			fmt.Println("wrong user name or password")
		}
		fmt.Println(err)
		return
	}
	defer src.Close()
	for _, t := range src.Tracks() {
		fmt.Printf("track %d: %s %s, %d bytes of CodecPrivate\n", t.Number, t.Kind, t.Codec, len(t.CodecPrivate))
	}
	for range 100 {
		f, err := src.ReadFrame()
		if err != nil {
			fmt.Println(err)
			return
		}
		at := src.Origin().Add(f.PTS) // the frame's wall-clock time
		fmt.Printf("track %d at %s key=%v %d bytes\n", f.Track, at.Format(time.RFC3339Nano), f.Key, len(f.Data))
	}
	fmt.Printf("%+v\n", src.Stats())
}
