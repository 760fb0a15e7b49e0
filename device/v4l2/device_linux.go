package v4l2

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl issues one request, retrying when interrupted by a signal.
func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}

// monoNow reads CLOCK_MONOTONIC, the clock of V4L2 buffer timestamps.
func monoNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// cstr returns a NUL-terminated C string field as a Go string.
func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// device is an open V4L2 node.
type device struct {
	path string
	fd   int
	cap  v4l2Capability
}

func openDevice(path string) (*device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("v4l2: open %s: %w", path, err)
	}
	d := &device{path: path, fd: fd}
	if err := ioctl(fd, vidiocQuerycap, unsafe.Pointer(&d.cap)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("v4l2: %s: VIDIOC_QUERYCAP: %w", path, err)
	}
	return d, nil
}

func (d *device) close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// caps returns the capabilities of this node (device_caps when present).
func (d *device) caps() uint32 {
	if d.cap.Capabilities&capDeviceCaps != 0 {
		return d.cap.DeviceCaps
	}
	return d.cap.Capabilities
}

func (d *device) driver() string  { return cstr(d.cap.Driver[:]) }
func (d *device) card() string    { return cstr(d.cap.Card[:]) }
func (d *device) busInfo() string { return cstr(d.cap.BusInfo[:]) }

type fmtDesc struct {
	pixfmt      uint32
	description string
	compressed  bool
}

func (d *device) enumFormats(typ uint32) ([]fmtDesc, error) {
	var out []fmtDesc
	for i := uint32(0); i < 256; i++ {
		fd := v4l2Fmtdesc{Index: i, Type: typ}
		if err := ioctl(d.fd, vidiocEnumFmt, unsafe.Pointer(&fd)); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break
			}
			return out, fmt.Errorf("v4l2: %s: VIDIOC_ENUM_FMT: %w", d.path, err)
		}
		out = append(out, fmtDesc{pixfmt: fd.PixelFormat, description: cstr(fd.Description[:]), compressed: fd.Flags&fmtFlagCompressed != 0})
	}
	return out, nil
}

func (d *device) enumFrameSizes(pixfmt uint32) ([]FrameSize, error) {
	var out []FrameSize
	for i := uint32(0); i < 1024; i++ {
		fs := v4l2Frmsizeenum{Index: i, PixelFormat: pixfmt}
		if err := ioctl(d.fd, vidiocEnumFramesizes, unsafe.Pointer(&fs)); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
				break
			}
			return out, fmt.Errorf("v4l2: %s: VIDIOC_ENUM_FRAMESIZES: %w", d.path, err)
		}
		var s FrameSize
		if fs.Type == frmSizeDiscrete {
			s.Width, s.Height = int(fs.U[0]), int(fs.U[1])
		} else {
			s.Stepwise = true
			s.MinWidth, s.Width, s.StepWidth = int(fs.U[0]), int(fs.U[1]), int(fs.U[2])
			s.MinHeight, s.Height, s.StepHeight = int(fs.U[3]), int(fs.U[4]), int(fs.U[5])
		}
		s.Intervals, _ = d.enumFrameIntervals(pixfmt, uint32(s.Width), uint32(s.Height))
		out = append(out, s)
		if fs.Type != frmSizeDiscrete {
			break
		}
	}
	return out, nil
}

func (d *device) enumFrameIntervals(pixfmt, w, h uint32) ([]Interval, error) {
	var out []Interval
	for i := uint32(0); i < 256; i++ {
		fi := v4l2Frmivalenum{Index: i, PixelFormat: pixfmt, Width: w, Height: h}
		if err := ioctl(d.fd, vidiocEnumFrameintervals, unsafe.Pointer(&fi)); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
				break
			}
			return out, fmt.Errorf("v4l2: %s: VIDIOC_ENUM_FRAMEINTERVALS: %w", d.path, err)
		}
		if fi.Type == frmIvalDiscrete {
			out = append(out, Interval{Num: fi.U[0], Den: fi.U[1]})
			continue
		}
		// Stepwise or continuous: report the shortest and longest.
		out = append(out, Interval{Num: fi.U[0], Den: fi.U[1]}, Interval{Num: fi.U[2], Den: fi.U[3]})
		break
	}
	return out, nil
}

// format is a negotiated format of one queue.
type format struct {
	pixfmt        uint32
	width, height int
	stride        int
	sizeImage     int
	numPlanes     int
}

func (f format) layout() frameLayout {
	return frameLayout{pixfmt: f.pixfmt, width: f.width, height: f.height, stride: f.stride, sizeImage: f.sizeImage}
}

// setFormat runs VIDIOC_S_FMT on queue typ and returns what the driver
// chose. sizeImage is a hint for compressed formats (0: let the driver
// pick).
func (d *device) setFormat(typ uint32, pixfmt uint32, w, h, sizeImage int) (format, error) {
	var f v4l2Format
	f.Type = typ
	if isMplane(typ) {
		p := f.pixMP()
		p.Width, p.Height, p.PixelFormat, p.Field = uint32(w), uint32(h), pixfmt, fieldNone
		p.NumPlanes = 1
		p.PlaneFmt[0].SizeImage = uint32(sizeImage)
	} else {
		p := f.pix()
		p.Width, p.Height, p.PixelFormat, p.Field = uint32(w), uint32(h), pixfmt, fieldNone
		p.SizeImage = uint32(sizeImage)
	}
	if err := ioctl(d.fd, vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return format{}, fmt.Errorf("v4l2: %s: VIDIOC_S_FMT %s %dx%d: %w", d.path, fourccString(pixfmt), w, h, err)
	}
	return formatOf(&f), nil
}

// getFormat runs VIDIOC_G_FMT on queue typ: the format in use, which
// another open file of the device may have set.
func (d *device) getFormat(typ uint32) (format, error) {
	var f v4l2Format
	f.Type = typ
	if err := ioctl(d.fd, vidiocGFmt, unsafe.Pointer(&f)); err != nil {
		return format{}, fmt.Errorf("v4l2: %s: VIDIOC_G_FMT: %w", d.path, err)
	}
	return formatOf(&f), nil
}

func formatOf(f *v4l2Format) format {
	if isMplane(f.Type) {
		p := f.pixMP()
		return format{pixfmt: p.PixelFormat, width: int(p.Width), height: int(p.Height),
			stride: int(p.PlaneFmt[0].BytesPerLine), sizeImage: int(p.PlaneFmt[0].SizeImage), numPlanes: int(p.NumPlanes)}
	}
	p := f.pix()
	return format{pixfmt: p.PixelFormat, width: int(p.Width), height: int(p.Height),
		stride: int(p.BytesPerLine), sizeImage: int(p.SizeImage), numPlanes: 1}
}

func isMplane(typ uint32) bool {
	return typ == bufTypeVideoCaptureMplane || typ == bufTypeVideoOutputMplane
}

// setFrameRate asks for fps on queue typ through VIDIOC_S_PARM and returns
// the rate the driver set, or 0 when the driver has no frame-rate control.
func (d *device) setFrameRate(typ uint32, fps float64) (float64, error) {
	num, den := fpsFraction(fps)
	var p v4l2Streamparm
	p.Type = typ
	if err := ioctl(d.fd, vidiocGParm, unsafe.Pointer(&p)); err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return 0, nil
		}
		return 0, fmt.Errorf("v4l2: %s: VIDIOC_G_PARM: %w", d.path, err)
	}
	if p.capture().Capability&capTimePerFrame == 0 {
		return 0, nil
	}
	p.capture().TimePerFrame = v4l2Fract{Numerator: num, Denominator: den}
	if err := ioctl(d.fd, vidiocSParm, unsafe.Pointer(&p)); err != nil {
		return 0, fmt.Errorf("v4l2: %s: VIDIOC_S_PARM %v fps: %w", d.path, fps, err)
	}
	tpf := p.capture().TimePerFrame
	if tpf.Numerator == 0 || tpf.Denominator == 0 {
		return 0, nil
	}
	return float64(tpf.Denominator) / float64(tpf.Numerator), nil
}

// setCrop sets the crop rectangle of queue typ (single-planar type names,
// as the selection API takes them) to the top-left w x h.
func (d *device) setCrop(typ uint32, w, h int) error {
	s := v4l2Selection{Type: typ, Target: selTargetCrop, R: v4l2Rect{Width: uint32(w), Height: uint32(h)}}
	if err := ioctl(d.fd, vidiocSSelection, unsafe.Pointer(&s)); err != nil {
		return fmt.Errorf("v4l2: %s: VIDIOC_S_SELECTION %dx%d: %w", d.path, w, h, err)
	}
	if int(s.R.Width) != w || int(s.R.Height) != h {
		return fmt.Errorf("v4l2: %s: crop %dx%d became %dx%d", d.path, w, h, s.R.Width, s.R.Height)
	}
	return nil
}

func (d *device) setControl(id uint32, v int32) error {
	c := v4l2Control{ID: id, Value: v}
	if err := ioctl(d.fd, vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
		return fmt.Errorf("v4l2: %s: VIDIOC_S_CTRL %#x=%d: %w", d.path, id, v, err)
	}
	return nil
}

func (d *device) getControl(id uint32) (int32, error) {
	c := v4l2Control{ID: id}
	if err := ioctl(d.fd, vidiocGCtrl, unsafe.Pointer(&c)); err != nil {
		return 0, fmt.Errorf("v4l2: %s: VIDIOC_G_CTRL %#x: %w", d.path, id, err)
	}
	return c.Value, nil
}

func (d *device) stream(typ uint32, on bool) error {
	t := int32(typ)
	req, name := vidiocStreamon, "VIDIOC_STREAMON"
	if !on {
		req, name = vidiocStreamoff, "VIDIOC_STREAMOFF"
	}
	if err := ioctl(d.fd, req, unsafe.Pointer(&t)); err != nil {
		return fmt.Errorf("v4l2: %s: %s: %w", d.path, name, err)
	}
	return nil
}

// queue is one buffer queue of a device with memory-mapped buffers whose
// pictures fit in one plane.
type queue struct {
	d      *device
	typ    uint32
	bufs   [][]byte
	planes []v4l2Plane // scratch for multi-planar ioctls
	pin    runtime.Pinner
}

// dequeued is a buffer taken from the driver.
type dequeued struct {
	index int
	data  []byte // the used part of the mapped buffer
	flags uint32
	ts    time.Duration
	seq   uint32
}

var errWouldBlock = errors.New("v4l2: no buffer ready")

// setupQueue requests count buffers on queue typ and maps them.
func (d *device) setupQueue(typ uint32, count int) (*queue, error) {
	q := &queue{d: d, typ: typ, planes: make([]v4l2Plane, maxPlanes)}
	rb := v4l2Requestbuffers{Count: uint32(count), Type: typ, Memory: memoryMmap}
	if err := ioctl(d.fd, vidiocReqbufs, unsafe.Pointer(&rb)); err != nil {
		return nil, fmt.Errorf("v4l2: %s: VIDIOC_REQBUFS: %w", d.path, err)
	}
	if rb.Count < 1 {
		return nil, fmt.Errorf("v4l2: %s: driver granted no buffers", d.path)
	}
	for i := 0; i < int(rb.Count); i++ {
		b := q.newBuf(uint32(i))
		if err := ioctl(d.fd, vidiocQuerybuf, unsafe.Pointer(&b)); err != nil {
			q.release()
			return nil, fmt.Errorf("v4l2: %s: VIDIOC_QUERYBUF %d: %w", d.path, i, err)
		}
		off, length := uint32(b.M), b.Length
		if isMplane(typ) {
			if b.Length != 1 {
				q.release()
				return nil, fmt.Errorf("v4l2: %s: %d planes per buffer: %w", d.path, b.Length, ErrUnsupportedFormat)
			}
			off, length = uint32(q.planes[0].M), q.planes[0].Length
		}
		m, err := unix.Mmap(d.fd, int64(off), int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			q.release()
			return nil, fmt.Errorf("v4l2: %s: mmap buffer %d: %w", d.path, i, err)
		}
		q.bufs = append(q.bufs, m)
	}
	return q, nil
}

// newBuf returns a v4l2_buffer for index i, pointing at the plane scratch
// array for multi-planar queues.
func (q *queue) newBuf(i uint32) v4l2Buffer {
	b := v4l2Buffer{Index: i, Type: q.typ, Memory: memoryMmap}
	if isMplane(q.typ) {
		clear(q.planes)
		q.pin.Pin(&q.planes[0])
		b.M = uintptr(unsafe.Pointer(&q.planes[0]))
		b.Length = uint32(len(q.planes))
	}
	return b
}

func (q *queue) done() {
	q.pin.Unpin()
}

// enqueue queues buffer i with bytesUsed bytes of payload (for OUTPUT
// queues) and a timestamp.
func (q *queue) enqueue(i int, bytesUsed int, ts time.Duration) error {
	b := q.newBuf(uint32(i))
	defer q.done()
	b.BytesUsed = uint32(bytesUsed)
	b.Timestamp = durationTV(ts)
	if isMplane(q.typ) {
		b.Length = 1
		q.planes[0].BytesUsed = uint32(bytesUsed)
		q.planes[0].Length = uint32(len(q.bufs[i]))
	}
	if err := ioctl(q.d.fd, vidiocQbuf, unsafe.Pointer(&b)); err != nil {
		return fmt.Errorf("v4l2: %s: VIDIOC_QBUF %d: %w", q.d.path, i, err)
	}
	return nil
}

// dequeue takes a finished buffer without blocking; errWouldBlock when
// there is none.
func (q *queue) dequeue() (dequeued, error) {
	b := q.newBuf(0)
	defer q.done()
	if err := ioctl(q.d.fd, vidiocDqbuf, unsafe.Pointer(&b)); err != nil {
		if errors.Is(err, unix.EAGAIN) {
			return dequeued{}, errWouldBlock
		}
		return dequeued{}, fmt.Errorf("v4l2: %s: VIDIOC_DQBUF: %w", q.d.path, err)
	}
	if int(b.Index) >= len(q.bufs) {
		return dequeued{}, fmt.Errorf("v4l2: %s: driver returned buffer %d of %d", q.d.path, b.Index, len(q.bufs))
	}
	buf := q.bufs[b.Index]
	start, end := 0, int(b.BytesUsed)
	if isMplane(q.typ) {
		start, end = int(q.planes[0].DataOffset), int(q.planes[0].BytesUsed)
	}
	if end > len(buf) {
		end = len(buf)
	}
	if start > end {
		start = end
	}
	return dequeued{index: int(b.Index), data: buf[start:end], flags: b.Flags, ts: tvDuration(b.Timestamp), seq: b.Sequence}, nil
}

// release unmaps the buffers and frees them in the driver.
func (q *queue) release() {
	for _, m := range q.bufs {
		_ = unix.Munmap(m)
	}
	q.bufs = nil
	if q.d.fd >= 0 {
		rb := v4l2Requestbuffers{Count: 0, Type: q.typ, Memory: memoryMmap}
		_ = ioctl(q.d.fd, vidiocReqbufs, unsafe.Pointer(&rb))
	}
}

// isGone reports errors that mean the device went away.
func isGone(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EIO) || errors.Is(err, unix.ENXIO) ||
		errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESHUTDOWN) || errors.Is(err, unix.EPIPE) ||
		errors.Is(err, errStalled) || errors.Is(err, errHangup)
}

var (
	errStalled = errors.New("v4l2: no frame within the stall timeout")
	errHangup  = errors.New("v4l2: device reported an error condition (POLLERR)")
)
