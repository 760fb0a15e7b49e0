package v4l2

import (
	"bytes"
	"os"
	"testing"

	"kvskit/media/h264"
)

// recordedAUs returns the access units of the recorded x264 clip
// (320x240, 30 frames, IDR every 10, access unit delimiters, SPS and PPS
// before each IDR) as Annex-B buffers, the way an H.264 camera delivers
// them: one access unit per buffer.
func recordedAUs(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile("testdata/clip320x240.h264")
	if err != nil {
		t.Fatal(err)
	}
	var aus [][]byte
	for _, n := range h264.SplitAnnexB(b) {
		if h264.NALType(n) == h264.NALUAUD || len(aus) == 0 {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(append(aus[len(aus)-1], 0, 0, 0, 1), n...)
	}
	if len(aus) != 30 {
		t.Fatalf("clip has %d access units, want 30", len(aus))
	}
	return aus
}

// withoutTypes returns the Annex-B buffer b without NAL units of the given
// types, using 3-byte start codes.
func withoutTypes(b []byte, types ...h264.NALUType) []byte {
	var out []byte
	for _, n := range h264.SplitAnnexB(b) {
		drop := false
		for _, ty := range types {
			drop = drop || h264.NALType(n) == ty
		}
		if !drop {
			out = append(append(out, 0, 0, 1), n...)
		}
	}
	return out
}

func nalTypes(t *testing.T, avcc []byte) []h264.NALUType {
	t.Helper()
	nalus, err := h264.SplitAVCC(avcc)
	if err != nil {
		t.Fatalf("output is not AVCC: %v", err)
	}
	var ts []h264.NALUType
	for _, n := range nalus {
		ts = append(ts, h264.NALType(n))
	}
	return ts
}

func TestAssemblerRecordedClip(t *testing.T) {
	aus := recordedAUs(t)
	var a assembler
	for i, au := range aus {
		u, ok := a.push(au)
		if !ok {
			t.Fatalf("access unit %d yielded nothing", i)
		}
		if want := i%10 == 0; u.key != want {
			t.Fatalf("access unit %d: key %v, want %v", i, u.key, want)
		}
		// The output is the input's NAL units, in order, without the
		// access unit delimiter.
		want := h264.AppendLengthPrefixed(nil, h264.SplitAnnexB(withoutTypes(au, h264.NALUAUD))...)
		if !bytes.Equal(u.avcc, want) {
			t.Fatalf("access unit %d: output differs from the input's NAL units", i)
		}
		if u.key {
			ts := nalTypes(t, u.avcc)
			if ts[0] != h264.NALUSPS || ts[1] != h264.NALUPPS {
				t.Fatalf("key frame %d starts with %v", i, ts)
			}
		}
	}
	if !a.ready() || a.changed {
		t.Fatalf("ready %v changed %v", a.ready(), a.changed)
	}
	if _, err := h264.ParseSPS(a.sps[0]); err != nil {
		t.Fatal(err)
	}
}

// TestAssemblerAddsParameterSets: a camera that sends SPS and PPS only with
// the first IDR (UVC H.264 webcams often do) still yields key frames that
// carry them.
func TestAssemblerAddsParameterSets(t *testing.T) {
	aus := recordedAUs(t)
	var a assembler
	for i, au := range aus {
		if i > 0 {
			au = withoutTypes(au, h264.NALUSPS, h264.NALUPPS)
		}
		u, ok := a.push(au)
		if !ok {
			t.Fatalf("access unit %d yielded nothing", i)
		}
		ts := nalTypes(t, u.avcc)
		if u.key && (ts[0] != h264.NALUSPS || ts[1] != h264.NALUPPS) {
			t.Fatalf("key frame %d: %v, want SPS and PPS first", i, ts)
		}
		if !u.key && (ts[0] == h264.NALUSPS || ts[0] == h264.NALUPPS) {
			t.Fatalf("frame %d got parameter sets: %v", i, ts)
		}
	}
}

// TestAssemblerSeparateHeaders: encoders that emit SPS and PPS in a buffer of
// their own (the Raspberry Pi's) have them put in front of the next IDR.
func TestAssemblerSeparateHeaders(t *testing.T) {
	aus := recordedAUs(t)
	var a assembler
	var headers, idr []byte
	for _, n := range h264.SplitAnnexB(aus[0]) {
		switch h264.NALType(n) {
		case h264.NALUSPS, h264.NALUPPS:
			headers = append(append(headers, 0, 0, 0, 1), n...)
		case h264.NALUAUD:
		default:
			idr = append(append(idr, 0, 0, 0, 1), n...)
		}
	}
	if _, ok := a.push(headers); ok {
		t.Fatal("a buffer of parameter sets yielded a frame")
	}
	if a.ready() {
		t.Fatal("ready before a key frame")
	}
	u, ok := a.push(idr)
	if !ok || !u.key {
		t.Fatalf("IDR: ok %v key %v", ok, u.key)
	}
	ts := nalTypes(t, u.avcc)
	if ts[0] != h264.NALUSPS || ts[1] != h264.NALUPPS || ts[len(ts)-1] != h264.NALUIDR {
		t.Fatalf("IDR unit %v", ts)
	}
	if !a.ready() {
		t.Fatal("not ready after the IDR")
	}
}

func TestAssemblerOddBuffers(t *testing.T) {
	aus := recordedAUs(t)
	var a assembler
	for _, b := range [][]byte{nil, {}, {0, 0, 0}, []byte("no start code here"), {0, 0, 1}, {0, 0, 0, 1, 0x09, 0xf0}} {
		if u, ok := a.push(b); ok {
			t.Fatalf("%x yielded %x", b, u.avcc)
		}
	}
	// A P frame before any parameter sets: returned, not key, not ready.
	u, ok := a.push(aus[1])
	if !ok || u.key || a.ready() {
		t.Fatalf("P frame first: ok %v key %v ready %v", ok, u.key, a.ready())
	}
	// New parameter sets after the first ones are noticed.
	a.push(aus[0])
	sps := h264.SplitAnnexB(aus[0])[1]
	changed := bytes.Clone(sps)
	changed[len(changed)-1] ^= 0x40
	au := append(append([]byte{0, 0, 0, 1}, changed...), withoutTypes(aus[0], h264.NALUSPS, h264.NALUAUD)...)
	if _, ok := a.push(au); !ok || !a.changed {
		t.Fatalf("changed SPS not noticed (ok %v)", ok)
	}
}

// TestAssemblerOwnsOutput: the output must not share memory with the
// buffer, which goes back to the driver.
func TestAssemblerOwnsOutput(t *testing.T) {
	aus := recordedAUs(t)
	var a assembler
	buf := bytes.Clone(aus[0])
	u, _ := a.push(buf)
	want := bytes.Clone(u.avcc)
	sps := bytes.Clone(a.sps[0])
	for i := range buf {
		buf[i] = 0xAA
	}
	if !bytes.Equal(u.avcc, want) || !bytes.Equal(a.sps[0], sps) {
		t.Fatal("output changed with the capture buffer")
	}
}
