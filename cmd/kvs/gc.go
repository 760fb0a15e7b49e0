package main

import (
	"os"
	"runtime/debug"
)

// streamingGCPercent is the garbage collector's target (as GOGC) for the
// long-running streaming commands, kvs capture and kvs put --realtime. They
// keep little live data (about 3 MB at 8 Mbit/s: program state, the open
// fragment and the one awaiting its acknowledgement) and allocate at the
// stream's bit rate, so collecting when the heap has grown by a quarter,
// instead of Go's default of doubling, keeps resident memory about 3 MB lower
// for a collection every second or so (a few milliseconds of CPU each).
const streamingGCPercent = 25

// tuneGCForStreaming applies streamingGCPercent unless the user set GOGC,
// which always wins. It reports the target in effect.
func tuneGCForStreaming() int {
	if _, set := os.LookupEnv("GOGC"); set {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(streamingGCPercent)
	return streamingGCPercent
}
