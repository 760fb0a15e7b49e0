package h264

import "kvskit/media/internal/rbsp"

// encodeSPS writes s as an SPS NAL unit. scaling holds the delta_scale
// values of each scaling list (nil: list not present); it is used only when
// s.ScalingMatrix is set.
func encodeSPS(s SPS, scaling [][]int32) []byte {
	w := &rbsp.Writer{}
	w.U(8, uint64(s.ProfileIDC))
	w.U(8, uint64(s.ConstraintFlags))
	w.U(8, uint64(s.LevelIDC))
	w.UE(s.ID)
	if HasChromaInfo(s.ProfileIDC) {
		w.UE(s.ChromaFormatIDC)
		if s.ChromaFormatIDC == 3 {
			w.Flag(s.SeparateColourPlane)
		}
		w.UE(uint32(s.BitDepthLuma - 8))
		w.UE(uint32(s.BitDepthChroma - 8))
		w.Flag(s.TransformBypass)
		w.Flag(s.ScalingMatrix)
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
				w.Flag(deltas != nil)
				for _, d := range deltas {
					w.SE(d)
				}
			}
		}
	}
	w.UE(s.Log2MaxFrameNum - 4)
	w.UE(s.PicOrderCntType)
	switch s.PicOrderCntType {
	case 0:
		w.UE(s.Log2MaxPicOrderCntLsb - 4)
	case 1:
		w.Flag(s.DeltaPicOrderAlwaysZero)
		w.SE(s.OffsetForNonRefPic)
		w.SE(s.OffsetForTopToBottomField)
		w.UE(uint32(len(s.OffsetForRefFrame)))
		for _, o := range s.OffsetForRefFrame {
			w.SE(o)
		}
	}
	w.UE(s.MaxNumRefFrames)
	w.Flag(s.GapsInFrameNumAllowed)
	w.UE(s.PicWidthInMbs - 1)
	w.UE(s.PicHeightInMapUnits - 1)
	w.Flag(s.FrameMbsOnly)
	if !s.FrameMbsOnly {
		w.Flag(s.MbAdaptiveFrameField)
	}
	w.Flag(s.Direct8x8Inference)
	w.Flag(s.FrameCropping)
	if s.FrameCropping {
		w.UE(s.FrameCropLeft)
		w.UE(s.FrameCropRight)
		w.UE(s.FrameCropTop)
		w.UE(s.FrameCropBottom)
	}
	w.Flag(s.VUI != nil)
	if v := s.VUI; v != nil {
		w.Flag(v.AspectRatioIDC != 0)
		if v.AspectRatioIDC != 0 {
			w.U(8, uint64(v.AspectRatioIDC))
			if v.AspectRatioIDC == 255 {
				w.U(16, uint64(v.SARWidth))
				w.U(16, uint64(v.SARHeight))
			}
		}
		w.Flag(v.OverscanInfoPresent)
		if v.OverscanInfoPresent {
			w.Flag(v.OverscanAppropriate)
		}
		w.Flag(v.VideoSignalTypePresent)
		if v.VideoSignalTypePresent {
			w.U(3, uint64(v.VideoFormat))
			w.Flag(v.VideoFullRange)
			w.Flag(v.ColourDescriptionPresent)
			if v.ColourDescriptionPresent {
				w.U(8, uint64(v.ColourPrimaries))
				w.U(8, uint64(v.TransferCharacteristics))
				w.U(8, uint64(v.MatrixCoefficients))
			}
		}
		w.Flag(v.ChromaLocInfoPresent)
		if v.ChromaLocInfoPresent {
			w.UE(v.ChromaSampleLocTop)
			w.UE(v.ChromaSampleLocBottom)
		}
		w.Flag(v.TimingInfoPresent)
		if v.TimingInfoPresent {
			w.U(32, uint64(v.NumUnitsInTick))
			w.U(32, uint64(v.TimeScale))
			w.Flag(v.FixedFrameRate)
		}
		if v.TailRead {
			hrd := func() {
				w.UE(1)      // cpb_cnt_minus1
				w.U(8, 0x43) // bit_rate_scale, cpb_size_scale
				for range 2 {
					w.UE(5000) // bit_rate_value_minus1
					w.UE(9000) // cpb_size_value_minus1
					w.Flag(true)
				}
				w.U(20, 0xbcdef) // the four lengths
			}
			w.Flag(v.NALHRD)
			if v.NALHRD {
				hrd()
			}
			w.Flag(v.VCLHRD)
			if v.VCLHRD {
				hrd()
			}
			if v.NALHRD || v.VCLHRD {
				w.Flag(v.LowDelayHRD)
			}
			w.Flag(v.PicStructPresent)
			w.Flag(v.BitstreamRestriction)
			if v.BitstreamRestriction {
				w.Flag(true) // motion_vectors_over_pic_boundaries_flag
				w.UE(2)      // max_bytes_per_pic_denom
				w.UE(1)      // max_bits_per_mb_denom
				w.UE(13)     // log2_max_mv_length_horizontal
				w.UE(11)     // log2_max_mv_length_vertical
				w.UE(v.MaxNumReorderFrames)
				w.UE(v.MaxDecFrameBuffering)
			}
		}
	}
	w.Trailing()
	return AddEmulationPrevention([]byte{0x67}, w.Bytes())
}
