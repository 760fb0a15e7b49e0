package v4l2

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
)

// PixelFormat names the format to capture in.
type PixelFormat string

// Pixel formats Open understands.
const (
	FormatH264  PixelFormat = "h264"  // compressed H.264, passed through
	FormatYUYV  PixelFormat = "yuyv"  // packed 4:2:2, encoded
	FormatNV12  PixelFormat = "nv12"  // 4:2:0, interleaved chroma, encoded
	FormatI420  PixelFormat = "i420"  // 4:2:0 planar (V4L2 "YU12"), encoded
	FormatMJPEG PixelFormat = "mjpeg" // Motion JPEG, decoded and encoded (mediadevices capture only)
)

// Capture names how raw cameras (every format but H.264) are read.
type Capture string

// Capture paths Open understands.
const (
	// CaptureMediadevices reads raw cameras the way
	// github.com/pion/mediadevices' camera driver does on Linux: through
	// github.com/blackjack/webcam, with the pictures decoded by
	// mediadevices/pkg/frame (MJPEG with image/jpeg). It is the only path
	// for MJPEG, and the default for it; other raw formats take it when
	// asked. Frames are stamped with the time they were dequeued, and every
	// picture is decoded into new memory.
	CaptureMediadevices Capture = "mediadevices"
	// CaptureNative reads cameras with this package's own ioctl code, whose
	// frames carry the kernel's buffer timestamps, whose driver drops are
	// counted and whose pictures are converted for the encoder without
	// allocating. It is the default for H.264 (always read this way), YUYV,
	// UYVY, NV12 and I420.
	CaptureNative Capture = "native"
)

func (f PixelFormat) fourcc() (uint32, bool) {
	switch f {
	case FormatH264:
		return pixH264, true
	case FormatYUYV:
		return pixYUYV, true
	case FormatNV12:
		return pixNV12, true
	case FormatI420:
		return pixI420, true
	case FormatMJPEG:
		return pixMJPG, true
	}
	return 0, false
}

// Defaults for what the URL and the options leave unset.
const (
	DefaultWidth        = 1280
	DefaultHeight       = 720
	DefaultFPS          = 30
	DefaultBitrate      = 2_000_000
	DefaultStallTimeout = 5 * time.Second
	defaultBuffers      = 4
	defaultBackoffMin   = 250 * time.Millisecond
	defaultBackoffMax   = 5 * time.Second
	defaultFirstKey     = 15 * time.Second
)

// config is what the URL and the options set.
type config struct {
	path          string
	width, height int
	fps           float64
	bitrate       int
	keyint        int // frames; 0: 2 s worth
	format        PixelFormat
	encoder       string  // "", a device path, or a software encoder name
	capture       Capture // "": the default for the format
	builder       codec.VideoEncoderBuilder
	log           *slog.Logger
	backoffMin    time.Duration
	backoffMax    time.Duration
	stall         time.Duration
	buffers       int
}

func defaultConfig() *config {
	return &config{
		width: DefaultWidth, height: DefaultHeight, fps: DefaultFPS, bitrate: DefaultBitrate,
		log:        slog.New(slog.DiscardHandler),
		backoffMin: defaultBackoffMin, backoffMax: defaultBackoffMax,
		stall: DefaultStallTimeout, buffers: defaultBuffers,
	}
}

// keyInterval is the key-frame interval in frames.
func (c *config) keyInterval() int {
	if c.keyint > 0 {
		return c.keyint
	}
	return max(1, int(math.Round(2*c.fps)))
}

// Option configures Open. Options override the URL's query parameters.
type Option func(*config) error

// WithLogger sets the logger for reconnects, repaired timestamps and
// unsupported encoder controls. The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// WithSize sets the capture size; the driver may pick the nearest it has.
func WithSize(width, height int) Option {
	return func(c *config) error {
		if err := checkSize(width, height); err != nil {
			return err
		}
		c.width, c.height = width, height
		return nil
	}
}

// WithFrameRate sets the frame rate asked of the camera and the encoder.
func WithFrameRate(fps float64) Option {
	return func(c *config) error {
		if err := checkFPS(fps); err != nil {
			return err
		}
		c.fps = fps
		return nil
	}
}

// WithBitrate sets the encoder's target bit rate in bits per second.
func WithBitrate(bps int) Option {
	return func(c *config) error {
		if err := checkBitrate(bps); err != nil {
			return err
		}
		c.bitrate = bps
		return nil
	}
}

// WithKeyFrameInterval sets the distance between key frames in frames
// (default: two seconds' worth).
func WithKeyFrameInterval(frames int) Option {
	return func(c *config) error {
		if err := checkKeyint(frames); err != nil {
			return err
		}
		c.keyint = frames
		return nil
	}
}

// WithPixelFormat sets the capture format. Without it, H.264 is taken when
// the camera offers it, else the first of NV12, I420 and YUYV it offers,
// else MJPEG (except with capture=native).
func WithPixelFormat(f PixelFormat) Option {
	return func(c *config) error {
		if _, ok := f.fourcc(); !ok {
			return fmt.Errorf("%w: pixel format %q (want h264, yuyv, nv12, i420 or mjpeg)", ErrInvalidOption, string(f))
		}
		c.format = f
		return nil
	}
}

// WithEncoderName selects the encoder for raw cameras: the path of a V4L2
// memory-to-memory encoder device (e.g. /dev/video11), "v4l2-m2m" for the
// first such device found, or the name of a software encoder compiled in
// (see Encoders).
func WithEncoderName(name string) Option {
	return func(c *config) error {
		if err := checkEncoderName(name); err != nil {
			return err
		}
		c.encoder = name
		return nil
	}
}

// WithEncoder sets a github.com/pion/mediadevices encoder (for example
// x264.Params or openh264.Params, or one of the caller's own) to encode raw
// cameras with. It must produce H.264 Annex-B access units, one per input
// picture. It takes precedence over the encoder URL parameter.
func WithEncoder(b codec.VideoEncoderBuilder) Option {
	return func(c *config) error {
		if b == nil {
			return fmt.Errorf("%w: nil encoder", ErrInvalidOption)
		}
		c.builder = b
		return nil
	}
}

// WithCapture sets how raw cameras are read (see Capture). H.264 cameras
// are always read natively.
func WithCapture(m Capture) Option {
	return func(c *config) error {
		if err := checkCapture(m); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		c.capture = m
		return nil
	}
}

func checkCapture(m Capture) error {
	if m != CaptureMediadevices && m != CaptureNative {
		return fmt.Errorf("capture %q (want %s or %s)", string(m), CaptureMediadevices, CaptureNative)
	}
	return nil
}

// WithReconnectBackoff sets the first and the longest wait between attempts
// to reopen a camera that went away.
func WithReconnectBackoff(first, longest time.Duration) Option {
	return func(c *config) error {
		if first <= 0 || longest < first {
			return fmt.Errorf("%w: backoff %v..%v", ErrInvalidOption, first, longest)
		}
		c.backoffMin, c.backoffMax = first, longest
		return nil
	}
}

// WithStallTimeout sets how long the camera may deliver no frame before it
// is treated as gone and reopened (default 5 s, at least 5 frame
// intervals).
func WithStallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: stall timeout %v", ErrInvalidOption, d)
		}
		c.stall = d
		return nil
	}
}

// WithBuffers sets the number of capture buffers (2..32, default 4).
func WithBuffers(n int) Option {
	return func(c *config) error {
		if n < 2 || n > 32 {
			return fmt.Errorf("%w: %d buffers (want 2..32)", ErrInvalidOption, n)
		}
		c.buffers = n
		return nil
	}
}

func checkSize(w, h int) error {
	if w < 16 || h < 16 || w > 16384 || h > 16384 || w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("%w: size %dx%d (want even sizes in 16..16384)", ErrInvalidOption, w, h)
	}
	return nil
}

func checkFPS(fps float64) error {
	if !(fps > 0) || fps > 1000 || math.IsInf(fps, 0) {
		return fmt.Errorf("%w: frame rate %v (want 0 < fps <= 1000)", ErrInvalidOption, fps)
	}
	return nil
}

func checkBitrate(bps int) error {
	if bps < 1000 || bps > 1_000_000_000 {
		return fmt.Errorf("%w: bit rate %d (want 1000..1000000000)", ErrInvalidOption, bps)
	}
	return nil
}

func checkKeyint(n int) error {
	if n < 1 || n > 100000 {
		return fmt.Errorf("%w: key-frame interval %d (want 1..100000 frames)", ErrInvalidOption, n)
	}
	return nil
}

func checkEncoderName(name string) error {
	if name == "" || name == encoderM2M || strings.HasPrefix(name, "/") {
		return nil
	}
	if _, ok := softwareEncoders[name]; ok {
		return nil
	}
	if name == "x264" || name == "openh264" {
		return fmt.Errorf("%w: encoder %q is not in this build (build with -tags %s and CGO_ENABLED=1)", ErrNoEncoder, name, name)
	}
	return fmt.Errorf("%w: encoder %q (want a device path, %q or one of %v)", ErrInvalidOption, name, encoderM2M, Encoders())
}

// parseURL reads v4l2:///dev/video0?width=..&height=..&fps=..&bitrate=..&
// keyint=..&format=..&encoder=..&capture=.. into c. A bare absolute path is accepted
// too.
func parseURL(raw string, c *config) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	switch {
	case u.Scheme == "v4l2":
	case u.Scheme == "" && strings.HasPrefix(raw, "/"):
	default:
		return fmt.Errorf("%w: %q: scheme must be v4l2 (v4l2:///dev/video0)", ErrInvalidURL, raw)
	}
	if u.Host != "" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("%w: %q: want v4l2:///dev/videoN (three slashes, no host)", ErrInvalidURL, raw)
	}
	if u.Path == "" || !strings.HasPrefix(u.Path, "/") || path.Clean(u.Path) != u.Path {
		return fmt.Errorf("%w: %q: device path must be absolute and clean", ErrInvalidURL, raw)
	}
	c.path = u.Path
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("%w: query: %v", ErrInvalidURL, err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return fmt.Errorf("%w: parameter %q given %d times", ErrInvalidURL, k, len(vs))
		}
		v := vs[0]
		var err error
		switch k {
		case "width", "height":
			var n int
			if n, err = strconv.Atoi(v); err == nil {
				if k == "width" {
					c.width = n
				} else {
					c.height = n
				}
			}
		case "fps":
			var f float64
			if f, err = strconv.ParseFloat(v, 64); err == nil {
				err = checkFPS(f)
				c.fps = f
			}
		case "bitrate":
			var n int
			if n, err = strconv.Atoi(v); err == nil {
				err = checkBitrate(n)
				c.bitrate = n
			}
		case "keyint":
			var n int
			if n, err = strconv.Atoi(v); err == nil {
				err = checkKeyint(n)
				c.keyint = n
			}
		case "format":
			f := PixelFormat(strings.ToLower(v))
			if _, ok := f.fourcc(); !ok {
				err = fmt.Errorf("%q (want h264, yuyv, nv12, i420 or mjpeg)", v)
			}
			c.format = f
		case "encoder":
			err = checkEncoderName(v)
			c.encoder = v
		case "capture":
			m := Capture(strings.ToLower(v))
			err = checkCapture(m)
			c.capture = m
		default:
			err = fmt.Errorf("unknown parameter (known: width, height, fps, bitrate, keyint, format, encoder, capture)")
		}
		if err != nil {
			return fmt.Errorf("%w: %s=%s: %w", ErrInvalidURL, k, v, err)
		}
	}
	return checkSize(c.width, c.height)
}

// newConfig applies the URL, then the options.
func newConfig(raw string, opts []Option) (*config, error) {
	c := defaultConfig()
	if err := parseURL(raw, c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.format == FormatMJPEG && c.capture == CaptureNative {
		return nil, fmt.Errorf("%w: mjpeg is decoded on the mediadevices capture path only, not with capture=native", ErrUnsupportedFormat)
	}
	if c.format == FormatH264 && c.capture == CaptureMediadevices {
		return nil, fmt.Errorf("%w: capture=mediadevices cannot deliver compressed H.264; h264 is passed through natively", ErrInvalidOption)
	}
	if c.format == FormatH264 && (c.encoder != "" || c.builder != nil) {
		return nil, fmt.Errorf("%w: an encoder was given for an H.264 (pass-through) capture", ErrInvalidOption)
	}
	return c, nil
}

// fpsFraction turns a frame rate into a time per frame fraction, exact for
// whole rates and for the NTSC rates (29.97 -> 1001/30000).
func fpsFraction(fps float64) (num, den uint32) {
	if r := math.Round(fps); fps == r {
		return 1, uint32(r)
	}
	if n := fps * 1001 / 1000; math.Abs(n-math.Round(n)) < 0.001 {
		return 1001, uint32(math.Round(n) * 1000)
	}
	return 1000, uint32(math.Round(fps * 1000))
}
