package producer

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"kvskit/media"
	"kvskit/producer/spool"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Defaults of Config.
const (
	DefaultFragmentDuration      = 2 * time.Second
	DefaultBufferDuration        = 120 * time.Second
	DefaultBufferBytes           = 128 << 20
	DefaultMaxBytesPerSecond     = 12.5e6
	DefaultMaxFragmentsPerSecond = 5
	DefaultSessionRotation       = 40 * time.Minute
	DefaultIdleFlush             = 20 * time.Second
	DefaultConnectionStaleness   = 30 * time.Second
	DefaultRetryBase             = time.Second
	DefaultRetryMax              = 16 * time.Second
	DefaultEndpointTTL           = 40 * time.Minute
	defaultRegion                = "us-east-1"
)

// Config configures a Producer. Only StreamName is required.
type Config struct {
	// StreamName names the stream (1-256 of [a-zA-Z0-9_.-]).
	StreamName string
	// Region defaults to the AWS config chain's region, else us-east-1.
	Region string
	// EndpointURL overrides the control-plane base URL (for example the URL
	// of `kvs serve`); empty means AWS's regional endpoint.
	EndpointURL string
	// Credentials; nil means the aws-sdk-go-v2 default chain (environment,
	// shared profile, SSO, container, IMDS). Credentials are cached and
	// refreshed before they expire, and after a 401/403.
	Credentials aws.CredentialsProvider
	// Profile selects the shared-config profile of the default chain.
	Profile string
	// HTTPClient carries every request. The default is the producer's own
	// HTTP/1.1-only client (ForceAttemptHTTP2 off, empty TLSNextProto), as
	// PutMedia requires, honouring the AWS config's CA bundle; Close releases
	// its connections. A client given here must not negotiate HTTP/2.
	HTTPClient *http.Client

	// CreateStream creates the stream when it does not exist, with
	// RetentionHours of retention (0: nothing kept) and Tags.
	CreateStream   bool
	RetentionHours int
	// Tags are put on the stream (at creation, or with TagStream when it
	// already exists).
	Tags map[string]string

	// StartTime is the producer time of the frames' origin (PTS 0): a
	// fragment's producer timestamp is StartTime + its start. Default
	// time.Now() at New. It is used with millisecond precision.
	StartTime time.Time
	// FragmentDuration is the target fragment length (default 2 s).
	FragmentDuration time.Duration
	// BufferDuration and BufferBytes bound the fragments kept until they are
	// acknowledged (defaults 120 s and 128 MB).
	BufferDuration time.Duration
	BufferBytes    int64
	// Block selects what happens when the buffer is full: true (uploading
	// files) makes WriteFrame wait for room; false (live sources) drops the
	// oldest whole unacknowledged fragments and reports them.
	Block bool
	// ResumeAfter, when set, skips the fragments whose producer timestamp is
	// not after it: an earlier upload of the same input, with the same
	// StartTime and FragmentDuration (so the same cuts), persisted them.
	// They are counted in Stats.AlreadyPersisted and never sent.
	ResumeAfter time.Time

	// SpoolDir, when set, keeps every closed fragment on disk (package
	// kvskit/producer/spool, one directory per stream) from its closing until
	// it is acknowledged, so that an outage longer than the memory bounds or
	// a crash or power cut of the process loses nothing: a fragment is sent
	// only once written, and New uploads the fragments an earlier run left
	// there first, oldest first, with their own producer timestamps. In live
	// mode (Block false) BufferBytes and BufferDuration then bound only the
	// fragments kept in memory: older ones are read back from the spool when
	// their turn comes, and fragments are dropped (oldest first, reported)
	// only when the spool is full.
	SpoolDir string
	// SpoolMaxBytes bounds the spool's files (default 1 GiB).
	SpoolMaxBytes int64
	// SpoolNoSync skips the fsync of each spool file and of the directory:
	// a crash of the process still loses nothing, a power cut may.
	SpoolNoSync bool

	// SegmentUID is the 16-byte Matroska SegmentUID, kept across the
	// sessions of the stream (default random per Producer).
	SegmentUID []byte

	// Logger receives diagnostics (default: discarded).
	Logger *slog.Logger
	// OnEvent is called from the producer's goroutines, in order, without
	// locks held; it must not block and must not call Close (Stats is fine).
	OnEvent func(Event)
	// ReleaseFrame, when set, is called once for every frame whose Data the
	// producer no longer needs: its fragment was acknowledged, refused,
	// dropped from the buffer, or discarded by DiscardOpen (frames still
	// buffered when Close returns are not released). The caller may then
	// reuse the Data, for example for the next frames of its source. It is
	// called from the producer's goroutines with the producer's lock held:
	// it must be quick and must not call the producer.
	ReleaseFrame func(media.Frame)

	// MaxBytesPerSecond and MaxFragmentsPerSecond pace the upload so the
	// service never has to throttle it. 0 means the service limits (12.5 MB/s
	// and 5 fragments/s); a negative value means unlimited.
	MaxBytesPerSecond     float64
	MaxFragmentsPerSecond float64

	// SessionRotation renews the PutMedia session before it reaches this age
	// (default 40 min; the service ends connections at 45 min).
	SessionRotation time.Duration
	// IdleFlush closes the open fragment after this long without frames so it
	// is sent and acknowledged (default 20 s; negative disables).
	IdleFlush time.Duration
	// ConnectionStaleness ends a session that has fragments in flight but
	// received no ACK for this long (default 30 s), and reconnects.
	ConnectionStaleness time.Duration
	// RetryBase and RetryMax shape the reconnect backoff: RetryBase * 2^n,
	// capped at RetryMax, with full jitter (defaults 1 s and 16 s).
	RetryBase time.Duration
	RetryMax  time.Duration

	// Now is the clock used for signing, events and latencies (default
	// time.Now).
	Now func() time.Time
}

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`) // length checked apart: counted repetitions compile large

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.StreamName) > 256 || !streamNameRE.MatchString(c.StreamName) {
		return c, fmt.Errorf("%w: stream name %q must be 1-256 of [a-zA-Z0-9_.-]", ErrInvalidConfig, c.StreamName)
	}
	if c.RetentionHours < 0 {
		return c, fmt.Errorf("%w: negative RetentionHours", ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StartTime.IsZero() {
		c.StartTime = c.Now()
	}
	c.StartTime = c.StartTime.Round(0).Truncate(time.Millisecond)
	if c.StartTime.UnixMilli() < 0 {
		return c, fmt.Errorf("%w: StartTime %v is before 1970", ErrInvalidConfig, c.StartTime)
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.FragmentDuration, DefaultFragmentDuration)
	setDur(&c.BufferDuration, DefaultBufferDuration)
	setDur(&c.SessionRotation, DefaultSessionRotation)
	setDur(&c.IdleFlush, DefaultIdleFlush)
	setDur(&c.ConnectionStaleness, DefaultConnectionStaleness)
	setDur(&c.RetryBase, DefaultRetryBase)
	setDur(&c.RetryMax, DefaultRetryMax)
	if c.FragmentDuration < 0 || c.BufferDuration < 0 || c.SessionRotation < 0 ||
		c.ConnectionStaleness < 0 || c.RetryBase < 0 || c.RetryMax < 0 {
		return c, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = c.RetryBase
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.BufferBytes < 0 {
		return c, fmt.Errorf("%w: negative BufferBytes", ErrInvalidConfig)
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = spool.DefaultMaxBytes
	}
	if c.SpoolMaxBytes < 0 {
		return c, fmt.Errorf("%w: negative SpoolMaxBytes", ErrInvalidConfig)
	}
	if c.MaxBytesPerSecond == 0 {
		c.MaxBytesPerSecond = DefaultMaxBytesPerSecond
	}
	if c.MaxFragmentsPerSecond == 0 {
		c.MaxFragmentsPerSecond = DefaultMaxFragmentsPerSecond
	}
	if c.SegmentUID == nil {
		c.SegmentUID = make([]byte, 16)
		if _, err := rand.Read(c.SegmentUID); err != nil {
			return c, fmt.Errorf("producer: segment uid: %w", err)
		}
	} else if len(c.SegmentUID) != 16 {
		return c, fmt.Errorf("%w: SegmentUID has %d bytes, want 16", ErrInvalidConfig, len(c.SegmentUID))
	} else {
		c.SegmentUID = append([]byte(nil), c.SegmentUID...)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// FragmentBuffering: the service started receiving the fragment.
	FragmentBuffering EventType = iota + 1
	// FragmentReceived: the service received the whole fragment.
	FragmentReceived
	// FragmentPersisted: the fragment is durably stored.
	FragmentPersisted
	// FragmentError: the service reported an ERROR for the fragment (or the
	// session, when Fragment and Timecode are zero).
	FragmentError
	// FragmentDropped: the fragment was dropped from a full buffer.
	FragmentDropped
	// SessionStarted: a PutMedia session was accepted.
	SessionStarted
	// SessionEnded: a PutMedia session ended (Err says why, nil when cleanly).
	SessionEnded
	// Reconnecting: a new session will be tried after Latency (the backoff).
	Reconnecting
	// StreamReady: the stream is described and its endpoint known.
	StreamReady
)

var eventNames = [...]string{
	FragmentBuffering: "FragmentBuffering", FragmentReceived: "FragmentReceived",
	FragmentPersisted: "FragmentPersisted", FragmentError: "FragmentError",
	FragmentDropped: "FragmentDropped", SessionStarted: "SessionStarted",
	SessionEnded: "SessionEnded", Reconnecting: "Reconnecting", StreamReady: "StreamReady",
}

func (t EventType) String() string {
	if t > 0 && int(t) < len(eventNames) {
		return eventNames[t]
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event reports progress of the upload.
type Event struct {
	Type EventType
	// Fragment is the fragment's sequence number (fragment.Fragment.Seq).
	Fragment uint64
	// Number is the fragment number the service assigned.
	Number string
	// Timecode is the fragment's cluster timecode, ms since the epoch.
	Timecode int64
	// ErrorID and ErrorCode are set for FragmentError.
	ErrorID   int
	ErrorCode string
	Err       error
	// Latency is, for FragmentPersisted, the time from the fragment's
	// closing to its PERSISTED ACK; for Reconnecting, the backoff.
	Latency time.Duration
	Time    time.Time
}

// Stats are the producer's counters.
type Stats struct {
	// Frames accepted by WriteFrame.
	Frames uint64
	// FramesSkipped counts accepted frames the fragmenter dropped while
	// waiting for a video key frame (before the first one, and after an
	// idle flush); FramesSkippedVideo the video frames among them (the
	// others are frames of other tracks too far ahead of the key frame, or
	// with no key frame after them); FramesRepaired those whose timestamps
	// it adjusted.
	FramesSkipped      uint64
	FramesSkippedVideo uint64
	FramesRepaired     uint64
	// Fragments closed and buffered.
	Fragments uint64
	// FragmentsSent counts fragment transmissions, duplicates included.
	FragmentsSent uint64
	// Buffering, Received and Persisted count ACK events.
	Buffering uint64
	Received  uint64
	Persisted uint64
	// Errors counts ERROR ACKs; Failed the fragments refused for good.
	Errors uint64
	Failed uint64
	// Dropped counts fragments dropped from a full buffer (whole GOPs,
	// oldest first), FramesDropped the frames in them.
	Dropped       uint64
	FramesDropped uint64
	// Duplicates counts fragments sent again whole after an earlier session
	// had sent them whole without an acknowledgement (lost with its
	// connection): the ones the endpoint may hold already. A fragment cut
	// off mid-way and sent again is not one.
	Duplicates uint64
	// BytesSent counts PutMedia body bytes.
	BytesSent int64
	// Sessions counts PutMedia sessions started; Reconnects the ones started
	// after a failure.
	Sessions   uint64
	Reconnects uint64
	// LastPersistedLatency is the latest time from a fragment's closing to
	// its PERSISTED ACK.
	LastPersistedLatency time.Duration
	// BufferFragments counts the fragments held until acknowledged;
	// BufferBytes and BufferDuration describe those of them held in memory.
	BufferFragments int
	BufferBytes     int64
	BufferDuration  time.Duration

	// AlreadyPersisted counts the fragments skipped by Config.ResumeAfter.
	AlreadyPersisted uint64

	// With a spool (Config.SpoolDir): Spooled counts fragments written to
	// it; SpoolFragments and SpoolBytes describe its files now; Recovered
	// counts the fragments an earlier run left in it, found by New;
	// SpoolDropped the fragments the full spool dropped (counted in Dropped
	// too); SpoolCorrupt the damaged files found (deleted) and SpoolLost the
	// fragments lost with them; SpoolErrors the fragments that could not be
	// written (kept in memory only).
	Spooled        uint64
	SpoolFragments int
	SpoolBytes     int64
	Recovered      uint64
	SpoolDropped   uint64
	SpoolCorrupt   uint64
	SpoolLost      uint64
	SpoolErrors    uint64
}
