package v4l2

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
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

// openCamera opens cfg.path natively and starts streaming in the
// configured format.
func openCamera(cfg *config, log *slog.Logger) (*camera, error) {
	d, err := openDevice(cfg.path)
	if err != nil {
		return nil, err
	}
	typ, err := captureType(d)
	if err != nil {
		d.close()
		return nil, err
	}
	offered, err := d.enumFormats(typ)
	if err != nil {
		d.close()
		return nil, err
	}
	pixfmt, err := chooseFormat(cfg.format, offered, false)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	c, err := startCamera(d, typ, pixfmt, cfg, log)
	if err != nil {
		d.close()
		return nil, err
	}
	return c, nil
}

// openCapture opens the camera at path and starts streaming: H.264 and the
// raw formats natively, MJPEG (and every raw format with
// capture=mediadevices) through mediadevices. Exactly one of the results is set when err is nil.
func openCapture(path string, cfg *config, log *slog.Logger, wake func()) (*camera, *mdCamera, error) {
	d, err := openDevice(path)
	if err != nil {
		return nil, nil, err
	}
	typ, err := captureType(d)
	if err != nil {
		d.close()
		return nil, nil, err
	}
	offered, err := d.enumFormats(typ)
	if err != nil {
		d.close()
		return nil, nil, err
	}
	if cfg.capture == CaptureMediadevices && typ != bufTypeVideoCapture {
		d.close()
		return nil, nil, fmt.Errorf("%w: %s has a multi-planar capture queue, which mediadevices cannot read; use capture=native", ErrUnsupportedFormat, path)
	}
	if cfg.capture == CaptureMediadevices {
		// Asked for explicitly: a raw format even from an H.264 camera.
		offered = slices.DeleteFunc(offered, func(f fmtDesc) bool { return f.pixfmt == pixH264 })
	}
	// webcam reads single-planar capture queues only; MJPEG is decoded on
	// that path, which is taken for it by default and for every raw format
	// with capture=mediadevices.
	mdOK := cfg.capture != CaptureNative && typ == bufTypeVideoCapture
	pixfmt, err := chooseFormat(cfg.format, offered, mdOK)
	if err != nil {
		d.close()
		return nil, nil, fmt.Errorf("%s: %w", d.path, err)
	}
	md := mdOK && pixfmt != pixH264 && (cfg.capture == CaptureMediadevices || pixfmt == pixMJPG)
	if !md {
		c, err := startCamera(d, typ, pixfmt, cfg, log)
		if err != nil {
			d.close()
			return nil, nil, err
		}
		return c, nil, nil
	}
	defer d.close()
	m, err := openMDCamera(d, pixfmt, cfg, log, wake)
	if err != nil {
		return nil, nil, err
	}
	return nil, m, nil
}

// captureType checks that d is a streaming capture device and returns its
// capture queue type.
func captureType(d *device) (uint32, error) {
	caps := d.caps()
	if caps&(capVideoM2M|capVideoM2MMplane) != 0 || caps&(capVideoCapture|capVideoCaptureMplane) == 0 {
		return 0, fmt.Errorf("%w: %s (%s, capabilities %v)", ErrNotCapture, d.path, d.card(), capNames(caps))
	}
	if caps&capStreaming == 0 {
		return 0, fmt.Errorf("%w: %s does not support streaming I/O", ErrNotCapture, d.path)
	}
	if caps&capVideoCapture == 0 {
		return bufTypeVideoCaptureMplane, nil
	}
	return bufTypeVideoCapture, nil
}

// startCamera sets the format on d's capture queue typ and starts
// streaming natively.
func startCamera(d *device, typ, pixfmt uint32, cfg *config, log *slog.Logger) (*camera, error) {
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
// the first of preferredFormats the camera offers, or MJPEG when mjpeg is
// set (the mediadevices path decodes it).
func chooseFormat(want PixelFormat, offered []fmtDesc, mjpeg bool) (uint32, error) {
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
		if p == pixMJPG && !mjpeg {
			return 0, fmt.Errorf("%w: mjpeg is decoded on the mediadevices capture path only (single-planar cameras, not capture=native)", ErrUnsupportedFormat)
		}
		return p, nil
	}
	for _, p := range preferredFormats {
		if has(p) {
			return p, nil
		}
	}
	if has(pixMJPG) {
		if mjpeg {
			return pixMJPG, nil
		}
		return 0, fmt.Errorf("%w: the camera offers only %s; MJPEG is decoded on the mediadevices capture path only, not with capture=native", ErrUnsupportedFormat, strings.Join(names, ", "))
	}
	return 0, fmt.Errorf("%w: none of %s is usable (want H264, NV12, YU12, YUYV, UYVY or MJPG)", ErrUnsupportedFormat, strings.Join(names, ", "))
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
