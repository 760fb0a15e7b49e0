//go:build mips || mipsle || mips64 || mips64le || ppc64 || ppc64le

package v4l2

// MIPS and PowerPC: 3 direction bits at 29, 13 size bits at 16.
const (
	iocWrite     = 4
	iocRead      = 2
	iocDirShift  = 29
	iocSizeShift = 16
)
