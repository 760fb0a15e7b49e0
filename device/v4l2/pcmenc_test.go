package v4l2

import (
	"image"
	"io"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"kvskit/media/h264"
)

// pcmEncoder is a lossless H.264 encoder for tests: every macroblock is
// coded as I_PCM (raw samples), in Baseline profile with CAVLC. It lets the
// tests run the software encoder path, and produce H.264 that ffmpeg
// decodes to exactly the captured pictures, without cgo. Key frames are IDR
// pictures every keyint frames; the others are non-IDR I pictures.
type pcmEncoder struct {
	keyint int
}

var _ codec.VideoEncoderBuilder = pcmEncoder{}

func (pcmEncoder) RTPCodec() *codec.RTPCodec { return codec.NewRTPH264Codec(90000) }

func (b pcmEncoder) BuildVideoEncoder(r video.Reader, p prop.Media) (codec.ReadCloser, error) {
	return &pcmStream{r: r, w: p.Width, h: p.Height, keyint: max(b.keyint, 1)}, nil
}

type pcmStream struct {
	r        video.Reader
	w, h     int
	keyint   int
	n        int // frames since the last IDR
	idrID    int
	frameNum int
	forceKey bool
	closed   bool
}

func (e *pcmStream) Controller() codec.EncoderController { return e }
func (e *pcmStream) ForceKeyFrame() error                { e.forceKey = true; return nil }
func (e *pcmStream) Close() error                        { e.closed = true; return nil }

func (e *pcmStream) Read() ([]byte, func(), error) {
	if e.closed {
		return nil, func() {}, io.EOF
	}
	img, release, err := e.r.Read()
	if err != nil {
		return nil, func() {}, err
	}
	defer func() {
		if release != nil {
			release()
		}
	}()
	yc, ok := img.(*image.YCbCr)
	if !ok || yc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, func() {}, io.ErrUnexpectedEOF
	}
	key := e.n%e.keyint == 0 || e.forceKey
	if key {
		e.n, e.forceKey, e.frameNum = 0, false, 0
	}
	out := pcmPicture(yc, e.w, e.h, key, e.idrID, e.frameNum)
	if key {
		e.idrID = (e.idrID + 1) % 65536
	}
	e.n++
	e.frameNum = (e.frameNum + 1) % 16
	return out, func() {}, nil
}

// bitWriter writes an RBSP most significant bit first.
type bitWriter struct {
	b    []byte
	bits int // bits used in the last byte (0 = byte aligned)
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.bits == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.bits)
		}
		w.bits = (w.bits + 1) % 8
	}
}

func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for t := v; t > 1; t >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, v)
}

func (w *bitWriter) se(v int64) {
	if v <= 0 {
		w.ue(uint64(-2 * v))
	} else {
		w.ue(uint64(2*v - 1))
	}
}

func (w *bitWriter) align() {
	if w.bits != 0 {
		w.u(8-w.bits, 0)
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.u(1, 1)
	w.align()
}

func nalu(header byte, rbsp []byte) []byte {
	return h264.AddEmulationPrevention([]byte{header}, rbsp)
}

// pcmSPS returns the SPS and PPS NAL units for a w x h picture.
func pcmSPS(w, h int) (sps, pps []byte) {
	mbw, mbh := (w+15)/16, (h+15)/16
	var s bitWriter
	s.u(8, 66)   // profile_idc: Baseline
	s.u(8, 0xc0) // constraint_set0 and set1
	s.u(8, 51)   // level_idc 5.1
	s.ue(0)      // seq_parameter_set_id
	s.ue(0)      // log2_max_frame_num_minus4
	s.ue(2)      // pic_order_cnt_type
	s.ue(1)      // max_num_ref_frames
	s.u(1, 0)    // gaps_in_frame_num_value_allowed_flag
	s.ue(uint64(mbw - 1))
	s.ue(uint64(mbh - 1))
	s.u(1, 1) // frame_mbs_only_flag
	s.u(1, 1) // direct_8x8_inference_flag
	cropR, cropB := (mbw*16-w)/2, (mbh*16-h)/2
	if cropR != 0 || cropB != 0 {
		s.u(1, 1)
		s.ue(0)
		s.ue(uint64(cropR))
		s.ue(0)
		s.ue(uint64(cropB))
	} else {
		s.u(1, 0)
	}
	s.u(1, 0) // vui_parameters_present_flag
	s.trailing()
	var p bitWriter
	p.ue(0)   // pic_parameter_set_id
	p.ue(0)   // seq_parameter_set_id
	p.u(1, 0) // entropy_coding_mode_flag: CAVLC
	p.u(1, 0) // bottom_field_pic_order_in_frame_present_flag
	p.ue(0)   // num_slice_groups_minus1
	p.ue(0)   // num_ref_idx_l0_default_active_minus1
	p.ue(0)   // num_ref_idx_l1_default_active_minus1
	p.u(1, 0) // weighted_pred_flag
	p.u(2, 0) // weighted_bipred_idc
	p.se(0)   // pic_init_qp_minus26
	p.se(0)   // pic_init_qs_minus26
	p.se(0)   // chroma_qp_index_offset
	p.u(1, 0) // deblocking_filter_control_present_flag
	p.u(1, 0) // constrained_intra_pred_flag
	p.u(1, 0) // redundant_pic_cnt_present_flag
	p.trailing()
	return nalu(0x67, s.b), nalu(0x68, p.b)
}

// pcmPicture encodes one picture as an Annex-B access unit; key pictures
// are IDR and carry the SPS and PPS.
func pcmPicture(img *image.YCbCr, w, h int, key bool, idrID, frameNum int) []byte {
	mbw, mbh := (w+15)/16, (h+15)/16
	var s bitWriter
	s.ue(0) // first_mb_in_slice
	s.ue(7) // slice_type: I (all slices of the picture)
	s.ue(0) // pic_parameter_set_id
	s.u(4, uint64(frameNum))
	if key {
		s.ue(uint64(idrID))
		s.u(1, 0) // no_output_of_prior_pics_flag
		s.u(1, 0) // long_term_reference_flag
	} else {
		s.u(1, 0) // adaptive_ref_pic_marking_mode_flag
	}
	s.se(0) // slice_qp_delta
	sample := func(plane []byte, stride, x, y, maxX, maxY int) byte {
		x, y = min(x, maxX), min(y, maxY)
		v := plane[y*stride+x]
		if v == 0 {
			v = 1 // keep PCM samples non-zero
		}
		return v
	}
	for my := 0; my < mbh; my++ {
		for mx := 0; mx < mbw; mx++ {
			s.ue(25) // mb_type: I_PCM
			s.align()
			for y := 0; y < 16; y++ {
				for x := 0; x < 16; x++ {
					s.b = append(s.b, sample(img.Y, img.YStride, mx*16+x, my*16+y, w-1, h-1))
				}
			}
			for _, c := range [][]byte{img.Cb, img.Cr} {
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						s.b = append(s.b, sample(c, img.CStride, mx*8+x, my*8+y, w/2-1, h/2-1))
					}
				}
			}
		}
	}
	s.trailing()
	var out []byte
	start := []byte{0, 0, 0, 1}
	if key {
		sps, pps := pcmSPS(w, h)
		out = append(append(append(out, start...), sps...), start...)
		out = append(out, pps...)
		out = append(append(out, start...), nalu(0x65, s.b)...)
	} else {
		out = append(append(out, start...), nalu(0x21, s.b)...)
	}
	return out
}
