package fragment

import (
	"math"
	"time"

	"kvskit/media"
)

// Fragment is one KVS fragment: it becomes one Matroska Cluster.
type Fragment struct {
	// Start is the cluster timecode as a time offset from the stream origin
	// (the same origin as Frame.PTS), truncated to the timecode unit. It is
	// never negative.
	Start time.Duration
	// Frames are in decoding order per track. With a video track and
	// key-frame fragmentation the first frame is a key frame of the video
	// track, unless the fragment follows a forced cut or is the first one
	// after a wait for a key frame: there frames of other tracks may lead
	// in, with the video key frame right behind them. The Fragment owns the
	// slice; Frame.Data is the caller's, never copied.
	Frames []media.Frame
	// Duration runs from Start to the end of the latest frame (PTS plus the
	// frame's estimated duration).
	Duration time.Duration
	// Seq counts fragments from 0.
	Seq uint64
}

// RelTimecode returns the frame's block timecode relative to the cluster in
// units of unit: (PTS - Start) / unit rounded down. The Fragmenter
// guarantees that it fits an int16 for the unit it was configured with;
// values outside are clamped (and a non-positive unit yields 0).
func (f *Fragment) RelTimecode(fr media.Frame, unit time.Duration) int16 {
	if unit <= 0 {
		return 0
	}
	rel := floorDiv(int64(fr.PTS), int64(unit)) - floorDiv(int64(f.Start), int64(unit))
	switch {
	case rel > math.MaxInt16:
		return math.MaxInt16
	case rel < math.MinInt16:
		return math.MinInt16
	}
	return int16(rel)
}

// Size returns the sum of the frames' data sizes in bytes.
func (f *Fragment) Size() int {
	n := 0
	for i := range f.Frames {
		n += len(f.Frames[i].Data)
	}
	return n
}

// floorDiv divides rounding towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
