package rtsp

import (
	"fmt"
	"log/slog"
	"time"
)

// Transport is the lower transport of the RTP packets.
type Transport int

// Transports.
const (
	// Auto tries UDP and falls back to TCP when the server refuses UDP or no
	// packet arrives over it within a few seconds; the source then stays on
	// TCP.
	Auto Transport = iota
	// UDP receives RTP and RTCP on a pair of UDP ports.
	UDP
	// TCP interleaves RTP and RTCP with RTSP on the TCP connection.
	TCP
)

func (t Transport) String() string {
	switch t {
	case Auto:
		return "auto"
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

// Defaults.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultPacketTimeout = 10 * time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 30 * time.Second
	DefaultUserAgent     = "kvskit-rtsp"
	// DefaultInterleaveWindow is how long ReadFrame waits for a silent track
	// before returning frames of the others.
	DefaultInterleaveWindow = 2 * time.Second
)

// udpWait is how long Auto waits for the first packet over UDP before it
// switches to TCP.
const udpWait = 3 * time.Second

// config is what the options set.
type config struct {
	transport        Transport
	log              *slog.Logger
	minBackoff       time.Duration
	maxBackoff       time.Duration
	timeout          time.Duration
	packetTimeout    time.Duration
	userAgent        string
	interleaveWindow time.Duration
	syncWait         time.Duration
}

// Option configures Open.
type Option func(*config) error

// WithTransport sets the lower transport: Auto (the default), UDP or TCP.
func WithTransport(t Transport) Option {
	return func(c *config) error {
		if t != Auto && t != UDP && t != TCP {
			return fmt.Errorf("%w: transport %d", ErrInvalidOption, int(t))
		}
		c.transport = t
		return nil
	}
}

// WithLogger sets the logger for connection events, reconnects, timestamp
// repairs and parameter set changes. The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.log = l
		return nil
	}
}

// WithReconnectBackoff sets the wait before reconnecting after the camera or
// the network went away: min first, doubling up to max (default 1 s to
// 30 s). The wait returns to min once a session delivered frames.
func WithReconnectBackoff(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return fmt.Errorf("%w: reconnect backoff %v..%v", ErrInvalidOption, min, max)
		}
		c.minBackoff, c.maxBackoff = min, max
		return nil
	}
}

// WithTimeout sets how long each RTSP request may take (default 10 s). After
// PLAY, Open also waits at most this long (plus the few seconds a session
// waits for RTCP sender reports) for the first frames and any parameter sets
// the session description lacks.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: timeout %v", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	}
}

// WithPacketTimeout sets how long the source waits for RTP packets before it
// takes the camera for gone and reconnects (default 10 s).
func WithPacketTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: packet timeout %v", ErrInvalidOption, d)
		}
		c.packetTimeout = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header of the requests.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		for i := 0; i < len(ua); i++ {
			if ua[i] < ' ' || ua[i] == 0x7f {
				return fmt.Errorf("%w: user agent with control characters", ErrInvalidOption)
			}
		}
		c.userAgent = ua
		return nil
	}
}

// WithInterleaveWindow sets how long ReadFrame holds back frames while a
// track has nothing queued, to return frames of all tracks in timestamp
// order (default 2 s). A track silent for longer is not waited for.
func WithInterleaveWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: interleave window %v", ErrInvalidOption, d)
		}
		c.interleaveWindow = d
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		transport:        Auto,
		log:              slog.New(slog.DiscardHandler),
		minBackoff:       DefaultMinBackoff,
		maxBackoff:       DefaultMaxBackoff,
		timeout:          DefaultTimeout,
		packetTimeout:    DefaultPacketTimeout,
		userAgent:        DefaultUserAgent,
		interleaveWindow: DefaultInterleaveWindow,
		syncWait:         defaultSyncWait,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}
