package h265_test

import (
	"encoding/hex"
	"fmt"

	"kvskit/media/h264"
	"kvskit/media/h265"
)

// An encoder's Annex-B access unit becomes a length-prefixed frame and the
// track's CodecPrivate; the byte-stream framing is shared with H.264.
func Example() {
	au, _ := hex.DecodeString("00000001" + "40010c01ffff01600000030090000003000003003cba0240" +
		"00000001" + "42010101600000030090000003000003003ca00a080f165ba4a4c2f0168080000003008000000f04" +
		"00000001" + "4401c073c189" +
		"000001" + "2601af0e4a")

	nalus := h264.SplitAnnexB(au)
	vps, sps, pps := h265.ParameterSets(nalus)
	s, err := h265.ParseSPS(sps[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	codecPrivate, err := h265.BuildHVCC(vps, sps, pps)
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := h264.AnnexBToAVCC(nil, au)

	fmt.Printf("%dx%d, %d-bit, %s\n", s.Width(), s.Height(), s.BitDepthLuma, s.ProfileTierLevel.General.CodecString())
	fmt.Println("key frame:", h265.IsKeyFrame(nalus))
	fmt.Printf("CodecPrivate: %d bytes, frame: %d bytes\n", len(codecPrivate), len(frame))
	// Output:
	// 320x240, 8-bit, hvc1.1.6.L60.90
	// key frame: true
	// CodecPrivate: 108 bytes, frame: 91 bytes
}
