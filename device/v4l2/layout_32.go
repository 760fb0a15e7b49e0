//go:build arm

package v4l2

import "unsafe"

// Compile-time checks of the structure sizes on 32-bit ARM kernels: a
// mismatch makes one of these array lengths negative.
var (
	_ [unsafe.Sizeof(v4l2Buffer{}) - 68]byte
	_ [68 - unsafe.Sizeof(v4l2Buffer{})]byte
	_ [unsafe.Sizeof(v4l2Plane{}) - 60]byte
	_ [60 - unsafe.Sizeof(v4l2Plane{})]byte
	_ [unsafe.Sizeof(v4l2Format{}) - 204]byte
	_ [204 - unsafe.Sizeof(v4l2Format{})]byte
	_ [unsafe.Offsetof(v4l2Buffer{}.Timestamp) - 20]byte
	_ [20 - unsafe.Offsetof(v4l2Buffer{}.Timestamp)]byte
	_ [unsafe.Offsetof(v4l2Buffer{}.M) - 52]byte
	_ [52 - unsafe.Offsetof(v4l2Buffer{}.M)]byte
	_ [unsafe.Offsetof(v4l2Format{}.Fmt) - 4]byte
	_ [4 - unsafe.Offsetof(v4l2Format{}.Fmt)]byte
)
