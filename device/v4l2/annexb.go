package v4l2

import (
	"bytes"

	"kvskit/media/h264"
)

// assembler turns the compressed buffers of an H.264 camera or encoder
// (Annex-B byte streams, usually one access unit per buffer) into AVCC
// access units. Buffers holding only parameter sets (some encoders emit the
// SPS and PPS in a buffer of their own) are kept and put in front of the
// next picture. Key frames always leave with the latest SPS and PPS, so each
// one can start decoding on its own.
type assembler struct {
	sps, pps [][]byte // latest parameter sets, owned copies
	pendSPS  [][]byte // parameter sets seen since the last picture
	pendPPS  [][]byte
	changed  bool // the parameter sets changed after the first ones
}

// unit is one assembled access unit.
type unit struct {
	avcc []byte // length-prefixed NAL units, a new slice
	key  bool   // holds an IDR slice
}

// push takes one buffer and returns the access unit it completes, if any.
// Data without a picture (parameter sets only, access unit delimiters,
// filler, garbage without start codes) yields ok == false.
func (a *assembler) push(buf []byte) (u unit, ok bool) {
	nalus := h264.SplitAnnexB(buf)
	hasVCL := false
	var sps, pps [][]byte
	size := 0
	for _, n := range nalus {
		switch t := h264.NALType(n); {
		case t == h264.NALUSPS:
			sps = append(sps, n)
		case t == h264.NALUPPS:
			pps = append(pps, n)
		case t.IsVCL():
			hasVCL = true
		}
		size += 4 + len(n)
	}
	if len(sps) > 0 {
		a.pendSPS = cloneAll(sps)
	}
	if len(pps) > 0 {
		a.pendPPS = cloneAll(pps)
	}
	if !hasVCL {
		return unit{}, false
	}
	key := h264.IsKeyFrame(nalus)
	if key {
		if a.pendSPS != nil && a.pendPPS != nil {
			if a.sps != nil && (!sameSets(a.sps, a.pendSPS) || !sameSets(a.pps, a.pendPPS)) {
				a.changed = true
			}
			a.sps, a.pps = a.pendSPS, a.pendPPS
		}
		a.pendSPS, a.pendPPS = nil, nil
	}
	// Parameter sets to put in front: on key frames those missing from the
	// buffer itself.
	var lead [][]byte
	if key {
		if len(sps) == 0 {
			lead = append(lead, a.sps...)
		}
		if len(pps) == 0 {
			lead = append(lead, a.pps...)
		}
	}
	for _, n := range lead {
		size += 4 + len(n)
	}
	out := make([]byte, 0, size)
	out = h264.AppendLengthPrefixed(out, lead...)
	for _, n := range nalus {
		switch h264.NALType(n) {
		case h264.NALUAUD, h264.NALUFiller:
			continue
		}
		out = h264.AppendLengthPrefixed(out, n)
	}
	return unit{avcc: out, key: key}, true
}

// ready reports whether parameter sets for the track are known.
func (a *assembler) ready() bool { return len(a.sps) > 0 && len(a.pps) > 0 }

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = bytes.Clone(b)
	}
	return out
}

func sameSets(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
