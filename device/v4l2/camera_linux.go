package v4l2

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
)

// camera is an open, streaming capture device.
type camera struct {
	dev *device
	typ uint32
	q   *queue
	fmt format
	fps float64 // the rate the driver accepted, 0 when it has no control

	lastSeq uint32 // sequence number of the last buffer
	haveSeq bool
}

// skipped returns how many frames the driver dropped before the buffer with
// sequence number seq (gaps in the sequence numbers, which drivers leave
// when no buffer was queued in time).
func (c *camera) skipped(seq uint32) uint64 {
	var n uint64
	if c.haveSeq && seq-c.lastSeq > 1 && seq-c.lastSeq < 1<<30 {
		n = uint64(seq - c.lastSeq - 1)
	}
	c.lastSeq, c.haveSeq = seq, true
	return n
}

// preferred capture formats when none is asked for, best first: H.264 is
// passed through; the raw ones in the order encoders take them cheapest.
var preferredFormats = []uint32{pixH264, pixNV12, pixI420, pixYUYV, pixUYVY}

// openCamera opens cfg.path and starts streaming in the configured format.
func openCamera(cfg *config, log *slog.Logger) (*camera, error) {
	return openCameraAt(cfg.path, cfg, log)
}

func openCameraAt(path string, cfg *config, log *slog.Logger) (*camera, error) {
	d, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	c, err := startCamera(d, cfg, log)
	if err != nil {
		d.close()
		return nil, err
	}
	return c, nil
}

func startCamera(d *device, cfg *config, log *slog.Logger) (*camera, error) {
	caps := d.caps()
	if caps&(capVideoM2M|capVideoM2MMplane) != 0 || caps&(capVideoCapture|capVideoCaptureMplane) == 0 {
		return nil, fmt.Errorf("%w: %s (%s, capabilities %v)", ErrNotCapture, d.path, d.card(), capNames(caps))
	}
	if caps&capStreaming == 0 {
		return nil, fmt.Errorf("%w: %s does not support streaming I/O", ErrNotCapture, d.path)
	}
	typ := uint32(bufTypeVideoCapture)
	if caps&capVideoCapture == 0 {
		typ = bufTypeVideoCaptureMplane
	}
	offered, err := d.enumFormats(typ)
	if err != nil {
		return nil, err
	}
	pixfmt, err := chooseFormat(cfg.format, offered)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	f, err := d.setFormat(typ, pixfmt, cfg.width, cfg.height, 0)
	if err != nil {
		return nil, err
	}
	if f.pixfmt != pixfmt {
		return nil, fmt.Errorf("%w: %s: asked for %s, driver set %s", ErrUnsupportedFormat, d.path, fourccString(pixfmt), fourccString(f.pixfmt))
	}
	if f.width != cfg.width || f.height != cfg.height {
		log.Info("v4l2: camera picked another size", "device", d.path, "asked", fmt.Sprintf("%dx%d", cfg.width, cfg.height), "got", fmt.Sprintf("%dx%d", f.width, f.height))
	}
	fps, err := d.setFrameRate(typ, cfg.fps)
	if err != nil {
		log.Warn("v4l2: setting the frame rate failed", "device", d.path, "err", err)
	}
	if pixfmt == pixH264 {
		// Cameras with an encoder (the Pi's legacy camera driver, UVC 1.5)
		// take the codec controls; others ignore them.
		setCodecControls(d, cfg, log)
	}
	q, err := d.setupQueue(typ, cfg.buffers)
	if err != nil {
		return nil, err
	}
	c := &camera{dev: d, typ: typ, q: q, fmt: f, fps: fps}
	for i := range q.bufs {
		if err := q.enqueue(i, 0, 0); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := d.stream(typ, true); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// chooseFormat picks the capture format: the one asked for, if offered, or
// the first of preferredFormats the camera offers.
func chooseFormat(want PixelFormat, offered []fmtDesc) (uint32, error) {
	has := func(p uint32) bool {
		for _, f := range offered {
			if f.pixfmt == p {
				return true
			}
		}
		return false
	}
	var names []string
	for _, f := range offered {
		names = append(names, fourccString(f.pixfmt))
	}
	if want != "" {
		p, _ := want.fourcc()
		if !has(p) {
			return 0, fmt.Errorf("%w: %s not offered (offered: %s)", ErrUnsupportedFormat, want, strings.Join(names, ", "))
		}
		return p, nil
	}
	for _, p := range preferredFormats {
		if has(p) {
			return p, nil
		}
	}
	if has(pixMJPG) || has(pixJPEG) {
		return 0, fmt.Errorf("%w: the camera offers only %s; MJPEG needs a decoder, which this package does not have", ErrUnsupportedFormat, strings.Join(names, ", "))
	}
	return 0, fmt.Errorf("%w: none of %s is usable (want H264, NV12, YU12, YUYV or UYVY)", ErrUnsupportedFormat, strings.Join(names, ", "))
}

// setCodecControls sets bit rate and key-frame interval on a device with
// H.264 encoding controls, logging those it does not have.
func setCodecControls(d *device, cfg *config, log *slog.Logger) {
	keyint := int32(cfg.keyInterval())
	if err := d.setControl(cidBitrate, int32(cfg.bitrate)); err != nil {
		log.Warn("v4l2: device has no bit rate control", "device", d.path, "err", err)
	}
	errI := d.setControl(cidH264IPeriod, keyint)
	errG := d.setControl(cidGOPSize, keyint)
	if errI != nil && errG != nil {
		log.Warn("v4l2: device has no key-frame interval control", "device", d.path, "err", errors.Join(errI, errG))
	}
	// In-band SPS/PPS before every IDR, so that each key frame decodes on
	// its own; drivers name this one of two ways.
	if err := d.setControl(cidRepeatSeqHeader, 1); err != nil {
		_ = d.setControl(cidPrependSPSPPSIDR, 1)
	}
}

func (c *camera) layout() frameLayout { return c.fmt.layout() }

func (c *camera) close() {
	if c.dev.fd >= 0 {
		_ = c.dev.stream(c.typ, false)
	}
	if c.q != nil {
		c.q.release()
	}
	c.dev.close()
}

// sameCamera reports whether the node at path is the camera card/bus.
func sameCamera(path, card, bus string) bool {
	d, err := openDevice(path)
	if err != nil {
		return false
	}
	defer d.close()
	return d.card() == card && d.busInfo() == bus
}

// findCamera looks for the camera card on bus among /dev/video*, for a
// camera that came back under another node number.
func findCamera(card, bus string) (string, bool) {
	paths, _ := filepath.Glob("/dev/video*")
	for _, p := range paths {
		if sameCamera(p, card, bus) {
			return p, true
		}
	}
	return "", false
}
