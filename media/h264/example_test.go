package h264_test

import (
	"encoding/hex"
	"fmt"

	"kvskit/media/h264"
)

// An encoder's Annex-B access unit becomes a length-prefixed frame and the
// track's CodecPrivate.
func Example() {
	sps, _ := hex.DecodeString("6764000dacb40a0ff5580880000003008000001e078a1550")
	annexB := []byte{0, 0, 0, 1}
	annexB = append(annexB, sps...)
	annexB = append(annexB, 0, 0, 0, 1, 0x68, 0xef, 0x0f, 0xcb)
	annexB = append(annexB, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x21)

	nalus := h264.SplitAnnexB(annexB)
	spss, ppss := h264.ParameterSets(nalus)
	s, err := h264.ParseSPS(spss[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	codecPrivate, err := h264.BuildAVCC(spss, ppss)
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := h264.AnnexBToAVCC(nil, annexB)

	fmt.Printf("%dx%d at %v fps, %s\n", s.Width(), s.Height(), s.FrameRate(), s.CodecString())
	fmt.Println("key frame:", h264.IsKeyFrame(nalus))
	fmt.Printf("CodecPrivate: %d bytes, frame: % x\n", len(codecPrivate), frame[len(frame)-9:])
	// Output:
	// 318x238 at 30 fps, avc1.64000d
	// key frame: true
	// CodecPrivate: 43 bytes, frame: 00 00 00 05 65 88 84 00 21
}
