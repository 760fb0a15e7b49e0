package rtsp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"kvskit/media"
	"kvskit/media/h264"
)

// The seed corpora of these targets are under testdata/fuzz/<Fuzz name>/;
// RTSP_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus regenerates them
// from the tables of the other tests.

// FuzzParseResponse: reading a message never panics, and a response read
// back from its own serialization is the same response.
func FuzzParseResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := readMessage(bufio.NewReaderSize(bytes.NewReader(data), readerSize))
		if err != nil || m.resp == nil {
			return
		}
		r := m.resp
		var b strings.Builder
		b.WriteString("RTSP/1.0 " + strconv.Itoa(r.code) + " " + r.reason + "\r\n")
		for k, vs := range r.header {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		b.WriteString("\r\n")
		b.Write(r.body)
		m2, err := readMessage(bufio.NewReaderSize(strings.NewReader(b.String()), readerSize))
		if err != nil || m2.resp == nil {
			t.Fatalf("reparse of %q: %v", b.String(), err)
		}
		r2 := m2.resp
		if r2.code != r.code || r2.reason != r.reason || !bytes.Equal(r2.body, r.body) || len(r2.header) != len(r.header) {
			t.Fatalf("reparse differs: %+v vs %+v", r2, r)
		}
		for k, vs := range r.header {
			if strings.Join(r2.header[k], "\n") != strings.Join(vs, "\n") {
				t.Fatalf("header %s: %q vs %q", k, r2.header[k], vs)
			}
		}
		if len(r.body) > maxBodyLength || r.code < 100 {
			t.Fatalf("limits: %d %d", len(r.body), r.code)
		}
	})
}

// FuzzParseSDP: parsing and track selection never panic, and selected
// tracks are usable.
func FuzzParseSDP(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := parseSDP(data)
		if err != nil {
			return
		}
		tracks, _, err := selectTracks(sd, "rtsp://cam/path")
		if err != nil {
			return
		}
		if len(tracks) > 2 || tracks[0].kind == media.KindAudio && len(tracks) > 1 {
			t.Fatalf("tracks %+v", tracks)
		}
		for _, tr := range tracks {
			if tr.clockRate <= 0 || !strings.HasPrefix(strings.ToLower(tr.control), "rtsp") || tr.newDepacketizer(nil) == nil {
				t.Fatalf("track %+v", tr)
			}
			if tr.codec == media.CodecAAC && (tr.frameSamples <= 0 || len(tr.asc) == 0) {
				t.Fatalf("AAC track %+v", tr)
			}
			if tr.kind == media.KindVideo && len(tr.sps) > 0 && len(tr.pps) > 0 {
				_, _, _, _, _ = videoConfig(tr.codec, tr.vps, tr.sps, tr.pps)
			}
		}
	})
}

// packetsFromFuzz cuts data into RTP packets: each is a 2-byte length, a
// flags byte (bit 0 marker, bit 1 next timestamp, bit 2 loss before it) and
// the payload.
func packetsFromFuzz(data []byte, each func(p *rtp.Packet, loss bool)) {
	ts := uint32(0)
	for len(data) >= 3 {
		n := int(binary.BigEndian.Uint16(data)) % 4096
		flags := data[2]
		data = data[3:]
		n = min(n, len(data))
		if flags&2 != 0 {
			ts += 3000
		}
		each(&rtp.Packet{Header: rtp.Header{Marker: flags&1 != 0, Timestamp: ts}, Payload: data[:n]}, flags&4 != 0)
		data = data[n:]
	}
}

// fuzzDepacketizer feeds arbitrary packets to d and checks what comes out.
func fuzzDepacketizer(t *testing.T, d depacketizer, data []byte, video bool) {
	total := 0
	packetsFromFuzz(data, func(p *rtp.Packet, loss bool) {
		if loss {
			d.lost()
		}
		aus, _ := d.push(p)
		for _, au := range aus {
			if au.broken {
				continue
			}
			if len(au.units()) == 0 {
				t.Fatal("intact unit without data")
			}
			for _, n := range au.units() {
				if len(n) == 0 {
					t.Fatal("empty NAL unit or frame")
				}
				total += len(n)
			}
		}
	})
	// Every byte comes from a payload; fragmented NAL units get their
	// 1- or 2-byte header back.
	if limit := len(data) * 2; total > limit {
		t.Fatalf("%d bytes out of %d in", total, len(data))
	}
}

// roundTripFuzz makes NAL units (or AAC frames) out of data, packetizes them
// with the test packetizers and checks the depacketizer restores them.
func roundTripFuzz(t *testing.T, data []byte, codec media.Codec) {
	if len(data) < 2 {
		return
	}
	mtu := 40 + int(data[0])*8
	aggregate := data[1]&1 != 0
	data = data[2:]
	var units [][]byte
	for len(data) > 0 {
		n := min(1+int(data[0])*13%3000, len(data))
		u := append([]byte(nil), data[:n]...)
		data = data[n:]
		switch codec {
		case media.CodecH264:
			u[0] = u[0]&0x60 | (1 + u[0]%23) // types 1..23
		case media.CodecH265:
			if len(u) < 3 {
				continue
			}
			u[0] = (u[0] % 48) << 1 // types 0..47, layer 0
			u[1] = 1
		}
		units = append(units, u)
	}
	if len(units) == 0 {
		return
	}
	var got [][]byte
	switch codec {
	case media.CodecAAC:
		payloads, first, ends := packetizeAAC(units, max(mtu, 8))
		d := mustAACDepacketizer(t)
		for i, p := range payloads {
			aus, err := d.push(&rtp.Packet{Header: rtp.Header{Timestamp: uint32(first[i]) * 1024, Marker: ends[i]}, Payload: p})
			if err != nil {
				t.Fatal(err)
			}
			for _, au := range aus {
				got = append(got, au.units()...)
			}
		}
	default:
		var payloads [][]byte
		var d depacketizer = &h264Depacketizer{}
		if codec == media.CodecH264 {
			payloads = packetizeH264(units, mtu, aggregate)
		} else {
			payloads, d = packetizeH265(units, mtu, aggregate), &h265Depacketizer{}
		}
		for i, p := range payloads {
			aus, err := d.push(&rtp.Packet{Header: rtp.Header{Timestamp: 1, Marker: i == len(payloads)-1}, Payload: p})
			if err != nil {
				t.Fatal(err)
			}
			for _, au := range aus {
				if au.broken {
					t.Fatal("broken unit")
				}
				got = append(got, au.units()...)
			}
		}
	}
	if !equalUnits(got, units) {
		t.Fatalf("round trip: %s, want %s", shape(got), shape(units))
	}
}

func mustAACDepacketizer(t *testing.T) *aacDepacketizer {
	d, err := newAACDepacketizer(map[string]string{"sizelength": "13", "indexlength": "3", "indexdeltalength": "3"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FuzzH264Depacketizer: arbitrary packets (first byte even) or a round trip
// of NAL units through the test packetizer (first byte odd).
func FuzzH264Depacketizer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0]&1 == 1 {
			roundTripFuzz(t, data[1:], media.CodecH264)
			return
		}
		fuzzDepacketizer(t, &h264Depacketizer{}, data, true)
	})
}

// FuzzH265Depacketizer is FuzzH264Depacketizer for H.265, with and without
// DONL fields.
func FuzzH265Depacketizer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0]&1 == 1 {
			roundTripFuzz(t, data[1:], media.CodecH265)
			return
		}
		fuzzDepacketizer(t, &h265Depacketizer{donl: len(data) > 0 && data[0]&2 != 0}, data, true)
	})
}

// FuzzAACDepacketizer is FuzzH264Depacketizer for RFC 3640 AAC.
func FuzzAACDepacketizer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0]&1 == 1 {
			roundTripFuzz(t, data[1:], media.CodecAAC)
			return
		}
		fuzzDepacketizer(t, mustAACDepacketizer(t), data, false)
	})
}

// discardConn is a connection that swallows writes.
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// offlineSession is a played session of the GStreamer SDP's tracks (H.264 on
// channels 0-1, AAC on 2-3) that is fed by hand.
func offlineSession(t testing.TB) (*Source, *session) {
	cfg, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{cfg: cfg, log: cfg.log, base: time.Now(), ready: make(chan struct{}), closed: make(chan struct{})}
	src.q = newFrameQueue(cfg.interleaveWindow, &src.stats.dropped, &src.stats.repairs)
	sd, err := parseSDP([]byte(gstreamerSDP))
	if err != nil {
		t.Fatal(err)
	}
	specs, _, err := selectTracks(sd, "rtsp://cam/test/")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.adoptTracks(specs); err != nil {
		t.Fatal(err)
	}
	s := newSession(src, TCP)
	s.conn = discardConn{}
	rates := []int{}
	for i, sp := range specs {
		s.tracks = append(s.tracks, &rxTrack{idx: i, spec: sp, dep: sp.newDepacketizer(nil), needKey: sp.kind == media.KindVideo,
			rtpChannel: 2 * i, rtcpChannel: 2*i + 1})
		rates = append(rates, sp.clockRate)
	}
	s.tl = newTimeline(rates)
	s.started = true
	s.syncAt = time.Hour
	return src, s
}

// FuzzInterleaved feeds a TCP connection's bytes after PLAY (interleaved RTP
// and RTCP, responses, requests of the server) through the whole receive
// path, and checks the frames that come out.
func FuzzInterleaved(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { runInterleaved(t, data) })
}

// runInterleaved is FuzzInterleaved's body; it returns the number of frames
// per track.
func runInterleaved(t *testing.T, data []byte) map[uint64]int {
	counts := map[uint64]int{}
	{
		src, s := offlineSession(t)
		br := bufio.NewReaderSize(bytes.NewReader(data), readerSize)
		now := time.Second
		for range 10000 {
			m, err := readMessage(br)
			if err != nil {
				break
			}
			now += time.Millisecond
			s.dispatch(m, now)
		}
		s.mu.Lock()
		if !s.synced {
			s.sync()
		}
		s.mu.Unlock()
		last := map[uint64]time.Duration{}
		lastDTS := time.Duration(-1)
		for {
			fr, ok, _, _ := src.q.next(time.Hour)
			if !ok {
				break
			}
			if fr.PTS < 0 || fr.DTS < lastDTS || fr.PTS <= last[fr.Track] && fr.PTS != 0 || len(fr.Data) == 0 {
				t.Fatalf("frame %+v after DTS %v", fr, lastDTS)
			}
			lastDTS, last[fr.Track] = fr.DTS, fr.PTS
			counts[fr.Track]++
			if fr.Track == 1 {
				nalus, err := h264.SplitAVCC(fr.Data)
				if err != nil || len(nalus) == 0 {
					t.Fatalf("video frame %x: %v", fr.Data, err)
				}
			}
		}
	}
	return counts
}

// TestInterleavedSeed checks that the seed stream of FuzzInterleaved gets
// through the whole receive path, so the target exercises it.
func TestInterleavedSeed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzInterleaved", "seed-stream"))
	if err != nil {
		t.Fatal(err)
	}
	lit := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
	data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	counts := runInterleaved(t, []byte(data))
	// The round-trip table's video (5 units, the first a key frame) and
	// audio (6 frames).
	if counts[1] != 5 || counts[2] != 6 {
		t.Errorf("frames per track %v, want 5 video and 6 audio", counts)
	}
}
