package v4l2

import "errors"

var (
	// ErrClosed is returned by ReadFrame after Close.
	ErrClosed = errors.New("v4l2: source closed")
	// ErrInvalidURL reports a malformed v4l2:// URL or query parameter.
	ErrInvalidURL = errors.New("v4l2: invalid url")
	// ErrInvalidOption reports an option with an out-of-range value.
	ErrInvalidOption = errors.New("v4l2: invalid option")
	// ErrNotCapture reports a device node that is not a streaming video
	// capture device (for example a memory-to-memory codec or a metadata
	// node).
	ErrNotCapture = errors.New("v4l2: not a video capture device")
	// ErrUnsupportedFormat reports a pixel format the camera does not offer,
	// or one the chosen capture path cannot take (MJPEG with
	// capture=native, padded lines or multi-planar queues on the
	// mediadevices path).
	ErrUnsupportedFormat = errors.New("v4l2: unsupported pixel format")
	// ErrNoEncoder reports that a raw camera needs an H.264 encoder and none
	// is available: no V4L2 memory-to-memory H.264 encoder device was found
	// and the program was not built with a software encoder (build tag x264
	// or openh264, with cgo).
	ErrNoEncoder = errors.New("v4l2: no H.264 encoder available")
	// ErrNotEncoder reports an encoder device that is not a V4L2
	// memory-to-memory encoder producing the wanted coded format.
	ErrNotEncoder = errors.New("v4l2: not a memory-to-memory encoder")
	// ErrNoKeyFrame reports that Open saw no key frame with parameter sets
	// before its deadline.
	ErrNoKeyFrame = errors.New("v4l2: no key frame with SPS/PPS")
	// ErrUnsupportedPlatform is returned on systems without V4L2.
	ErrUnsupportedPlatform = errors.New("v4l2: only supported on linux")
)
