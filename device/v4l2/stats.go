package v4l2

// Stats describes a source's configuration and counts what it has done.
type Stats struct {
	Device      string  // the node in use
	Card        string  // the camera's name
	PixelFormat string  // the capture fourcc, e.g. "YUYV", "H264"
	Width       int     // capture size
	Height      int     //
	FPS         float64 // the rate the driver accepted (0: it has no control)
	Encoder     string  // "pass-through", "v4l2-m2m /dev/video11", "x264", ...
	// Capture is the path the camera is read on: "native" (H.264
	// cameras, and raw ones with capture=native) or "mediadevices".
	Capture string

	Frames     uint64 // frames returned by ReadFrame
	KeyFrames  uint64 // of which key frames
	Bytes      uint64 // access unit bytes returned
	Dropped    uint64 // pictures dropped: errored buffers, frames before a key frame
	Reconnects uint64 // times the camera was reopened after going away
	// DriverDrops counts frames the driver dropped (gaps in the buffer
	// sequence numbers), usually because frames were not read fast enough.
	// The mediadevices path does not see sequence numbers: it stays 0.
	DriverDrops uint64
	// TimestampRepairs counts frames whose timestamp did not advance and
	// was moved after the previous frame's.
	TimestampRepairs uint64
}
