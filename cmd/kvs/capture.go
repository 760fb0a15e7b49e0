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
	client        clientOptions
	cam           cameraConfig
	config        string
	metricsListen string
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
fragments (reported) rather than falling behind. --config FILE (YAML) runs
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
Prometheus counters. The Go garbage
collector runs at GOGC=25 (less memory for a little CPU) unless GOGC is set.
When every source passes its video through (RTSP, test://), Go runs one
processor per 16 cameras (GOMAXPROCS), which spares it waking a second thread
for every frame; with a V4L2 source, which may encode, it keeps one per CPU.
GOMAXPROCS in the environment overrides both. Kept on one core as well
(taskset -c 0 kvs capture ..., or CPUAffinity= in a systemd unit, as
samples/systemd does), a pass-through capture spends about a fifth less CPU.`,
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
	return cmd
}

// spoolMemoryWindow is the media a camera with a spool keeps in memory;
// older fragments wait on disk.
const spoolMemoryWindow = 30 * time.Second

// memoryWindow is the producer's BufferDuration (0: its default).
func (c *camera) memoryWindow() time.Duration {
	if c.cfg.Spool != "" {
		return spoolMemoryWindow
	}
	return 0
}

// camera is one running capture and its counters.
type camera struct {
	cfg     cameraConfig
	log     *slog.Logger
	started time.Time

	mu             sync.Mutex
	prod           *producer.Producer
	sourceOpens    int
	sourceErrors   int
	lastPersisted  time.Time
	lastReceived   time.Time
	persistLatency time.Duration
	state          string
	lastErr        string // the latest source or fragment error
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
	cfg, endpoint, err := o.client.resolve(ctx)
	if err != nil {
		return err
	}
	var running []*camera
	for _, cc := range cams {
		running = append(running, &camera{cfg: cc, log: log.With("stream", cc.Stream), started: time.Now(), state: "starting"})
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
	return errors.Join(errs...)
}

// run streams one camera until ctx ends, reopening the source when it fails.
func (c *camera) run(ctx context.Context, awsCfg aws.Config, endpoint string) error {
	backoff := time.Second
	var p *producer.Producer
	var origin time.Time
	defer func() {
		if p == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(cctx); err != nil {
			c.log.Error("closing the upload", "err", err)
		}
		st := p.Stats()
		c.log.Info("capture stopped", "persisted", st.Persisted, "dropped", st.Dropped, "failed", st.Failed,
			"spooled_left", st.SpoolFragments, "spool_corrupt", st.SpoolCorrupt)
	}()
	// Acknowledged frames go back to the source being read (any source's
	// pool takes any frame's memory), so a steady capture allocates little.
	var cur atomic.Value // recyclerBox
	release := func(f media.Frame) {
		if b, ok := cur.Load().(recyclerBox); ok && b.r != nil {
			b.r.Recycle(f)
		}
	}
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
		if p == nil {
			origin = src.Origin()
			p, err = producer.New(ctx, producer.Config{
				StreamName: c.cfg.Stream, Region: awsCfg.Region, EndpointURL: endpoint, Credentials: awsCfg.Credentials,
				CreateStream: c.cfg.CreateStream, RetentionHours: c.cfg.retention(), Tags: c.cfg.Tags,
				StartTime: origin, FragmentDuration: c.cfg.FragmentDuration, Logger: c.log, OnEvent: c.onEvent,
				ReleaseFrame: release, SpoolDir: c.cfg.spoolDir(), SpoolMaxBytes: int64(c.cfg.SpoolMax),
				BufferDuration: c.memoryWindow(),
			}, src.Tracks())
			if err != nil {
				src.Close()
				return fmt.Errorf("stream %s: %w", c.cfg.Stream, err)
			}
			c.set(func(c *camera) { c.prod = p })
		}
		c.set(func(c *camera) { c.sourceOpens++; c.state = "streaming" })
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
			if err := p.WriteFrame(ctx, fr); err != nil && ctx.Err() == nil {
				c.log.Warn("frame refused", "err", err)
			}
		}
		stop()
		src.Close()
	}
	return nil
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
			entry := map[string]any{"stream": c.cfg.Stream, "healthy": h, "state": c.state}
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
