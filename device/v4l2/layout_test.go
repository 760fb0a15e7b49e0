package v4l2

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestABILayout checks the structure layouts against the kernel's
// videodev2.h: the expected sizes and offsets are those gcc gives for
// x86-64 and for arm-linux-gnueabihf (32-bit time_t, the ABI whose ioctl
// numbers the kernel keeps serving). layout_64.go and
// layout_32.go check the sizes at compile time as well, so a cross build
// for arm64 or arm fails on a mismatch; this test also runs under
// qemu-user (go test -exec qemu-arm-static).
func TestABILayout(t *testing.T) {
	type want struct {
		name string
		got  uintptr
		v64  uintptr
		v32  uintptr
	}
	var b v4l2Buffer
	var p v4l2Plane
	var f v4l2Format
	var mp v4l2PixFormatMplane
	var fi v4l2Frmivalenum
	var fs v4l2Frmsizeenum
	cases := []want{
		{"sizeof(v4l2_capability)", unsafe.Sizeof(v4l2Capability{}), 104, 104},
		{"sizeof(v4l2_fmtdesc)", unsafe.Sizeof(v4l2Fmtdesc{}), 64, 64},
		{"sizeof(v4l2_frmsizeenum)", unsafe.Sizeof(fs), 44, 44},
		{"sizeof(v4l2_frmivalenum)", unsafe.Sizeof(fi), 52, 52},
		{"sizeof(v4l2_format)", unsafe.Sizeof(f), 208, 204},
		{"sizeof(v4l2_pix_format)", unsafe.Sizeof(v4l2PixFormat{}), 48, 48},
		{"sizeof(v4l2_pix_format_mplane)", unsafe.Sizeof(mp), 192, 192},
		{"sizeof(v4l2_streamparm)", unsafe.Sizeof(v4l2Streamparm{}), 204, 204},
		{"sizeof(v4l2_captureparm)", unsafe.Sizeof(v4l2Captureparm{}), 40, 40},
		{"sizeof(v4l2_requestbuffers)", unsafe.Sizeof(v4l2Requestbuffers{}), 20, 20},
		{"sizeof(v4l2_buffer)", unsafe.Sizeof(b), 88, 68},
		{"sizeof(v4l2_plane)", unsafe.Sizeof(p), 64, 60},
		{"sizeof(v4l2_control)", unsafe.Sizeof(v4l2Control{}), 8, 8},
		{"sizeof(v4l2_timecode)", unsafe.Sizeof(v4l2Timecode{}), 16, 16},
		{"sizeof(v4l2_selection)", unsafe.Sizeof(v4l2Selection{}), 64, 64},
		{"v4l2_buffer.timestamp", unsafe.Offsetof(b.Timestamp), 24, 20},
		{"v4l2_buffer.timecode", unsafe.Offsetof(b.Timecode), 40, 28},
		{"v4l2_buffer.sequence", unsafe.Offsetof(b.Sequence), 56, 44},
		{"v4l2_buffer.memory", unsafe.Offsetof(b.Memory), 60, 48},
		{"v4l2_buffer.m", unsafe.Offsetof(b.M), 64, 52},
		{"v4l2_buffer.length", unsafe.Offsetof(b.Length), 72, 56},
		{"v4l2_buffer.request_fd", unsafe.Offsetof(b.RequestFD), 80, 64},
		{"v4l2_format.fmt", unsafe.Offsetof(f.Fmt), 8, 4},
		{"v4l2_plane.m", unsafe.Offsetof(p.M), 8, 8},
		{"v4l2_plane.data_offset", unsafe.Offsetof(p.DataOffset), 16, 12},
		{"v4l2_pix_format_mplane.num_planes", unsafe.Offsetof(mp.NumPlanes), 180, 180},
		{"v4l2_frmivalenum.discrete", unsafe.Offsetof(fi.U), 20, 20},
		{"v4l2_frmsizeenum.discrete", unsafe.Offsetof(fs.U), 12, 12},
	}
	is64 := unsafe.Sizeof(uintptr(0)) == 8
	for _, c := range cases {
		w := c.v32
		if is64 {
			w = c.v64
		}
		if c.got != w {
			t.Errorf("%s on %s: %d, want %d", c.name, runtime.GOARCH, c.got, w)
		}
	}
}

// TestIoctlNumbers compares the request numbers with the VIDIOC_* values of
// the C headers, as printed by programs built with gcc for x86-64 and
// arm-linux-gnueabihf.
func TestIoctlNumbers(t *testing.T) {
	if iocDirShift != 30 {
		t.Skip("numbers below are for the asm-generic encoding")
	}
	is64 := unsafe.Sizeof(uintptr(0)) == 8
	for _, c := range []struct {
		name     string
		got      uintptr
		v64, v32 uint32
	}{
		{"VIDIOC_QUERYCAP", vidiocQuerycap, 0x80685600, 0x80685600},
		{"VIDIOC_G_FMT", vidiocGFmt, 0xc0d05604, 0xc0cc5604},
		{"VIDIOC_S_FMT", vidiocSFmt, 0xc0d05605, 0xc0cc5605},
		{"VIDIOC_QBUF", vidiocQbuf, 0xc058560f, 0xc044560f},
		{"VIDIOC_DQBUF", vidiocDqbuf, 0xc0585611, 0xc0445611},
		{"VIDIOC_STREAMON", vidiocStreamon, 0x40045612, 0x40045612},
		{"VIDIOC_S_PARM", vidiocSParm, 0xc0cc5616, 0xc0cc5616},
		{"VIDIOC_S_CTRL", vidiocSCtrl, 0xc008561c, 0xc008561c},
		{"VIDIOC_ENUM_FRAMEINTERVALS", vidiocEnumFrameintervals, 0xc034564b, 0xc034564b},
		{"VIDIOC_S_SELECTION", vidiocSSelection, 0xc040565f, 0xc040565f},
	} {
		w := c.v32
		if is64 {
			w = c.v64
		}
		if uint32(c.got) != w {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, w)
		}
	}
}

func TestFourCC(t *testing.T) {
	if pixYUYV != 0x56595559 || pixH264 != 0x34363248 {
		t.Fatalf("fourcc YUYV %#x H264 %#x", pixYUYV, pixH264)
	}
	for _, s := range []string{"YUYV", "H264", "MJPG", "YU12", "NV12"} {
		if got := fourccString(fourcc(s)); got != s {
			t.Errorf("fourccString(fourcc(%q)) = %q", s, got)
		}
	}
	if got := fourccString(fourcc("Y8  ")); got != "Y8" {
		t.Errorf("trailing spaces: %q", got)
	}
	if got := fourccString(0x00010203); got != "????" {
		t.Errorf("unprintable: %q", got)
	}
}
