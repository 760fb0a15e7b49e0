package rtsp

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
)

// withSyncWait shortens the wait for sender reports in tests.
func withSyncWait(d time.Duration) Option {
	return func(c *config) error {
		c.syncWait = d
		return nil
	}
}

// clip is a short H.264 + AAC recording made with ffmpeg.
type testClipData struct {
	video    [][][]byte // NAL units per access unit, 30 fps, key frame every 30
	pts      []int      // per access unit in decoding order, its frame number in presentation order
	sps, pps []byte
	audio    [][]byte // raw AAC frames, 48 kHz stereo
	asc      []byte
}

// Clip variants: how libx264 encodes the video.
var clipVariants = map[string][]string{
	"":        {"-bf", "0"},
	"bframes": {"-bf", "2", "-x264-params", "b-adapt=0:b-pyramid=none"},
	"pyramid": {"-bf", "3", "-x264-params", "b-adapt=0:b-pyramid=normal"},
}

var (
	clipMu   sync.Mutex
	clipData = map[string]*testClipData{}
)

// testClip makes (once per test binary) a 2 s clip with ffmpeg.
func testClip(t *testing.T) *testClipData { return testClipVariant(t, "") }

// testClipVariant makes (once per test binary) a 2 s clip of a variant.
func testClipVariant(t *testing.T, variant string) *testClipData {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	ffprobe := testenv.Tool(t, "ffprobe")
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clipData[variant]; c != nil {
		return c
	}
	c, err := makeClip(ffmpeg, ffprobe, clipVariants[variant])
	if err != nil {
		t.Fatal(err)
	}
	clipData[variant] = c
	return c
}

func makeClip(ffmpeg, ffprobe string, x264 []string) (*testClipData, error) {
	dir, err := os.MkdirTemp("", "rtsp-clip")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	mpath, vpath, apath := filepath.Join(dir, "v.mkv"), filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.aac")
	for _, args := range [][]string{
		append(append([]string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2", "-c:v", "libx264"}, x264...),
			"-g", "30", "-pix_fmt", "yuv420p", mpath),
		{"-i", mpath, "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", vpath},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-ac", "2", "-t", "2", "-c:a", "aac", "-f", "adts", apath},
	} {
		cmd := exec.Command(ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
		}
	}
	// The presentation times of the packets, in decoding order.
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts",
		"-of", "csv=p=0", mpath).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe: %v", err)
	}
	var ptsMS []int
	for _, l := range strings.Fields(string(out)) {
		var v int
		if _, err := fmt.Sscan(strings.TrimSuffix(l, ","), &v); err != nil {
			return nil, fmt.Errorf("ffprobe packet pts %q: %v", l, err)
		}
		ptsMS = append(ptsMS, v)
	}
	vb, err := os.ReadFile(vpath)
	if err != nil {
		return nil, err
	}
	c := &testClipData{}
	var au [][]byte
	hasVCL := false
	for _, n := range h264.SplitAnnexB(vb) {
		typ := h264.NALType(n)
		if hasVCL {
			c.video = append(c.video, au)
			au, hasVCL = nil, false
		}
		switch typ {
		case h264.NALUSPS:
			c.sps = n
		case h264.NALUPPS:
			c.pps = n
		}
		au = append(au, n)
		hasVCL = typ.IsVCL()
	}
	if hasVCL {
		c.video = append(c.video, au)
	}
	ab, err := os.ReadFile(apath)
	if err != nil {
		return nil, err
	}
	frames, hdr, err := aac.SplitADTS(ab)
	if err != nil {
		return nil, err
	}
	c.audio, c.asc = frames, aac.ConfigFromADTS(hdr).Marshal()
	if len(c.video) != 60 || c.sps == nil || len(c.audio) < 90 || len(ptsMS) != 60 {
		return nil, fmt.Errorf("clip: %d video units, %d audio frames, %d video packets", len(c.video), len(c.audio), len(ptsMS))
	}
	// Matroska's millisecond timecodes to frame numbers.
	first := slices.Min(ptsMS)
	for _, ms := range ptsMS {
		c.pts = append(c.pts, int(math.Round(float64(ms-first)*30/1000)))
	}
	if sorted := slices.Sorted(slices.Values(c.pts)); !slices.Equal(sorted, seqInts(60)) {
		return nil, fmt.Errorf("clip: frame numbers %v", c.pts)
	}
	return c, nil
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// camera is an RTSP server for tests that plays the clip in a loop, in real
// time, over TCP interleaved (UDP SETUPs are refused or left silent).
type camera struct {
	t    *testing.T
	clip *testClipData
	ln   net.Listener

	// Settings, fixed before the first connection.
	variant   string                                                 // of the clip (clipVariants)
	audio     bool                                                   // offer the AAC track
	audioFor  func(session int) bool                                 // overrides audio per session
	noSprop   bool                                                   // no parameter sets in the SDP
	noSR      bool                                                   // send no RTCP sender reports
	udp       string                                                 // "refuse" (461), "silent" (accept, send nothing) or "serve"
	shuffle   bool                                                   // over UDP, send every 7th video packet after the next one
	mtu       int                                                    // video RTP payload size (default 1200)
	timeout   int                                                    // Session timeout, seconds
	digest    string                                                 // "user:pass": require Digest authentication
	tsOffset  func(session int, elapsed time.Duration) time.Duration // shifts the camera's RTP clock
	endAfter  func(session int) (time.Duration, string)              // how a session ends: "stall", "close", "bye", "teardown"
	setupHook func(session int) (code int)                           // a status to answer SETUP with instead of 200

	spropSPS []byte // announced instead of the stream's SPS
	expire   bool   // answer every other keep-alive with 401 and a new nonce

	sessions   atomic.Int32
	keepalives atomic.Int32
	reports    atomic.Int32 // receiver reports about the camera's SSRCs
	nonces     atomic.Int32
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]bool
	closed     bool
}

func newCamera(t *testing.T, configure func(c *camera)) *camera {
	t.Helper()
	c := &camera{t: t, audio: true, timeout: 60, conns: map[net.Conn]bool{}}
	if configure != nil {
		configure(c)
	}
	c.clip = testClipVariant(t, c.variant)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.ln = ln
	c.wg.Add(1)
	go c.serve()
	t.Cleanup(c.close)
	return c
}

func (c *camera) url(userinfo string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return "rtsp://" + userinfo + c.ln.Addr().String() + "/cam"
}

func (c *camera) close() {
	c.mu.Lock()
	c.closed = true
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.ln.Close()
	c.wg.Wait()
}

func (c *camera) serve() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.conns[conn] = true
		c.mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.handle(conn)
			c.mu.Lock()
			delete(c.conns, conn)
			c.mu.Unlock()
			conn.Close()
		}()
	}
}

func (c *camera) hasAudio(session int) bool {
	if c.audioFor != nil {
		return c.audioFor(session)
	}
	return c.audio
}

func (c *camera) sdp(session int) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=test camera\r\nt=0 0\r\na=control:*\r\n")
	b.WriteString("m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:video\r\n")
	if !c.noSprop {
		sps := c.clip.sps
		if c.spropSPS != nil {
			sps = c.spropSPS
		}
		fmt.Fprintf(&b, "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=%s,%s\r\n",
			base64.StdEncoding.EncodeToString(sps), base64.StdEncoding.EncodeToString(c.clip.pps))
	}
	if c.hasAudio(session) {
		fmt.Fprintf(&b, "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"+
			"a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=%x\r\n"+
			"a=control:audio\r\n", c.clip.asc)
	}
	return b.String()
}

// camConn is one client connection of the camera.
type camConn struct {
	conn net.Conn
	wmu  sync.Mutex
	// Over UDP: a socket per track and the client's RTP and RTCP ports.
	udp  [2]*net.UDPConn
	dest [4]*net.UDPAddr
}

// send sends an RTP (even channel) or RTCP (odd) packet of track ch/2.
func (cc *camConn) send(ch uint8, b []byte) error {
	if d := cc.dest[ch]; d != nil {
		_, err := cc.udp[ch/2].WriteToUDP(b, d)
		return err
	}
	return cc.write(appendInterleaved(nil, ch, b))
}

func (cc *camConn) write(b []byte) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	_ = cc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := cc.conn.Write(b)
	return err
}

func (cc *camConn) reply(req *request, code int, extra ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "RTSP/1.0 %d Status\r\nCSeq: %s\r\n", code, req.hdr.get("cseq"))
	body := ""
	for _, h := range extra {
		if strings.HasPrefix(h, "\n") {
			body = h[1:]
			continue
		}
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return cc.write([]byte(b.String()))
}

// authorized checks Digest credentials (RFC 2069 form, and the RFC 2617 form
// with qop=auth). The first nonce of each connection is declared stale once.
func (c *camera) authorized(cc *camConn, req *request, nonce *string) bool {
	if c.digest == "" {
		return true
	}
	user, pass, _ := strings.Cut(c.digest, ":")
	challenge := func(stale bool) {
		c.nonces.Add(1)
		*nonce = fmt.Sprintf("n%d", c.nonces.Load())
		h := fmt.Sprintf(`WWW-Authenticate: Digest realm="cam", nonce="%s", qop="auth"`, *nonce)
		if stale {
			h += ", stale=true"
		}
		_ = cc.reply(req, 401, h)
	}
	a := req.hdr.get("authorization")
	if !strings.HasPrefix(a, "Digest ") || *nonce == "" {
		challenge(false)
		return false
	}
	p := splitParams(strings.TrimPrefix(a, "Digest "))
	md := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	ha1, ha2 := md(user+":cam:"+pass), md(req.method+":"+p["uri"])
	want := md(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	if p["username"] != user || p["response"] != want || p["qop"] != "auth" {
		challenge(false)
		return false
	}
	if p["nonce"] != *nonce || *nonce == "n1" {
		challenge(true) // an old nonce: the credentials are right, the nonce is stale
		return false
	}
	return true
}

func (c *camera) handle(conn net.Conn) {
	cc := &camConn{conn: conn}
	br := bufio.NewReader(conn)
	session := int(c.sessions.Add(1))
	var stop context.CancelFunc
	var streamDone sync.WaitGroup
	defer func() {
		if stop != nil {
			stop()
		}
		streamDone.Wait()
		for _, u := range cc.udp {
			if u != nil {
				u.Close()
			}
		}
	}()
	var nonce string
	for {
		m, err := readMessage(br)
		if err != nil {
			return
		}
		req := m.req
		if req == nil {
			if m.channel == 1 || m.channel == 3 {
				c.countReports(m.payload, uint32(m.channel/2+1))
			}
			continue
		}
		if req.method == "GET_PARAMETER" && c.expire && c.keepalives.Add(1)%2 == 1 {
			nonce = "" // forget it: the next request gets a new one
		}
		if !c.authorized(cc, req, &nonce) {
			continue
		}
		sess := fmt.Sprintf("Session: s%d;timeout=%d", session, c.timeout)
		switch req.method {
		case "OPTIONS":
			_ = cc.reply(req, 200, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN")
		case "DESCRIBE":
			_ = cc.reply(req, 200, "Content-Type: application/sdp", "Content-Base: "+c.url("")+"/", "\n"+c.sdp(session))
		case "SETUP":
			if c.setupHook != nil {
				if code := c.setupHook(session); code != 0 {
					_ = cc.reply(req, code)
					continue
				}
			}
			tr := req.hdr.get("transport")
			if !strings.Contains(tr, "TCP") {
				switch c.udp {
				case "silent":
					_ = cc.reply(req, 200, sess, "Transport: "+tr+";server_port=9-10")
				case "serve":
					th, err := parseTransport(tr)
					track := 0
					if strings.HasSuffix(req.url, "audio") {
						track = 1
					}
					u, err2 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
					if err != nil || err2 != nil {
						_ = cc.reply(req, 400)
						continue
					}
					cc.udp[track] = u
					for i := range 2 {
						cc.dest[2*track+i] = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: th.clientPort[i]}
					}
					port := u.LocalAddr().(*net.UDPAddr).Port
					_ = cc.reply(req, 200, sess, fmt.Sprintf("Transport: %s;server_port=%d-%d", tr, port, port+1))
				default:
					_ = cc.reply(req, 461)
				}
				continue
			}
			_ = cc.reply(req, 200, sess, "Transport: "+tr)
		case "PLAY":
			_ = cc.reply(req, 200, sess, "Range: npt=0.000-")
			if stop == nil {
				ctx, cancel := context.WithCancel(context.Background())
				stop = cancel
				streamDone.Add(1)
				go func() {
					defer streamDone.Done()
					c.stream(ctx, cc, session)
				}()
			}
		case "GET_PARAMETER":
			if !c.expire {
				c.keepalives.Add(1)
			}
			_ = cc.reply(req, 200, sess)
		case "TEARDOWN":
			_ = cc.reply(req, 200, sess)
			return
		default:
			_ = cc.reply(req, 501)
		}
	}
}

// countReports counts the receiver reports about ssrc in an RTCP packet.
func (c *camera) countReports(b []byte, ssrc uint32) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		c.t.Errorf("client sent bad RTCP: %v", err)
		return
	}
	for _, p := range flattenRTCP(pkts) {
		if rr, ok := p.(*rtcp.ReceiverReport); ok {
			for _, r := range rr.Reports {
				if r.SSRC == ssrc && r.LastSequenceNumber > 0 && r.LastSenderReport != 0 {
					c.reports.Add(1)
				}
			}
		}
	}
}

// stream sends the clip in real time until ctx ends or the session's end
// comes: video 30 fps and audio 48 kHz on channels 0 and 2, sender reports
// every second on 1 and 3.
func (c *camera) stream(ctx context.Context, cc *camConn, session int) {
	const vRate, aRate = 90000, 48000
	vBase, aBase := uint32(0xfffe0000), uint32(0x12345678) // video wraps soon
	payloader := &codecs.H264Payloader{}
	var vSeq, aSeq uint16
	start := time.Now()
	var endAt time.Duration
	var endHow string
	if c.endAfter != nil {
		endAt, endHow = c.endAfter(session)
	}
	// ts is the RTP timestamp of time d of a unit sent at time at.
	ts := func(base uint32, rate int, d, at time.Duration) uint32 {
		if c.tsOffset != nil {
			d += c.tsOffset(session, at)
		}
		return base + uint32(int64(d)*int64(rate)/int64(time.Second))
	}
	sendSR := func(ch uint8, ssrc uint32, base uint32, rate int, d time.Duration) error {
		now := start.Add(d)
		secs := uint64(now.Unix()) + 2208988800
		frac := uint64(now.Nanosecond()) << 32 / 1e9
		b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: ssrc, NTPTime: secs<<32 | frac, RTPTime: ts(base, rate, d, d)}})
		return cc.send(ch, b)
	}
	var heldBack []byte // a video packet sent late, to reorder
	vPackets := 0
	audio := c.hasAudio(session)
	vFrame, aFrame, nextSR := 0, 0, time.Duration(0)
	for {
		vAt := time.Duration(vFrame) * time.Second / 30
		aAt := time.Duration(aFrame) * 1024 * time.Second / aRate
		next := vAt
		if audio && aAt < next {
			next = aAt
		}
		if endHow != "" && next >= endAt {
			switch endHow {
			case "close":
				cc.conn.Close()
			case "bye":
				b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{1}}})
				_ = cc.write(appendInterleaved(nil, 1, b))
			case "teardown":
				_ = cc.write([]byte("TEARDOWN " + c.url("") + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
			}
			<-ctx.Done() // "stall": keep the connection, send nothing
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(next))):
		}
		var err error
		if !c.noSR && next >= nextSR {
			err = sendSR(1, 1, vBase, vRate, next)
			if audio && err == nil {
				err = sendSR(3, 2, aBase, aRate, next)
			}
			nextSR += time.Second
		}
		if next == vAt && err == nil {
			n := len(c.clip.video)
			au := c.clip.video[vFrame%n]
			// The RTP timestamp is the presentation time, 2 frames after
			// the decoding time at most (3 with the pyramid).
			pAt := time.Duration(vFrame/n*n+c.clip.pts[vFrame%n]) * time.Second / 30
			var annexB []byte
			for _, n := range au {
				annexB = append(append(annexB, 0, 0, 0, 1), n...)
			}
			mtu := 1200
			if c.mtu > 0 {
				mtu = c.mtu
			}
			payloads := payloader.Payload(uint16(mtu), annexB)
			for i, p := range payloads {
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: vSeq, SSRC: 1,
					Timestamp: ts(vBase, vRate, pAt, vAt), Marker: i == len(payloads)-1}, Payload: p}
				vSeq++
				b, _ := pkt.Marshal()
				vPackets++
				switch {
				case c.shuffle && vPackets%7 == 0:
					heldBack = b
					continue
				case heldBack != nil:
					err = cc.send(0, b)
					if err == nil {
						err = cc.send(0, heldBack)
					}
					heldBack = nil
				default:
					err = cc.send(0, b)
				}
				if err != nil {
					break
				}
			}
			vFrame++
		} else if err == nil {
			frame := c.clip.audio[aFrame%len(c.clip.audio)]
			payloads, _, _ := packetizeAAC([][]byte{frame}, 1400)
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: aSeq, SSRC: 2,
				Timestamp: ts(aBase, aRate, aAt, aAt), Marker: true}, Payload: payloads[0]}
			aSeq++
			b, _ := pkt.Marshal()
			err = cc.send(2, b)
			aFrame++
		}
		if err != nil {
			return
		}
	}
}

// collector reads frames from a source and checks the invariants every
// consumer relies on.
type collector struct {
	t       *testing.T
	s       *Source
	frames  []media.Frame
	last    map[uint64]time.Duration
	lastDTS time.Duration
	// reordered: video has B-frames, so its PTS go back and forth and its
	// DTS may precede them.
	reordered bool
	trackDTS  map[uint64]time.Duration
}

func newCollector(t *testing.T, s *Source) *collector {
	return &collector{t: t, s: s, last: map[uint64]time.Duration{}, lastDTS: -time.Hour, trackDTS: map[uint64]time.Duration{}}
}

// read reads until done says so or the timeout passes (then it closes the
// source and fails).
func (c *collector) read(timeout time.Duration, done func(f media.Frame) bool) {
	c.t.Helper()
	timer := time.AfterFunc(timeout, func() { c.s.Close() })
	defer timer.Stop()
	for {
		f, err := c.s.ReadFrame()
		if err != nil {
			c.t.Fatalf("ReadFrame after %d frames: %v (stats %+v)", len(c.frames), err, c.s.Stats())
		}
		if last, ok := c.last[f.Track]; ok && f.PTS <= last && !(c.reordered && f.Track == 1) {
			c.t.Fatalf("track %d: PTS %v after %v", f.Track, f.PTS, last)
		}
		if os.Getenv("RTSP_TEST_FRAMES") != "" { // shows the frames of every test
			c.t.Logf("track %d pts %v dts %v key %v", f.Track, f.PTS, f.DTS, f.Key)
		}
		if last, ok := c.trackDTS[f.Track]; ok && f.DTS <= last {
			c.t.Fatalf("track %d: DTS %v after %v", f.Track, f.DTS, last)
		}
		if f.DTS < c.lastDTS || f.DTS > f.PTS || f.DTS != f.PTS && !(c.reordered && f.Track == 1) || f.PTS < 0 || f.DTS < -200*time.Millisecond {
			c.t.Fatalf("track %d: DTS %v PTS %v after DTS %v", f.Track, f.DTS, f.PTS, c.lastDTS)
		}
		c.last[f.Track], c.lastDTS, c.trackDTS[f.Track] = f.PTS, f.DTS, f.DTS
		c.frames = append(c.frames, f)
		if done(f) {
			return
		}
	}
}

func (c *collector) count(track uint64) int {
	n := 0
	for _, f := range c.frames {
		if f.Track == track {
			n++
		}
	}
	return n
}

// openCamera opens a source for a test; RTSP_TEST_LOG=1 shows its log.
func openCamera(t *testing.T, url string, opts ...Option) *Source {
	t.Helper()
	if os.Getenv("RTSP_TEST_LOG") != "" {
		opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCameraTimestampsJumpBack plays a camera whose RTP clock steps back by
// 10 s after 1.5 s (both tracks, as when a camera restarts its clock): the
// frames keep coming with increasing PTS, the repairs are counted, and every
// video frame is the clip's access unit byte for byte.
func TestCameraTimestampsJumpBack(t *testing.T) {
	cam := newCamera(t, func(c *camera) {
		c.tsOffset = func(_ int, d time.Duration) time.Duration {
			if d >= 1500*time.Millisecond {
				return -10 * time.Second
			}
			return 0
		}
	})
	s := openCamera(t, cam.url(""), WithTransport(TCP))
	tracks := s.Tracks()
	if len(tracks) != 2 || tracks[0].Codec != media.CodecH264 || tracks[0].Width != 320 || tracks[0].Height != 240 ||
		tracks[1].Codec != media.CodecAAC || tracks[1].SampleRate != 48000 || tracks[1].Channels != 2 {
		t.Fatalf("tracks %+v", tracks)
	}
	wantCP, _ := h264.BuildAVCC([][]byte{cam.clip.sps}, [][]byte{cam.clip.pps})
	if string(tracks[0].CodecPrivate) != string(wantCP) {
		t.Errorf("CodecPrivate %x, want %x", tracks[0].CodecPrivate, wantCP)
	}
	c := newCollector(t, s)
	video := 0
	var prev time.Duration
	c.read(20*time.Second, func(f media.Frame) bool {
		if f.Track != 1 {
			return false
		}
		want := h264.AppendLengthPrefixed(nil, cam.clip.video[video%len(cam.clip.video)]...)
		if string(f.Data) != string(want) || f.Key != (video%30 == 0) {
			t.Fatalf("video frame %d: %d bytes key=%v, want %d bytes key=%v", video, len(f.Data), f.Key, len(want), video%30 == 0)
		}
		if video > 0 {
			if step := f.PTS - prev; step < 5*time.Millisecond || step > 150*time.Millisecond {
				t.Errorf("video frame %d: step %v", video, step)
			}
		}
		prev = f.PTS
		video++
		return video == 75
	})
	st := s.Stats()
	if st.TimestampRepairs < 2 || st.TimestampRepairs > 4 || st.Reconnects != 0 || st.PacketsLost != 0 || st.Transport != TCP {
		t.Errorf("stats %+v: want 2 repairs (one per track)", st)
	}
	if n := c.count(2); n < 75*48000/1024/30-10 {
		t.Errorf("%d audio frames with 75 video frames", n)
	}
}

// TestCameraUDPReordered plays over UDP a camera that sends some video
// packets out of order: they are put back in order, nothing is lost, and the
// frames are the clip's.
func TestCameraUDPReordered(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.udp, c.shuffle = "serve", true })
	s := openCamera(t, cam.url(""), WithTransport(UDP))
	c := newCollector(t, s)
	video := 0
	c.read(20*time.Second, func(f media.Frame) bool {
		if f.Track == 1 {
			want := h264.AppendLengthPrefixed(nil, cam.clip.video[video%len(cam.clip.video)]...)
			if string(f.Data) != string(want) {
				t.Fatalf("video frame %d differs", video)
			}
			video++
		}
		return video == 60
	})
	if st := s.Stats(); st.PacketsLost != 0 || st.FramesDropped != 0 || st.Transport != UDP {
		t.Errorf("stats %+v", st)
	}
}

// TestCameraAutoFallback: under Auto a camera that refuses UDP (461), or
// accepts it and sends nothing, is played over TCP.
func TestCameraAutoFallback(t *testing.T) {
	for _, mode := range []string{"refuse", "silent"} {
		t.Run(mode, func(t *testing.T) {
			cam := newCamera(t, func(c *camera) { c.udp = mode })
			start := time.Now()
			s := openCamera(t, cam.url(""))
			if st := s.Stats(); st.Transport != TCP {
				t.Errorf("transport %v", st.Transport)
			}
			if mode == "silent" && time.Since(start) < udpWait {
				t.Errorf("opened in %v, before the UDP wait", time.Since(start))
			}
			c := newCollector(t, s)
			c.read(10*time.Second, func(f media.Frame) bool { return len(c.frames) == 20 })
			if s.Stats().Reconnects != 0 {
				t.Errorf("fallback counted as reconnect")
			}
		})
	}
}

// TestCameraReconnect ends the first session in each way a camera can go
// away; the source reconnects and the PTS go on.
func TestCameraReconnect(t *testing.T) {
	for _, how := range []string{"stall", "close", "bye", "teardown"} {
		t.Run(how, func(t *testing.T) {
			cam := newCamera(t, func(c *camera) {
				c.endAfter = func(session int) (time.Duration, string) {
					if session == 1 {
						return time.Second, how
					}
					return 0, ""
				}
			})
			s := openCamera(t, cam.url(""), WithTransport(TCP), WithPacketTimeout(time.Second),
				WithReconnectBackoff(100*time.Millisecond, time.Second))
			c := newCollector(t, s)
			var before time.Duration
			c.read(20*time.Second, func(f media.Frame) bool {
				if s.Stats().Reconnects == 0 {
					before = f.PTS
				}
				return s.Stats().Reconnects > 0 && f.PTS > before+time.Second
			})
			st := s.Stats()
			if st.Reconnects != 1 || cam.sessions.Load() != 2 {
				t.Errorf("stats %+v, camera sessions %d", st, cam.sessions.Load())
			}
			if st.TimestampRepairs != 0 {
				t.Errorf("%d repairs", st.TimestampRepairs)
			}
		})
	}
}

// TestCameraKeepAlive: with a 2 s session timeout the client sends
// GET_PARAMETER every second, and RTCP receiver reports on both tracks.
func TestCameraKeepAlive(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.timeout = 2 })
	s := openCamera(t, cam.url(""), WithTransport(TCP))
	c := newCollector(t, s)
	start := time.Now()
	c.read(10*time.Second, func(media.Frame) bool { return time.Since(start) > 3500*time.Millisecond })
	if n := cam.keepalives.Load(); n < 3 {
		t.Errorf("%d keep-alives in %v", n, time.Since(start))
	}
	if n := cam.reports.Load(); n < 2 {
		t.Errorf("%d receiver reports", n)
	}
}

// TestCameraKeepAliveReauth: a camera whose Digest nonce expires answers a
// keep-alive with 401; the client authenticates again at once.
func TestCameraKeepAliveReauth(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.timeout, c.digest, c.expire = 2, "admin:pw", true })
	s := openCamera(t, cam.url("admin:pw"), WithTransport(TCP))
	c := newCollector(t, s)
	// Every keep-alive is answered with 401 first, then accepted: three
	// keep-alives (one a second with a 2 s session timeout) are six requests.
	// The stream must carry on meanwhile; a machine under load gets 10 s.
	c.read(10*time.Second, func(media.Frame) bool { return cam.keepalives.Load() >= 6 })
}

// TestCameraParameterSetsChange: the SDP announces other parameter sets than
// the stream carries; the stream's replace them in CodecPrivate.
func TestCameraParameterSetsChange(t *testing.T) {
	clip := testClip(t)
	other := append([]byte(nil), clip.sps...)
	other[3]-- // level_idc
	cam := newCamera(t, func(c *camera) { c.spropSPS, c.audio = other, false })
	s := openCamera(t, cam.url(""), WithTransport(TCP))
	c := newCollector(t, s)
	c.read(10*time.Second, func(media.Frame) bool { return len(c.frames) == 3 })
	want, _ := h264.BuildAVCC([][]byte{clip.sps}, [][]byte{clip.pps})
	if got := s.Tracks()[0].CodecPrivate; string(got) != string(want) {
		t.Errorf("CodecPrivate %x, want the stream's %x", got, want)
	}
}

// TestCameraInBandParameterSets: without sprop-parameter-sets Open waits for
// the parameter sets in the stream.
func TestCameraInBandParameterSets(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.noSprop, c.audio = true, false })
	s := openCamera(t, cam.url(""), WithTransport(TCP))
	want, _ := h264.BuildAVCC([][]byte{cam.clip.sps}, [][]byte{cam.clip.pps})
	if tr := s.Tracks(); len(tr) != 1 || string(tr[0].CodecPrivate) != string(want) || tr[0].Width != 320 {
		t.Fatalf("tracks %+v", tr)
	}
	c := newCollector(t, s)
	c.read(10*time.Second, func(media.Frame) bool { return len(c.frames) == 10 })
	if !c.frames[0].Key {
		t.Error("first frame is not a key frame")
	}
}

// TestCameraNoSenderReports: a camera without RTCP is timed by arrival.
func TestCameraNoSenderReports(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.noSR = true })
	start := time.Now()
	s := openCamera(t, cam.url(""), WithTransport(TCP), withSyncWait(500*time.Millisecond))
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("opened after %v, before the sync wait", d)
	}
	c := newCollector(t, s)
	c.read(10*time.Second, func(media.Frame) bool { return len(c.frames) == 100 })
	if c.count(1) < 35 || c.count(2) < 50 {
		t.Errorf("%d video, %d audio frames", c.count(1), c.count(2))
	}
}

// TestCameraDigest: Digest with qop=auth and a stale nonce.
func TestCameraDigest(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.digest = "admin:s3cret" })
	s := openCamera(t, cam.url("admin:s3cret"), WithTransport(TCP))
	c := newCollector(t, s)
	c.read(10*time.Second, func(media.Frame) bool { return len(c.frames) == 5 })

	for _, u := range []string{"admin:wrong", ""} {
		_, err := Open(context.Background(), cam.url(u), WithTransport(TCP), WithTimeout(5*time.Second))
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("credentials %q: err = %v", u, err)
		}
	}
}

// TestCameraTracksChanged: a camera that comes back with other codecs ends
// the source with ErrTracksChanged.
func TestCameraTracksChanged(t *testing.T) {
	cam := newCamera(t, func(c *camera) {
		c.endAfter = func(session int) (time.Duration, string) {
			if session == 1 {
				return 500 * time.Millisecond, "close"
			}
			return 0, ""
		}
		c.audioFor = func(session int) bool { return session == 1 } // then video only
	})
	s := openCamera(t, cam.url(""), WithTransport(TCP), WithReconnectBackoff(50*time.Millisecond, time.Second))
	timer := time.AfterFunc(10*time.Second, func() { s.Close() })
	defer timer.Stop()
	for {
		_, err := s.ReadFrame()
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrTracksChanged) {
			t.Fatalf("err = %v", err)
		}
		break
	}
	if _, err := s.ReadFrame(); !errors.Is(err, ErrTracksChanged) {
		t.Errorf("second call: %v", err)
	}
}

// TestCameraServerError: 5xx answers during a reconnect are retried.
func TestCameraServerError(t *testing.T) {
	cam := newCamera(t, func(c *camera) {
		c.endAfter = func(session int) (time.Duration, string) {
			if session == 1 {
				return 500 * time.Millisecond, "close"
			}
			return 0, ""
		}
		c.setupHook = func(session int) int {
			if session == 2 || session == 3 {
				return 503
			}
			return 0
		}
	})
	s := openCamera(t, cam.url(""), WithTransport(TCP), WithReconnectBackoff(50*time.Millisecond, time.Second))
	c := newCollector(t, s)
	c.read(15*time.Second, func(media.Frame) bool { return s.Stats().Reconnects > 0 && len(c.frames) > 100 })
	if n := cam.sessions.Load(); n != 4 {
		t.Errorf("%d sessions, want 4", n)
	}
}

// TestCameraBFrames plays clips with B-frames (RTP timestamps in
// presentation order): every frame comes through in decoding order with the
// camera's presentation times, DTS increase and never pass the PTS, and
// nothing counts as a repair.
func TestCameraBFrames(t *testing.T) {
	for _, variant := range []string{"bframes", "pyramid"} {
		t.Run(variant, func(t *testing.T) {
			cam := newCamera(t, func(c *camera) { c.variant = variant })
			if !slices.ContainsFunc(cam.clip.pts[1:], func(p int) bool { return p < slices.Max(cam.clip.pts[:2]) }) {
				t.Fatalf("clip has no B-frames: %v", cam.clip.pts)
			}
			s := openCamera(t, cam.url(""), WithTransport(TCP))
			c := newCollector(t, s)
			c.reordered = true
			n := len(cam.clip.video)
			var first time.Duration
			video := 0
			c.read(20*time.Second, func(f media.Frame) bool {
				if f.Track != 1 {
					return false
				}
				want := h264.AppendLengthPrefixed(nil, cam.clip.video[video%n]...)
				if string(f.Data) != string(want) || f.Key != (video%30 == 0) {
					t.Fatalf("video frame %d: %d bytes key=%v, want %d bytes key=%v", video, len(f.Data), f.Key, len(want), video%30 == 0)
				}
				if video == 0 {
					first = f.PTS
				}
				// The camera's presentation time, relative to the first frame.
				p := time.Duration(video/n*n+cam.clip.pts[video%n]) * time.Second / 30
				if d := f.PTS - first - p; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("video frame %d: PTS %v, want %v after the first (%v)", video, f.PTS-first, p, f.PTS)
				}
				video++
				return video == 3*n/2
			})
			if st := s.Stats(); st.TimestampRepairs != 0 || st.FramesDropped != 0 || st.PacketsLost != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestCameraBFramesJumpBack: a camera with B-frames whose RTP clock steps
// back by 10 s at a frame in the middle of a group of pictures still gets
// its timeline repaired, and the repair is counted once per track.
func TestCameraBFramesJumpBack(t *testing.T) {
	cam := newCamera(t, func(c *camera) {
		c.variant = "bframes"
		c.tsOffset = func(_ int, at time.Duration) time.Duration {
			if at >= 1500*time.Millisecond {
				return -10 * time.Second
			}
			return 0
		}
	})
	s := openCamera(t, cam.url(""), WithTransport(TCP))
	c := newCollector(t, s)
	c.reordered = true
	video := 0
	c.read(20*time.Second, func(f media.Frame) bool {
		if f.Track == 1 {
			video++
		}
		return video == 75
	})
	st := s.Stats()
	if st.TimestampRepairs < 2 || st.TimestampRepairs > 4 || st.FramesDropped != 0 {
		t.Errorf("stats %+v: want 2 repairs (one per track)", st)
	}
	// Presentation order: the PTS, sorted, step by one frame, except around
	// the repair: the frame re-anchored after the latest PTS is a B-frame
	// that belonged one frame earlier, and the frame after the last one read
	// is missing.
	var pts []time.Duration
	for _, f := range c.frames {
		if f.Track == 1 {
			pts = append(pts, f.PTS)
		}
	}
	slices.Sort(pts)
	odd := 0
	for i := 1; i < len(pts)-3; i++ { // the last frames' successors are not read
		if d := pts[i] - pts[i-1]; d < 32*time.Millisecond || d > 35*time.Millisecond {
			odd++
		}
	}
	if odd > 3 {
		t.Errorf("%d PTS steps other than one frame: %v", odd, pts)
	}
}
