// Package v4l2 is the Video4Linux2 camera source of kvs: it captures from
// /dev/video* devices (pure Go, no cgo) and yields H.264 access units as
// media.Frames.
//
// Two kinds of camera are handled:
//
//   - H.264 cameras (format=h264: UVC H.264 webcams, the Raspberry Pi camera
//     through its legacy driver) are read in pass-through with this
//     package's own V4L2 ioctl code: the compressed buffers are split into
//     NAL units, converted from Annex-B to AVCC and marked as key frames when
//     they hold an IDR slice. Key frames always carry the sequence and
//     picture parameter sets.
//   - Raw cameras (YUYV, UYVY, NV12, I420) are read with the same ioctl
//     code, their pictures converted for the encoder without allocating.
//     MJPEG cameras are captured the way github.com/pion/mediadevices'
//     camera driver does it on Linux: streamed with
//     github.com/blackjack/webcam and decoded by mediadevices/pkg/frame
//     (with the standard library's image/jpeg, samples scaled from JPEG's
//     full range to video's limited range); capture=mediadevices
//     (WithCapture) takes that path for the other raw formats too. The
//     driver package itself is not used: on Linux it needs cgo and opens
//     every /dev/video* node in its init. The pictures are then encoded through a V4L2 stateful
//     memory-to-memory encoder (the Raspberry Pi's bcm2835-codec at
//     /dev/video11, or any device whose CAPTURE queue offers H.264), into
//     whose OUTPUT format (I420, NV12 or YUYV) they are converted, with the
//     bit rate and key-frame interval set through the codec controls. A
//     software encoder (x264, OpenH264 through github.com/pion/mediadevices)
//     is used only when the program is built with the x264 or openh264 build
//     tag and cgo, or when one is given with WithEncoder.
//
// Frame timestamps are offsets from Origin, the wall-clock time that matches
// the monotonic clock reading taken when the source was opened; they
// strictly increase. On the native path they are the V4L2 buffer timestamps
// (CLOCK_MONOTONIC, taken by the driver when the frame was captured). The
// mediadevices path cannot see those (blackjack/webcam does not return
// them), so its frames carry the CLOCK_MONOTONIC time at which the buffer
// was dequeued: later than the capture by the driver's and the scheduler's
// latency, and with their jitter; it also decodes every picture into new
// memory. That is why it is the default for MJPEG only.
//
// A camera that goes away (USB unplug: ENODEV or EIO from the driver, the
// node disappearing, or no frame for the stall timeout) is closed and
// reopened with exponential backoff; ReadFrame blocks meanwhile and then
// carries on from the next key frame, with later timestamps.
//
// The native path starts no goroutines: all work happens in ReadFrame, and
// Close wakes a blocked ReadFrame through an eventfd. The mediadevices path
// runs one goroutine per open camera that waits for buffers (webcam's wait
// cannot be interrupted), so closing a camera that delivers nothing takes up
// to a second.
//
// Nothing happens at program start: cameras are looked at only by Open and
// ListDevices.
package v4l2
