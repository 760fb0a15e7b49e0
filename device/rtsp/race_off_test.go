//go:build !race

package rtsp

// raceEnabled tells a build with the race detector, whose instrumentation
// allocates.
const raceEnabled = false
