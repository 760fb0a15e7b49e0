// Package clip holds the sample clip that `kvs demo` and the test-pattern
// source stream in a loop: 10 s of ffmpeg's testsrc2 pattern, 640x360 at
// 30 fps, H.264 Constrained Baseline with a key frame every second and no
// B-frames, plus a 440 Hz AAC tone, in Matroska. make-clip.sh rebuilds it.
package clip

import _ "embed"

// MKV is the clip's bytes.
//
//go:embed testsrc-640x360.mkv
var MKV []byte

// Name is the clip's file name.
const Name = "testsrc-640x360.mkv"
