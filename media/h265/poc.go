package h265

// POC computes the picture order counts of the pictures of a stream's base
// layer, given in decoding order (H.265 clause 8.3.1). The zero value
// expects the start of a stream.
type POC struct {
	started bool
	// afterEOS: the next picture follows an end of sequence NAL unit.
	afterEOS bool
	// prevTid0: PicOrderCntVal of the previous TemporalId 0 picture that is
	// not a RASL, RADL or sub-layer non-reference picture.
	prevTid0 int64
	// skipRASL: the latest IRAP picture began a coded video sequence, so
	// its RASL pictures are not output.
	skipRASL bool
}

// Picture is the order information of one picture.
type Picture struct {
	// Order is PicOrderCntVal: it increases in output order within a
	// coded video sequence.
	Order int64
	// NewSequence reports an IRAP picture with NoRaslOutputFlag 1, which
	// begins a coded video sequence: the pictures before it in decoding
	// order are output before it.
	NewSequence bool
	// Skip reports a picture that cannot be decoded and is not output: a
	// RASL picture of an IRAP picture that begins a coded video sequence
	// (its references precede it). A picture with pic_output_flag 0 is not
	// output either but may be referenced: it is not skipped.
	Skip bool
}

// EndOfSequence notes an end of sequence NAL unit: the next picture begins a
// coded video sequence.
func (c *POC) EndOfSequence() { c.afterEOS = true }

// Next returns the order of the picture whose first slice segment header is
// sh and whose sequence parameter set is s; the pictures must be given in
// decoding order.
func (c *POC) Next(sh SliceHeader, s *SPS) Picture {
	t := sh.Type
	noRaslOutput := false
	if t.IsIRAP() {
		noRaslOutput = t != NALUCRA || !c.started || c.afterEOS
		c.skipRASL = noRaslOutput
	}
	c.started, c.afterEOS = true, false
	maxLsb := int64(1) << s.Log2MaxPicOrderCntLsb
	lsb := int64(sh.PicOrderCntLsb)
	var msb int64
	if !noRaslOutput {
		prevLsb := c.prevTid0 & (maxLsb - 1)
		prevMsb := c.prevTid0 - prevLsb
		msb = prevMsb
		switch {
		case lsb < prevLsb && prevLsb-lsb >= maxLsb/2:
			msb += maxLsb
		case lsb > prevLsb && lsb-prevLsb > maxLsb/2:
			msb -= maxLsb
		}
	}
	poc := msb + lsb
	raslOrRadl := t >= NALURADLN && t <= NALURASLR
	subLayerNonRef := t <= 14 && t%2 == 0
	if sh.TemporalIDPlus1 == 1 && !raslOrRadl && !subLayerNonRef {
		c.prevTid0 = poc
	}
	skip := (t == NALURASLN || t == NALURASLR) && c.skipRASL
	return Picture{Order: poc, NewSequence: noRaslOutput, Skip: skip}
}
