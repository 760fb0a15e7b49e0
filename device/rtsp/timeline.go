package rtsp

import "time"

// Timeline constants.
const (
	// jumpTolerance is how far ahead of its arrival (less the track's usual
	// latency) a unit's timestamp may point before it counts as a jump.
	jumpTolerance = 2 * time.Second
	// minStep separates a repaired unit from the previous one of its track.
	minStep = time.Millisecond
	// driftWindow is the period over which the smallest latency (arrival
	// minus mapped time) of each track is measured.
	driftWindow = 10 * time.Second
	// driftDeadband is the latency change that is left alone.
	driftDeadband = 40 * time.Millisecond
	// slewRate bounds how fast the drift correction moves timestamps away
	// from the camera's clock (5 ms per second).
	slewRate = 0.005
)

// unwrapper extends 32-bit RTP timestamps to 64 bits: each timestamp is taken
// to be the one closest to the previous.
type unwrapper struct {
	last    uint32
	ext     int64
	started bool
}

func (u *unwrapper) unwrap(ts uint32) int64 {
	if !u.started {
		u.started, u.last, u.ext = true, ts, int64(ts)
		return u.ext
	}
	u.ext += int64(int32(ts - u.last))
	u.last = ts
	return u.ext
}

// peek unwraps ts without moving the reference.
func (u *unwrapper) peek(ts uint32) int64 {
	if !u.started {
		return int64(ts)
	}
	return u.ext + int64(int32(ts-u.last))
}

// ticks converts d clock ticks at rate Hz to a duration without overflow.
func ticks(d, rate int64) time.Duration {
	q, r := d/rate, d%rate
	if r < 0 { // round down, before the anchor too
		q, r = q-1, r+rate
	}
	return time.Duration(q)*time.Second + time.Duration(r*int64(time.Second)/rate)
}

// ntpDuration converts a 64-bit NTP timestamp to a duration since the NTP
// epoch (only differences are used).
func ntpDuration(ntp uint64) time.Duration {
	return time.Duration(ntp>>32)*time.Second + time.Duration((ntp&0xffffffff)*uint64(time.Second)>>32)
}

// trackClock maps one track's RTP timestamps to local time.
type trackClock struct {
	rate int64
	unw  unwrapper

	hasSR bool
	srNTP time.Duration
	srRTP uint32

	anchored  bool
	anchorExt int64
	anchorAt  time.Duration // local time of anchorExt, before the session correction

	ref      time.Duration // usual latency: arrival minus mapped time
	refSet   bool          // ref comes from a whole window
	refKnown bool          // ref is at least provisional
	winMin   time.Duration
	winHas   bool
}

// timeline maps the RTP timestamps of a session's tracks to local time (the
// time since the source's base), which the PTS are derived from.
//
// A track is anchored at its sender report when the session has one (the
// camera's NTP clock, shifted by the offset between it and local time
// measured at the first report, so that audio and video line up as the
// camera captured them), else at the arrival of its first unit. From the
// anchor on the RTP timestamps, unwrapped, advance the time at the nominal
// clock rate. A unit whose time would not advance past the track's previous
// unit, or that points more than jumpTolerance into the future, re-anchors
// the track at its arrival time less the track's usual latency: the camera's
// timestamps jumped. Slow drift between the camera's clock and local time is
// corrected for all tracks together by slewing at most slewRate.
type timeline struct {
	tracks []*trackClock

	offsetSet bool
	offset    time.Duration // local time minus the camera's NTP time

	corr, target time.Duration // drift correction, current and aimed at
	lastSlew     time.Duration
	windowEnd    time.Duration
}

func newTimeline(rates []int) *timeline {
	tl := &timeline{}
	for _, r := range rates {
		tl.tracks = append(tl.tracks, &trackClock{rate: int64(max(r, 1))})
	}
	return tl
}

// senderReport records an RTCP sender report of track i.
func (tl *timeline) senderReport(i int, ntp uint64, rtpTS uint32, arrival time.Duration) {
	c := tl.tracks[i]
	c.hasSR, c.srNTP, c.srRTP = true, ntpDuration(ntp), rtpTS
	if !tl.offsetSet {
		tl.offsetSet, tl.offset = true, arrival-c.srNTP
	}
}

// allReported reports whether every track has a sender report.
func (tl *timeline) allReported() bool {
	for _, c := range tl.tracks {
		if !c.hasSR {
			return false
		}
	}
	return true
}

// placement is the outcome of timeline.place.
type placement struct {
	at     time.Duration // local time of the unit
	repair string        // why the track was re-anchored, or ""
}

// place maps a unit of track i with RTP timestamp ts that arrived at
// arrival. b says where the track's earlier units lie: a unit that jumped
// by them re-anchors the track after b.top.
func (tl *timeline) place(i int, ts uint32, arrival time.Duration, b bounds) placement {
	tl.slew(arrival)
	c := tl.tracks[i]
	ext := c.unw.unwrap(ts)
	if !c.anchored {
		c.anchored = true
		if c.hasSR && tl.offsetSet {
			c.anchorExt = c.unw.peek(c.srRTP)
			c.anchorAt = c.srNTP + tl.offset - tl.corr
		} else {
			c.anchorExt, c.anchorAt = ext, arrival-tl.corr
		}
	}
	at := c.anchorAt + ticks(ext-c.anchorExt, c.rate) + tl.corr
	if !c.refKnown {
		c.ref, c.refKnown = arrival-at, true
	}
	var p placement
	switch {
	case b.jumped(at):
		p.repair = "timestamp went back or repeated"
	case at-(arrival-c.ref) > jumpTolerance:
		p.repair = "timestamp jumped forward"
	}
	if p.repair != "" {
		at = arrival - c.ref
		if b.has && at <= b.top+b.room {
			at = b.top + max(b.room, minStep)
		}
		c.anchorExt, c.anchorAt = ext, at-tl.corr
	}
	p.at = at
	if lat := arrival - at; !c.winHas || lat < c.winMin {
		c.winMin, c.winHas = lat, true
	}
	if tl.windowEnd == 0 {
		tl.windowEnd = arrival + driftWindow
	} else if arrival >= tl.windowEnd {
		tl.endWindow()
		tl.windowEnd = arrival + driftWindow
	}
	return p
}

// endWindow compares each track's smallest latency of the window with its
// usual latency; when all tracks agree that the camera's clock drifted, the
// correction is aimed at compensating it.
func (tl *timeline) endWindow() {
	var e time.Duration
	n, pos, neg := 0, 0, 0
	for _, c := range tl.tracks {
		if !c.winHas {
			continue
		}
		if !c.refSet {
			c.ref, c.refSet, c.refKnown = c.winMin, true, true
			c.winHas = false
			continue
		}
		dev := c.winMin - c.ref
		c.winHas = false
		if n == 0 || abs(dev) < abs(e) {
			e = dev
		}
		n++
		if dev > 0 {
			pos++
		} else if dev < 0 {
			neg++
		}
	}
	if n == 0 || pos > 0 && neg > 0 || tl.corr != tl.target || abs(e) < driftDeadband {
		return
	}
	// A latency larger than usual means the camera's clock runs slow (its
	// timestamps fall behind): move them later; and the reverse.
	tl.target = tl.corr + e
}

// slew moves the correction towards its target by at most slewRate of the
// time elapsed.
func (tl *timeline) slew(now time.Duration) {
	elapsed := now - tl.lastSlew
	tl.lastSlew = now
	if tl.corr == tl.target || elapsed <= 0 {
		return
	}
	step := time.Duration(float64(elapsed) * slewRate)
	switch d := tl.target - tl.corr; {
	case abs(d) <= step:
		tl.corr = tl.target
	case d > 0:
		tl.corr += step
	default:
		tl.corr -= step
	}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
