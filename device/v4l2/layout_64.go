//go:build amd64 || arm64

package v4l2

import "unsafe"

// Compile-time checks of the structure sizes on 64-bit kernels: a mismatch
// makes one of these array lengths negative.
var (
	_ [unsafe.Sizeof(v4l2Buffer{}) - 88]byte
	_ [88 - unsafe.Sizeof(v4l2Buffer{})]byte
	_ [unsafe.Sizeof(v4l2Plane{}) - 64]byte
	_ [64 - unsafe.Sizeof(v4l2Plane{})]byte
	_ [unsafe.Sizeof(v4l2Format{}) - 208]byte
	_ [208 - unsafe.Sizeof(v4l2Format{})]byte
	_ [unsafe.Offsetof(v4l2Buffer{}.Timestamp) - 24]byte
	_ [24 - unsafe.Offsetof(v4l2Buffer{}.Timestamp)]byte
	_ [unsafe.Offsetof(v4l2Buffer{}.M) - 64]byte
	_ [64 - unsafe.Offsetof(v4l2Buffer{}.M)]byte
	_ [unsafe.Offsetof(v4l2Format{}.Fmt) - 8]byte
	_ [8 - unsafe.Offsetof(v4l2Format{}.Fmt)]byte
)
