package h265

import (
	"kvskit/media/h264"
	"kvskit/media/internal/rbsp"
)

func writePTL(w *rbsp.Writer, p PTL) {
	w.U(2, uint64(p.ProfileSpace))
	w.Flag(p.HighTier)
	w.U(5, uint64(p.ProfileIDC))
	w.U(32, uint64(p.CompatibilityFlags))
	w.U(48, p.ConstraintFlags)
}

// encodeSPS writes the fields of s that ParseSPS reads, then a few bits
// standing for the rest of a real SPS, as an SPS NAL unit.
func encodeSPS(s SPS) []byte {
	w := &rbsp.Writer{}
	w.U(4, uint64(s.VPSID))
	w.U(3, uint64(s.MaxSubLayers-1))
	w.Flag(s.TemporalIDNesting)
	ptl := s.ProfileTierLevel
	writePTL(w, ptl.General)
	w.U(8, uint64(ptl.General.LevelIDC))
	for _, sl := range ptl.SubLayers {
		w.Flag(sl.ProfilePresent)
		w.Flag(sl.LevelPresent)
	}
	if len(ptl.SubLayers) > 0 {
		for i := len(ptl.SubLayers); i < 8; i++ {
			w.U(2, 0)
		}
	}
	for _, sl := range ptl.SubLayers {
		if sl.ProfilePresent {
			writePTL(w, sl.PTL)
		}
		if sl.LevelPresent {
			w.U(8, uint64(sl.LevelIDC))
		}
	}
	w.UE(s.ID)
	w.UE(s.ChromaFormatIDC)
	if s.ChromaFormatIDC == 3 {
		w.Flag(s.SeparateColourPlane)
	}
	w.UE(s.PicWidth)
	w.UE(s.PicHeight)
	w.Flag(s.ConformanceWindow)
	if s.ConformanceWindow {
		w.UE(s.ConfWinLeft)
		w.UE(s.ConfWinRight)
		w.UE(s.ConfWinTop)
		w.UE(s.ConfWinBottom)
	}
	w.UE(uint32(s.BitDepthLuma - 8))
	w.UE(uint32(s.BitDepthChroma - 8))
	w.UE(s.Log2MaxPicOrderCntLsb - 4)
	w.Flag(s.SubLayerOrderingInfoPresent)
	for _, o := range s.SubLayerOrdering {
		w.UE(o.MaxDecPicBufferingMinus1)
		w.UE(o.MaxNumReorderPics)
		w.UE(o.MaxLatencyIncreasePlus1)
	}
	w.U(7, 0x55) // stands for the remaining SPS fields
	w.Trailing()
	return h264.AddEmulationPrevention([]byte{0x42, 0x01}, w.Bytes())
}
