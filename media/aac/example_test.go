package aac_test

import (
	"fmt"

	"kvskit/media/aac"
)

// An ADTS stream becomes raw AAC frames and the track's CodecPrivate, and
// back.
func Example() {
	adts := []byte{
		0xff, 0xf1, 0x50, 0x80, 0x01, 0x3f, 0xfc, 0xde, 0x04, // 44.1 kHz stereo LC, 2 bytes
		0xff, 0xf1, 0x50, 0x80, 0x01, 0x1f, 0xfc, 0x21, // 1 byte
	}
	frames, hdr, err := aac.SplitADTS(adts)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := aac.ConfigFromADTS(hdr)
	fmt.Printf("%d frames of %v, %d Hz, %d channels, %v each\n",
		len(frames), cfg.ObjectType, cfg.SampleRate(), cfg.Channels(), cfg.FrameDuration())
	fmt.Printf("CodecPrivate: % x (%s)\n", cfg.Marshal(), cfg.CodecString())

	parsed, err := aac.ParseAudioSpecificConfig([]byte{0x12, 0x10})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ADTS again: % x\n", aac.AppendADTS(nil, parsed, frames[0]))
	// Output:
	// 2 frames of AAC LC, 44100 Hz, 2 channels, 23.219954ms each
	// CodecPrivate: 12 10 (mp4a.40.2)
	// ADTS again: ff f1 50 80 01 3f fc de 04
}
