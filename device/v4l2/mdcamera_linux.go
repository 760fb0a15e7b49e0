package v4l2

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"time"

	"github.com/blackjack/webcam"
	"github.com/pion/mediadevices/pkg/frame"
	"golang.org/x/sys/unix"
)

// mdCamera reads a raw camera the way github.com/pion/mediadevices' camera
// driver does on Linux: github.com/blackjack/webcam streams it, and a
// decoder of github.com/pion/mediadevices/pkg/frame turns each buffer into
// an image (MJPEG through image/jpeg). The driver itself is not used: its
// Linux part needs cgo (it includes <linux/videodev2.h>), so a CGO_ENABLED=0
// build has no camera driver, and its init opens every /dev/video* node.
//
// webcam blocks in WaitForFrame for whole seconds and cannot be woken, so
// one goroutine per open camera waits for buffers, copies each out of the
// mapped memory with the monotonic time it was dequeued (webcam does not
// expose the buffer's own timestamp), and hands it to the reading goroutine
// through frames, signalling the source's eventfd.
type mdCamera struct {
	path   string
	card   string
	bus    string
	cam    *webcam.Webcam
	dec    frame.Decoder
	lay    frameLayout // capture format and size, tight lines
	fps    float64     // the rate the driver accepted, 0 when unknown
	frames chan mdFrame
	free   chan []byte // copies the reader is done with
	stop   chan struct{}
	done   chan struct{}
}

// mdFrame is one captured buffer (a copy) or the error that ended capture.
type mdFrame struct {
	data []byte
	mono time.Duration // CLOCK_MONOTONIC when it was dequeued
	err  error
}

// mdFormats are the capture formats read through mediadevices, with the
// names of its decoders.
var mdFormats = map[uint32]frame.Format{
	pixYUYV: frame.FormatYUYV,
	pixUYVY: frame.FormatUYVY,
	pixNV12: frame.FormatNV12,
	pixI420: frame.FormatI420,
	pixMJPG: frame.FormatMJPEG,
}

// mdWaitSeconds is how long the capture goroutine waits for a buffer
// before it looks at stop again: it bounds how long closing a camera that
// delivers nothing takes.
const mdWaitSeconds = 1

// openMDCamera starts streaming d's camera in pixfmt through webcam. d is
// an open file of the same device, used to read back the format the
// driver chose (webcam reports the size asked for, not the size set).
// wake is called after each frame (or error) is handed over.
func openMDCamera(d *device, pixfmt uint32, cfg *config, log *slog.Logger, wake func()) (*mdCamera, error) {
	name, ok := mdFormats[pixfmt]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not read through mediadevices", ErrUnsupportedFormat, fourccString(pixfmt))
	}
	dec, err := frame.NewDecoder(name)
	if err != nil {
		return nil, fmt.Errorf("v4l2: %s decoder: %w", name, err)
	}
	cam, err := webcam.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("v4l2: webcam open %s: %w", d.path, err)
	}
	started := false
	defer func() {
		if !started {
			cam.Close()
		}
	}()
	if err := cam.SetBufferCount(uint32(cfg.buffers)); err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, err)
	}
	got, _, _, err := cam.SetImageFormat(webcam.PixelFormat(pixfmt), uint32(cfg.width), uint32(cfg.height))
	if err != nil {
		return nil, fmt.Errorf("v4l2: %s: VIDIOC_S_FMT %s %dx%d: %w", d.path, fourccString(pixfmt), cfg.width, cfg.height, err)
	}
	if uint32(got) != pixfmt {
		return nil, fmt.Errorf("%w: %s: asked for %s, driver set %s", ErrUnsupportedFormat, d.path, fourccString(pixfmt), fourccString(uint32(got)))
	}
	f, err := d.getFormat(bufTypeVideoCapture)
	if err != nil {
		return nil, err
	}
	lay := frameLayout{pixfmt: pixfmt, width: f.width, height: f.height, stride: f.stride, sizeImage: f.sizeImage}
	if pixfmt != pixMJPG {
		// mediadevices' decoders take lines without padding.
		tight := f.width
		if pixfmt == pixYUYV || pixfmt == pixUYVY {
			tight = 2 * f.width
		}
		if f.stride != tight {
			return nil, fmt.Errorf("%w: %s pads %s lines to %d bytes, which mediadevices cannot read; use capture=native", ErrUnsupportedFormat, d.path, fourccString(pixfmt), f.stride)
		}
	}
	if f.width%2 != 0 || f.height%2 != 0 {
		return nil, fmt.Errorf("%w: %s: odd size %dx%d", ErrUnsupportedFormat, d.path, f.width, f.height)
	}
	if f.width != cfg.width || f.height != cfg.height {
		log.Info("v4l2: camera picked another size", "device", d.path, "asked", fmt.Sprintf("%dx%d", cfg.width, cfg.height), "got", fmt.Sprintf("%dx%d", f.width, f.height))
	}
	var fps float64
	if err := cam.SetFramerate(float32(cfg.fps)); err != nil {
		log.Warn("v4l2: setting the frame rate failed", "device", d.path, "err", err)
	} else if r, err := cam.GetFramerate(); err == nil {
		fps = math.Round(float64(r)*1000) / 1000 // webcam reports a float32
	}
	if err := cam.StartStreaming(); err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", d.path, err)
	}
	c := &mdCamera{
		path: d.path, card: d.card(), bus: d.busInfo(), cam: cam, dec: dec, lay: lay, fps: fps,
		frames: make(chan mdFrame, 1), free: make(chan []byte, 2),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	started = true
	go c.run(wake)
	return c, nil
}

// run is the capture goroutine.
func (c *mdCamera) run(wake func()) {
	defer close(c.done)
	idle := 0 // readiness reports without a buffer, in a row
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		err := c.cam.WaitForFrame(mdWaitSeconds)
		var timeout *webcam.Timeout
		if errors.As(err, &timeout) {
			continue
		}
		if err != nil {
			c.send(mdFrame{err: fmt.Errorf("v4l2: %s: poll: %w", c.path, err)}, wake)
			return
		}
		data, index, err := c.cam.GetFrame()
		mono := monoNow()
		if errors.Is(err, unix.EAGAIN) {
			// Ready but no buffer: an error condition (POLLERR) that
			// VIDIOC_DQBUF does not report.
			if idle++; idle > 100 {
				c.send(mdFrame{err: fmt.Errorf("%w: %s", errHangup, c.path)}, wake)
				return
			}
			continue
		}
		idle = 0
		if err != nil {
			c.send(mdFrame{err: fmt.Errorf("v4l2: %s: VIDIOC_DQBUF: %w", c.path, err)}, wake)
			return
		}
		var buf []byte
		if len(data) > 0 {
			buf = c.buffer(len(data))
			copy(buf, data)
		}
		if err := c.cam.ReleaseFrame(index); err != nil {
			c.send(mdFrame{err: fmt.Errorf("v4l2: %s: VIDIOC_QBUF: %w", c.path, err)}, wake)
			return
		}
		if len(buf) == 0 {
			continue
		}
		if !c.send(mdFrame{data: buf, mono: mono}, wake) {
			return
		}
	}
}

// send hands f to the reader; false when the camera is being closed.
func (c *mdCamera) send(f mdFrame, wake func()) bool {
	select {
	case c.frames <- f:
		wake()
		return true
	case <-c.stop:
		return false
	}
}

// buffer returns a slice of n bytes, reusing one the reader gave back.
func (c *mdCamera) buffer(n int) []byte {
	select {
	case b := <-c.free:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

// recycle gives a frame's bytes back for reuse.
func (c *mdCamera) recycle(b []byte) {
	if b == nil {
		return
	}
	select {
	case c.free <- b:
	default:
	}
}

// decode turns a captured buffer into a picture of the camera's size. The
// picture may share b's memory; release (never nil) must be called when it
// is no longer used.
func (c *mdCamera) decode(b []byte) (img image.Image, release func(), err error) {
	img, release, err = c.dec.Decode(b, c.lay.width, c.lay.height)
	if release == nil {
		release = func() {}
	}
	if err != nil {
		return nil, release, fmt.Errorf("v4l2: %s: decoding %s: %w", c.path, fourccString(c.lay.pixfmt), err)
	}
	if s := img.Bounds().Size(); s.X != c.lay.width || s.Y != c.lay.height {
		return nil, release, fmt.Errorf("v4l2: %s: %s picture is %dx%d, want %dx%d", c.path, fourccString(c.lay.pixfmt), s.X, s.Y, c.lay.width, c.lay.height)
	}
	switch img.(type) {
	case *image.YCbCr, *image.Gray:
	default:
		// A JPEG in CMYK, for one.
		return nil, release, fmt.Errorf("v4l2: %s: %s picture decoded to %T: %w", c.path, fourccString(c.lay.pixfmt), img, ErrUnsupportedFormat)
	}
	return img, release, nil
}

// close stops the capture goroutine (within mdWaitSeconds) and the camera.
func (c *mdCamera) close() {
	close(c.stop)
	<-c.done
	c.cam.Close()
}
