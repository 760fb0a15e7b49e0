package rtsp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"kvskit/media"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// Session constants.
const (
	// defaultSyncWait is how long a new session holds its first frames back
	// waiting for the RTCP sender reports that line the tracks up.
	defaultSyncWait = 6 * time.Second
	// maxPending bounds the frames held back before the sender reports.
	maxPending = 4096
	// rrInterval is the period of the RTCP receiver reports.
	rrInterval = 5 * time.Second
	// tickInterval is the period of the session's housekeeping.
	tickInterval = 100 * time.Millisecond
	// teardownTimeout bounds the TEARDOWN on close.
	teardownTimeout = time.Second
	// seqResync is the sequence number jump taken for a restarted sender
	// rather than for lost packets.
	seqResync = 3000
	// repairLogInterval rate-limits the timestamp repair warnings per track.
	repairLogInterval = 10 * time.Second
	// udpReadBuffer is the socket receive buffer asked for on UDP.
	udpReadBuffer = 4 << 20
	// rtcpBufferSize bounds the RTCP compound packets read over UDP.
	rtcpBufferSize = 8 << 10
	// poolShrinkInterval is how often the frame buffers that the source's
	// pool kept without needing them are dropped: longer than the producer's
	// fragments, whose acknowledgements give the buffers back.
	poolShrinkInterval = 10 * time.Second
)

// errUDPSilent ends a session on UDP that received nothing: Auto then
// switches to TCP.
var errUDPSilent = fmt.Errorf("%w over UDP: switching to TCP", ErrNoPackets)

// errClosing ends a session the source closes.
var errClosing = errors.New("rtsp: session closed")

// rxTrack is a track of one session: its RTP reception and depacketizing.
type rxTrack struct {
	idx  int // index in Source.tracks
	spec trackSpec
	dep  depacketizer

	rtpChannel, rtcpChannel int // TCP
	rtpConn, rtcpConn       *net.UDPConn
	serverRTCP              netip.AddrPort // zero when unknown

	needKey bool

	reorder *reorderer   // UDP only
	ready   []heldPacket // reused by reorder
	pkt     rtp.Packet   // the packet being processed, reused (s.mu held)

	// Reception statistics (RFC 3550 appendix A.3 and A.8).
	seqStarted      bool
	baseSeq, maxSeq uint16
	cycles          uint32
	received        uint64
	expectedPrior   uint64
	receivedPrior   uint64
	ssrc            uint32
	hasSSRC         bool
	jitter          float64
	lastTransit     int64
	hasTransit      bool
	lastSR          uint32 // middle 32 bits of the last SR's NTP time
	lastSRAt        time.Duration

	lastRepairLog time.Duration
	repairsQuiet  int
}

// pendingFrame is a frame waiting for the session's clocks to be known.
type pendingFrame struct {
	t       *rxTrack
	ts      uint32
	arrival time.Duration
	data    []byte
	key     bool
}

// session is one RTSP session: a TCP connection, its SETUP tracks and, after
// PLAY, the goroutines receiving packets.
type session struct {
	src       *Source
	cfg       *config
	log       *slog.Logger
	transport Transport // UDP or TCP

	conn net.Conn
	br   *bufio.Reader
	rbuf []byte // interleaved payloads after PLAY, reused by readLoop

	wmu  sync.Mutex // serializes writes on conn, cseq and auth
	wbuf []byte
	cseq int
	auth authenticator

	id           string
	timeout      time.Duration
	getParameter bool
	playURL      string
	serverIP     netip.Addr
	ssrc         uint32 // of the receiver reports

	tracks []*rxTrack
	tl     *timeline

	mu        sync.Mutex // guards packet processing: tracks' state, tl, pending
	synced    bool
	syncAt    time.Duration
	pending   []pendingFrame
	outBuf    []media.Frame // reused by emit
	nalus     [][]byte      // reused by handleAU
	delivered atomic.Uint64

	playAt     time.Duration
	lastPacket atomic.Int64 // local time of the last RTP packet, 0 before the first

	respCh   chan *response
	done     chan struct{}
	tickDone chan struct{}
	errOnce  sync.Once
	err      error
	readDead atomic.Bool
	started  bool
	wg       sync.WaitGroup
}

func newSession(src *Source, transport Transport) *session {
	s := &session{
		src:       src,
		cfg:       src.cfg,
		log:       src.log.With("transport", transport.String()),
		transport: transport,
		auth:      authenticator{user: src.user, pass: src.pass, hasCreds: src.hasCreds},
		respCh:    make(chan *response, 4),
		done:      make(chan struct{}),
		tickDone:  make(chan struct{}),
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.ssrc = binary.BigEndian.Uint32(b[:])
	return s
}

// handshake connects and runs OPTIONS, DESCRIBE, SETUP and PLAY.
func (s *session) handshake(ctx context.Context) error {
	d := net.Dialer{Timeout: s.cfg.timeout}
	conn, err := d.DialContext(ctx, "tcp", s.src.hostport)
	if err != nil {
		return fmt.Errorf("rtsp: dial %s: %w", s.src.hostport, err)
	}
	s.conn = conn
	s.br = bufio.NewReaderSize(conn, readerSize)
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		s.serverIP = ap.Addr().Unmap()
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = s.negotiate()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("rtsp: %s: %w", s.src.redacted, ctx.Err())
		}
		conn.Close()
		s.closeUDP()
		return err
	}
	return nil
}

// negotiate runs the requests up to PLAY on the connected session.
func (s *session) negotiate() error {
	url := s.src.requestURL
	resp, err := s.do(&request{method: "OPTIONS", url: url})
	if err != nil {
		return err
	}
	if resp.code == 200 {
		for _, m := range strings.Split(resp.header.get("public"), ",") {
			if strings.EqualFold(strings.TrimSpace(m), "GET_PARAMETER") {
				s.getParameter = true
			}
		}
	}

	describe := &request{method: "DESCRIBE", url: url, header: [][2]string{{"Accept", "application/sdp"}}}
	if resp, err = s.do(describe); err != nil {
		return err
	}
	if resp.code != 200 {
		return statusError(describe, resp)
	}
	sd, err := parseSDP(resp.body)
	if err != nil {
		return fmt.Errorf("rtsp: DESCRIBE %s: %w", url, err)
	}
	base := url
	if v := resp.header.get("content-base"); v != "" {
		base = stripUserinfo(v)
	} else if v := resp.header.get("content-location"); v != "" {
		base = stripUserinfo(v)
	}
	if hasRTSPScheme(sd.control) {
		base = stripUserinfo(sd.control)
	}
	specs, skipped, err := selectTracks(sd, base)
	if err != nil {
		return fmt.Errorf("rtsp: DESCRIBE %s: %w", url, err)
	}
	for _, sk := range skipped {
		s.log.Debug("rtsp: media skipped", "media", sk)
	}
	if err := s.src.adoptTracks(specs); err != nil {
		return err
	}
	rates := make([]int, len(specs))
	for i, spec := range specs {
		rates[i] = spec.clockRate
		if err := s.setup(i, spec); err != nil {
			return err
		}
	}
	s.tl = newTimeline(rates)

	s.playURL = controlURL(base, sd.control)
	play := &request{method: "PLAY", url: s.playURL, header: [][2]string{{"Range", "npt=0.000-"}}}
	if resp, err = s.do(play); err != nil {
		return err
	}
	if resp.code != 200 {
		return statusError(play, resp)
	}
	s.playAt = s.src.now()
	return nil
}

// setup sends the SETUP request of track i.
func (s *session) setup(i int, spec trackSpec) error {
	t := &rxTrack{idx: i, spec: spec, dep: spec.newDepacketizer(&s.src.pool), needKey: spec.kind == media.KindVideo,
		rtpChannel: -1, rtcpChannel: -1}
	s.tracks = append(s.tracks, t)
	var th string
	switch s.transport {
	case UDP:
		var err error
		local := net.IP(nil)
		if a, ok := s.conn.LocalAddr().(*net.TCPAddr); ok {
			local = a.IP
		}
		if t.rtpConn, t.rtcpConn, err = listenPair(local); err != nil {
			return fmt.Errorf("rtsp: UDP ports: %w", err)
		}
		t.reorder = &reorderer{}
		port := t.rtpConn.LocalAddr().(*net.UDPAddr).Port
		th = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", port, port+1)
	default:
		th = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", 2*i, 2*i+1)
	}
	req := &request{method: "SETUP", url: spec.control, header: [][2]string{{"Transport", th}}}
	resp, err := s.do(req)
	if err != nil {
		return err
	}
	if resp.code == 461 {
		return fmt.Errorf("rtsp: SETUP %s: %w: %s: %d %s", spec.control, ErrTransport, s.transport, resp.code, resp.reason)
	}
	if resp.code != 200 {
		return statusError(req, resp)
	}
	if v := resp.header.get("session"); v != "" && s.id == "" {
		if s.id, s.timeout, err = parseSession(v); err != nil {
			return fmt.Errorf("rtsp: SETUP %s: %w", spec.control, err)
		}
	}
	if s.id == "" {
		return fmt.Errorf("rtsp: SETUP %s: %w: no Session header", spec.control, ErrMalformed)
	}
	tr, err := parseTransport(resp.header.get("transport"))
	if err != nil {
		return fmt.Errorf("rtsp: SETUP %s: %w", spec.control, err)
	}
	if tr.tcp != (s.transport == TCP) {
		return fmt.Errorf("rtsp: SETUP %s: %w: asked for %s, server answered %q", spec.control, ErrTransport, s.transport, clip(resp.header.get("transport")))
	}
	if tr.hasSSRC {
		t.ssrc, t.hasSSRC = tr.ssrc, true
	}
	if s.transport == TCP {
		t.rtpChannel, t.rtcpChannel = tr.interleaved[0], tr.interleaved[1]
		for _, o := range s.tracks[:len(s.tracks)-1] {
			if o.rtpChannel == t.rtpChannel || o.rtcpChannel == t.rtpChannel || o.rtpChannel == t.rtcpChannel {
				return fmt.Errorf("rtsp: SETUP %s: %w: interleaved channels %d-%d already in use", spec.control, ErrTransport, t.rtpChannel, t.rtcpChannel)
			}
		}
		return nil
	}
	if a, err := netip.ParseAddr(tr.source); err == nil && tr.source != "" {
		s.serverIP = a.Unmap()
	}
	if tr.serverPort[1] > 0 && s.serverIP.IsValid() {
		t.serverRTCP = netip.AddrPortFrom(s.serverIP, uint16(tr.serverPort[1]))
	}
	return nil
}

// listenPair opens two UDP sockets on consecutive ports, the first even.
func listenPair(ip net.IP) (rtpConn, rtcpConn *net.UDPConn, err error) {
	for range 64 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, nil, err
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port >= 65535 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port + 1})
		if err != nil {
			a.Close()
			continue
		}
		_ = a.SetReadBuffer(udpReadBuffer)
		return a, b, nil
	}
	return nil, nil, errors.New("no free pair of ports")
}

func (s *session) closeUDP() {
	for _, t := range s.tracks {
		if t.rtpConn != nil {
			t.rtpConn.Close()
		}
		if t.rtcpConn != nil {
			t.rtcpConn.Close()
		}
	}
}

// statusError describes an error status of the server.
func statusError(req *request, resp *response) error {
	return fmt.Errorf("rtsp: %s %s: %w: %d %s", req.method, req.url, ErrStatus, resp.code, resp.reason)
}

// send writes a request with the next CSeq and the session's headers, and
// returns that CSeq.
func (s *session) send(req *request) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.cseq++
	r := *req
	r.header = append([][2]string(nil), req.header...)
	r.header = append(r.header, [2]string{"User-Agent", s.cfg.userAgent})
	if s.id != "" {
		r.header = append(r.header, [2]string{"Session", s.id})
	}
	if a := s.auth.authorization(req.method, req.url); a != "" {
		r.header = append(r.header, [2]string{"Authorization", a})
	}
	s.wbuf = appendRequest(s.wbuf[:0], &r, s.cseq)
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.timeout))
	if _, err := s.conn.Write(s.wbuf); err != nil {
		return 0, fmt.Errorf("rtsp: %s %s: %w", req.method, req.url, err)
	}
	return s.cseq, nil
}

// writeRaw writes bytes (an interleaved frame or a response) on the
// connection.
func (s *session) writeRaw(build func([]byte) []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = build(s.wbuf[:0])
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.timeout))
	_, err := s.conn.Write(s.wbuf)
	return err
}

// roundTrip sends a request and reads its response, before PLAY.
func (s *session) roundTrip(req *request) (*response, error) {
	_ = s.conn.SetReadDeadline(time.Now().Add(s.cfg.timeout))
	defer func() { _ = s.conn.SetReadDeadline(time.Time{}) }()
	cseq, err := s.send(req)
	if err != nil {
		return nil, err
	}
	for {
		resp, err := readResponse(s.br, s.answer)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: connection closed", ErrSessionEnded)
			}
			return nil, fmt.Errorf("rtsp: %s %s: %w", req.method, req.url, err)
		}
		if c := resp.cseq(); c >= 0 && c < cseq {
			continue // the late answer of an earlier request
		}
		return resp, nil
	}
}

// do is roundTrip with authentication: a 401 is answered with the URL's
// credentials, again when the server only declares the nonce stale.
func (s *session) do(req *request) (*response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.roundTrip(req)
		if err != nil {
			return nil, err
		}
		if resp.code >= 500 {
			return nil, statusError(req, resp)
		}
		if resp.code != 401 {
			return resp, nil
		}
		if !s.auth.hasCreds {
			return nil, fmt.Errorf("rtsp: %s %s: %w: the server asks for credentials and the URL has none", req.method, req.url, ErrUnauthorized)
		}
		s.wmu.Lock()
		had, nonce := s.auth.scheme != "", s.auth.nonce
		stale, err := s.auth.setChallenge(resp.header["www-authenticate"])
		refused := had && !stale && (s.auth.scheme == "basic" || s.auth.nonce == nonce)
		s.wmu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("rtsp: %s %s: %w", req.method, req.url, err)
		}
		if refused || attempt >= 3 {
			return nil, fmt.Errorf("rtsp: %s %s: %w: user %q refused (%d %s)", req.method, req.url, ErrUnauthorized, s.auth.user, resp.code, resp.reason)
		}
	}
}

// answer replies to a request of the server.
func (s *session) answer(req *request) {
	code, reason := 200, "OK"
	switch strings.ToUpper(req.method) {
	case "OPTIONS", "GET_PARAMETER", "SET_PARAMETER", "ANNOUNCE", "TEARDOWN", "REDIRECT":
	default:
		code, reason = 501, "Not Implemented"
	}
	cseq := req.hdr.get("cseq")
	_ = s.writeRaw(func(b []byte) []byte { return appendResponse(b, code, reason, cseq) })
	if m := strings.ToUpper(req.method); s.started && (m == "TEARDOWN" || m == "REDIRECT") {
		s.fail(fmt.Errorf("%w: %s from the server", ErrSessionEnded, m))
	}
}

// start launches the goroutines of a played session.
func (s *session) start() {
	s.started = true
	s.syncAt = s.playAt + s.cfg.syncWait
	s.wg.Add(1)
	go s.readLoop()
	for _, t := range s.tracks {
		if t.rtpConn != nil {
			s.wg.Add(2)
			go s.rtpLoop(t)
			go s.rtcpLoop(t)
		}
	}
	go s.tickLoop()
}

// fail ends the session with err (the first error wins).
func (s *session) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.done)
	})
}

// wait blocks until the session fails or ctx is done.
func (s *session) wait(ctx context.Context) error {
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close tears the session down and waits for its goroutines; frames still
// held back are released.
func (s *session) close() {
	s.fail(errClosing)
	<-s.tickDone
	if !s.readDead.Load() {
		if _, err := s.send(&request{method: "TEARDOWN", url: s.playURL}); err == nil {
			select {
			case <-s.respCh:
			case <-time.After(teardownTimeout):
			}
		}
	}
	s.conn.Close()
	s.closeUDP()
	s.wg.Wait()
	s.mu.Lock()
	if !s.synced {
		s.sync()
	}
	s.flushVideo()
	s.mu.Unlock()
}

// readLoop reads the RTSP connection: interleaved packets, responses and
// requests of the server.
func (s *session) readLoop() {
	defer s.wg.Done()
	defer s.readDead.Store(true)
	for {
		m, err := readMessageInto(s.br, &s.rbuf)
		if err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: connection closed", ErrSessionEnded)
			}
			s.fail(fmt.Errorf("rtsp: read: %w", err))
			return
		}
		s.dispatch(m, s.src.now())
	}
}

// dispatch handles one message read from the connection after PLAY.
func (s *session) dispatch(m message, now time.Duration) {
	switch {
	case m.resp != nil:
		select {
		case s.respCh <- m.resp:
		default: // nobody waits for it
		}
	case m.req != nil:
		s.answer(m.req)
	default:
		for _, t := range s.tracks {
			switch m.channel {
			case t.rtpChannel:
				s.handleRTP(t, m.payload, now)
			case t.rtcpChannel:
				s.handleRTCP(t, m.payload, now)
			}
		}
	}
}

// rtpLoop reads the RTP socket of a track, a batch of packets at a time.
func (s *session) rtpLoop(t *rxTrack) {
	defer s.wg.Done()
	r, err := newUDPReader(t.rtpConn, udpBatch, udpSlot)
	if err != nil {
		s.fail(err)
		return
	}
	// The reader ends when the socket is closed, or, while datagrams keep
	// coming in full batches, when the session ends: closing the socket
	// waits for the batch being read.
	_ = r.run(func(pkts []udpPacket) bool {
		select {
		case <-s.done:
			return false
		default:
		}
		now := s.src.now()
		truncated := false
		s.mu.Lock()
		for _, p := range pkts {
			switch {
			case s.serverIP.IsValid() && p.from != s.serverIP:
				// not from the server
			case p.truncated:
				truncated = true // lost: its sequence number will be missing
			default:
				s.rtpLocked(t, p.data, now)
			}
		}
		s.mu.Unlock()
		if truncated && r.slot < udpMaxPacket {
			s.log.Warn("rtsp: RTP packet larger than a batch slot: reading one packet at a time from now on",
				"track", t.idx+1, "slot", r.slot)
			r.resize(1, udpMaxPacket)
		}
		return true
	})
}

// rtcpLoop reads the RTCP socket of a track.
func (s *session) rtcpLoop(t *rxTrack) {
	defer s.wg.Done()
	buf := make([]byte, rtcpBufferSize)
	for {
		n, from, err := t.rtcpConn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if s.serverIP.IsValid() && from.Addr().Unmap() != s.serverIP {
			continue // not from the server
		}
		s.handleRTCP(t, buf[:n], s.src.now())
	}
}

// tickLoop runs the session's housekeeping: packet timeout, the end of the
// sync wait, keep-alives and receiver reports.
func (s *session) tickLoop() {
	defer close(s.tickDone)
	tk := time.NewTicker(tickInterval)
	defer tk.Stop()
	interval := max(s.timeout/2, time.Second)
	nextKeepalive := s.playAt + interval
	nextReport := s.playAt + time.Second
	nextShrink := s.playAt + poolShrinkInterval
	reauth := false // a keep-alive was just resent with new credentials
	for {
		select {
		case <-s.done:
			return
		case resp := <-s.respCh:
			switch {
			case resp.code == 454 || resp.code >= 500:
				s.fail(fmt.Errorf("rtsp: keep-alive: %w: %d %s", ErrStatus, resp.code, resp.reason))
				return
			case resp.code == 405 || resp.code == 501:
				s.getParameter = false
			case resp.code == 401 && s.auth.hasCreds && !reauth:
				// The nonce expired: answer the new challenge right away.
				s.wmu.Lock()
				_, err := s.auth.setChallenge(resp.header["www-authenticate"])
				s.wmu.Unlock()
				if err == nil {
					reauth, nextKeepalive = true, 0
				}
			case resp.code == 200:
				reauth = false
			}
			continue
		case <-tk.C:
		}
		now := s.src.now()
		last := time.Duration(s.lastPacket.Load())
		switch {
		case last == 0 && s.transport == UDP && s.cfg.transport == Auto && now-s.playAt > udpWait:
			s.fail(errUDPSilent)
			return
		case last == 0 && now-s.playAt > s.cfg.packetTimeout:
			s.fail(fmt.Errorf("%w within %v of PLAY", ErrNoPackets, s.cfg.packetTimeout))
			return
		case last != 0 && now-last > s.cfg.packetTimeout:
			s.fail(fmt.Errorf("%w for %v", ErrNoPackets, s.cfg.packetTimeout))
			return
		}
		s.mu.Lock()
		s.expireReordering(now)
		if !s.synced && now >= s.syncAt {
			s.sync()
		}
		s.mu.Unlock()
		if now >= nextKeepalive {
			nextKeepalive = now + interval
			method, url := "OPTIONS", s.src.requestURL
			if s.getParameter {
				method, url = "GET_PARAMETER", s.playURL
			}
			if _, err := s.send(&request{method: method, url: url}); err != nil {
				s.fail(err)
				return
			}
		}
		if now >= nextReport {
			nextReport = now + rrInterval
			s.sendReports(now)
		}
		if now >= nextShrink {
			nextShrink = now + poolShrinkInterval
			s.src.pool.Shrink()
		}
	}
}

// handleRTP processes one RTP packet of track t.
func (s *session) handleRTP(t *rxTrack, buf []byte, now time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rtpLocked(t, buf, now)
}

// rtpLocked processes one RTP packet of track t (s.mu held); buf may be
// reused afterwards.
func (s *session) rtpLocked(t *rxTrack, buf []byte, now time.Duration) {
	p := &t.pkt
	if err := p.Unmarshal(buf); err != nil || p.PayloadType != t.spec.pt {
		return
	}
	s.lastPacket.Store(int64(max(now, 1)))
	s.src.stats.packets.Add(1)
	if t.reorder == nil {
		s.processRTP(t, p, now)
		return
	}
	ready := t.reorder.push(p, now, t.ready[:0])
	for _, h := range ready {
		s.processRTP(t, h.p, h.at)
	}
	clear(ready)
	t.ready = ready[:0]
}

// expireReordering processes the packets held for reordering too long
// (s.mu held).
func (s *session) expireReordering(now time.Duration) {
	for _, t := range s.tracks {
		if t.reorder != nil {
			for _, h := range t.reorder.expire(now, t.ready[:0]) {
				s.processRTP(t, h.p, h.at)
			}
		}
	}
}

// processRTP processes the packets of track t in sequence order (s.mu held).
func (s *session) processRTP(t *rxTrack, p *rtp.Packet, now time.Duration) {
	t.ssrc, t.hasSSRC = p.SSRC, true
	if !t.seqStarted {
		t.seqStarted, t.baseSeq, t.maxSeq = true, p.SequenceNumber, p.SequenceNumber
	} else {
		d := int(int16(p.SequenceNumber - t.maxSeq))
		switch {
		case d == 1:
		case d > 1 && d < seqResync:
			s.src.stats.lost.Add(uint64(d - 1))
			t.dep.lost()
		case d <= 0 && d > -seqResync:
			return // duplicate or reordered too late
		default: // the sender restarted its sequence
			t.dep.lost()
			t.baseSeq, t.cycles, t.received, t.expectedPrior, t.receivedPrior = p.SequenceNumber, 0, 0, 0, 0
		}
		if p.SequenceNumber < t.maxSeq && d > 0 {
			t.cycles += 1 << 16
		}
		t.maxSeq = p.SequenceNumber
	}
	t.received++
	s.updateJitter(t, p.Timestamp, now)
	aus, err := t.dep.push(p)
	if err != nil {
		s.log.Debug("rtsp: malformed packet", "track", t.idx+1, "seq", p.SequenceNumber, "err", err)
	}
	for _, au := range aus {
		s.handleAU(t, au, now)
	}
}

// updateJitter updates the interarrival jitter estimate (RFC 3550 A.8).
func (s *session) updateJitter(t *rxTrack, ts uint32, now time.Duration) {
	rate := t.spec.clockRate
	arrival := int64(now/time.Second)*int64(rate) + int64(now%time.Second)*int64(rate)/int64(time.Second)
	transit := arrival - int64(ts)
	if t.hasTransit {
		d := transit - t.lastTransit
		if d < 0 {
			d = -d
		}
		if d < 1<<31 {
			t.jitter += (float64(d) - t.jitter) / 16
		}
	}
	t.lastTransit, t.hasTransit = transit, true
}

// handleRTCP processes an RTCP compound packet of track t.
func (s *session) handleRTCP(t *rxTrack, buf []byte, now time.Duration) {
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range flattenRTCP(pkts) {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if t.hasSSRC && p.SSRC != t.ssrc {
				continue
			}
			t.lastSR, t.lastSRAt = uint32(p.NTPTime>>16), now
			s.tl.senderReport(t.idx, p.NTPTime, p.RTPTime, now)
			if !s.synced && s.tl.allReported() && len(s.pending) > 0 {
				s.sync()
			}
		case *rtcp.Goodbye:
			for _, src := range p.Sources {
				if t.hasSSRC && src == t.ssrc {
					s.fail(fmt.Errorf("%w: RTCP BYE", ErrSessionEnded))
				}
			}
		}
	}
}

func flattenRTCP(pkts []rtcp.Packet) []rtcp.Packet {
	var out []rtcp.Packet
	for _, p := range pkts {
		if c, ok := p.(*rtcp.CompoundPacket); ok {
			out = append(out, flattenRTCP(*c)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// sendReports sends an RTCP receiver report for each track that received
// packets.
func (s *session) sendReports(now time.Duration) {
	s.mu.Lock()
	type out struct {
		t   *rxTrack
		pkt []byte
	}
	var outs []out
	for _, t := range s.tracks {
		if !t.hasSSRC || !t.seqStarted {
			continue
		}
		extMax := uint64(t.cycles) + uint64(t.maxSeq)
		expected := extMax - uint64(t.baseSeq) + 1
		lost := int64(expected) - int64(t.received)
		expInt := expected - t.expectedPrior
		recvInt := t.received - t.receivedPrior
		t.expectedPrior, t.receivedPrior = expected, t.received
		var fraction uint8
		if expInt > 0 && expInt > recvInt {
			fraction = uint8((expInt - recvInt) << 8 / expInt)
		}
		rr := rtcp.ReceptionReport{
			SSRC:               t.ssrc,
			FractionLost:       fraction,
			TotalLost:          uint32(min(max(lost, 0), 1<<23-1)),
			LastSequenceNumber: uint32(extMax),
			Jitter:             uint32(t.jitter),
			LastSenderReport:   t.lastSR,
		}
		if t.lastSRAt != 0 {
			rr.Delay = uint32((now - t.lastSRAt) * 65536 / time.Second)
		}
		pkt, err := rtcp.Marshal([]rtcp.Packet{
			&rtcp.ReceiverReport{SSRC: s.ssrc, Reports: []rtcp.ReceptionReport{rr}},
			rtcp.NewCNAMESourceDescription(s.ssrc, s.cfg.userAgent),
		})
		if err == nil {
			outs = append(outs, out{t, pkt})
		}
	}
	s.mu.Unlock()
	for _, o := range outs {
		switch {
		case s.transport == TCP:
			ch := uint8(o.t.rtcpChannel)
			_ = s.writeRaw(func(b []byte) []byte { return appendInterleaved(b, ch, o.pkt) })
		case o.t.serverRTCP.IsValid():
			_, _ = o.t.rtcpConn.WriteToUDPAddrPort(o.pkt, o.t.serverRTCP)
		}
	}
}

// handleAU turns an access unit into a frame (s.mu held).
func (s *session) handleAU(t *rxTrack, au accessUnit, arrival time.Duration) {
	src := s.src
	if au.broken {
		src.stats.dropped.Add(1)
		if t.spec.kind == media.KindVideo {
			t.needKey = true
		}
		return
	}
	data, key := au.data, true
	if t.spec.kind == media.KindVideo {
		nalus := au.appendUnits(s.nalus[:0])
		defer func() { clear(nalus); s.nalus = nalus[:0] }()
		src.inBandParameterSets(t.idx, nalus)
		kept := nalus[:0]
		size := 0
		for _, n := range nalus {
			if !keepNALU(t.spec.codec, n) {
				continue
			}
			kept = append(kept, n)
			size += 4 + len(n)
		}
		if len(kept) == 0 {
			src.pool.Put(au.data)
			return
		}
		if t.spec.codec == media.CodecH265 {
			key = h265.IsKeyFrame(kept)
		} else {
			key = h264.IsKeyFrame(kept)
		}
		if t.needKey && !key || !src.hasConfig(t.idx) {
			src.stats.dropped.Add(1)
			src.pool.Put(au.data)
			return
		}
		t.needKey = false
		if len(au.data) != size {
			// Delimiters or filler dropped: the frame is the rest.
			data = h264.AppendLengthPrefixed(src.pool.Get(size)[:0], kept...)
			src.pool.Put(au.data) // parameter sets taken from it were copied
		}
	}
	src.stats.frames.Add(1)
	pf := pendingFrame{t: t, ts: au.ts, arrival: arrival, data: data, key: key}
	if s.synced {
		at, reordered := s.place(pf)
		s.emit(pf, at, reordered)
		return
	}
	s.pending = append(s.pending, pf)
	if len(s.pending) >= maxPending || arrival >= s.syncAt || s.tl.allReported() {
		s.sync()
	}
}

// keepNALU drops access unit delimiters and filler data: AVCC/HVCC samples
// do not need them.
func keepNALU(codec media.Codec, n []byte) bool {
	if codec == media.CodecH265 {
		typ := h265.NALType(n)
		return typ != h265.NALUAUD && typ != h265.NALUFD && typ != h265.NALUInvalid
	}
	typ := h264.NALType(n)
	return typ != h264.NALUAUD && typ != h264.NALUFiller && typ != h264.NALUUnspecified
}

// sync releases the held-back frames once the clocks are known or the wait
// is over (s.mu held). The first release of the source fixes its origin.
func (s *session) sync() {
	s.synced = true
	if len(s.pending) == 0 {
		return
	}
	ats := make([]time.Duration, len(s.pending))
	reordered := make([]bool, len(s.pending))
	for i, pf := range s.pending {
		ats[i], reordered[i] = s.place(pf)
	}
	s.src.setOrigin(ats)
	for i, pf := range s.pending {
		s.emit(pf, ats[i], reordered[i])
	}
	s.pending = nil
}

// place maps a frame to local time, repairing its track's timeline when
// needed. reordered reports a video frame placed before an earlier frame of
// its track within the bounds of frame reordering.
func (s *session) place(pf pendingFrame) (at time.Duration, reordered bool) {
	st := s.src.tracks[pf.t.idx]
	allowed := 0
	if pf.t.spec.kind == media.KindVideo {
		if ri := s.src.reorderInfo(pf.t.idx); ri.known {
			allowed = ri.frames
		} else {
			allowed = media.MaxReorderFrames
		}
	}
	b := st.order.bounds(st.last, st.hasLast, allowed)
	if origin, ok := s.src.originLocal(); ok && (!b.has || b.floor < origin) {
		if !b.has || b.top < origin {
			b.top = origin - 1
		}
		b.floor, b.has = origin-1, true
	}
	p := s.tl.place(pf.t.idx, pf.ts, pf.arrival, b)
	if p.repair != "" {
		s.src.stats.repairs.Add(1)
		t := pf.t
		if t.lastRepairLog == 0 || pf.arrival-t.lastRepairLog >= repairLogInterval {
			s.log.Warn("rtsp: timestamps repaired", "track", t.idx+1, "reason", p.repair,
				"rtp_timestamp", pf.ts, "more_since_last_warning", t.repairsQuiet)
			t.lastRepairLog, t.repairsQuiet = pf.arrival, 0
		} else {
			t.repairsQuiet++
		}
	}
	reordered = st.hasLast && p.at < st.last
	if !st.hasLast || p.at > st.last {
		st.last, st.hasLast = p.at, true
	}
	if pf.t.spec.kind == media.KindVideo {
		st.order.record(p.at)
	}
	return p.at, reordered
}

// emit hands a placed frame to the source's queue; video frames pass the
// track's DTS derivation first.
func (s *session) emit(pf pendingFrame, at time.Duration, reordered bool) {
	origin, _ := s.src.originLocal()
	pts := max(at-origin, 0)
	st := s.src.tracks[pf.t.idx]
	f := media.Frame{Track: st.number, PTS: pts, DTS: pts, Key: pf.key, Data: pf.data}
	if pf.t.spec.kind != media.KindVideo {
		s.src.q.push(pf.t.idx, f, s.src.now())
		s.delivered.Add(1)
		return
	}
	out, dropped := st.order.video(f, reordered, s.src.reorderInfo(pf.t.idx), s.log, s.outBuf[:0])
	if dropped {
		s.src.stats.dropped.Add(1)
	}
	s.pushVideo(pf.t.idx, out)
}

// pushVideo queues the video frames of track i whose DTS is known.
func (s *session) pushVideo(i int, out []media.Frame) {
	now := s.src.now()
	for j, f := range out {
		s.src.q.push(i, f, now)
		s.delivered.Add(1)
		out[j] = media.Frame{}
	}
	s.outBuf = out[:0]
}

// flushVideo releases the video frames the tracks' DTS derivation holds, at
// the end of the session (s.mu held).
func (s *session) flushVideo() {
	for _, t := range s.tracks {
		if t.spec.kind == media.KindVideo {
			s.pushVideo(t.idx, s.src.tracks[t.idx].order.flush(s.outBuf[:0]))
		}
	}
}
