package rtsp

import (
	"log/slog"
	"slices"
	"time"

	"kvskit/media"
)

// maxReorderSpan bounds how far before the latest unit of a video track a
// unit may point and still count as reordered rather than as a timestamp
// jump; the bound is tighter, MaxReorderFrames+1 frame intervals, once the
// frame interval is known.
const maxReorderSpan = time.Second

// reorderInfo is what a video track's SPS says about frame reordering.
type reorderInfo struct {
	frames int  // max_num_reorder_frames / sps_max_num_reorder_pics
	known  bool // false: the SPS does not say
}

// bounds tells timeline.place where a unit of a track may fall without
// counting as a timestamp jump.
type bounds struct {
	has bool
	// floor: a unit at or before it jumped back.
	floor time.Duration
	// top: the latest time of the track; a re-anchored unit goes after it,
	// leaving room for the frames that the track usually sends after a
	// later one (B-frames).
	top, room time.Duration
	// sorted: times of the latest units of a track that may reorder, in
	// increasing order; step: their usual spacing, 0 while unknown.
	sorted []time.Duration
	step   time.Duration
}

// jumped reports whether a unit at time at does not follow the track's
// earlier units as a timeline or a reordering would.
func (b *bounds) jumped(at time.Duration) bool {
	switch {
	case !b.has:
		return false
	case at <= b.floor:
		return true
	case at > b.top:
		return false
	}
	// Placed among the recent units: a reordered unit fills a hole in their
	// times and never repeats one.
	i, found := slices.BinarySearch(b.sorted, at)
	switch {
	case found:
		return true
	case i == 0 || i == len(b.sorted):
		return false
	}
	return b.step > 0 && b.sorted[i]-b.sorted[i-1] < b.step*3/2
}

// orderState is the per-track state that keeps reordered video (B-frames:
// RTP timestamps in presentation order) apart from timestamp jumps and
// derives its DTS. It is kept across sessions and used by one session at a
// time.
type orderState struct {
	recent  []time.Duration // local times of the latest units in decoding order, at most MaxReorderFrames+1
	scratch [media.MaxReorderFrames + 1]time.Duration

	learned   bool // the track reordered frames although its SPS did not say it would
	dropToKey bool
	dts       *media.DTSDeriver[media.Frame]
	lastDTS   time.Duration
	hasDTS    bool
}

// bounds returns the bounds of the track's next unit: with reorder 0 a unit
// must follow the latest one (last). Otherwise it may precede up to reorder
// of the recent units (the decoded picture buffer rule), by less than the
// reordering span, in a hole of their times.
func (o *orderState) bounds(last time.Duration, hasLast bool, reorder int) bounds {
	if !hasLast {
		return bounds{}
	}
	b := bounds{has: true, floor: last, top: last}
	if reorder <= 0 || len(o.recent) == 0 {
		return b
	}
	sorted := o.scratch[:len(o.recent)]
	copy(sorted, o.recent)
	slices.Sort(sorted)
	// The frame interval: the median step between the sorted times (one
	// odd step, such as a repair's, does not move it), once there are a
	// few.
	span := maxReorderSpan
	var steps [media.MaxReorderFrames]time.Duration
	n := 0
	for i := 1; i < len(sorted); i++ {
		if d := sorted[i] - sorted[i-1]; d > 0 {
			steps[n] = d
			n++
		}
	}
	if n > 0 {
		slices.Sort(steps[:n])
		span = min(span, steps[n/2]*(media.MaxReorderFrames+1))
		if n >= 4 {
			// The lower quartile: holes left by frames still to come
			// lengthen some steps.
			b.step = steps[n/4]
		}
	}
	// How far frames came before the latest one so far, to leave room for
	// after a repair.
	var lead, hi time.Duration
	for i, at := range o.recent {
		if i > 0 && hi-at > lead {
			lead = hi - at
		}
		if i == 0 || at > hi {
			hi = at
		}
	}
	if lead > 0 && b.step > 0 {
		b.room = lead + b.step
	}
	b.floor = last - span
	if k := len(sorted); k > reorder {
		b.floor = max(b.floor, sorted[k-1-reorder])
	}
	b.sorted = sorted
	return b
}

// record notes the local time of a unit placed in decoding order.
func (o *orderState) record(at time.Duration) {
	if len(o.recent) == cap(o.scratch) {
		copy(o.recent, o.recent[1:])
		o.recent = o.recent[:len(o.recent)-1]
	}
	o.recent = append(o.recent, at)
}

// window is the number of frames the DTS deriver holds: none while no
// reordering is expected, enough to see a whole group of reordered frames
// when the SPS gives the depth, and the largest decoded picture buffer once
// a track reordered without saying so.
func (o *orderState) window(ri reorderInfo) int {
	switch {
	case ri.known && ri.frames > 0:
		return min(media.MaxReorderFrames, 2*ri.frames+2)
	case ri.known, !o.learned:
		return 0
	}
	return media.MaxReorderFrames
}

// video takes a video frame in decoding order, its PTS set; reordered says
// that it was placed before an earlier frame of the track. It appends the
// frames whose DTS is known to out and reports whether f was dropped.
func (o *orderState) video(f media.Frame, reordered bool, ri reorderInfo, log *slog.Logger, out []media.Frame) ([]media.Frame, bool) {
	if reordered && !ri.known && !o.learned {
		// Frames already delivered have DTS = PTS; this one cannot get a
		// DTS after theirs and before its PTS. Start over at a key frame.
		o.learned, o.dropToKey = true, true
		log.Info("rtsp: the camera reorders frames (B-frames) without saying so in its SPS: deriving DTS from the next key frame on",
			"track", f.Track, "window", media.MaxReorderFrames)
	}
	if o.dropToKey {
		if !f.Key {
			return out, true
		}
		o.dropToKey = false
	}
	if w := o.window(ri); o.dts == nil || f.Key && w != o.dts.Window() {
		out = o.flush(out)
		o.dts = media.NewDTSDeriver[media.Frame](w)
	}
	o.dts.Push(f.PTS, f)
	return o.pop(out), false
}

// flush releases the frames the deriver holds.
func (o *orderState) flush(out []media.Frame) []media.Frame {
	if o.dts == nil {
		return out
	}
	o.dts.Flush()
	return o.pop(out)
}

// pop appends the frames whose DTS is known. The DTS never precedes the
// track's previous DTS and never follows the PTS; should both not hold (PTS
// that went back further than any reordering), the DTS is the PTS and the
// queue moves the frame later. The DTS of the first frames may be negative,
// by the reordering delay at most.
func (o *orderState) pop(out []media.Frame) []media.Frame {
	for d, ok := o.dts.Pop(); ok; d, ok = o.dts.Pop() {
		f := d.Value
		f.DTS = d.DTS
		if o.hasDTS {
			f.DTS = max(f.DTS, o.lastDTS)
		}
		f.DTS = min(f.DTS, f.PTS)
		if !o.hasDTS || f.DTS > o.lastDTS {
			o.lastDTS, o.hasDTS = f.DTS, true
		}
		out = append(out, f)
	}
	return out
}
