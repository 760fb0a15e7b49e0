//go:build !(mips || mipsle || mips64 || mips64le || ppc64 || ppc64le)

package v4l2

// asm-generic/ioctl.h: 2 direction bits at 30, 14 size bits at 16.
const (
	iocWrite     = 1
	iocRead      = 2
	iocDirShift  = 30
	iocSizeShift = 16
)
