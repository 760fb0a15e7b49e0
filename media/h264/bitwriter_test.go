package h264

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

func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*int64(v) - 1))
	} else {
		w.ue(uint32(-2 * int64(v)))
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.u(1, 1)
	for w.nbit%8 != 0 {
		w.u(1, 0)
	}
}

// encodeSPS writes s as an SPS NAL unit. scaling holds the delta_scale
// values of each scaling list (nil: list not present); it is used only when
// s.ScalingMatrix is set.
func encodeSPS(s SPS, scaling [][]int32) []byte {
	w := &bitWriter{}
	w.u(8, uint64(s.ProfileIDC))
	w.u(8, uint64(s.ConstraintFlags))
	w.u(8, uint64(s.LevelIDC))
	w.ue(s.ID)
	if HasChromaInfo(s.ProfileIDC) {
		w.ue(s.ChromaFormatIDC)
		if s.ChromaFormatIDC == 3 {
			w.flag(s.SeparateColourPlane)
		}
		w.ue(uint32(s.BitDepthLuma - 8))
		w.ue(uint32(s.BitDepthChroma - 8))
		w.flag(s.TransformBypass)
		w.flag(s.ScalingMatrix)
		if s.ScalingMatrix {
			lists := 8
			if s.ChromaFormatIDC == 3 {
				lists = 12
			}
			for i := 0; i < lists; i++ {
				var deltas []int32
				if i < len(scaling) {
					deltas = scaling[i]
				}
				w.flag(deltas != nil)
				for _, d := range deltas {
					w.se(d)
				}
			}
		}
	}
	w.ue(s.Log2MaxFrameNum - 4)
	w.ue(s.PicOrderCntType)
	switch s.PicOrderCntType {
	case 0:
		w.ue(s.Log2MaxPicOrderCntLsb - 4)
	case 1:
		w.flag(s.DeltaPicOrderAlwaysZero)
		w.se(s.OffsetForNonRefPic)
		w.se(s.OffsetForTopToBottomField)
		w.ue(uint32(len(s.OffsetForRefFrame)))
		for _, o := range s.OffsetForRefFrame {
			w.se(o)
		}
	}
	w.ue(s.MaxNumRefFrames)
	w.flag(s.GapsInFrameNumAllowed)
	w.ue(s.PicWidthInMbs - 1)
	w.ue(s.PicHeightInMapUnits - 1)
	w.flag(s.FrameMbsOnly)
	if !s.FrameMbsOnly {
		w.flag(s.MbAdaptiveFrameField)
	}
	w.flag(s.Direct8x8Inference)
	w.flag(s.FrameCropping)
	if s.FrameCropping {
		w.ue(s.FrameCropLeft)
		w.ue(s.FrameCropRight)
		w.ue(s.FrameCropTop)
		w.ue(s.FrameCropBottom)
	}
	w.flag(s.VUI != nil)
	if v := s.VUI; v != nil {
		w.flag(v.AspectRatioIDC != 0)
		if v.AspectRatioIDC != 0 {
			w.u(8, uint64(v.AspectRatioIDC))
			if v.AspectRatioIDC == 255 {
				w.u(16, uint64(v.SARWidth))
				w.u(16, uint64(v.SARHeight))
			}
		}
		w.flag(v.OverscanInfoPresent)
		if v.OverscanInfoPresent {
			w.flag(v.OverscanAppropriate)
		}
		w.flag(v.VideoSignalTypePresent)
		if v.VideoSignalTypePresent {
			w.u(3, uint64(v.VideoFormat))
			w.flag(v.VideoFullRange)
			w.flag(v.ColourDescriptionPresent)
			if v.ColourDescriptionPresent {
				w.u(8, uint64(v.ColourPrimaries))
				w.u(8, uint64(v.TransferCharacteristics))
				w.u(8, uint64(v.MatrixCoefficients))
			}
		}
		w.flag(v.ChromaLocInfoPresent)
		if v.ChromaLocInfoPresent {
			w.ue(v.ChromaSampleLocTop)
			w.ue(v.ChromaSampleLocBottom)
		}
		w.flag(v.TimingInfoPresent)
		if v.TimingInfoPresent {
			w.u(32, uint64(v.NumUnitsInTick))
			w.u(32, uint64(v.TimeScale))
			w.flag(v.FixedFrameRate)
		}
		// nal_hrd, vcl_hrd, pic_struct_present, bitstream_restriction: absent.
		w.u(4, 0)
	}
	w.trailing()
	return AddEmulationPrevention([]byte{0x67}, w.buf)
}
