package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"kvskit/internal/kvsapi"
	"kvskit/mkv"
)

type getMediaOptions struct {
	stream, start, timestamp string
	follow                   bool
}

// heldWriter passes bytes on only up to a committed stream offset, so that
// the output ends on a whole fragment and a resumed response's header can
// be left out.
type heldWriter struct {
	w    io.Writer
	buf  []byte
	base int64 // stream offset of buf[0]
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.buf = append(h.buf, p...)
	return len(p), nil
}

// commit writes everything before stream offset off.
func (h *heldWriter) commit(off int64) error {
	n := int(min(max(off-h.base, 0), int64(len(h.buf))))
	if _, err := h.w.Write(h.buf[:n]); err != nil {
		return err
	}
	h.buf = h.buf[n:]
	h.base += int64(n)
	return nil
}

// skip drops everything before stream offset off.
func (h *heldWriter) skip(off int64) {
	n := int(min(max(off-h.base, 0), int64(len(h.buf))))
	h.buf = h.buf[n:]
	h.base += int64(n)
}

// reset starts a new response at stream offset 0, dropping what was held.
func (h *heldWriter) reset() { h.buf, h.base = h.buf[:0], 0 }

// fragmentNumberLess compares fragment numbers (decimal strings).
func fragmentNumberLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// errCaughtUp ends the read of a response once the last expected fragment
// is in.
var errCaughtUp = errors.New("caught up")

// runGetMedia writes GetMedia output to w and, for each fragment, its tags
// to tagw (when not nil). Without follow it reads what the stream holds
// from the start selector to the last fragment listed when it began
// (ListFragments) and ends there; with follow it keeps waiting for new
// fragments, resuming with the continuation token when the service ends a
// response, until ctx ends. It returns the number of fragments written.
func runGetMedia(ctx context.Context, client *kvsapi.Client, o getMediaOptions, w io.Writer, tagw io.Writer) (int, error) {
	sel, err := startSelector(o.start, o.timestamp)
	if err != nil {
		return 0, err
	}
	var last string // the last fragment to read, without follow
	if !o.follow {
		if sel.Type == "NOW" {
			return 0, errors.New("--start now reads only fragments yet to come: add --follow to wait for them")
		}
		frags, err := client.ListFragments(ctx, kvsapi.ListFragmentsInput{Stream: o.stream})
		if err != nil {
			return 0, err
		}
		if len(frags) == 0 {
			return 0, fmt.Errorf("stream %s holds no fragments (it stores nothing, or nothing was written yet); --follow waits for new ones", o.stream)
		}
		lastF := frags[0]
		for _, f := range frags[1:] {
			if fragmentNumberLess(lastF.Number, f.Number) {
				lastF = f
			}
		}
		last = lastF.Number
		switch sel.Type {
		case "PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP":
			ts := lastF.ProducerTimestamp
			if sel.Type == "SERVER_TIMESTAMP" {
				ts = lastF.ServerTimestamp
			}
			if sel.Timestamp.After(ts) {
				return 0, fmt.Errorf("stream %s holds no fragment at or after --start %s (the last one is at %s); --follow waits for new ones",
					o.stream, o.start, ts.Format(time.RFC3339Nano))
			}
		case "FRAGMENT_NUMBER":
			if fragmentNumberLess(last, sel.FragmentNumber) {
				return 0, fmt.Errorf("stream %s holds no fragment after %s (the last one is %s); --follow waits for new ones", o.stream, sel.FragmentNumber, last)
			}
		}
	}

	out := &heldWriter{w: w}
	n := 0
	for {
		rctx, cancel := context.WithCancel(ctx)
		body, err := client.GetMedia(rctx, o.stream, sel)
		if err != nil {
			cancel()
			if ctx.Err() != nil && o.follow {
				return n, nil
			}
			return n, err
		}
		out.reset()
		// The output's header is that of the first response with a fragment.
		token, got, err := readMediaResponse(io.TeeReader(body, out), out, n > 0, last, tagw)
		body.Close()
		cancel()
		n += got
		switch {
		case errors.Is(err, errCaughtUp):
			return n, nil
		case ctx.Err() != nil && o.follow:
			// Interrupted while following: what is whole was written.
			return n, nil
		case err != nil:
			return n, err
		case !o.follow:
			// The service ended the response: everything it sent is kept.
			return n, out.commit(out.base + int64(len(out.buf)))
		}
		if token != "" {
			sel = kvsapi.StartSelector{Type: "CONTINUATION_TOKEN", ContinuationToken: token}
		}
		if ctx.Err() != nil {
			return n, nil
		}
	}
}

// readMediaResponse reads one GetMedia response, committing out at the end
// of each fragment (its closing tags). With skipHeader (the output has one
// already) the header before the first Tags or Cluster is left out. It stops with
// errCaughtUp after fragment last (when not empty). It returns the latest continuation token and the fragments written.
func readMediaResponse(r io.Reader, out *heldWriter, skipHeader bool, last string, tagw io.Writer) (string, int, error) {
	mr := mkv.NewReader(r)
	var cur fragmentInfo
	var token string
	n := 0
	started := !skipHeader
	for {
		ev, err := mr.Next()
		if errors.Is(err, io.EOF) {
			return token, n, nil
		}
		if err != nil {
			return token, n, fmt.Errorf("decode media: %w", err)
		}
		if !started && (ev.Type == mkv.EventTags || ev.Type == mkv.EventClusterStart) {
			out.skip(ev.Offset)
			started = true
		}
		switch ev.Type {
		case mkv.EventBlock:
			cur.Frames += len(ev.Block.Frames)
		case mkv.EventTags:
			done := cur.applyTags(ev.Tags)
			if !done {
				continue
			}
			if cur.ErrorCode != "" {
				return token, n, fmt.Errorf("the service reported %s (%s) after fragment %d", cur.ErrorCode, cur.ErrorID, n)
			}
			if cur.FragmentNumber == "" {
				// Tags of a response with no fragment (a continuation token
				// while idle).
				token = cur.ContinuationToken
				continue
			}
			if err := out.commit(ev.Offset + int64(len(ev.Raw))); err != nil {
				return token, n, err
			}
			n++
			token = cur.ContinuationToken
			if tagw != nil {
				b, _ := json.Marshal(cur)
				if _, err := tagw.Write(append(b, '\n')); err != nil {
					return token, n, err
				}
			}
			if last != "" && !fragmentNumberLess(cur.FragmentNumber, last) {
				return token, n, errCaughtUp
			}
			cur = fragmentInfo{}
		}
	}
}

// getMediaLong is the help of kvs get media.
var getMediaLong = strings.TrimSpace(`
Write a stream's media as MKV. By default the whole archive: GetMedia from
--start (earliest, a fragment number, or a time as RFC 3339 or epoch seconds
compared with --timestamp producer|server) up to the last fragment the stream
held when kvs began (ListFragments says which), then kvs ends, as cat does.
GetMedia itself never ends while a stream is live, so the end is found by the
client. --follow keeps waiting for new fragments, as tail -f does, resuming
with the continuation token whenever the service ends a response, until
SIGINT/SIGTERM; --start now (only fragments yet to come) needs it. The output
always ends on a whole fragment. With --fragments N1,N2,... the listed
fragments (GetMediaForFragmentList). --tags FILE|- writes one JSON line per
fragment with the fragment number, timestamps and frame count decoded from
the AWS_KINESISVIDEO_* tags.`)
