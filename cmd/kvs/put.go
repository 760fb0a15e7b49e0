package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kvskit/device"
	"kvskit/fragment"
	"kvskit/media"
	"kvskit/producer"
)

type putOptions struct {
	client      clientOptions
	stream      string
	create      bool
	retention   int
	startTime   string
	realtime    bool
	fps         float64
	format      string
	output      string
	fragmentDur time.Duration
	tags        []string
	maxBytes    float64
	maxFrags    float64
	bufferSize  byteSize
	resume      bool
}

// defaultPutBuffer bounds the fragments kvs put holds until they are
// acknowledged: with the reader, the open fragment and the garbage
// collector's headroom the whole process stays under 64 MB, and an upload
// at full speed over loopback still never waits on it for long (a fragment
// is acknowledged well before 16 MB more are sent).
const defaultPutBuffer = 16e6

func newPutCmd() *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:   "put FILE|- --stream NAME",
		Short: "Upload a video file (or standard input) to a stream",
		Long: `Upload the audio and video of a file with the file's own timing: MKV/WebM,
MP4 (progressive or fragmented), MPEG-TS, or an H.264/H.265 elementary stream
(--fps). "-" reads standard input and detects the format from its first bytes.

Producer timestamps start at --start-time (default: now). The upload runs as fast
as the stream's limits allow (12.5 MB/s, 5 fragments/s); --realtime paces it by
the timestamps, as a camera would, and runs the Go garbage collector at GOGC=25
(less memory for a little CPU) unless GOGC is set. The exit status is 0 only when every fragment
was persisted (received, for a stream whose retention is 0, which stores nothing); otherwise kvs
names what failed and why. --buffer-size (default 16MB) bounds the fragments held until they are
acknowledged, and with them the process's memory (under 64 MB): reading waits while it is full.

The first SIGINT (Ctrl-C) or SIGTERM ends the input where it is: every frame read so far is sent
and acknowledged, and kvs exits with 130 (SIGINT) or 143 (SIGTERM). A second one aborts the upload.

--resume continues an interrupted upload of the same file (same path, size and
modification time) to the same stream: it reuses the first run's producer
timestamps and skips the fragments the service had persisted. The progress is
kept in $XDG_CACHE_HOME/kvs/resume (~/.cache/kvs/resume) until the upload
completes; a run with --resume that finds none starts one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd.Context(), cmd, o, args[0])
		},
	}
	o.client.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.stream, "stream", "", "stream name (required)")
	f.BoolVar(&o.create, "create-stream", false, "create the stream if it does not exist")
	f.IntVar(&o.retention, "retention", defaultRetentionHours, "data retention in hours for a stream created by --create-stream (0: a stream that stores nothing)")
	f.StringVar(&o.startTime, "start-time", "", "producer timestamp of the file's start (RFC 3339 or epoch seconds; default now)")
	f.BoolVar(&o.realtime, "realtime", false, "pace the upload by the frames' timestamps")
	f.Float64Var(&o.fps, "fps", 0, "frame rate of an H.264/H.265 elementary stream (default: from the SPS, else 30)")
	f.StringVar(&o.format, "format", "", "input format instead of detecting it: mkv, mp4, ts, h264, h265")
	f.StringVar(&o.output, "output", "text", "progress output: text (a bar on a terminal, lines otherwise) or json")
	f.DurationVar(&o.fragmentDur, "fragment-duration", 2*time.Second, "target fragment duration")
	f.StringSliceVar(&o.tags, "tag", nil, "stream tag KEY=VALUE for --create-stream (repeatable)")
	f.Float64Var(&o.maxBytes, "max-bytes-per-second", 0, "client-side pacing (default: the KVS limit, 12.5 MB/s; -1: none, for a local endpoint with raised limits)")
	f.BoolVar(&o.resume, "resume", false, "continue an interrupted upload of the same file (same timestamps, persisted fragments skipped)")
	f.Float64Var(&o.maxFrags, "max-fragments-per-second", 0, "client-side pacing (default: the KVS limit, 5; -1: none)")
	o.bufferSize = defaultPutBuffer
	f.Var(&o.bufferSize, "buffer-size", "bytes of fragments held until acknowledged (e.g. 8MB, 64MiB); reading waits while it is full")
	return cmd
}

func openSource(path string, fps float64, format string, log *slog.Logger) (device.Source, int64, error) {
	// The reader's warnings (frames it had to drop or could not order) reach
	// the user's log: nothing is dropped without a word.
	opts := []device.Option{device.WithLogger(log.With("source", path))}
	if fps > 0 {
		opts = append(opts, device.WithFPS(fps))
	}
	if format != "" {
		opts = append(opts, device.WithFormat(device.Format(format)))
	}
	if path == "-" {
		src, err := device.OpenReader(os.Stdin, opts...)
		return src, 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	src, err := device.OpenFile(path, opts...)
	return src, st.Size(), err
}

// realtimeSlack is how early --realtime may hand over a frame: one wake-up
// releases every frame due within it. A wake-up costs more CPU than a frame's
// upload, and fragments leave whole, so waking at most ten times a second
// instead of once per frame moves nothing sent by more than this.
const realtimeSlack = 100 * time.Millisecond

func runPut(ctx context.Context, cmd *cobra.Command, o putOptions, path string) error {
	if o.stream == "" {
		return errors.New("--stream is required")
	}
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output %q: want text or json", o.output)
	}
	bufferBytes := int64(o.bufferSize)
	if bufferBytes < 1e6 {
		return fmt.Errorf("--buffer-size %s: want at least 1MB", o.bufferSize.String())
	}
	start := time.Now()
	if o.startTime != "" {
		t, err := parseTime(o.startTime)
		if err != nil {
			return fmt.Errorf("--start-time: %w", err)
		}
		start = t
	}
	tags := map[string]string{}
	for _, kv := range o.tags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--tag %q: want KEY=VALUE", kv)
		}
		tags[k] = v
	}
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	if o.realtime {
		log.Debug("garbage collector target", "gogc", tuneGCForStreaming())
	}
	var resume *resumeState
	var resumeAfter time.Time
	if o.resume {
		if path == "-" {
			return errors.New("--resume needs a file, not standard input")
		}
		st, found, err := loadResume(o.stream, path, o.fragmentDur)
		if err != nil {
			return err
		}
		if found {
			if o.startTime != "" && start.UnixMilli() != st.StartMS {
				return fmt.Errorf("--start-time differs from the interrupted upload's (%s)", time.UnixMilli(st.StartMS).UTC().Format(time.RFC3339Nano))
			}
			start = time.UnixMilli(st.StartMS)
			if st.PersistedThroughMS > 0 {
				resumeAfter = time.UnixMilli(st.PersistedThroughMS)
			}
			log.Info("resuming an interrupted upload", "state", st.file, "start", start, "persisted_through", resumeAfter)
		} else {
			st.StartMS = start.Truncate(time.Millisecond).UnixMilli()
			start = time.UnixMilli(st.StartMS)
			if err := st.save(); err != nil {
				return err
			}
		}
		resume = st
	}
	src, total, err := openSource(path, o.fps, o.format, log)
	if err != nil {
		return err
	}
	defer src.Close()

	cfg, endpoint, err := o.client.resolve(ctx)
	if err != nil {
		return err
	}
	prog := newProgress(os.Stderr, o.output, total)
	var stats producer.Stats
	pcfg := producer.Config{
		StreamName: o.stream, Region: cfg.Region, EndpointURL: endpoint, Credentials: cfg.Credentials,
		Profile: o.client.profile, CreateStream: o.create, RetentionHours: o.retention, Tags: tags,
		StartTime: start, FragmentDuration: o.fragmentDur, Block: true, Logger: log,
		MaxBytesPerSecond: o.maxBytes, MaxFragmentsPerSecond: o.maxFrags, ResumeAfter: resumeAfter,
		BufferBytes: bufferBytes,
	}
	// The timestamp of the last fragment persisted with all before it, for
	// --resume; a fragment lost stops it.
	var persistedThrough, broken atomic.Int64
	pcfg.OnEvent = func(ev producer.Event) {
		switch ev.Type {
		case producer.FragmentPersisted:
			if broken.Load() == 0 && ev.Timecode > persistedThrough.Load() {
				persistedThrough.Store(ev.Timecode)
			}
		case producer.FragmentDropped, producer.FragmentError:
			if ev.Timecode != 0 {
				broken.Store(1)
			}
		}
	}
	var savedAt time.Time
	saveResume := func(force bool) {
		if resume == nil || (!force && time.Since(savedAt) < time.Second) {
			return
		}
		savedAt = time.Now()
		if tc := persistedThrough.Load(); tc > resume.PersistedThroughMS {
			resume.PersistedThroughMS = tc
			if err := resume.save(); err != nil {
				log.Warn("saving the upload's progress", "err", err)
			}
		}
	}
	if r, ok := src.(device.Recycler); ok {
		// Acknowledged frames' memory goes back to the reader.
		pcfg.ReleaseFrame = r.Recycle
	}
	p, err := producer.New(ctx, pcfg, src.Tracks())
	if err != nil {
		return err
	}
	var sent int64
	report := func() {
		saveResume(false)
		stats = p.Stats()
		prog.update(sent, int(stats.Fragments), int(stats.Persisted), int(stats.Failed+stats.Dropped), stats.LastPersistedLatency)
	}
	// The first SIGINT/SIGTERM (which ends ctx) ends the input: what was
	// read is sent and acknowledged. A second one aborts the upload.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	upCtx, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	first := make(chan os.Signal, 1)
	go func() {
		n := 0
		for {
			select {
			case sig := <-sigs:
				n++
				if n == 1 {
					first <- sig
					continue
				}
				abort(fmt.Errorf("aborted by a second signal (%s)", signalName(sig)))
				return
			case <-upCtx.Done():
				return
			}
		}
	}()
	wallStart := time.Now()
	if !resumeAfter.IsZero() {
		// --realtime paces from where the upload resumes.
		wallStart = wallStart.Add(-resumeAfter.Sub(start))
	}
	var readErr error
	for ctx.Err() == nil {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read %s: %w", path, err)
			break
		}
		if o.realtime {
			if d := time.Until(wallStart.Add(fr.DTS)); d > realtimeSlack {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		// A frame read is sent, even when the signal came while it waited
		// for its time.
		if err := p.WriteFrame(upCtx, fr); err != nil {
			readErr = fmt.Errorf("upload: %w", err)
			break
		}
		sent += int64(len(fr.Data))
		report()
	}
	discarded := 0
	if readErr != nil {
		// Only whole fragments are sent: the open one may lack pictures.
		discarded = p.DiscardOpen()
	}
	closeCtx, cancel := context.WithTimeout(upCtx, 2*time.Minute)
	defer cancel()
	closeErr := p.Close(closeCtx)
	if cause := context.Cause(upCtx); cause != nil && closeErr != nil {
		closeErr = fmt.Errorf("%w: %w", cause, closeErr)
	}
	report()
	stats = p.Stats()
	var sig os.Signal
	if ctx.Err() != nil {
		// The signal reaches main's context and this command's channel at
		// about the same time.
		select {
		case sig = <-first:
		case <-time.After(time.Second):
			sig = os.Interrupt
		}
	}
	prog.setFrames(stats.Frames-stats.FramesSkipped, stats.FramesSkipped, stats.FramesSkippedVideo, stats.Duplicates)
	prog.setInterrupted(sig != nil)
	prog.finish()
	if stats.FramesSkipped > 0 {
		log.Warn("frames dropped: "+skippedText(stats), "stream", o.stream)
	}
	if resume != nil {
		if readErr == nil && closeErr == nil {
			if err := resume.remove(); err != nil {
				log.Warn("removing the upload's progress", "err", err)
			}
		} else {
			saveResume(true)
			fmt.Fprintf(os.Stderr, "kvs put: run again with --resume to continue from fragment %d\n", resume.PersistedThroughMS)
		}
	}
	if readErr != nil {
		switch {
		case errors.Is(readErr, fragment.ErrFragmentTooLarge):
			return fmt.Errorf("%w (%d fragments persisted before it; nothing of that GOP was sent)", readErr, stats.Persisted)
		case discarded == 0:
			return fmt.Errorf("%w (%d fragments persisted before it)", readErr, stats.Persisted)
		}
		return fmt.Errorf("%w (%d fragments persisted before it; the %d frames read after the last whole fragment were not sent)",
			readErr, stats.Persisted, discarded)
	}
	if closeErr != nil {
		if sig != nil {
			return exitError{code: signalExitCode(sig), err: closeErr}
		}
		return closeErr
	}
	if sig != nil {
		// Everything read was sent and acknowledged, but the input was cut
		// short: say so, with the shell's status for the signal.
		return exitError{code: signalExitCode(sig), err: fmt.Errorf("interrupted by %s: the input ended there; %d fragments persisted to %s, every one of the %d frames read (%s) sent",
			signalName(sig), stats.Persisted, o.stream, stats.Frames-stats.FramesSkipped, humanBytes(float64(sent)))}
	}
	if o.output != "json" {
		what := fmt.Sprintf("%d fragments persisted to %s", stats.Persisted, o.stream)
		if stats.AlreadyPersisted > 0 {
			what += fmt.Sprintf(" (%d persisted by the interrupted upload, skipped)", stats.AlreadyPersisted)
		}
		if stats.Persisted == 0 && stats.Received > 0 {
			// A stream with retention 0 acknowledges without storing.
			what = fmt.Sprintf("%d fragments received by %s, which stores nothing (retention 0)", stats.Received, o.stream)
		}
		dropped := ""
		if stats.FramesSkipped > 0 {
			dropped = "; " + skippedText(stats)
		}
		if stats.Duplicates > 0 {
			// Their acknowledgements were lost with a connection; an
			// endpoint that recognises them keeps each once.
			dropped += fmt.Sprintf("; %d fragments sent again after a reconnect", stats.Duplicates)
		}
		fmt.Fprintf(os.Stderr, "kvs put: %s (%s, %d frames%s) in %s\n",
			what, humanBytes(float64(sent)), stats.Frames-stats.FramesSkipped, dropped, time.Since(wallStart).Round(time.Millisecond))
	}
	return nil
}

// skippedText names the frames dropped while waiting for a video key frame.
func skippedText(st producer.Stats) string {
	var parts []string
	if st.FramesSkippedVideo > 0 {
		parts = append(parts, fmt.Sprintf("%d video frames before the first video key frame (they cannot be decoded without it)", st.FramesSkippedVideo))
	}
	if n := st.FramesSkipped - st.FramesSkippedVideo; n > 0 {
		parts = append(parts, fmt.Sprintf("%d audio/other frames more than 10 s ahead of a video key frame or with none after them", n))
	}
	return "dropped " + strings.Join(parts, " and ")
}

// exitError carries the exit status a command ends with.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// ExitCode is the process's exit status.
func (e exitError) ExitCode() int { return e.code }

// signalExitCode is the status a shell reports for a process ended by sig:
// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// signalName names SIGINT and SIGTERM as people know them.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// trackSummary describes tracks for logs.
func trackSummary(tracks []media.Track) string {
	var parts []string
	for _, t := range tracks {
		switch t.Kind {
		case media.KindVideo:
			parts = append(parts, fmt.Sprintf("%s %dx%d", t.Codec, t.Width, t.Height))
		default:
			parts = append(parts, fmt.Sprintf("%s %d Hz %d ch", t.Codec, t.SampleRate, t.Channels))
		}
	}
	return strings.Join(parts, ", ")
}
