package v4l2

import "time"

// clock maps V4L2 buffer timestamps, which drivers take from
// CLOCK_MONOTONIC, to offsets from the source's origin: the wall-clock time
// read together with a monotonic reading when the source was opened. The
// monotonic clock does not jump when the wall clock is set, so offsets stay
// consistent for the life of the source; Origin()+PTS is the frame's
// wall-clock capture time as of the moment the source was opened.
type clock struct {
	origin time.Time     // wall clock at start
	mono0  time.Duration // CLOCK_MONOTONIC at start
}

// maxTimestampSkew bounds how far a driver timestamp may lie from the
// monotonic time at dequeue before it is considered bogus (a driver filling
// in another clock, or zero).
const maxTimestampSkew = 10 * time.Second

func newClock(wall time.Time, mono time.Duration) clock {
	return clock{origin: wall, mono0: mono}
}

// tvDuration converts a timeval to a duration.
func tvDuration(tv timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// durationTV converts a duration to a timeval.
func durationTV(d time.Duration) timeval {
	return timeval{Sec: int(d / time.Second), Usec: int(d % time.Second / time.Microsecond)}
}

// captureTime returns the monotonic capture time of a buffer: its timestamp
// when the driver says it is monotonic (or it was copied from a monotonic
// timestamp we set, for memory-to-memory devices) and it is plausible,
// otherwise the dequeue time now.
func captureTime(ts time.Duration, flags uint32, trustCopy bool, now time.Duration) time.Duration {
	src := flags & bufFlagTimestampMask
	ok := src == bufFlagTimestampMonotone || (trustCopy && src == bufFlagTimestampCopy)
	if !ok || ts <= 0 || ts > now+maxTimestampSkew || ts < now-maxTimestampSkew {
		return now
	}
	return ts
}

// pts returns the offset of monotonic time mono from the origin, never
// negative.
func (c clock) pts(mono time.Duration) time.Duration {
	d := mono - c.mono0
	if d < 0 {
		return 0
	}
	return d
}

// minPTSStep is how far after the previous frame a frame whose timestamp
// does not advance is placed (one Matroska timecode unit at the default
// scale).
const minPTSStep = time.Millisecond

// monotonize returns pts, or last+minPTSStep when pts does not advance past
// the previous frame's last, and whether it repaired the value.
func monotonize(pts, last time.Duration, haveLast bool) (time.Duration, bool) {
	if haveLast && pts < last+minPTSStep {
		return last + minPTSStep, true
	}
	return pts, false
}
