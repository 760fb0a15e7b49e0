package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"kvskit/device"
	"kvskit/media"
	"kvskit/producer"
	"kvskit/producer/spool"
)

// defaultRetentionHours is the data retention of a stream that kvs creates
// when none is given, by flag (--retention) or in a --config file
// (retention_hours): 0 would make a stream that stores nothing.
const defaultRetentionHours = 24

// cameraConfig is one capture: a source streamed into a stream.
type cameraConfig struct {
	Source         string `yaml:"source"`
	Stream         string `yaml:"stream"`
	CreateStream   bool   `yaml:"create_stream"`
	RetentionHours *int   `yaml:"retention_hours"` // nil: defaultRetentionHours
	// FragmentDuration 0 means the producer's default (2 s).
	FragmentDuration time.Duration     `yaml:"fragment_duration"`
	Tags             map[string]string `yaml:"tags"`
	// Spool is the spool directory shared by the cameras; each camera's
	// fragments go to its own subdirectory, named after its stream.
	Spool    string   `yaml:"spool"`
	SpoolMax byteSize `yaml:"spool_max"`
}

// spoolDir is the camera's own spool directory, or "" without a spool.
func (c cameraConfig) spoolDir() string {
	if c.Spool == "" {
		return ""
	}
	return filepath.Join(c.Spool, c.Stream)
}

// retention returns the retention for a created stream.
func (c cameraConfig) retention() int {
	if c.RetentionHours == nil {
		return defaultRetentionHours
	}
	return *c.RetentionHours
}

// captureConfig is the --config file: several cameras, each to its own stream.
type captureConfig struct {
	Cameras []cameraConfig `yaml:"cameras"`
}

// loadCaptureConfig reads the --config file; spool and spoolMax (the
// --spool and --spool-max flags) apply to cameras that do not set their own.
func loadCaptureConfig(path, spool string, spoolMax byteSize) (captureConfig, error) {
	var c captureConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if len(c.Cameras) == 0 {
		return c, fmt.Errorf("config %s: no cameras", path)
	}
	seen := map[string]bool{}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		if cam.Spool == "" {
			cam.Spool = spool
		}
		if cam.SpoolMax == 0 {
			cam.SpoolMax = spoolMax
		}
		if cam.Source == "" || cam.Stream == "" {
			return c, fmt.Errorf("config %s: camera %d needs source and stream", path, i+1)
		}
		if seen[cam.Stream] {
			return c, fmt.Errorf("config %s: stream %q appears twice (one connection per stream)", path, cam.Stream)
		}
		if cam.retention() < 0 {
			return c, fmt.Errorf("config %s: camera %d (%s): retention_hours %d is negative", path, i+1, cam.Stream, cam.retention())
		}
		if cam.FragmentDuration < 0 {
			return c, fmt.Errorf("config %s: camera %d (%s): fragment_duration %v is negative", path, i+1, cam.Stream, cam.FragmentDuration)
		}
		seen[cam.Stream] = true
	}
	return c, nil
}

type captureOptions struct {
	client         clientOptions
	cam            cameraConfig
	config         string
	metricsListen  string
	bufferDuration time.Duration
}

func newCaptureCmd() *cobra.Command {
	var o captureOptions
	cmd := &cobra.Command{
		Use:   "capture --source URI --stream NAME",
		Short: "Stream live sources (V4L2 and RTSP cameras, test pattern) into KVS, as a service",
		Long: `Capture live video and stream it into KVS until SIGINT/SIGTERM, which flush
the open fragment and wait for its acknowledgement. Sources:
  v4l2:///dev/video0?width=1280&height=720&fps=30&bitrate=2000000&keyint=60
                                   a V4L2 camera (H.264 pass-through, or encoded)
  rtsp://user:pass@host:554/path   an RTSP camera (UDP, falling back to TCP)
  test://                          the sample clip looped at its real rate
  test:///path/to/clip.mkv         a file (under 64 MB) looped at its real rate
Sources that fail are reopened with backoff; a full buffer drops the oldest
fragments (reported) rather than falling behind. An endpoint that cannot be
reached when kvs capture starts is tried again with backoff (1 s doubling to
30 s, a log line per attempt) while the frames captured meanwhile are held,
up to --buffer-duration (whole key-frame groups are dropped beyond it,
oldest first, and counted). --config FILE (YAML) runs
several cameras:
  cameras:
    - source: rtsp://cam1.local/stream
      stream: cam1
      create_stream: true
      retention_hours: 24      # the default, as for --retention
A stream with retention 0 stores nothing: kvs warns when it writes to one.
--spool DIR keeps every fragment on disk (in DIR/STREAM, one subdirectory per
camera; "spool:" and "spool_max:" in --config) from its capture until KVS has
persisted it: an outage of any length up to --spool-max loses nothing (only
the newest 30 s stay in memory), the oldest fragments are dropped (and
counted) when the spool is full, and after a crash, kill or power cut the next
run uploads what was left, oldest first, while capturing. Each fragment file is
fsynced before it is sent.
With --metrics-listen, /healthz answers 200 while every camera has had a
fragment acknowledged recently (persisted; received, for a stream that stores
nothing), else 503; its JSON body names each camera's problem. /metrics serves
Prometheus counters; both report the fragments and frames dropped and the
fragments sent twice. The Go garbage
collector runs at GOGC=25 (less memory for a little CPU) unless GOGC is set.
When every source passes its video through (RTSP, test://), Go runs one
processor per 16 cameras (GOMAXPROCS), which spares it waking a second thread
for every frame; with a V4L2 source, which may encode, it keeps one per CPU.
GOMAXPROCS in the environment overrides both. Kept on one core as well
(taskset -c 0 kvs capture ..., or CPUAffinity= in a systemd unit, as
samples/systemd does), a pass-through capture spends about a fifth less CPU.
Exit status: 0 when stopped (SIGINT/SIGTERM) with every captured fragment
persisted; 1 when it cannot run (flags, configuration, an invalid stream
name); 3 when it stopped having dropped or lost media (dropped from a full
buffer, refused by the service, never sent or unacknowledged at the end),
which its last line counts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			var cams []cameraConfig
			switch {
			case o.config != "":
				c, err := loadCaptureConfig(o.config, o.cam.Spool, o.cam.SpoolMax)
				if err != nil {
					return err
				}
				cams = c.Cameras
			case o.cam.Source != "" && o.cam.Stream != "":
				cams = []cameraConfig{o.cam}
			default:
				return errors.New("give --source and --stream, or --config FILE")
			}
			return runCapture(cmd.Context(), o, cams, log)
		},
	}
	o.client.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.cam.Source, "source", "", "source URI (v4l2://..., rtsp://..., test://)")
	f.StringVar(&o.cam.Stream, "stream", "", "stream name")
	f.BoolVar(&o.cam.CreateStream, "create-stream", false, "create the stream if it does not exist")
	o.cam.RetentionHours = new(int)
	f.IntVar(o.cam.RetentionHours, "retention", defaultRetentionHours, "data retention in hours for a created stream (0: a stream that stores nothing)")
	f.DurationVar(&o.cam.FragmentDuration, "fragment-duration", 2*time.Second, "target fragment duration")
	f.StringVar(&o.cam.Spool, "spool", "", "directory that keeps fragments on disk until persisted (DIR/STREAM per camera)")
	o.cam.SpoolMax = byteSize(spool.DefaultMaxBytes)
	f.Var(&o.cam.SpoolMax, "spool-max", "size bound of each camera's spool (e.g. 500M, 20G)")
	f.StringVar(&o.config, "config", "", "YAML file listing several cameras")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "address for /healthz and /metrics (e.g. 127.0.0.1:9110)")
	f.DurationVar(&o.bufferDuration, "buffer-duration", producer.DefaultBufferDuration,
		"media held in memory per camera while the endpoint is unreachable or slow; beyond it the oldest is dropped")
	return cmd
}

// spoolMemoryWindow is the media a camera with a spool keeps in memory;
// older fragments wait on disk.
const spoolMemoryWindow = 30 * time.Second

// memoryWindow is the producer's BufferDuration: spoolMemoryWindow with a
// spool, else --buffer-duration.
func (c *camera) memoryWindow() time.Duration {
	if c.cfg.Spool != "" {
		return spoolMemoryWindow
	}
	return c.hold
}

// errMediaLost ends a capture that dropped or lost media; kvs exits with
// exitMediaLost when every camera that failed lost media.
var errMediaLost = errors.New("media lost")

// exitMediaLost is the exit status of a capture that ended having dropped or
// lost media.
const exitMediaLost = 3

// connectTimeout bounds one attempt to prepare the upload (describe or
// create the stream, find its endpoint).
const connectTimeout = 30 * time.Second

// camera is one running capture and its counters.
type camera struct {
	cfg     cameraConfig
	hold    time.Duration // media held while no upload is ready
	log     *slog.Logger
	started time.Time

	mu              sync.Mutex
	prod            *producer.Producer
	sourceOpens     int
	sourceErrors    int
	connectAttempts int
	framesHeld      int
	framesDropped   uint64 // held frames dropped (endpoint unreachable too long)
	lastPersisted   time.Time
	lastReceived    time.Time
	persistLatency  time.Duration
	state           string
	lastErr         string // the latest source or fragment error
}

func (c *camera) set(f func(c *camera)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func runCapture(ctx context.Context, o captureOptions, cams []cameraConfig, log *slog.Logger) error {
	log.Debug("garbage collector target", "gogc", tuneGCForStreaming())
	sources := make([]string, len(cams))
	for i, c := range cams {
		sources[i] = c.Source
	}
	log.Debug("go processors", "gomaxprocs", tuneProcsForCapture(sources))
	if o.bufferDuration <= 0 {
		return fmt.Errorf("--buffer-duration %s: must be positive", o.bufferDuration)
	}
	cfg, endpoint, err := o.client.resolve(ctx)
	if err != nil {
		return err
	}
	var running []*camera
	for _, cc := range cams {
		running = append(running, &camera{cfg: cc, hold: o.bufferDuration, log: log.With("stream", cc.Stream),
			started: time.Now(), state: "starting"})
	}
	if o.metricsListen != "" {
		ln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		hs := &http.Server{Handler: metricsHandler(running), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		log.Info("metrics listening", "addr", ln.Addr().String())
	}
	var wg sync.WaitGroup
	errs := make([]error, len(running))
	for i, c := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.run(ctx, cfg, endpoint)
		}()
	}
	wg.Wait()
	err = errors.Join(errs...)
	for _, e := range errs {
		if e != nil && !errors.Is(e, errMediaLost) {
			return err // one that could not run: status 1
		}
	}
	if err != nil {
		return exitError{code: exitMediaLost, err: err}
	}
	return nil
}

// run streams one camera until ctx ends, reopening the source when it fails.
// Until the upload is ready (the endpoint may be unreachable at start) the
// frames are held, within c.hold. It returns an error wrapping errMediaLost
// when media was dropped or lost.
func (c *camera) run(parent context.Context, awsCfg aws.Config, endpoint string) (runErr error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	backoff := time.Second
	var (
		p         *producer.Producer
		origin    time.Time
		hold      = frameHold{maxDur: c.hold, maxBytes: producer.DefaultBufferBytes}
		ready     = make(chan *producer.Producer, 1)
		fatal     = make(chan error, 1)
		connector sync.WaitGroup
		started   bool
	)
	// Acknowledged frames go back to the source being read (any source's
	// pool takes any frame's memory), so a steady capture allocates little.
	var cur atomic.Value // recyclerBox
	release := func(f media.Frame) {
		if b, ok := cur.Load().(recyclerBox); ok && b.r != nil {
			b.r.Recycle(f)
		}
	}
	// deliver hands held frames, then fr (when given), to the upload.
	deliver := func(fr *media.Frame) {
		for _, h := range hold.take() {
			if err := p.WriteFrame(ctx, h); err != nil {
				c.log.Warn("frame refused", "err", err)
			}
		}
		c.set(func(c *camera) { c.framesHeld = 0 })
		if fr != nil {
			if err := p.WriteFrame(ctx, *fr); err != nil && ctx.Err() == nil {
				c.log.Warn("frame refused", "err", err)
			}
		}
	}
	defer func() {
		cancel()
		connector.Wait()
		if p == nil {
			select {
			case p = <-ready:
			default:
			}
		}
		if p == nil {
			if runErr == nil && hold.len() > 0 {
				runErr = fmt.Errorf("stream %s: %w: the endpoint was never reached; %d frames captured were not sent",
					c.cfg.Stream, errMediaLost, hold.len())
			}
			return
		}
		if hold.len() > 0 {
			deliver(nil)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		closeErr := p.Close(cctx)
		if closeErr != nil {
			c.log.Error("closing the upload", "err", closeErr)
		}
		st := p.Stats()
		c.mu.Lock()
		framesDropped := c.framesDropped
		c.mu.Unlock()
		unsent := notDelivered(closeErr)
		c.log.Info("capture stopped", "frames", st.Frames, "persisted", st.Persisted, "dropped", st.Dropped,
			"failed", st.Failed, "duplicates", st.Duplicates, "frames_dropped", framesDropped+st.FramesDropped,
			"unacknowledged", unsent, "spooled_left", st.SpoolFragments, "spool_corrupt", st.SpoolCorrupt)
		// Each damaged spool file (found at start or when read back) is a
		// fragment lost.
		if runErr == nil && (unsent > 0 || st.Dropped > 0 || st.Failed > 0 || st.SpoolCorrupt > 0 || framesDropped > 0) {
			runErr = fmt.Errorf("stream %s: %w: %d fragments dropped, %d refused, %d lost with damaged spool files, %d frames dropped before the endpoint was reached, %d fragments neither acknowledged nor spooled",
				c.cfg.Stream, errMediaLost, st.Dropped, st.Failed, st.SpoolCorrupt, framesDropped, unsent)
		}
	}()
	for ctx.Err() == nil {
		src, err := device.OpenURI(ctx, c.cfg.Source)
		if err != nil {
			c.set(func(c *camera) { c.sourceErrors++; c.state = "source unavailable"; c.lastErr = err.Error() })
			c.log.Warn("source unavailable", "source", c.cfg.Source, "err", err, "retry_in", backoff)
			if !sleepCtx(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		r, _ := src.(device.Recycler)
		cur.Store(recyclerBox{r})
		if !started {
			started = true
			origin = src.Origin()
			pcfg := producer.Config{
				StreamName: c.cfg.Stream, Region: awsCfg.Region, EndpointURL: endpoint, Credentials: awsCfg.Credentials,
				CreateStream: c.cfg.CreateStream, RetentionHours: c.cfg.retention(), Tags: c.cfg.Tags,
				StartTime: origin, FragmentDuration: c.cfg.FragmentDuration, BufferDuration: c.memoryWindow(),
				Logger: c.log, OnEvent: c.onEvent, ReleaseFrame: release,
				SpoolDir: c.cfg.spoolDir(), SpoolMaxBytes: int64(c.cfg.SpoolMax),
			}
			hold.video = videoTrack(src.Tracks())
			connector.Add(1)
			go func() {
				defer connector.Done()
				c.connect(ctx, pcfg, src.Tracks(), ready, fatal)
			}()
		}
		c.set(func(c *camera) {
			c.sourceOpens++
			if p != nil {
				c.state = "streaming"
			} else {
				c.state = "connecting"
			}
		})
		c.log.Info("capturing", "source", c.cfg.Source, "tracks", trackSummary(src.Tracks()))
		// Frames of a reopened source keep the first source's time origin.
		shift := src.Origin().Sub(origin)
		stop := context.AfterFunc(ctx, func() { src.Close() })
		for {
			fr, err := src.ReadFrame()
			if err != nil {
				if ctx.Err() == nil {
					c.set(func(c *camera) { c.sourceErrors++; c.state = "source failed"; c.lastErr = err.Error() })
					c.log.Warn("source failed; reopening", "err", err)
				}
				break
			}
			fr.PTS += shift
			fr.DTS += shift
			if p == nil {
				select {
				case p = <-ready:
					c.set(func(c *camera) { c.prod = p; c.state = "streaming" })
				case err := <-fatal:
					stop()
					src.Close()
					return fmt.Errorf("stream %s: %w", c.cfg.Stream, err)
				default:
				}
			}
			if p != nil {
				deliver(&fr)
				continue
			}
			dropped := hold.push(fr)
			for _, d := range dropped {
				release(d)
			}
			n := hold.len()
			c.set(func(c *camera) { c.framesHeld = n; c.framesDropped += uint64(len(dropped)) })
			if len(dropped) > 0 {
				c.log.Warn("endpoint unreachable: dropped the oldest frames held", "frames", len(dropped),
					"held", n, "held_for", hold.duration())
			}
		}
		stop()
		src.Close()
	}
	return nil
}

// notDelivered counts the fragments Close reports neither acknowledged nor
// kept in the spool for the next run (dropped and refused ones are counted
// by the producer's Stats).
func notDelivered(closeErr error) int {
	var ce *producer.CloseError
	if !errors.As(closeErr, &ce) {
		if closeErr != nil {
			return 1
		}
		return 0
	}
	n := ce.Omitted
	for _, f := range ce.Fragments {
		if errors.Is(f.Err, producer.ErrNotAcknowledged) && !f.Spooled {
			n++
		}
	}
	return n
}

// connect prepares the upload (describes or creates the stream, finds its
// endpoint), trying again with backoff until it succeeds or ctx ends. A
// configuration the producer rejects is fatal.
func (c *camera) connect(ctx context.Context, pcfg producer.Config, tracks []media.Track, ready chan<- *producer.Producer, fatal chan<- error) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		c.set(func(c *camera) { c.connectAttempts++ })
		actx, cancel := context.WithTimeout(ctx, connectTimeout)
		p, err := producer.New(actx, pcfg, tracks)
		cancel()
		if err == nil {
			if attempt > 1 {
				c.log.Info("endpoint reached", "attempt", attempt)
			}
			ready <- p
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, producer.ErrInvalidConfig) {
			fatal <- err
			return
		}
		c.set(func(c *camera) { c.state = "endpoint unreachable"; c.lastErr = err.Error() })
		c.log.Warn("endpoint unreachable; retrying", "attempt", attempt, "retry_in", backoff, "err", err)
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func videoTrack(tracks []media.Track) uint64 {
	for _, t := range tracks {
		if t.Kind == media.KindVideo {
			return t.Number
		}
	}
	return 0
}

// frameHold keeps, in order, the frames captured while no upload is ready,
// within a media duration and a byte size; beyond them it drops whole
// groups of pictures (from a video key frame to the next), oldest first.
type frameHold struct {
	frames   []media.Frame
	bytes    int64
	maxDur   time.Duration
	maxBytes int64
	video    uint64 // the video track (0: none; frames are dropped one by one)
}

func (h *frameHold) len() int { return len(h.frames) }

func (h *frameHold) duration() time.Duration {
	if len(h.frames) < 2 {
		return 0
	}
	return h.frames[len(h.frames)-1].DTS - h.frames[0].DTS
}

// push adds a frame and returns the frames dropped to make room.
func (h *frameHold) push(f media.Frame) []media.Frame {
	h.frames = append(h.frames, f)
	h.bytes += int64(len(f.Data))
	var dropped []media.Frame
	for len(h.frames) > 1 && (h.duration() > h.maxDur || h.bytes > h.maxBytes) {
		end := 1
		if h.video != 0 {
			end = -1
			for j := 1; j < len(h.frames); j++ {
				if h.frames[j].Track == h.video && h.frames[j].Key {
					end = j
					break
				}
			}
			if end < 0 {
				break // one group longer than the bound: wait for the next key frame
			}
		}
		for _, d := range h.frames[:end] {
			h.bytes -= int64(len(d.Data))
		}
		dropped = append(dropped, h.frames[:end]...)
		h.frames = slices.Delete(h.frames, 0, end)
	}
	return dropped
}

// take returns the frames held and empties the hold.
func (h *frameHold) take() []media.Frame {
	out := h.frames
	h.frames, h.bytes = nil, 0
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *camera) onEvent(ev producer.Event) {
	switch ev.Type {
	case producer.FragmentPersisted:
		c.set(func(c *camera) { c.lastPersisted, c.persistLatency = ev.Time, ev.Latency })
		c.log.Info("fragment persisted", "number", ev.Number, "timecode", ev.Timecode, "latency", ev.Latency)
	case producer.FragmentReceived:
		c.set(func(c *camera) { c.lastReceived = ev.Time })
	case producer.FragmentDropped, producer.FragmentError:
		msg := ev.Type.String()
		if ev.ErrorCode != "" {
			msg += " " + ev.ErrorCode
		}
		if ev.Err != nil {
			msg += ": " + ev.Err.Error()
		}
		c.set(func(c *camera) { c.lastErr = msg })
		c.log.Warn("fragment lost", "event", ev.Type.String(), "timecode", ev.Timecode, "error_id", ev.ErrorID,
			"error_code", ev.ErrorCode, "err", ev.Err)
	case producer.Reconnecting:
		c.log.Warn("reconnecting", "err", ev.Err)
	}
}

// healthy reports whether the camera had a fragment acknowledged recently
// (or is still starting), and if not, why: PERSISTED, or RECEIVED for a
// stream that stores nothing (retention 0), which is said too.
func (c *camera) healthy(now time.Time) (ok bool, problem string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	window := 3*c.cfg.FragmentDuration + 10*time.Second
	if c.cfg.FragmentDuration <= 0 {
		window = 3*producer.DefaultFragmentDuration + 10*time.Second
	}
	last, what := c.lastPersisted, "persisted"
	storesNothing := c.prod != nil && c.prod.RetentionHours() == 0
	if storesNothing {
		last, what = c.lastReceived, "received (the stream stores nothing: retention 0)"
	}
	if last.IsZero() {
		ok = now.Sub(c.started) < window+20*time.Second
		problem = fmt.Sprintf("no fragment %s since the start %s ago", what, now.Sub(c.started).Round(time.Second))
	} else {
		ok = now.Sub(last) < window
		problem = fmt.Sprintf("no fragment %s for %s", what, now.Sub(last).Round(time.Second))
	}
	if ok {
		if storesNothing {
			return true, "the stream stores nothing (retention 0): fragments are received, never kept"
		}
		return true, ""
	}
	if c.state != "streaming" {
		problem += "; " + c.state
	}
	if c.lastErr != "" {
		problem += "; last error: " + c.lastErr
	}
	return false, problem
}

func metricsHandler(cams []*camera) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		now := time.Now()
		ok := true
		var list []map[string]any
		for _, c := range cams {
			h, problem := c.healthy(now)
			ok = ok && h
			c.mu.Lock()
			p := c.prod
			c.mu.Unlock()
			var st producer.Stats
			if p != nil {
				st = p.Stats()
			}
			c.mu.Lock()
			entry := map[string]any{"stream": c.cfg.Stream, "healthy": h, "state": c.state,
				"fragments_persisted": st.Persisted, "fragments_dropped": st.Dropped, "fragments_failed": st.Failed,
				"fragments_duplicated": st.Duplicates, "frames_dropped": c.framesDropped + st.FramesDropped, "frames_held": c.framesHeld,
				"endpoint_attempts": c.connectAttempts}
			switch {
			case !h:
				entry["problem"] = problem
			case problem != "":
				entry["warning"] = problem
			}
			if p := c.prod; p != nil && c.cfg.Spool != "" {
				st := p.Stats()
				entry["spool"] = map[string]any{"fragments": st.SpoolFragments, "bytes": st.SpoolBytes,
					"dropped": st.SpoolDropped, "corrupt": st.SpoolCorrupt, "recovered": st.Recovered}
			}
			if !c.lastPersisted.IsZero() {
				entry["last_persisted"] = c.lastPersisted.UTC().Format(time.RFC3339Nano)
			}
			c.mu.Unlock()
			list = append(list, entry)
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"healthy": ok, "cameras": list})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w, cams)
	})
	return mux
}

type metric struct {
	name, help, kind string
	value            func(c *camera, st producer.Stats) float64
}

var captureMetrics = []metric{
	{"kvs_frames_total", "Frames accepted from the source.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Frames) }},
	{"kvs_frames_skipped_total", "Frames dropped while waiting for a video key frame (video frames before it; audio too far ahead of it).", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.FramesSkipped) }},
	{"kvs_fragments_total", "Fragments closed and buffered.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Fragments) }},
	{"kvs_fragments_persisted_total", "Fragments acknowledged PERSISTED.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Persisted) }},
	{"kvs_fragments_failed_total", "Fragments refused for good.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Failed) }},
	{"kvs_fragments_dropped_total", "Fragments dropped from a full buffer.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Dropped) }},
	{"kvs_fragments_duplicated_total", "Fragments sent again after a reconnect.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Duplicates) }},
	{"kvs_bytes_sent_total", "PutMedia body bytes sent.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.BytesSent) }},
	{"kvs_putmedia_reconnects_total", "PutMedia sessions started after a failure.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Reconnects) }},
	{"kvs_frames_dropped_total", "Frames dropped: held beyond --buffer-duration while the endpoint was unreachable, or in fragments dropped from a full buffer.", "counter", func(c *camera, st producer.Stats) float64 { return float64(c.framesDropped + st.FramesDropped) }},
	{"kvs_frames_held", "Frames held while the endpoint is unreachable.", "gauge", func(c *camera, _ producer.Stats) float64 { return float64(c.framesHeld) }},
	{"kvs_endpoint_attempts_total", "Attempts to prepare the upload (stream and endpoint).", "counter", func(c *camera, _ producer.Stats) float64 { return float64(c.connectAttempts) }},
	{"kvs_source_opens_total", "Times the source was opened.", "counter", func(c *camera, _ producer.Stats) float64 { return float64(c.sourceOpens) }},
	{"kvs_source_errors_total", "Source failures (open or read).", "counter", func(c *camera, _ producer.Stats) float64 { return float64(c.sourceErrors) }},
	{"kvs_buffer_bytes", "Bytes held until acknowledged.", "gauge", func(_ *camera, st producer.Stats) float64 { return float64(st.BufferBytes) }},
	{"kvs_buffer_seconds", "Media duration held until acknowledged.", "gauge", func(_ *camera, st producer.Stats) float64 { return st.BufferDuration.Seconds() }},
	{"kvs_spool_fragments", "Fragments held in the disk spool.", "gauge", func(_ *camera, st producer.Stats) float64 { return float64(st.SpoolFragments) }},
	{"kvs_spool_bytes", "Bytes held in the disk spool.", "gauge", func(_ *camera, st producer.Stats) float64 { return float64(st.SpoolBytes) }},
	{"kvs_spooled_total", "Fragments written to the disk spool.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Spooled) }},
	{"kvs_spool_recovered_total", "Fragments an earlier run left in the spool, found at start.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.Recovered) }},
	{"kvs_spool_dropped_total", "Fragments dropped from a full spool.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.SpoolDropped) }},
	{"kvs_spool_corrupt_total", "Damaged spool files found and deleted.", "counter", func(_ *camera, st producer.Stats) float64 { return float64(st.SpoolCorrupt) }},
	{"kvs_persist_latency_seconds", "Latency of the last PERSISTED acknowledgement.", "gauge", func(c *camera, _ producer.Stats) float64 { return c.persistLatency.Seconds() }},
}

func writeMetrics(w http.ResponseWriter, cams []*camera) {
	type snap struct {
		c  *camera
		st producer.Stats
	}
	var snaps []snap
	for _, c := range cams {
		c.mu.Lock()
		p := c.prod
		c.mu.Unlock()
		var st producer.Stats
		if p != nil {
			st = p.Stats()
		}
		snaps = append(snaps, snap{c, st})
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].c.cfg.Stream < snaps[j].c.cfg.Stream })
	for _, m := range captureMetrics {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.kind)
		for _, s := range snaps {
			s.c.mu.Lock()
			v := m.value(s.c, s.st)
			s.c.mu.Unlock()
			fmt.Fprintf(w, "%s{stream=%q} %g\n", m.name, s.c.cfg.Stream, v)
		}
	}
}

// recyclerBox holds the current source's Recycler (nil when it has none) in
// an atomic.Value, which needs one concrete type.
type recyclerBox struct{ r device.Recycler }
