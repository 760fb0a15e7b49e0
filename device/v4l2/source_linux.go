package v4l2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"kvskit/media"
	"kvskit/media/h264"
)

// Source is an open camera yielding H.264 frames. ReadFrame is not safe for
// concurrent use; Close, Stats and RequestKeyFrame may be called from any
// goroutine.
type Source struct {
	cfg *config
	log *slog.Logger

	wake   int        // eventfd that interrupts poll in ReadFrame
	wakeMu sync.Mutex // guards writes to wake against its closing
	closed atomic.Bool
	keyReq atomic.Bool

	readMu    sync.Mutex // held by ReadFrame and Close
	closeOnce sync.Once

	statsMu sync.Mutex
	stats   Stats

	// Owned by the reading goroutine (under readMu).
	cam       *camera   // native capture, or nil
	md        *mdCamera // mediadevices capture, or nil
	enc       encoder
	encLayout frameLayout // the camera picture the encoder was set up for
	held      *rawFrame   // picture waiting for room in the encoder
	heldIdx   int         // native: its capture buffer
	heldBuf   []byte      // mediadevices: the captured bytes behind it
	heldFree  func()      // mediadevices: the decoder's release
	camCard   string
	camBus    string
	camPath   string
	clk       clock
	asm       assembler
	tracks    []media.Track
	first     *media.Frame
	lastPTS   time.Duration
	havePTS   bool
	waitKey   bool
	err       error
	opening   context.Context // set while Open waits for the first key frame
	deadline  time.Duration   // monotonic deadline for the first key frame
	warnedPS  bool
}

// Open opens the camera of rawURL (v4l2:///dev/video0?width=1280&height=720&
// fps=30&bitrate=2000000&keyint=60&format=h264|yuyv|nv12|i420|mjpeg&
// encoder=/dev/video11&capture=mediadevices|native), starts capturing, and waits for the first key frame
// to learn the track's parameter sets and size. ctx bounds that wait (15 s
// when it has no deadline); it does not limit the source's lifetime.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Source, error) {
	cfg, err := newConfig(rawURL, opts)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("v4l2: eventfd: %w", err)
	}
	s := &Source{cfg: cfg, log: cfg.log, wake: wake, camPath: cfg.path}
	s.clk = newClock(time.Now(), monoNow())
	if err := s.start(ctx); err != nil {
		s.teardown()
		return nil, err
	}
	return s, nil
}

func (s *Source) start(ctx context.Context) error {
	if err := s.openAt(s.cfg.path); err != nil {
		return err
	}
	if err := s.matchEncoder(); err != nil {
		return err
	}
	// Wait for the first key frame with parameter sets.
	s.opening = ctx
	s.deadline = monoNow() + defaultFirstKey
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = monoNow() + time.Until(dl)
	}
	stop := context.AfterFunc(ctx, s.signal)
	defer func() {
		stop()
		s.opening = nil
	}()
	for {
		u, mono, err := s.nextUnit()
		if err != nil {
			if errors.Is(err, errOpenDeadline) {
				return fmt.Errorf("%w from %s within %v", ErrNoKeyFrame, s.cfg.path, time.Duration(s.deadline-s.clk.mono0).Round(time.Millisecond))
			}
			return err
		}
		if !u.key || !s.asm.ready() {
			s.count(func(st *Stats) { st.Dropped++ })
			continue
		}
		track, err := s.track()
		if err != nil {
			return err
		}
		s.tracks = []media.Track{track}
		// Time zero is the first frame.
		s.clk = newClock(s.clk.origin.Add(mono-s.clk.mono0), mono)
		f := s.frame(u, mono)
		s.first = &f
		return nil
	}
}

// track builds the video track from the current parameter sets.
func (s *Source) track() (media.Track, error) {
	sps, err := h264.ParseSPS(s.asm.sps[0])
	if err != nil {
		return media.Track{}, fmt.Errorf("v4l2: %s: SPS: %w", s.cfg.path, err)
	}
	avcc, err := h264.BuildAVCC(s.asm.sps, s.asm.pps)
	if err != nil {
		return media.Track{}, fmt.Errorf("v4l2: %s: decoder configuration: %w", s.cfg.path, err)
	}
	return media.Track{
		Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, CodecPrivate: avcc,
		Name: s.camCard, Width: sps.Width(), Height: sps.Height(),
	}, nil
}

// newEncoder chooses and starts the encoder for the raw camera's pictures
// (laid out as l, or decoded images of that size when image is set).
func (s *Source) newEncoder(l frameLayout, image bool) (encoder, error) {
	cfg := s.cfg
	fps := cfg.fps
	if f := s.camFPS(); f > 0 {
		fps = f
	}
	if cfg.builder != nil {
		return newSWEncoder("custom", cfg.builder, l.width, l.height, fps)
	}
	name := cfg.encoder
	m2m := func(path string) (encoder, error) {
		return newM2MEncoder(path, m2mParams{coded: pixH264, src: l, image: image, fps: fps, bitrate: cfg.bitrate,
			keyint: cfg.keyInterval(), buffers: cfg.buffers}, s.log)
	}
	switch {
	case strings.HasPrefix(name, "/"):
		return m2m(name)
	case name == "" || name == encoderM2M:
		if path, ok := findM2MEncoder(pixH264); ok {
			return m2m(path)
		}
		if name == encoderM2M {
			return nil, fmt.Errorf("%w: no V4L2 memory-to-memory device produces H.264", ErrNoEncoder)
		}
		for _, n := range Encoders()[1:] {
			name = n
			break
		}
		if name == "" {
			return nil, fmt.Errorf("%w: %s delivers %s, which needs encoding, and there is no V4L2 memory-to-memory H.264 encoder device (such as the Raspberry Pi's bcm2835-codec at /dev/video11) and this build has no software encoder (build with -tags x264 or -tags openh264 and CGO_ENABLED=1), or capture format=h264 from a camera that offers it",
				ErrNoEncoder, s.camPath, fourccString(l.pixfmt))
		}
	}
	factory, ok := softwareEncoders[name]
	if !ok {
		return nil, checkEncoderName(name)
	}
	b, err := factory(cfg.bitrate, cfg.keyInterval())
	if err != nil {
		return nil, fmt.Errorf("v4l2: %s encoder: %w", name, err)
	}
	return newSWEncoder(name, b, l.width, l.height, fps)
}

// openAt opens the camera at path on the path its format takes.
func (s *Source) openAt(path string) error {
	cam, md, err := openCapture(path, s.cfg, s.log, s.signal)
	if err != nil {
		return err
	}
	s.cam, s.md = cam, md
	s.camPath = path
	l, _ := s.camLayout()
	capture := CaptureNative
	if md != nil {
		capture = CaptureMediadevices
	}
	if cam != nil {
		s.camCard, s.camBus = cam.dev.card(), cam.dev.busInfo()
	} else {
		s.camCard, s.camBus = md.card, md.bus
	}
	s.statsMu.Lock()
	s.stats.Device, s.stats.Card, s.stats.Capture = path, s.camCard, string(capture)
	s.stats.PixelFormat = fourccString(l.pixfmt)
	s.stats.Width, s.stats.Height, s.stats.FPS = l.width, l.height, s.camFPS()
	s.statsMu.Unlock()
	return nil
}

// camLayout is the open camera's picture layout, and whether it needs
// encoding.
func (s *Source) camLayout() (frameLayout, bool) {
	if s.md != nil {
		return s.md.lay, true
	}
	return s.cam.layout(), s.cam.fmt.pixfmt != pixH264
}

// camFPS is the rate the open camera's driver accepted (0: unknown).
func (s *Source) camFPS() float64 {
	switch {
	case s.md != nil:
		return s.md.fps
	case s.cam != nil:
		return s.cam.fps
	}
	return 0
}

func (s *Source) setEncoderStats() {
	name := "pass-through"
	if s.enc != nil {
		name = s.enc.name()
	}
	s.statsMu.Lock()
	s.stats.Encoder = name
	s.statsMu.Unlock()
}

func (s *Source) count(f func(*Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.statsMu.Unlock()
}

// Tracks returns the one H.264 video track. The slice must not be modified.
func (s *Source) Tracks() []media.Track { return s.tracks }

// Origin returns the wall-clock time of the first frame: frame PTSs are
// offsets from it.
func (s *Source) Origin() time.Time { return s.clk.origin }

// Stats returns the configuration in use and counters.
func (s *Source) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

// RequestKeyFrame asks the encoder (or an H.264 camera with the control) for
// a key frame soon; it is applied by the reading goroutine.
func (s *Source) RequestKeyFrame() {
	s.keyReq.Store(true)
	s.signal()
}

// ReadFrame returns the next access unit in AVCC form with PTS == DTS
// (offsets from Origin, strictly increasing) and Key set on IDR frames,
// which carry the SPS and PPS. It blocks while the camera is away and being
// reopened. After Close it returns ErrClosed; after any other error every
// call returns that error.
func (s *Source) ReadFrame() (media.Frame, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed.Load() {
		return media.Frame{}, ErrClosed
	}
	if s.err != nil {
		return media.Frame{}, s.err
	}
	if s.first != nil {
		f := *s.first
		s.first = nil
		return f, nil
	}
	for {
		u, mono, err := s.nextUnit()
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				s.err = err
			}
			return media.Frame{}, err
		}
		if s.waitKey && !u.key {
			s.count(func(st *Stats) { st.Dropped++ })
			continue
		}
		s.waitKey = false
		return s.frame(u, mono), nil
	}
}

func (s *Source) frame(u unit, mono time.Duration) media.Frame {
	pts, repaired := monotonize(s.clk.pts(mono), s.lastPTS, s.havePTS)
	s.lastPTS, s.havePTS = pts, true
	if s.asm.changed && !s.warnedPS {
		s.warnedPS = true
		s.log.Warn("v4l2: the camera's parameter sets changed; later key frames carry the new ones in-band", "device", s.camPath)
	}
	s.count(func(st *Stats) {
		st.Frames++
		st.Bytes += uint64(len(u.avcc))
		if u.key {
			st.KeyFrames++
		}
		if repaired {
			st.TimestampRepairs++
		}
	})
	return media.Frame{Track: 1, PTS: pts, DTS: pts, Key: u.key, Data: u.avcc}
}

var (
	errOpenDeadline   = errors.New("v4l2: open deadline")
	errEncoderStalled = errors.New("v4l2: the encoder took no picture")
)

// nextUnit runs the capture (and encoder) until an access unit is ready.
func (s *Source) nextUnit() (unit, time.Duration, error) {
	for {
		if s.closed.Load() {
			return unit{}, 0, ErrClosed
		}
		if s.opening != nil {
			if err := s.opening.Err(); err != nil {
				return unit{}, 0, fmt.Errorf("v4l2: open %s: %w", s.cfg.path, err)
			}
			if monoNow() > s.deadline {
				return unit{}, 0, errOpenDeadline
			}
		}
		if s.keyReq.Swap(false) {
			s.forceKeyFrame()
		}
		if s.enc != nil {
			ef, ok, err := s.enc.receive()
			if err != nil {
				if rerr := s.encoderFailed(err); rerr != nil {
					return unit{}, 0, rerr
				}
				continue
			}
			if ok {
				if u, ok := s.asm.push(ef.data); ok {
					return u, ef.ts, nil
				}
				continue
			}
		}
		if s.cam == nil && s.md == nil {
			if err := s.reconnect(); err != nil {
				return unit{}, 0, err
			}
			continue
		}
		if s.held == nil && s.md != nil {
			if err := s.takePicture(); err != nil {
				return unit{}, 0, err
			}
			if s.md == nil {
				continue // it went away
			}
		} else if s.held == nil {
			d, err := s.cam.q.dequeue()
			switch {
			case err == errWouldBlock:
			case err != nil:
				if rerr := s.cameraFailed(err); rerr != nil {
					return unit{}, 0, rerr
				}
				continue
			case d.flags&bufFlagError != 0:
				s.count(func(st *Stats) { st.Dropped++ })
				if err := s.cam.q.enqueue(d.index, 0, 0); err != nil {
					if rerr := s.cameraFailed(err); rerr != nil {
						return unit{}, 0, rerr
					}
				}
				continue
			default:
				if n := s.cam.skipped(d.seq); n > 0 {
					s.count(func(st *Stats) { st.DriverDrops += n })
				}
				mono := captureTime(d.ts, d.flags, false, monoNow())
				if s.enc == nil {
					u, ok := s.asm.push(d.data)
					if err := s.cam.q.enqueue(d.index, 0, 0); err != nil {
						if rerr := s.cameraFailed(err); rerr != nil {
							return unit{}, 0, rerr
						}
					}
					if ok {
						return u, mono, nil
					}
					continue
				}
				s.held = &rawFrame{data: d.data, layout: s.cam.layout(), ts: mono}
				s.heldIdx = d.index
			}
		}
		if s.held != nil {
			accepted, err := s.enc.send(*s.held)
			if err != nil {
				if rerr := s.encoderFailed(err); rerr != nil {
					return unit{}, 0, rerr
				}
				continue
			}
			if accepted {
				if err := s.releaseHeld(); err != nil {
					if rerr := s.cameraFailed(err); rerr != nil {
						return unit{}, 0, rerr
					}
				}
				continue
			}
		}
		if err := s.wait(); err != nil {
			return unit{}, 0, err
		}
	}
}

// stallTimeout is how long the camera may be silent before it counts as
// gone.
func (s *Source) stallTimeout() time.Duration {
	fps := s.cfg.fps
	if f := s.camFPS(); f > 0 {
		fps = f
	}
	return max(s.cfg.stall, sinceFrames(5, fps))
}

// wait polls the camera, the encoder and the wake eventfd.
func (s *Source) wait() error {
	fds := []unix.PollFd{{Fd: int32(s.wake), Events: unix.POLLIN}}
	camIdx, encIdx := -1, -1
	if s.held == nil && s.cam != nil {
		camIdx = len(fds)
		fds = append(fds, unix.PollFd{Fd: int32(s.cam.dev.fd), Events: unix.POLLIN})
	}
	if s.enc != nil && s.enc.pollFD() >= 0 {
		encIdx = len(fds)
		ev := int16(unix.POLLIN)
		if s.held != nil {
			ev |= unix.POLLOUT
		}
		fds = append(fds, unix.PollFd{Fd: int32(s.enc.pollFD()), Events: ev})
	}
	timeout := s.stallTimeout()
	if s.opening != nil {
		timeout = min(timeout, max(s.deadline-monoNow(), time.Millisecond))
	}
	n, err := poll(fds, timeout)
	if err != nil {
		return fmt.Errorf("v4l2: poll: %w", err)
	}
	if n == 0 {
		if s.opening != nil && monoNow() > s.deadline {
			return errOpenDeadline
		}
		if s.held != nil {
			if rerr := s.encoderFailed(fmt.Errorf("%w for %v", errEncoderStalled, timeout)); rerr != nil {
				return rerr
			}
			return nil
		}
		return s.cameraFailed(fmt.Errorf("%w (%v)", errStalled, timeout))
	}
	if fds[0].Revents != 0 {
		s.drainWake()
	}
	if camIdx >= 0 && fds[camIdx].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 && fds[camIdx].Revents&unix.POLLIN == 0 {
		return s.cameraFailed(errHangup)
	}
	if encIdx >= 0 && fds[encIdx].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 && fds[encIdx].Revents&(unix.POLLIN|unix.POLLOUT) == 0 {
		return s.encoderFailed(fmt.Errorf("%w: poll reported an error", errEncoderStalled))
	}
	return nil
}

// poll waits up to timeout, retrying after signals.
func poll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	ms := int(timeout / time.Millisecond)
	if ms <= 0 {
		ms = 1
	}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

func (s *Source) signal() {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake < 0 {
		return
	}
	var one uint64 = 1
	_, _ = unix.Write(s.wake, (*[8]byte)(unsafe.Pointer(&one))[:])
}

func (s *Source) drainWake() {
	var b [8]byte
	_, _ = unix.Read(s.wake, b[:])
}

// sleep waits for d or until the source is closed.
func (s *Source) sleep(d time.Duration) error {
	if s.closed.Load() {
		return ErrClosed
	}
	fds := []unix.PollFd{{Fd: int32(s.wake), Events: unix.POLLIN}}
	end := monoNow() + d
	for {
		left := end - monoNow()
		if left <= 0 {
			return nil
		}
		n, err := poll(fds, left)
		if err != nil {
			return fmt.Errorf("v4l2: poll: %w", err)
		}
		if n > 0 {
			s.drainWake()
		}
		if s.closed.Load() {
			return ErrClosed
		}
	}
}

func (s *Source) forceKeyFrame() {
	var err error
	switch {
	case s.enc != nil:
		err = s.enc.forceKeyFrame()
	case s.cam != nil:
		err = s.cam.dev.setControl(cidForceKeyFrame, 1)
	}
	if err != nil {
		s.log.Debug("v4l2: key frame request not supported", "err", err)
	}
}

// cameraFailed handles a camera error: one that means the device went away
// closes it so that the next round reopens it; others are returned.
func (s *Source) cameraFailed(err error) error {
	if !isGone(err) {
		return err
	}
	if s.opening != nil {
		return fmt.Errorf("v4l2: %s went away while opening: %w", s.camPath, err)
	}
	s.log.Warn("v4l2: camera lost; reopening", "device", s.camPath, "err", err)
	s.dropCamera()
	return nil
}

func (s *Source) dropCamera() {
	s.dropHeld()
	if s.cam != nil {
		s.cam.close()
		s.cam = nil
	}
	if s.md != nil {
		s.md.close()
		s.md = nil
	}
	s.waitKey = true
}

// takePicture takes the next captured picture of the mediadevices path,
// if there is one, decodes it and holds it for the encoder. A picture that
// does not decode (a damaged JPEG) is dropped.
func (s *Source) takePicture() error {
	var f mdFrame
	select {
	case f = <-s.md.frames:
	default:
		return nil
	}
	if f.err != nil {
		return s.cameraFailed(f.err)
	}
	img, release, err := s.md.decode(f.data)
	if err != nil {
		release()
		s.md.recycle(f.data)
		s.count(func(st *Stats) { st.Dropped++ })
		s.log.Debug("v4l2: picture dropped", "err", err)
		return nil
	}
	s.held = &rawFrame{img: img, fullRange: s.md.lay.pixfmt == pixMJPG, layout: s.md.lay, ts: f.mono}
	s.heldIdx, s.heldBuf, s.heldFree = -1, f.data, release
	return nil
}

// releaseHeld gives the held picture's buffer back to the camera.
func (s *Source) releaseHeld() error {
	if s.held == nil {
		return nil
	}
	idx := s.heldIdx
	s.dropHeld()
	if s.cam != nil && idx >= 0 {
		return s.cam.q.enqueue(idx, 0, 0)
	}
	return nil
}

// dropHeld forgets the held picture, recycling a mediadevices copy.
func (s *Source) dropHeld() {
	if s.heldFree != nil {
		s.heldFree()
	}
	if s.md != nil {
		s.md.recycle(s.heldBuf)
	}
	s.held, s.heldIdx, s.heldBuf, s.heldFree = nil, -1, nil, nil
}

// encoderFailed restarts the encoder after an error from it (a stalled or
// vanished M2M device), or returns the error when that is not possible.
func (s *Source) encoderFailed(err error) error {
	if s.opening != nil || (s.cam == nil && s.md == nil) || !(isGone(err) || errors.Is(err, errEncoderStalled)) {
		return err
	}
	s.log.Warn("v4l2: encoder failed; restarting it", "encoder", s.enc.name(), "err", err)
	s.enc.close()
	s.enc = nil
	// The held picture's buffer goes back to the camera.
	if qerr := s.releaseHeld(); qerr != nil {
		return s.cameraFailed(qerr)
	}
	if nerr := s.matchEncoder(); nerr != nil {
		return fmt.Errorf("%w (restarting the encoder after: %v)", nerr, err)
	}
	s.waitKey = true
	return nil
}

// matchEncoder makes the encoder fit the camera: none for an H.264 camera,
// one set up for the camera's format and size otherwise.
func (s *Source) matchEncoder() error {
	l, raw := s.camLayout()
	if s.enc != nil && (!raw || l != s.encLayout) {
		s.enc.close()
		s.enc = nil
	}
	if raw && s.enc == nil {
		enc, err := s.newEncoder(l, s.md != nil)
		if err != nil {
			return err
		}
		s.enc, s.encLayout = enc, l
	}
	s.setEncoderStats()
	return nil
}

// reconnect reopens the camera with backoff until it is back or the source
// is closed. A camera that came back under another /dev/video number is
// found by its card name and bus.
func (s *Source) reconnect() error {
	backoff := s.cfg.backoffMin
	for attempt := 1; ; attempt++ {
		if err := s.sleep(backoff); err != nil {
			return err
		}
		path := s.cfg.path
		if !sameCamera(path, s.camCard, s.camBus) {
			if p, ok := findCamera(s.camCard, s.camBus); ok {
				path = p
			}
		}
		err := s.openAt(path)
		if err == nil {
			if err := s.matchEncoder(); err != nil {
				s.dropCamera()
				return err
			}
			s.count(func(st *Stats) { st.Reconnects++ })
			s.waitKey = true
			s.forceKeyFrame()
			s.log.Info("v4l2: camera back", "device", path, "attempts", attempt)
			return nil
		}
		s.log.Debug("v4l2: camera not back yet", "device", path, "err", err)
		backoff = min(2*backoff, s.cfg.backoffMax)
	}
}

// Close stops capturing and releases the camera and the encoder. A ReadFrame
// blocked in another goroutine returns ErrClosed. Close is idempotent.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.signal()
		s.readMu.Lock()
		defer s.readMu.Unlock()
		s.teardown()
	})
	return nil
}

// teardown releases everything; the caller holds readMu or owns s alone.
func (s *Source) teardown() {
	if s.enc != nil {
		s.enc.close()
		s.enc = nil
	}
	s.dropCamera()
	s.wakeMu.Lock()
	if s.wake >= 0 {
		unix.Close(s.wake)
		s.wake = -1
	}
	s.wakeMu.Unlock()
}
