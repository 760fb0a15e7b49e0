package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress reports a long upload: a redrawn bar on a terminal, a plain line
// every few seconds otherwise, or JSON lines for scripts.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	mode     string // "bar", "plain" or "json"
	total    int64  // expected bytes, 0 if unknown
	began    time.Time
	last     time.Time
	bytes    int64
	frags    int
	persist  int
	failures int
	latency  time.Duration
	drawn    bool
	// Frames sent and dropped, for the final JSON event.
	frames, dropped, droppedVideo uint64
	// resent counts fragments sent again after a reconnect.
	resent      uint64
	interrupted bool
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w *os.File, output string, total int64) *progress {
	mode := "plain"
	switch {
	case output == "json":
		mode = "json"
	case isTerminal(w):
		mode = "bar"
	}
	now := time.Now()
	return &progress{w: w, mode: mode, total: total, began: now, last: now}
}

// update records counters and redraws when due.
func (p *progress) update(bytes int64, frags, persisted, failures int, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes, p.frags, p.persist, p.failures = bytes, frags, persisted, failures
	if latency > 0 {
		p.latency = latency
	}
	now := time.Now()
	every := 5 * time.Second
	if p.mode == "bar" {
		every = 200 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.draw(now, false)
}

func humanBytes(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", n/1e3)
	}
	return fmt.Sprintf("%.0f B", n)
}

func (p *progress) draw(now time.Time, final bool) {
	elapsed := now.Sub(p.began).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.bytes) / elapsed
	}
	switch p.mode {
	case "json":
		ev := map[string]any{
			"event": map[bool]string{true: "done", false: "progress"}[final], "bytes": p.bytes, "total_bytes": p.total,
			"fragments": p.frags, "persisted": p.persist, "failed": p.failures,
			"bytes_per_second": int64(rate), "persist_latency_ms": p.latency.Milliseconds(),
		}
		if final {
			ev["frames"] = p.frames
			ev["frames_dropped_before_key_frame"] = p.dropped
			ev["video_frames_dropped_before_key_frame"] = p.droppedVideo
			ev["fragments_resent"] = p.resent
			if p.interrupted {
				ev["interrupted"] = true
			}
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintln(p.w, string(b))
		return
	case "bar":
		pct, eta := "", ""
		bar := ""
		if p.total > 0 {
			f := float64(p.bytes) / float64(p.total)
			if f > 1 {
				f = 1
			}
			n := int(f * 24)
			bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", 24-n) + "] "
			pct = fmt.Sprintf("%3.0f%% ", f*100)
			if rate > 0 && !final {
				eta = fmt.Sprintf(" ETA %s", time.Duration(float64(p.total-p.bytes)/rate*float64(time.Second)).Round(time.Second))
			}
		}
		fmt.Fprintf(p.w, "\r%s%s%s  %d fragments, %d persisted  %s/s%s\033[K", bar, pct, humanBytes(float64(p.bytes)),
			p.frags, p.persist, humanBytes(rate), eta)
		p.drawn = true
		if final {
			fmt.Fprintln(p.w)
		}
	default:
		fmt.Fprintf(p.w, "%s sent, %d fragments, %d persisted, %s/s, persist latency %s\n",
			humanBytes(float64(p.bytes)), p.frags, p.persist, humanBytes(rate), p.latency.Round(time.Millisecond))
	}
}

// setFrames records the counts of the final event: frames sent, frames
// dropped while waiting for a video key frame (video among them), and
// fragments sent again after a reconnect.
func (p *progress) setFrames(sent, dropped, droppedVideo, resent uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames, p.dropped, p.droppedVideo, p.resent = sent, dropped, droppedVideo, resent
}

// setInterrupted records that a signal ended the input early.
func (p *progress) setInterrupted(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interrupted = v
}

// finish draws the final state.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(time.Now(), true)
}
