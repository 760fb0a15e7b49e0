package fragment

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"

	"kvskit/media"
)

// The fuzz input encodes a scenario:
//
//	byte 0: bit 0 key-frame fragmentation off, bits 1-2 timecode unit,
//	        bits 3-4 target duration, bits 5-6 max duration
//	byte 1: bits 0-1 track count - 1 (3 means 3), bits 2-4 track i is audio
//	byte 2: bits 0-1 time step of the frame fields
//	then 5 bytes per frame:
//	  bits 0-1 track index (3: a track nobody configured), bit 2 key,
//	  bit 3 flush after the frame, bit 4 DTS step times 1000;
//	  int16 DTS step from the previous frame (little endian, time steps);
//	  int16 PTS - DTS (time steps).
var (
	fuzzUnits   = []time.Duration{time.Millisecond, 100 * time.Microsecond, 10 * time.Millisecond, 10 * time.Microsecond}
	fuzzTargets = []time.Duration{2 * time.Second, 500 * time.Millisecond, time.Second, 5 * time.Second}
	fuzzMaxes   = []time.Duration{20 * time.Second, 60 * time.Second, 3 * time.Second, 10 * time.Second}
	fuzzSteps   = []time.Duration{100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond, time.Microsecond}
)

const fuzzFrameLen = 5

func decodeScenario(b []byte) scenario {
	var hdr [3]byte
	n := copy(hdr[:], b)
	b = b[n:]
	p := params{
		keyFrames: hdr[0]&1 == 0,
		unit:      fuzzUnits[hdr[0]>>1&3],
		target:    fuzzTargets[hdr[0]>>3&3],
		maxDur:    fuzzMaxes[hdr[0]>>5&3],
	}
	p.target = min(p.target, p.maxDur)
	ntracks := min(int(hdr[1]&3)+1, 3)
	for i := range ntracks {
		tr := media.Track{Number: uint64(i + 1), Kind: media.KindVideo}
		if hdr[1]>>(2+i)&1 == 1 {
			tr.Kind = media.KindAudio
		}
		p.tracks = append(p.tracks, tr)
	}
	step := fuzzSteps[hdr[2]&3]
	sc := scenario{params: p}
	var clock time.Duration
	for i := 0; len(b) >= fuzzFrameLen; i++ {
		c := b[0]
		track := badTrack
		if ti := int(c & 3); ti < ntracks {
			track = uint64(ti + 1)
		}
		d := time.Duration(int16(binary.LittleEndian.Uint16(b[1:]))) * step
		if c&16 != 0 {
			d *= 1000
		}
		clock += d
		off := time.Duration(int16(binary.LittleEndian.Uint16(b[3:]))) * step
		sc.frames = append(sc.frames, media.Frame{Track: track, DTS: clock, PTS: clock + off, Key: c&4 != 0})
		if c&8 != 0 {
			sc.flushAfter = append(sc.flushAfter, i)
		}
		b = b[fuzzFrameLen:]
	}
	tag(sc.frames)
	return sc
}

// encodeScenario is decodeScenario's inverse as far as the format can
// express the scenario (nearest options, timestamps rounded to the step).
func encodeScenario(sc scenario) []byte {
	nearest := func(list []time.Duration, v time.Duration) byte {
		best := 0
		for i, x := range list {
			if math.Abs(float64(x-v)) < math.Abs(float64(list[best]-v)) {
				best = i
			}
		}
		return byte(best)
	}
	var hdr [3]byte
	if !sc.keyFrames {
		hdr[0] |= 1
	}
	hdr[0] |= nearest(fuzzUnits, sc.unit)<<1 | nearest(fuzzTargets, sc.target)<<3 | nearest(fuzzMaxes, sc.maxDur)<<5
	hdr[1] = byte(len(sc.tracks) - 1)
	for i, tr := range sc.tracks {
		if tr.Kind == media.KindAudio {
			hdr[1] |= 1 << (2 + i)
		}
	}
	// The finest step whose int16 fields can carry every DTS step.
	stepIdx := byte(3)
	for _, si := range []byte{3, 0, 1, 2} {
		stepIdx = si
		fits, prev := true, int64(0)
		for _, fr := range sc.frames {
			v := int64(fr.DTS / fuzzSteps[si])
			if d := v - prev; d > math.MaxInt16 || d < math.MinInt16 {
				fits = false
				break
			}
			prev = v
		}
		if fits {
			break
		}
	}
	hdr[2] = stepIdx
	step := fuzzSteps[stepIdx]
	out := hdr[:]
	prev := int64(0)
	for i, fr := range sc.frames {
		c := byte(3)
		for ti, tr := range sc.tracks {
			if tr.Number == fr.Track {
				c = byte(ti)
			}
		}
		if fr.Key {
			c |= 4
		}
		if slices.Contains(sc.flushAfter, i) {
			c |= 8
		}
		v := int64(fr.DTS / step)
		d := max(min(v-prev, math.MaxInt16), math.MinInt16)
		prev += d
		off := max(min(int64((fr.PTS-fr.DTS)/step), math.MaxInt16), math.MinInt16)
		out = append(out, c)
		out = binary.LittleEndian.AppendUint16(out, uint16(int16(d)))
		out = binary.LittleEndian.AppendUint16(out, uint16(int16(off)))
	}
	return out
}

func TestFuzzEncodingRoundTrip(t *testing.T) {
	for _, c := range tableCases() {
		sc := c.build()
		enc := encodeScenario(sc)
		dec := decodeScenario(enc)
		if len(dec.frames) != len(sc.frames) || !slices.Equal(dec.flushAfter, sc.flushAfter) || len(dec.tracks) != len(sc.tracks) {
			t.Fatalf("%s: decoded %d frames, flushes %v; want %d, %v", c.name, len(dec.frames), dec.flushAfter, len(sc.frames), sc.flushAfter)
		}
		step := fuzzSteps[enc[2]&3]
		number := map[uint64]uint64{} // decoded tracks are numbered by position
		for i, tr := range sc.tracks {
			number[tr.Number] = uint64(i + 1)
			if dec.tracks[i].Kind != tr.Kind {
				t.Fatalf("%s: track %d decoded as %v", c.name, i, dec.tracks[i].Kind)
			}
		}
		for i := range sc.frames {
			a, b := sc.frames[i], dec.frames[i]
			wantTrack, ok := number[a.Track]
			if !ok {
				wantTrack = badTrack
			}
			if a.Key != b.Key || b.Track != wantTrack || (a.DTS-b.DTS).Abs() > step {
				t.Fatalf("%s frame %d: %+v decoded as %+v", c.name, i, a, b)
			}
		}
	}
}

// FuzzFragmenter feeds decoded frame sequences to a Fragmenter and checks
// every guarantee on the output. Seeds: the table cases.
func FuzzFragmenter(f *testing.F) {
	for _, c := range tableCases() {
		f.Add(encodeScenario(c.build()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 3+fuzzFrameLen*5000 {
			b = b[:3+fuzzFrameLen*5000]
		}
		sc := decodeScenario(b)
		check(t, sc, drive(t, sc))
	})
}
