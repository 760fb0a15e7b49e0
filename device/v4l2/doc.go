// Package v4l2 is the Video4Linux2 camera source of kvs: it captures from
// /dev/video* devices through the kernel's V4L2 ioctl interface (pure Go, no
// cgo) and yields H.264 access units as media.Frames.
//
// Two kinds of camera are handled:
//
//   - H.264 cameras (format=h264: UVC H.264 webcams, the Raspberry Pi camera
//     through its legacy driver) are read in pass-through: the compressed
//     buffers are split into NAL units, converted from Annex-B to AVCC and
//     marked as key frames when they hold an IDR slice. Key frames always
//     carry the sequence and picture parameter sets.
//   - Raw cameras (YUYV, NV12, I420) are encoded through a V4L2 stateful
//     memory-to-memory encoder (the Raspberry Pi's bcm2835-codec at
//     /dev/video11, or any device whose CAPTURE queue offers H.264), with the
//     bit rate and key-frame interval set through the codec controls. A
//     software encoder (x264, OpenH264 through github.com/pion/mediadevices)
//     is used only when the program is built with the x264 or openh264 build
//     tag and cgo, or when one is given with WithEncoder.
//
// Frame timestamps come from the V4L2 buffer timestamps (CLOCK_MONOTONIC) and
// are offsets from Origin, the wall-clock time that matches the monotonic
// clock reading taken when the source was opened; they strictly increase.
//
// A camera that goes away (USB unplug: ENODEV or EIO from the driver, the
// node disappearing, or no frame for the stall timeout) is closed and
// reopened with exponential backoff; ReadFrame blocks meanwhile and then
// carries on from the next key frame, with later timestamps.
//
// The package starts no goroutines: all work happens in ReadFrame, and Close
// wakes a blocked ReadFrame through an eventfd.
package v4l2
