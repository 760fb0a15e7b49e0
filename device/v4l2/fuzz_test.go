package v4l2

import (
	"bytes"
	"testing"

	"kvskit/media/h264"
)

// FuzzAssembler feeds arbitrary buffers to the pass-through parser: it must
// not panic, and every access unit it returns must be well-formed AVCC made
// of NAL units from its input or remembered parameter sets, with SPS and
// PPS on key frames once they are known. The corpus is under
// testdata/fuzz/FuzzAssembler.
func FuzzAssembler(f *testing.F) {
	aus := recordedAUs(f)
	f.Add(aus[0], uint16(0))
	f.Add(aus[1], uint16(7))
	f.Add(append(bytes.Clone(aus[9]), aus[10]...), uint16(len(aus[9])))
	f.Add([]byte{0, 0, 1, 0x67, 0, 0, 1, 0x68, 0, 0, 1, 0x65, 0x88}, uint16(8))
	f.Add([]byte("garbage without start codes"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var a assembler
		c := 0
		if len(data) > 0 {
			c = int(cut) % (len(data) + 1)
		}
		for _, buf := range [][]byte{data[:c], data[c:], data} {
			u, ok := a.push(buf)
			if !ok {
				continue
			}
			nalus, err := h264.SplitAVCC(u.avcc)
			if err != nil {
				t.Fatalf("output is not AVCC: %v", err)
			}
			for _, n := range nalus {
				if !bytes.Contains(buf, n) && !contains(a.sps, n) && !contains(a.pps, n) {
					t.Fatalf("NAL unit %x comes from nowhere", n)
				}
				if ty := h264.NALType(n); ty == h264.NALUAUD || ty == h264.NALUFiller {
					t.Fatalf("kept a NAL unit of type %v", ty)
				}
			}
			if u.key && a.ready() {
				sps, pps := h264.ParameterSets(nalus)
				if len(sps) == 0 || len(pps) == 0 {
					t.Fatal("key frame without parameter sets")
				}
			}
		}
	})
}

func contains(set [][]byte, n []byte) bool {
	for _, s := range set {
		if bytes.Equal(s, n) {
			return true
		}
	}
	return false
}
