//go:build !(cgo && (x264 || openh264))

package v4l2_test

import (
	"fmt"

	"kvskit/device/v4l2"
)

func ExampleEncoders() {
	// Without the x264 or openh264 build tags only the V4L2 hardware
	// encoders are available.
	fmt.Println(v4l2.Encoders())
	// Output: [v4l2-m2m]
}
