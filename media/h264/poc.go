package h264

import "fmt"

// POC computes the picture order counts of the pictures of a stream, given
// in decoding order (H.264 clause 8.2.1, all three pic_order_cnt_type). It
// handles frames, including MBAFF frames; field pictures are reported with
// ErrFieldPicture, since a field's order needs its pair. The zero value
// expects the stream to begin with an IDR picture or a recovery point.
type POC struct {
	started bool

	// pic_order_cnt_type 0: of the previous reference picture.
	prevMsb, prevLsb int64
	// pic_order_cnt_type 1 and 2: of the previous picture.
	prevFrameNumOffset int64
	prevFrameNum       uint32
}

// Picture is the order information of one picture.
type Picture struct {
	// Order is the picture's order count, min(TopFieldOrderCnt,
	// BottomFieldOrderCnt): it increases in output order within a sequence.
	Order int64
	// NewSequence reports a picture after which nothing is output before
	// the pictures that precede it in decoding order: an IDR picture or one
	// with memory_management_control_operation 5. Order counts start over
	// with it.
	NewSequence bool
}

// Next returns the order of the picture whose first slice header is sh and
// whose sequence parameter set is s; the pictures must be given in decoding
// order.
func (c *POC) Next(sh SliceHeader, s *SPS) (Picture, error) {
	if sh.FieldPic {
		return Picture{}, fmt.Errorf("h264: picture order: frame_num %d: %w", sh.FrameNum, ErrFieldPicture)
	}
	newSeq := sh.IDR || sh.MMCO5
	if !c.started {
		// A stream that starts at a recovery point: order counts as if the
		// picture before it had been an IDR picture.
		c.started = true
		c.prevMsb, c.prevLsb, c.prevFrameNumOffset, c.prevFrameNum = 0, int64(sh.PicOrderCntLsb), 0, sh.FrameNum
		newSeq = true
	}
	maxFrameNum := int64(1) << s.Log2MaxFrameNum
	var top, bottom int64
	switch s.PicOrderCntType {
	case 0:
		if sh.IDR {
			c.prevMsb, c.prevLsb = 0, 0
		}
		lsb := int64(sh.PicOrderCntLsb)
		maxLsb := int64(1) << s.Log2MaxPicOrderCntLsb
		msb := c.prevMsb
		switch {
		case lsb < c.prevLsb && c.prevLsb-lsb >= maxLsb/2:
			msb += maxLsb
		case lsb > c.prevLsb && lsb-c.prevLsb > maxLsb/2:
			msb -= maxLsb
		}
		top = msb + lsb
		bottom = top + int64(sh.DeltaPicOrderCntBottom)
		if sh.NALRefIDC != 0 {
			c.prevMsb, c.prevLsb = msb, lsb
			if sh.MMCO5 {
				// 8.2.1: after memory_management_control_operation 5 the
				// picture's TopFieldOrderCnt becomes top - min(top, bottom).
				c.prevMsb, c.prevLsb = 0, top-min(top, bottom)
			}
		}
	case 1, 2:
		offset := c.frameNumOffset(sh, maxFrameNum)
		if s.PicOrderCntType == 2 {
			switch {
			case sh.IDR:
				top = 0
			case sh.NALRefIDC == 0:
				top = 2*(offset+int64(sh.FrameNum)) - 1
			default:
				top = 2 * (offset + int64(sh.FrameNum))
			}
			bottom = top
			break
		}
		n := int64(len(s.OffsetForRefFrame))
		abs := int64(0)
		if n != 0 {
			abs = offset + int64(sh.FrameNum)
		}
		if sh.NALRefIDC == 0 && abs > 0 {
			abs--
		}
		var expected int64
		if abs > 0 {
			var delta int64
			for _, o := range s.OffsetForRefFrame {
				delta += int64(o)
			}
			cycles, in := (abs-1)/n, (abs-1)%n
			expected = cycles * delta
			for i := int64(0); i <= in; i++ {
				expected += int64(s.OffsetForRefFrame[i])
			}
		}
		if sh.NALRefIDC == 0 {
			expected += int64(s.OffsetForNonRefPic)
		}
		top = expected + int64(sh.DeltaPicOrderCnt[0])
		bottom = top + int64(s.OffsetForTopToBottomField) + int64(sh.DeltaPicOrderCnt[1])
	default:
		return Picture{}, fmt.Errorf("h264: picture order: pic_order_cnt_type %d: %w", s.PicOrderCntType, ErrInvalidValue)
	}
	order := min(top, bottom)
	if sh.MMCO5 {
		// The picture is output after every earlier one, with its order
		// counts moved to start the new sequence (8.2.1).
		order = 0
		c.prevFrameNumOffset, c.prevFrameNum = 0, 0
	}
	return Picture{Order: order, NewSequence: newSeq}, nil
}

// frameNumOffset returns FrameNumOffset (equations 8-6 and 8-11) and keeps
// what the next picture needs.
func (c *POC) frameNumOffset(sh SliceHeader, maxFrameNum int64) int64 {
	var offset int64
	switch {
	case sh.IDR:
		offset = 0
	case c.prevFrameNum > sh.FrameNum:
		offset = c.prevFrameNumOffset + maxFrameNum
	default:
		offset = c.prevFrameNumOffset
	}
	c.prevFrameNumOffset, c.prevFrameNum = offset, sh.FrameNum
	return offset
}
