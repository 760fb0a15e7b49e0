package main

import (
	"os"
	"runtime"

	"kvskit/device"
)

// passThroughPerProc is how many pass-through cameras one Go processor
// (GOMAXPROCS) is given in kvs capture.
//
// A camera whose video is passed through (RTSP, the test pattern) costs about
// 1 % of a core at 1080p30, and most of that is waking threads: each burst
// of packets wakes the reader, which hands the frame on to the uploader. With
// more processors than work, Go wakes a second thread for every hand-off,
// which finds nothing to do and sleeps again; with one processor per 16
// cameras (about a sixth of a core of work) the hand-offs stay on the thread
// that read the packets.
const passThroughPerProc = 16

// tuneProcsForCapture lowers GOMAXPROCS for a capture whose sources all pass
// their video through: one processor per passThroughPerProc of them, never
// more than Go's default. A V4L2 source may convert and encode pixels in Go,
// so with any of them the default stays, as it does when GOMAXPROCS is set
// in the environment. It reports the value in effect.
func tuneProcsForCapture(sources []string) int {
	cur := runtime.GOMAXPROCS(0)
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return cur
	}
	for _, s := range sources {
		if !device.PassesThrough(s) {
			return cur
		}
	}
	n := min(cur, max(1, (len(sources)+passThroughPerProc-1)/passThroughPerProc))
	runtime.GOMAXPROCS(n)
	return n
}
