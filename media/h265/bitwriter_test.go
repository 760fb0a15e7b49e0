package h265

import "kvskit/media/h264"

// bitWriter builds RBSPs for test vectors.
type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

func (w *bitWriter) flag(b bool) {
	if b {
		w.u(1, 1)
	} else {
		w.u(1, 0)
	}
}

func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, x)
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.u(1, 1)
	for w.nbit%8 != 0 {
		w.u(1, 0)
	}
}

func writePTL(w *bitWriter, p PTL) {
	w.u(2, uint64(p.ProfileSpace))
	w.flag(p.HighTier)
	w.u(5, uint64(p.ProfileIDC))
	w.u(32, uint64(p.CompatibilityFlags))
	w.u(48, p.ConstraintFlags)
}

// encodeSPS writes the fields of s that ParseSPS reads, then a few bits
// standing for the rest of a real SPS, as an SPS NAL unit.
func encodeSPS(s SPS) []byte {
	w := &bitWriter{}
	w.u(4, uint64(s.VPSID))
	w.u(3, uint64(s.MaxSubLayers-1))
	w.flag(s.TemporalIDNesting)
	ptl := s.ProfileTierLevel
	writePTL(w, ptl.General)
	w.u(8, uint64(ptl.General.LevelIDC))
	for _, sl := range ptl.SubLayers {
		w.flag(sl.ProfilePresent)
		w.flag(sl.LevelPresent)
	}
	if len(ptl.SubLayers) > 0 {
		for i := len(ptl.SubLayers); i < 8; i++ {
			w.u(2, 0)
		}
	}
	for _, sl := range ptl.SubLayers {
		if sl.ProfilePresent {
			writePTL(w, sl.PTL)
		}
		if sl.LevelPresent {
			w.u(8, uint64(sl.LevelIDC))
		}
	}
	w.ue(s.ID)
	w.ue(s.ChromaFormatIDC)
	if s.ChromaFormatIDC == 3 {
		w.flag(s.SeparateColourPlane)
	}
	w.ue(s.PicWidth)
	w.ue(s.PicHeight)
	w.flag(s.ConformanceWindow)
	if s.ConformanceWindow {
		w.ue(s.ConfWinLeft)
		w.ue(s.ConfWinRight)
		w.ue(s.ConfWinTop)
		w.ue(s.ConfWinBottom)
	}
	w.ue(uint32(s.BitDepthLuma - 8))
	w.ue(uint32(s.BitDepthChroma - 8))
	w.ue(s.Log2MaxPicOrderCntLsb - 4)
	w.flag(s.SubLayerOrderingInfoPresent)
	for _, o := range s.SubLayerOrdering {
		w.ue(o.MaxDecPicBufferingMinus1)
		w.ue(o.MaxNumReorderPics)
		w.ue(o.MaxLatencyIncreasePlus1)
	}
	w.u(7, 0x55) // stands for the remaining SPS fields
	w.trailing()
	return h264.AddEmulationPrevention([]byte{0x42, 0x01}, w.buf)
}
