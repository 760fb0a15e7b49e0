package producer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"kvskit/internal/awsauth"
)

// ACK error ids after which the session is renewed and the fragment sent again.
var retriableAckErrors = map[int]bool{4000: true, 4003: true, 5000: true, 5001: true}

const ackMaxConnectionDuration = 4003

var (
	errSessionStale = errors.New("no acknowledgement within the staleness window")
	errSessionDone  = errors.New("session ended")
)

// ackLine is one event of the PutMedia response. Unknown keys are ignored.
type ackLine struct {
	EventType        string `json:"EventType"`
	FragmentTimecode *int64 `json:"FragmentTimecode"`
	FragmentNumber   string `json:"FragmentNumber"`
	ErrorID          int    `json:"ErrorId"`
	ErrorCode        string `json:"ErrorCode"`
	Message          string `json:"Message"`
}

// AckError is a retriable ERROR event that ended a session.
type AckError struct {
	ErrorID   int
	ErrorCode string
	Message   string
	Timecode  int64
}

func (e *AckError) Error() string {
	s := fmt.Sprintf("putmedia ack error %d %s", e.ErrorID, e.ErrorCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// HTTPError is a PutMedia request refused with an HTTP status.
type HTTPError struct {
	StatusCode int
	// Code is the x-amzn-ErrorType (or the body's __type).
	Code    string
	Message string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("putmedia: HTTP %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// session is one PutMedia request.
type session struct {
	id      uint64
	started time.Time
	ctx     context.Context
	cancel  context.CancelCauseFunc
	next    uint64       // ord of the next entry to send
	lastAck atomic.Int64 // unix nanos of the last ACK line (or the start)
	closed  atomic.Bool  // the body was ended on purpose
	writing atomic.Bool  // a fragment is being written
}

// sessionResult says how a session ended.
type sessionResult struct {
	progress bool  // at least one fragment was acknowledged
	rotate   bool  // the service asked for a new connection (4003)
	err      error // nil: ended on purpose or by an idle service
}

// run is the sender: it starts sessions while fragments wait, reconnecting
// with backoff after failures, until Close finishes or aborts.
func (p *Producer) run() {
	defer close(p.runDone)
	attempt := 0
	for {
		if p.ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		pending := len(p.buf) > 0
		finished := p.closing && !pending
		p.mu.Unlock()
		if finished {
			return
		}
		if !pending {
			select {
			case <-p.wake:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		if attempt > 0 {
			d := p.backoff(attempt)
			p.mu.Lock()
			p.eventLocked(Event{Type: Reconnecting, Latency: d})
			p.unlock()
			p.log.Info("reconnecting", "attempt", attempt, "backoff", d)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-p.ctx.Done():
				t.Stop()
				return
			}
		}
		res := p.session(attempt > 0)
		switch {
		case res.err == nil:
			attempt = 0
		case res.progress:
			attempt = 1
		default:
			attempt++
		}
		if res.err != nil {
			p.log.Warn("putmedia session failed", "err", res.err, "attempt", attempt)
		}
	}
}

// backoff returns the wait before reconnect attempt n (1-based): full
// jitter over RetryBase * 2^(n-1), capped at RetryMax.
func (p *Producer) backoff(n int) time.Duration {
	d := p.cfg.RetryBase
	for i := 1; i < n && d < p.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, p.cfg.RetryMax)
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// forgetEndpoint makes the next session look the data endpoint up again.
func (p *Producer) forgetEndpoint() {
	p.mu.Lock()
	p.endpoint = ""
	p.mu.Unlock()
}

// controlTimeout bounds one control-plane step of a reconnect (credentials,
// describe, data endpoint), so that an endpoint that accepts connections and
// never answers cannot hold the sender: the staleness window, at least 10 s.
func (p *Producer) controlTimeout() time.Duration {
	return max(p.cfg.ConnectionStaleness, 10*time.Second)
}

// prepare refreshes what a session needs: the stream description after a
// not-found, and the data endpoint when older than DefaultEndpointTTL.
func (p *Producer) prepare() (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.controlTimeout())
	defer cancel()
	p.mu.Lock()
	ep, at, redescribe := p.endpoint, p.endpointAt, p.redescribe
	p.mu.Unlock()
	if redescribe {
		st, err := p.cp.ensureStream(ctx, &p.cfg, p.tracks, false)
		if err != nil {
			return "", err
		}
		p.mu.Lock()
		if st.retention == 0 && p.retention != 0 {
			p.warnStoresNothing()
		}
		p.retention = st.retention
		p.redescribe = false
		p.mu.Unlock()
		ep = ""
	}
	if ep == "" || time.Since(at) > DefaultEndpointTTL {
		var err error
		if ep, err = p.cp.dataEndpoint(ctx); err != nil {
			return "", err
		}
		p.mu.Lock()
		p.endpoint, p.endpointAt = ep, time.Now()
		p.mu.Unlock()
	}
	return ep, nil
}

// session runs one PutMedia request until it ends.
func (p *Producer) session(reconnect bool) sessionResult {
	ep, err := p.prepare()
	if err != nil {
		p.forgetEndpoint()
		return sessionResult{err: err}
	}
	ctx, cancel := context.WithCancelCause(p.ctx)
	defer cancel(errSessionDone)
	cctx, ccancel := context.WithTimeout(ctx, p.controlTimeout())
	creds, err := p.cp.credentials(cctx)
	ccancel()
	if err != nil {
		return sessionResult{err: fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, err)}
	}

	p.mu.Lock()
	if len(p.buf) == 0 {
		p.mu.Unlock()
		return sessionResult{}
	}
	startTC := p.buf[0].tc
	p.sessSeq++
	s := &session{id: p.sessSeq, started: time.Now(), ctx: ctx, cancel: cancel}
	s.lastAck.Store(s.started.UnixNano())
	p.mu.Unlock()

	body := newBodyPipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/putMedia", body)
	if err != nil {
		return sessionResult{err: fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, err)}
	}
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	h := req.Header
	h.Set("x-amzn-stream-name", p.cfg.StreamName)
	h.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	h.Set("x-amzn-producer-start-timestamp", strconv.FormatInt(startTC/1000, 10)+"."+fmt.Sprintf("%03d", startTC%1000))
	h.Set("x-amzn-fragment-acknowledgment-required", "1")
	h.Set("User-Agent", "kvskit-producer/1")
	if err := awsauth.SignRequest(ctx, req, creds, p.cp.region, awsauth.UnsignedPayload, p.cfg.Now()); err != nil {
		return sessionResult{err: fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, err)}
	}

	// Whatever ends the session (staleness, Close, a failed write) also ends
	// the body: the transport's round trip waits for its body writer before
	// it returns an error, so a body left open would hold the request, and
	// the sender, forever.
	stopBody := context.AfterFunc(ctx, func() { _ = body.CloseWrite(context.Cause(ctx)) })
	defer stopBody()
	writerDone := make(chan error, 1)
	go func() { writerDone <- p.writeSession(s, body) }()
	finish := func(res sessionResult) sessionResult {
		cancel(errSessionDone)
		_ = body.CloseWithError(errSessionDone)
		<-writerDone
		p.mu.Lock()
		for _, e := range p.buf {
			e.inflight = false
		}
		p.eventLocked(Event{Type: SessionEnded, Err: res.err})
		p.unlock()
		return res
	}

	var stale *time.Timer
	staleness := p.cfg.ConnectionStaleness
	stale = time.AfterFunc(time.Hour, func() {
		if ctx.Err() != nil {
			return
		}
		since := time.Since(time.Unix(0, s.lastAck.Load()))
		if since >= staleness && p.awaitingAck(s) {
			p.log.Warn("putmedia session stale", "session", s.id, "silent", since)
			cancel(errSessionStale)
			return
		}
		stale.Reset(max(staleness-since, staleness/4))
	})
	stale.Reset(staleness)
	defer stale.Stop()
	resp, err := p.hc.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			err = c
		}
		p.forgetEndpoint() // it may have moved, or be a dead path
		return finish(sessionResult{err: fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, err)})
	}
	if resp.StatusCode != http.StatusOK {
		herr := readHTTPError(resp)
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			p.cp.invalidateCredentials()
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 ||
			herr.Code == "ResourceNotFoundException" || herr.Code == "ResourceInUseException":
			p.mu.Lock()
			p.redescribe = true
			p.mu.Unlock()
		}
		return finish(sessionResult{err: fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, herr)})
	}
	p.mu.Lock()
	p.stats.Sessions++
	if reconnect {
		p.stats.Reconnects++
	}
	p.eventLocked(Event{Type: SessionStarted})
	p.unlock()
	p.log.Debug("putmedia session started", "session", s.id, "endpoint", ep)

	res := p.readAcks(s, resp.Body)
	_ = resp.Body.Close()
	cause := context.Cause(ctx)
	switch {
	case res.rotate:
		res.err = nil
	case errors.Is(cause, errSessionDone) && s.closed.Load() && !p.awaitingAck(s):
		// Ended by us after the body was ended and everything acknowledged.
		res.err = nil
	case res.err == nil && (s.writing.Load() || p.awaitingAck(s)):
		res.err = fmt.Errorf("putmedia %s: the service ended the session with fragments unacknowledged", p.cfg.StreamName)
	case res.err != nil && cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, errSessionDone):
		res.err = fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, cause)
	}
	if errors.Is(cause, errSessionStale) {
		p.forgetEndpoint()
	}
	return finish(res)
}

// sessionEndWait is how long a session whose body was ended, with every
// fragment acknowledged, waits for the service to end the response before
// the producer ends it.
const sessionEndWait = 3 * time.Second

// watchSessionEnd ends a session whose body was ended once nothing awaits an
// acknowledgement and the service has not ended the response within
// sessionEndWait.
func (p *Producer) watchSessionEnd(s *session) {
	var t *time.Timer
	t = time.AfterFunc(time.Hour, func() {
		if s.ctx.Err() != nil {
			return
		}
		if !p.awaitingAck(s) {
			s.cancel(errSessionDone)
			return
		}
		t.Reset(sessionEndWait)
	})
	t.Reset(sessionEndWait)
}

// awaitingAck reports whether the session has fragments sent (or being
// sent) and not yet acknowledged.
func (p *Producer) awaitingAck(s *session) bool {
	if s.writing.Load() {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.buf {
		if e.sentIn == s.id {
			return true
		}
	}
	return false
}

func readHTTPError(resp *http.Response) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	_ = resp.Body.Close()
	e := &HTTPError{StatusCode: resp.StatusCode, Code: resp.Header.Get("x-amzn-ErrorType")}
	var b struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	if json.Unmarshal(body, &b) == nil {
		if e.Code == "" {
			e.Code = b.Type
		}
		e.Message = b.Message
		if e.Message == "" {
			e.Message = b.Message2
		}
	} else {
		e.Message = string(bytes.TrimSpace(body))
	}
	if i := bytes.IndexByte([]byte(e.Code), ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	return e
}

// writeSession writes the body: the header, then every unacknowledged
// fragment in order, then new ones as they close. It ends the body on
// purpose for Close (everything sent) and for rotation.
func (p *Producer) writeSession(s *session, pw *bodyPipe) error {
	tracks, pre := p.tracks, p.peekSpooled(s)
	if pre != nil && pre.err == nil {
		tracks = pre.tracks // a fragment an earlier run left, with its own tracks
	}
	ownTracks := pre == nil || sameTracks(tracks, p.tracks)
	sw := newSessionWriter(pw, &p.bytesSent, p.cfg.SegmentUID, tracks)
	if err := sw.writeHeader(); err != nil {
		_ = pw.CloseWrite(err)
		return err
	}
	bytesPace := newPacer(p.cfg.MaxBytesPerSecond, max(p.cfg.MaxBytesPerSecond, 1))
	fragPace := newPacer(p.cfg.MaxFragmentsPerSecond, 1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) error {
		if d <= 0 {
			return nil
		}
		timer.Reset(d)
		select {
		case <-timer.C:
			return nil
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		}
	}
	openCluster := false
	for {
		age := time.Since(s.started)
		p.mu.Lock()
		var e *entry
		if i, _ := p.indexLocked(s.next); i < len(p.buf) {
			e = p.buf[i]
		}
		closing := p.closing
		waitSpool, switchTracks := false, false
		if e != nil && p.spool != nil {
			switch {
			case e.spooling: // sent once on disk
				e, waitSpool = nil, true
			case e.onDisk && (pre == nil || pre.e != e):
				id := e.spoolID
				p.mu.Unlock()
				pre = p.readSpooled(e, id)
				continue
			case e.onDisk && pre.err != nil:
				p.lostSpooledLocked(e, pre.err)
				pre = nil
				p.unlock()
				continue
			case e.onDisk && !sameTracks(pre.tracks, tracks), !e.onDisk && !ownTracks:
				switchTracks = true // a new session carries its tracks
			}
		}
		if e != nil && age < p.cfg.SessionRotation && !switchTracks {
			e.inflight = true
			if e.written {
				// Sent whole before: the acknowledgement was lost, and the
				// endpoint may hold it already.
				p.stats.Duplicates++
			}
			e.sends++
			e.sentIn = s.id
			s.next = e.ord + 1
			p.stats.FragmentsSent++
			s.writing.Store(true)
		}
		p.mu.Unlock()

		if (e == nil && closing && !waitSpool) || age >= p.cfg.SessionRotation || switchTracks {
			// End the body at a fragment boundary; the service acknowledges
			// what it has and ends the response.
			s.closed.Store(true)
			if openCluster {
				_ = sw.endFragment()
			}
			p.log.Debug("putmedia: ending the session body", "session", s.id, "closing", closing, "age", age)
			p.watchSessionEnd(s)
			return pw.CloseWrite(nil)
		}
		if e == nil {
			if openCluster {
				// Nothing else to send now: close the cluster so the service
				// acknowledges it without waiting for the next fragment.
				if err := sw.endFragment(); err != nil {
					return err
				}
				openCluster = false
			}
			timer.Reset(p.cfg.SessionRotation - age)
			select {
			case <-p.wake:
			case <-timer.C:
			case <-s.ctx.Done():
				return context.Cause(s.ctx)
			}
			continue
		}
		now := time.Now()
		err := sleep(max(fragPace.reserve(1, now), bytesPace.reserve(float64(e.size), now)))
		if err == nil {
			fr := e.frag
			if pre != nil && pre.e == e {
				fr, pre = pre.frag, nil // read back from the spool
			}
			err = sw.writeFragment(fr, e.tc)
		}
		p.mu.Lock()
		e.inflight = false
		e.written = e.written || err == nil
		if e.removed {
			p.releaseLocked(e.frag)
		}
		p.mu.Unlock()
		s.writing.Store(false)
		if err != nil {
			_ = pw.CloseWrite(err)
			return err
		}
		openCluster = true
	}
}

// readAcks reads the ACK stream until it ends.
func (p *Producer) readAcks(s *session, body io.Reader) sessionResult {
	var res sessionResult
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		s.lastAck.Store(time.Now().UnixNano())
		var a ackLine
		if err := json.Unmarshal(line, &a); err != nil {
			p.log.Warn("putmedia: unreadable ack", "line", string(line), "err", err)
			continue
		}
		if stop := p.handleAck(s, &a, &res); stop {
			return res
		}
	}
	if err := sc.Err(); err != nil {
		res.err = fmt.Errorf("putmedia %s: read acks: %w", p.cfg.StreamName, err)
	}
	return res
}

// handleAck applies one ACK; it returns true when the session must end.
func (p *Producer) handleAck(s *session, a *ackLine, res *sessionResult) bool {
	p.mu.Lock()
	defer p.unlock()
	var e *entry
	var tc int64
	if a.FragmentTimecode != nil {
		tc = *a.FragmentTimecode
		e = p.findLocked(s, tc)
	}
	ev := Event{Timecode: tc, Number: a.FragmentNumber}
	if e != nil {
		ev.Fragment = e.frag.Seq
		if a.FragmentNumber != "" {
			e.number = a.FragmentNumber
		}
	}
	switch a.EventType {
	case "BUFFERING":
		p.stats.Buffering++
		ev.Type = FragmentBuffering
		p.eventLocked(ev)
	case "RECEIVED":
		p.stats.Received++
		ev.Type = FragmentReceived
		p.eventLocked(ev)
		if e != nil && p.retention == 0 {
			p.removeLocked(e)
			res.progress = true
		}
	case "PERSISTED":
		p.stats.Persisted++
		ev.Type = FragmentPersisted
		if e != nil {
			ev.Latency = p.cfg.Now().Sub(e.closedAt)
			p.stats.LastPersistedLatency = ev.Latency
			p.removeLocked(e)
			res.progress = true
		}
		p.eventLocked(ev)
	case "ERROR":
		p.stats.Errors++
		ae := &AckError{ErrorID: a.ErrorID, ErrorCode: a.ErrorCode, Message: a.Message, Timecode: tc}
		ev.Type, ev.ErrorID, ev.ErrorCode, ev.Err = FragmentError, a.ErrorID, a.ErrorCode, ae
		p.eventLocked(ev)
		p.log.Warn("putmedia: error ack", "id", a.ErrorID, "code", a.ErrorCode, "timecode", tc, "message", a.Message)
		if retriableAckErrors[a.ErrorID] {
			if a.ErrorID == ackMaxConnectionDuration {
				res.rotate = true
			}
			res.err = fmt.Errorf("putmedia %s: %w", p.cfg.StreamName, ae)
			s.cancel(ae)
			return true
		}
		if e == nil && a.FragmentTimecode == nil {
			e = p.oldestSentLocked(s)
		}
		if e != nil {
			p.removeLocked(e)
			p.stats.Failed++
			p.recordLostLocked(FragmentFailure{
				Seq: e.frag.Seq, Timecode: e.tc, Number: e.number,
				ErrorID: a.ErrorID, ErrorCode: a.ErrorCode, Message: a.Message, Err: ErrFragmentRefused,
			})
		}
	case "IDLE":
	default:
		p.log.Debug("putmedia: unknown ack event", "type", a.EventType)
	}
	return false
}

// findLocked returns the entry this session sent with that cluster timecode.
func (p *Producer) findLocked(s *session, tc int64) *entry {
	for _, e := range p.buf {
		if e.tc == tc && e.sentIn == s.id {
			return e
		}
	}
	return nil
}

// oldestSentLocked returns the oldest entry sent in this session.
func (p *Producer) oldestSentLocked(s *session) *entry {
	for _, e := range p.buf {
		if e.sentIn == s.id {
			return e
		}
	}
	return nil
}
