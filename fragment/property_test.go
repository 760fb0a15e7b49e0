package fragment

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"kvskit/media"
)

// source is one track of a generated stream.
type source struct {
	track    uint64
	period   time.Duration
	keyEvery int // 0: key frames only at random
	bframes  bool
	skew     time.Duration // arrival skew against the other tracks
	clock    time.Duration // nominal DTS of the next frame
	lastDTS  time.Duration
	n        int
}

// genScenario draws a configuration and a stream with jitter, repeated and
// backwards timestamps, gaps, clock restarts, PTS before DTS, B-frame
// reordering, random key frames, frames of unknown tracks and flushes.
func genScenario(t *rapid.T) scenario {
	hasVideo := rapid.Bool().Draw(t, "video")
	nAudio := rapid.IntRange(0, 2).Draw(t, "audio tracks")
	if !hasVideo && nAudio == 0 {
		nAudio = 1
	}
	var tracks []media.Track
	if hasVideo {
		tracks = append(tracks, videoTrack)
	}
	tracks = append(tracks, []media.Track{audioTrack, audio2Track}[:nAudio]...)
	if len(tracks) > 1 && rapid.Bool().Draw(t, "video last") {
		tracks = append(tracks[1:], tracks[0])
	}
	p := params{
		tracks: tracks,
		unit: rapid.SampledFrom([]time.Duration{time.Millisecond, 100 * time.Microsecond,
			10 * time.Millisecond, 10 * time.Microsecond}).Draw(t, "unit"),
		maxDur:    rapid.SampledFrom([]time.Duration{20 * time.Second, 5 * time.Second, 60 * time.Second}).Draw(t, "max"),
		target:    rapid.SampledFrom([]time.Duration{2 * time.Second, 500 * time.Millisecond, time.Second, 3 * time.Second}).Draw(t, "target"),
		keyFrames: rapid.IntRange(0, 3).Draw(t, "key-frame fragmentation") > 0,
	}
	p.target = min(p.target, p.maxDur)

	start := time.Duration(rapid.IntRange(-500, 500).Draw(t, "start ms")) * time.Millisecond
	var srcs []*source
	for _, tr := range tracks {
		s := &source{track: tr.Number, clock: start,
			skew: time.Duration(rapid.IntRange(-300, 300).Draw(t, "skew ms")) * time.Millisecond}
		if tr.Kind == media.KindVideo {
			s.period = rapid.SampledFrom([]time.Duration{time.Second / 30, 40 * time.Millisecond,
				100 * time.Millisecond, time.Second}).Draw(t, "video period")
			s.keyEvery = rapid.IntRange(0, 150).Draw(t, "key every")
			s.bframes = rapid.Bool().Draw(t, "b-frames")
		} else {
			s.period = rapid.SampledFrom([]time.Duration{1024 * time.Second / aacRate, 20 * time.Millisecond,
				64 * time.Millisecond}).Draw(t, "audio period")
		}
		srcs = append(srcs, s)
	}

	n := rapid.IntRange(0, 400).Draw(t, "frames")
	frames := make([]media.Frame, 0, n)
	for range n {
		s := srcs[0]
		for _, o := range srcs[1:] {
			if o.clock+o.skew < s.clock+s.skew {
				s = o
			}
		}
		dts := s.clock
		var offset time.Duration
		if s.bframes {
			offset = time.Duration(rapid.IntRange(0, 3).Draw(t, "b offset")) * s.period
		}
		track := s.track
		key := s.keyEvery > 0 && s.n%s.keyEvery == 0
		switch op := rapid.IntRange(0, 99).Draw(t, "op"); {
		case op < 70: // jitter
			dts += time.Duration(rapid.IntRange(-3000, 3000).Draw(t, "jitter us")) * time.Microsecond
		case op < 77: // repeat
			dts = s.lastDTS
		case op < 84: // step back
			dts -= time.Duration(rapid.IntRange(1, 3000).Draw(t, "back ms")) * time.Millisecond
		case op < 88: // gap forward
			s.clock += time.Duration(rapid.IntRange(1, 30000).Draw(t, "gap ms")) * time.Millisecond
			dts = s.clock
		case op < 91: // clock restart
			s.clock -= time.Duration(rapid.IntRange(0, 60000).Draw(t, "restart ms")) * time.Millisecond
			dts = s.clock
		case op < 94: // PTS before DTS
			offset = -time.Duration(rapid.IntRange(1, 100).Draw(t, "pts before dts ms")) * time.Millisecond
		case op < 96: // frame of a track nobody configured
			track = badTrack
		default: // a random key frame
			key = true
		}
		frames = append(frames, media.Frame{Track: track, DTS: dts, PTS: dts + offset, Key: key})
		if track != badTrack {
			s.lastDTS = dts
			s.n++
			s.clock += s.period
		}
	}
	sc := scenario{params: p, frames: tag(frames)}
	if n > 0 {
		sc.flushAfter = rapid.SliceOfN(rapid.IntRange(0, n-1), 0, 3).Draw(t, "flush after")
	}
	return sc
}

// TestInvariantsProperty checks every guarantee on random streams.
func TestInvariantsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		check(t, sc, drive(t, sc))
	})
}
