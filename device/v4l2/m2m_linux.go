package v4l2

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// m2mEncoder drives a V4L2 stateful memory-to-memory encoder: raw pictures
// go into the OUTPUT queue, coded frames come out of the CAPTURE queue,
// carrying the timestamps given to their pictures.
type m2mEncoder struct {
	d                *device
	outType, capType uint32
	out, cap         *queue
	outFmt           format
	outLayout        frameLayout // the source picture inside the OUTPUT buffers
	free             []int       // OUTPUT buffers we may fill
	log              *slog.Logger
}

type m2mParams struct {
	coded   uint32 // the coded format wanted on CAPTURE (H264; FWHT for vicodec)
	src     frameLayout
	image   bool // the pictures come as decoded images (mediadevices capture)
	fps     float64
	bitrate int
	keyint  int
	raw     uint32 // the OUTPUT format to use; 0 picks one
	buffers int
}

// rawPreference is the order OUTPUT formats are tried in when the camera's
// own format is not taken.
var rawPreference = []uint32{pixI420, pixNV12, pixYUYV}

func newM2MEncoder(path string, p m2mParams, log *slog.Logger) (*m2mEncoder, error) {
	d, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	e := &m2mEncoder{d: d, log: log}
	if err := e.start(p); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *m2mEncoder) start(p m2mParams) error {
	d := e.d
	caps := d.caps()
	switch {
	case caps&capVideoM2MMplane != 0:
		e.outType, e.capType = bufTypeVideoOutputMplane, bufTypeVideoCaptureMplane
	case caps&capVideoM2M != 0:
		e.outType, e.capType = bufTypeVideoOutput, bufTypeVideoCapture
	default:
		return fmt.Errorf("%w: %s (%s, capabilities %v)", ErrNotEncoder, d.path, d.card(), capNames(caps))
	}
	coded, err := d.enumFormats(e.capType)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coded, func(f fmtDesc) bool { return f.pixfmt == p.coded }) {
		return fmt.Errorf("%w: %s (%s) does not produce %s", ErrNotEncoder, d.path, d.card(), fourccString(p.coded))
	}
	rawFmts, err := d.enumFormats(e.outType)
	if err != nil {
		return err
	}
	raw := p.raw
	if raw == 0 {
		raw = pickRaw(p.src.pixfmt, p.image, rawFmts)
	}
	if raw == 0 || !(canConvert(p.src.pixfmt, raw) || p.image && canConvertImage(raw)) {
		return fmt.Errorf("%w: %s takes none of the formats %s converts to", ErrUnsupportedFormat, d.path, fourccString(p.src.pixfmt))
	}
	w, h := p.src.width, p.src.height
	// Coded side first (the stateful encoder interface's order), with a
	// buffer size hint of half a raw picture.
	if _, err := d.setFormat(e.capType, p.coded, w, h, max(w*h*3/4, 256<<10)); err != nil {
		return err
	}
	of, err := d.setFormat(e.outType, raw, w, h, 0)
	if err != nil {
		return err
	}
	if of.pixfmt != raw || of.width < w || of.height < h {
		return fmt.Errorf("%w: %s set %s %dx%d for %s %dx%d", ErrUnsupportedFormat, d.path,
			fourccString(of.pixfmt), of.width, of.height, fourccString(raw), w, h)
	}
	if of.width != w || of.height != h {
		// A padded coded size: the picture is the crop rectangle.
		if err := d.setCrop(bufTypeVideoOutput, w, h); err != nil {
			e.log.Warn("v4l2: encoder pads the picture and takes no crop rectangle", "device", d.path,
				"coded", fmt.Sprintf("%dx%d", of.width, of.height), "err", err)
		}
	}
	if of.stride == 0 {
		of.stride = w
		if raw == pixYUYV || raw == pixUYVY {
			of.stride = 2 * w
		}
	}
	e.outFmt = of
	e.outLayout = frameLayout{pixfmt: raw, width: w, height: h, stride: of.stride, sizeImage: of.sizeImage, planeRows: of.height}
	if _, err := d.setFrameRate(e.outType, p.fps); err != nil {
		e.log.Debug("v4l2: encoder frame rate", "device", d.path, "err", err)
	}
	setCodecControls(d, &config{bitrate: p.bitrate, keyint: p.keyint, fps: p.fps}, e.log)
	n := max(p.buffers, 2)
	if e.out, err = d.setupQueue(e.outType, n); err != nil {
		return err
	}
	if e.cap, err = d.setupQueue(e.capType, n); err != nil {
		return err
	}
	for i := range e.out.bufs {
		e.free = append(e.free, i)
	}
	for i := range e.cap.bufs {
		if err := e.cap.enqueue(i, 0, 0); err != nil {
			return err
		}
	}
	if err := d.stream(e.outType, true); err != nil {
		return err
	}
	return d.stream(e.capType, true)
}

// pickRaw returns the OUTPUT format for pictures in src: src itself when
// the encoder takes it, else the first of rawPreference it takes that src
// (or a decoded image, with image set) converts to, else 0.
func pickRaw(src uint32, image bool, offered []fmtDesc) uint32 {
	has := func(p uint32) bool {
		return slices.ContainsFunc(offered, func(f fmtDesc) bool { return f.pixfmt == p })
	}
	if has(src) && (canConvert(src, src) || image && canConvertImage(src)) {
		return src
	}
	for _, p := range rawPreference {
		if has(p) && (canConvert(src, p) || image && canConvertImage(p)) {
			return p
		}
	}
	return 0
}

func (e *m2mEncoder) reclaim() error {
	for {
		d, err := e.out.dequeue()
		if err == errWouldBlock {
			return nil
		}
		if err != nil {
			return err
		}
		e.free = append(e.free, d.index)
	}
}

func (e *m2mEncoder) send(f rawFrame) (bool, error) {
	if err := e.reclaim(); err != nil {
		return false, err
	}
	if len(e.free) == 0 {
		return false, nil
	}
	i := e.free[len(e.free)-1]
	buf := e.out.bufs[i]
	n := min(e.outFmt.sizeImage, len(buf))
	if n <= 0 {
		n = len(buf)
	}
	var err error
	if f.img != nil {
		err = convertImage(buf[:n], e.outLayout, f.img, f.fullRange)
	} else {
		err = convertFrame(buf[:n], e.outLayout, f.data, f.layout)
	}
	if err != nil {
		return false, err
	}
	if err := e.out.enqueue(i, n, f.ts); err != nil {
		return false, err
	}
	e.free = e.free[:len(e.free)-1]
	return true, nil
}

func (e *m2mEncoder) receive() (encodedFrame, bool, error) {
	for {
		d, err := e.cap.dequeue()
		if err == errWouldBlock {
			return encodedFrame{}, false, nil
		}
		if err != nil {
			return encodedFrame{}, false, err
		}
		data := bytes.Clone(d.data)
		flags, ts := d.flags, d.ts
		if err := e.cap.enqueue(d.index, 0, 0); err != nil {
			return encodedFrame{}, false, err
		}
		if flags&bufFlagError != 0 || len(data) == 0 {
			if flags&bufFlagLast != 0 {
				return encodedFrame{}, false, fmt.Errorf("v4l2: %s: encoder signalled the last buffer", e.d.path)
			}
			continue
		}
		return encodedFrame{
			data: data,
			ts:   captureTime(ts, flags, true, monoNow()),
			key:  flags&bufFlagKeyframe != 0,
		}, true, nil
	}
}

func (e *m2mEncoder) pollFD() int  { return e.d.fd }
func (e *m2mEncoder) name() string { return encoderM2M + " " + e.d.path }

func (e *m2mEncoder) forceKeyFrame() error {
	return e.d.setControl(cidForceKeyFrame, 1)
}

func (e *m2mEncoder) close() error {
	if e.d.fd >= 0 {
		_ = e.d.stream(e.outType, false)
		_ = e.d.stream(e.capType, false)
	}
	if e.out != nil {
		e.out.release()
	}
	if e.cap != nil {
		e.cap.release()
	}
	return e.d.close()
}

// sinceFrames is n frame intervals at fps.
func sinceFrames(n int, fps float64) time.Duration {
	if fps <= 0 {
		return 0
	}
	return time.Duration(float64(n) * float64(time.Second) / fps)
}
