package v4l2

// DeviceInfo describes one /dev/video* node, as `kvs devices` shows it.
type DeviceInfo struct {
	Path    string
	Driver  string
	Card    string
	BusInfo string
	// Capture is set for streaming video capture devices (cameras), M2M
	// for memory-to-memory devices (codecs, scalers), H264Encoder for M2M
	// devices whose CAPTURE queue produces H.264.
	Capture     bool
	M2M         bool
	H264Encoder bool
	// Capabilities names the capability bits: "capture", "capture-mplane",
	// "output", "output-mplane", "m2m", "m2m-mplane", "meta-capture",
	// "streaming".
	Capabilities []string
	// Formats are the capture formats of a camera, or the coded formats of
	// an M2M device's CAPTURE queue.
	Formats []FormatInfo
	// InputFormats are the raw formats an M2M device's OUTPUT queue takes.
	InputFormats []FormatInfo
	// Err is set when the node could not be opened or queried.
	Err string
}

// FormatInfo is one pixel format with its frame sizes.
type FormatInfo struct {
	PixelFormat string // fourcc, e.g. "YUYV", "H264", "MJPG"
	Description string
	Compressed  bool
	Sizes       []FrameSize
	// Capture is how Open reads a camera's format by default: "native" for
	// H.264 (passed through) and the raw formats it encodes (YUYV, UYVY,
	// NV12, YU12; single-planar cameras can also be read with
	// capture=mediadevices), "mediadevices" for MJPG, which it decodes and
	// encodes, "" for formats Open cannot take. Empty for M2M devices.
	Capture string
}

// formatCapture is FormatInfo.Capture for a camera format; mplane tells
// a camera with a multi-planar queue, which only the native path reads
// (so MJPEG is not usable there).
func formatCapture(pixfmt uint32, mplane bool) string {
	switch pixfmt {
	case pixH264, pixYUYV, pixUYVY, pixNV12, pixI420:
		return string(CaptureNative)
	case pixMJPG:
		if !mplane {
			return string(CaptureMediadevices)
		}
	}
	return ""
}

// FrameSize is a discrete frame size, or a range when Stepwise is set
// (Width and Height are then the largest).
type FrameSize struct {
	Width, Height         int
	Stepwise              bool
	MinWidth, MinHeight   int
	StepWidth, StepHeight int
	// Intervals are the frame intervals offered at this size (for
	// stepwise intervals the shortest and the longest).
	Intervals []Interval
}

// Interval is a frame interval of Num/Den seconds.
type Interval struct {
	Num, Den uint32
}

// FPS returns the frame rate of the interval (0 when undefined).
func (i Interval) FPS() float64 {
	if i.Num == 0 {
		return 0
	}
	return float64(i.Den) / float64(i.Num)
}

// capNames names the capability bits of caps.
func capNames(caps uint32) []string {
	var out []string
	for _, c := range []struct {
		bit  uint32
		name string
	}{
		{capVideoCapture, "capture"}, {capVideoCaptureMplane, "capture-mplane"},
		{capVideoOutput, "output"}, {capVideoOutputMplane, "output-mplane"},
		{capVideoM2M, "m2m"}, {capVideoM2MMplane, "m2m-mplane"},
		{capMetaCapture, "meta-capture"}, {capStreaming, "streaming"},
	} {
		if caps&c.bit != 0 {
			out = append(out, c.name)
		}
	}
	return out
}
