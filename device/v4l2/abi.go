package v4l2

import "unsafe"

// The structures below mirror include/uapi/linux/videodev2.h field for
// field. C's long and pointers have Go's int/uintptr size on every Linux
// target, so one definition serves 64-bit (amd64, arm64) and 32-bit (arm)
// kernels; layout_*.go assert the sizes at compile time and layout_test.go
// checks the offsets.

// Buffer types (enum v4l2_buf_type).
const (
	bufTypeVideoCapture       = 1
	bufTypeVideoOutput        = 2
	bufTypeVideoCaptureMplane = 9
	bufTypeVideoOutputMplane  = 10
)

const (
	memoryMmap = 1 // V4L2_MEMORY_MMAP
	fieldAny   = 0 // V4L2_FIELD_ANY
	fieldNone  = 1 // V4L2_FIELD_NONE
)

// Capability bits (v4l2_capability.capabilities / device_caps).
const (
	capVideoCapture       = 0x00000001
	capVideoOutput        = 0x00000002
	capVideoCaptureMplane = 0x00001000
	capVideoOutputMplane  = 0x00002000
	capVideoM2MMplane     = 0x00004000
	capVideoM2M           = 0x00008000
	capMetaCapture        = 0x00800000
	capStreaming          = 0x04000000
	capDeviceCaps         = 0x80000000
)

// Buffer flags.
const (
	bufFlagKeyframe          = 0x00000008
	bufFlagError             = 0x00000040
	bufFlagTimestampMask     = 0x0000e000
	bufFlagTimestampMonotone = 0x00002000
	bufFlagTimestampCopy     = 0x00004000
	bufFlagLast              = 0x00100000
)

const (
	fmtFlagCompressed   = 0x0001
	capTimePerFrame     = 0x1000 // V4L2_CAP_TIMEPERFRAME in v4l2_captureparm
	frmSizeDiscrete     = 1
	frmSizeContinuous   = 2
	frmSizeStepwise     = 3
	frmIvalDiscrete     = 1
	frmIvalContinuous   = 2
	frmIvalStepwise     = 3
	maxPlanes           = 8 // VIDEO_MAX_PLANES
	ctrlClassCodec      = 0x00990000
	cidCodecBase        = ctrlClassCodec | 0x900
	cidGOPSize          = cidCodecBase + 203
	cidBitrateMode      = cidCodecBase + 206
	cidBitrate          = cidCodecBase + 207
	cidRepeatSeqHeader  = cidCodecBase + 226
	cidForceKeyFrame    = cidCodecBase + 229
	cidH264IPeriod      = cidCodecBase + 358
	cidPrependSPSPPSIDR = cidCodecBase + 644
	bitrateModeCBR      = 1
)

// fourcc packs four characters the way v4l2_fourcc does.
func fourcc(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// fourccString unpacks a pixel format code, trimming trailing spaces.
func fourccString(v uint32) string {
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	n := len(b)
	for n > 0 && b[n-1] == ' ' {
		n--
	}
	return string(b[:n])
}

// Pixel formats this package knows.
var (
	pixYUYV = fourcc("YUYV")
	pixUYVY = fourcc("UYVY")
	pixNV12 = fourcc("NV12")
	pixI420 = fourcc("YU12")
	pixMJPG = fourcc("MJPG")
	pixH264 = fourcc("H264")
	pixFWHT = fourcc("FWHT")
)

type v4l2Capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

type v4l2Fmtdesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]byte
	PixelFormat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

type v4l2Frmsizeenum struct {
	Index       uint32
	PixelFormat uint32
	Type        uint32
	// Discrete: width, height. Stepwise: min_width, max_width, step_width,
	// min_height, max_height, step_height.
	U        [6]uint32
	Reserved [2]uint32
}

type v4l2Frmivalenum struct {
	Index       uint32
	PixelFormat uint32
	Width       uint32
	Height      uint32
	Type        uint32
	// Discrete: numerator, denominator. Stepwise: min, max, step fractions.
	U        [6]uint32
	Reserved [2]uint32
}

type v4l2Fract struct {
	Numerator   uint32
	Denominator uint32
}

type v4l2PixFormat struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	BytesPerLine uint32
	SizeImage    uint32
	Colorspace   uint32
	Priv         uint32
	Flags        uint32
	YcbcrEnc     uint32
	Quantization uint32
	XferFunc     uint32
}

type v4l2PlanePixFormat struct {
	SizeImage    uint32
	BytesPerLine uint32
	Reserved     [6]uint16
}

type v4l2PixFormatMplane struct {
	Width        uint32
	Height       uint32
	PixelFormat  uint32
	Field        uint32
	Colorspace   uint32
	PlaneFmt     [maxPlanes]v4l2PlanePixFormat
	NumPlanes    uint8
	Flags        uint8
	YcbcrEnc     uint8
	Quantization uint8
	XferFunc     uint8
	Reserved     [7]uint8
}

// v4l2Format's union holds pointers in some members (v4l2_window), so it is
// pointer-aligned: offset 8 on 64-bit systems, 4 on 32-bit ones.
type v4l2Format struct {
	Type uint32
	Fmt  struct {
		_   [0]uintptr
		Raw [200]byte
	}
}

func (f *v4l2Format) pix() *v4l2PixFormat {
	return (*v4l2PixFormat)(unsafe.Pointer(&f.Fmt.Raw[0]))
}

func (f *v4l2Format) pixMP() *v4l2PixFormatMplane {
	return (*v4l2PixFormatMplane)(unsafe.Pointer(&f.Fmt.Raw[0]))
}

// v4l2Captureparm is also the layout of v4l2_outputparm.
type v4l2Captureparm struct {
	Capability   uint32
	CaptureMode  uint32
	TimePerFrame v4l2Fract
	ExtendedMode uint32
	ReadBuffers  uint32
	Reserved     [4]uint32
}

type v4l2Streamparm struct {
	Type uint32
	Parm [200]byte
}

func (p *v4l2Streamparm) capture() *v4l2Captureparm {
	return (*v4l2Captureparm)(unsafe.Pointer(&p.Parm[0]))
}

type v4l2Requestbuffers struct {
	Count        uint32
	Type         uint32
	Memory       uint32
	Capabilities uint32
	Flags        uint8
	Reserved     [3]uint8
}

type v4l2Timecode struct {
	Type     uint32
	Flags    uint32
	Frames   uint8
	Seconds  uint8
	Minutes  uint8
	Hours    uint8
	Userbits [4]uint8
}

// timeval is struct timeval with C longs (the original, non-time64 ABI on
// 32-bit systems, which the kernel keeps serving).
type timeval struct {
	Sec  int
	Usec int
}

type v4l2Buffer struct {
	Index     uint32
	Type      uint32
	BytesUsed uint32
	Flags     uint32
	Field     uint32
	Timestamp timeval
	Timecode  v4l2Timecode
	Sequence  uint32
	Memory    uint32
	// M is the union m: mem_offset (low 32 bits on little-endian systems),
	// userptr, or the address of the v4l2_plane array for multi-planar
	// buffers.
	M         uintptr
	Length    uint32
	Reserved2 uint32
	RequestFD int32
}

type v4l2Plane struct {
	BytesUsed  uint32
	Length     uint32
	M          uintptr // mem_offset in the low 32 bits, userptr, or fd
	DataOffset uint32
	Reserved   [11]uint32
}

type v4l2Rect struct {
	Left, Top     int32
	Width, Height uint32
}

type v4l2Selection struct {
	Type     uint32
	Target   uint32
	Flags    uint32
	R        v4l2Rect
	Reserved [9]uint32
}

const selTargetCrop = 0 // V4L2_SEL_TGT_CROP

type v4l2Control struct {
	ID    uint32
	Value int32
}

// ioctl request numbers, encoded with the asm-generic _IOC layout (see
// ioc_*.go for the direction bits).
var (
	vidiocQuerycap           = iocR(0, unsafe.Sizeof(v4l2Capability{}))
	vidiocEnumFmt            = iocRW(2, unsafe.Sizeof(v4l2Fmtdesc{}))
	vidiocGFmt               = iocRW(4, unsafe.Sizeof(v4l2Format{}))
	vidiocSFmt               = iocRW(5, unsafe.Sizeof(v4l2Format{}))
	vidiocReqbufs            = iocRW(8, unsafe.Sizeof(v4l2Requestbuffers{}))
	vidiocQuerybuf           = iocRW(9, unsafe.Sizeof(v4l2Buffer{}))
	vidiocQbuf               = iocRW(15, unsafe.Sizeof(v4l2Buffer{}))
	vidiocDqbuf              = iocRW(17, unsafe.Sizeof(v4l2Buffer{}))
	vidiocStreamon           = iocW(18, unsafe.Sizeof(int32(0)))
	vidiocStreamoff          = iocW(19, unsafe.Sizeof(int32(0)))
	vidiocGParm              = iocRW(21, unsafe.Sizeof(v4l2Streamparm{}))
	vidiocSParm              = iocRW(22, unsafe.Sizeof(v4l2Streamparm{}))
	vidiocGCtrl              = iocRW(27, unsafe.Sizeof(v4l2Control{}))
	vidiocSCtrl              = iocRW(28, unsafe.Sizeof(v4l2Control{}))
	vidiocSSelection         = iocRW(95, unsafe.Sizeof(v4l2Selection{}))
	vidiocEnumFramesizes     = iocRW(74, unsafe.Sizeof(v4l2Frmsizeenum{}))
	vidiocEnumFrameintervals = iocRW(75, unsafe.Sizeof(v4l2Frmivalenum{}))
)

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<iocDirShift | size<<iocSizeShift | uintptr('V')<<8 | nr
}

func iocR(nr, size uintptr) uintptr  { return ioc(iocRead, nr, size) }
func iocW(nr, size uintptr) uintptr  { return ioc(iocWrite, nr, size) }
func iocRW(nr, size uintptr) uintptr { return ioc(iocRead|iocWrite, nr, size) }
