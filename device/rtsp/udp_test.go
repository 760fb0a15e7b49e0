package rtsp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"kvskit/media"
	"kvskit/media/h264"
)

// udpPair returns a receiving socket and a sender connected to it.
func udpPair(t *testing.T) (rx *net.UDPConn, tx *net.UDPConn) {
	t.Helper()
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	tx, err = net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close() })
	return rx, tx
}

// readPackets reads until n datagrams came, copying them; it returns them and
// the number of reads it took.
func readPackets(t *testing.T, r *udpReader, rx *net.UDPConn, n int) (got []udpPacket, reads int) {
	t.Helper()
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	err := r.run(func(pkts []udpPacket) bool {
		reads++
		for _, p := range pkts {
			p.data = bytes.Clone(p.data)
			got = append(got, p)
		}
		return len(got) < n
	})
	if err != nil {
		t.Fatalf("after %d datagrams: %v", len(got), err)
	}
	return got, reads
}

// TestUDPReaderBatch: datagrams waiting in the socket come in order, with
// their sender's address, several per read on Linux.
func TestUDPReaderBatch(t *testing.T) {
	rx, tx := udpPair(t)
	r, err := newUDPReader(rx, 8, udpSlot)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var sent [][]byte
	for i := range n {
		b := bytes.Repeat([]byte{byte(i)}, 100+i*70) // up to 1430 bytes
		if _, err := tx.Write(b); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, b)
	}
	got, reads := readPackets(t, r, rx, n)
	if len(got) != n {
		t.Fatalf("%d datagrams, sent %d", len(got), n)
	}
	want := netip.MustParseAddr("127.0.0.1")
	for i, p := range got {
		if !bytes.Equal(p.data, sent[i]) || p.truncated || p.from != want {
			t.Errorf("datagram %d: %d bytes (sent %d), truncated %v, from %v", i, len(p.data), len(sent[i]), p.truncated, p.from)
		}
	}
	if runtime.GOOS == "linux" && reads > 3 {
		t.Errorf("%d reads for %d waiting datagrams in batches of 8", reads, n)
	}
}

// TestUDPReaderTruncated: a datagram larger than its slot is told apart, the
// next one is intact, and after resize a large one comes whole.
func TestUDPReaderTruncated(t *testing.T) {
	rx, tx := udpPair(t)
	r, err := newUDPReader(rx, 4, udpSlot)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3000)
	for i := range big {
		big[i] = byte(i)
	}
	small := []byte("small")
	for _, b := range [][]byte{big, small} {
		if _, err := tx.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := readPackets(t, r, rx, 2)
	if !got[0].truncated || len(got[0].data) != udpSlot || !bytes.Equal(got[0].data, big[:udpSlot]) {
		t.Errorf("large datagram: truncated %v, %d bytes", got[0].truncated, len(got[0].data))
	}
	if got[1].truncated || string(got[1].data) != "small" {
		t.Errorf("next datagram: truncated %v, %q", got[1].truncated, got[1].data)
	}
	r.resize(1, udpMaxPacket)
	if _, err := tx.Write(big); err != nil {
		t.Fatal(err)
	}
	got, _ = readPackets(t, r, rx, 1)
	if got[0].truncated || !bytes.Equal(got[0].data, big) {
		t.Errorf("after resize: truncated %v, %d bytes", got[0].truncated, len(got[0].data))
	}
}

// TestCameraUDPLargePackets plays over UDP a camera whose video packets are
// larger than a batch slot: the first large ones are lost, then the source
// reads them whole and the frames are the clip's, in sequence.
func TestCameraUDPLargePackets(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.udp, c.mtu, c.audio = "serve", 6000, false })
	index := map[string]int{}
	for i, au := range cam.clip.video {
		index[string(h264.AppendLengthPrefixed(nil, au...))] = i
	}
	s := openCamera(t, cam.url(""), WithTransport(UDP))
	c := newCollector(t, s)
	video, gaps, last := 0, 0, -1
	c.read(20*time.Second, func(f media.Frame) bool {
		i, ok := index[string(f.Data)]
		if !ok {
			t.Fatalf("video frame %d is none of the clip's", video)
		}
		if last >= 0 && i != (last+1)%len(cam.clip.video) {
			gaps++
		}
		last = i
		video++
		return video == 75
	})
	if gaps > 1 {
		t.Errorf("%d gaps in the sequence of frames", gaps)
	}
	if st := s.Stats(); st.Transport != UDP {
		t.Errorf("stats %+v", st)
	}
}

// TestReceiveAllocations: once warm, the receive path (RTP parsing,
// depacketizing, frame placement and queueing) allocates nothing for a frame
// whose buffer comes back through Recycle.
func TestReceiveAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented build")
	}
	src, s := offlineSession(t)
	for _, tr := range s.tracks {
		tr.dep = tr.spec.newDepacketizer(&src.pool)
	}
	s.synced = true
	src.originSet = true
	var raw [][]byte
	seq, ts := uint16(0), uint32(0)
	payloader := &codecs.H264Payloader{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		size, hdr := 8000+r.IntN(4000), byte(0x41)
		if i == 0 {
			size, hdr = 40000, 0x65
		}
		payloads := payloader.Payload(1200, append([]byte{0, 0, 0, 1}, randomNALU(r, size, hdr)...))
		for j, p := range payloads {
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 1,
				Timestamp: ts, Marker: j == len(payloads)-1}, Payload: p}
			b, _ := pkt.Marshal()
			raw = append(raw, b)
			seq++
		}
		ts += 3000
	}
	now := time.Second
	frames := 0
	round := func() {
		for _, b := range raw {
			// Continue the sequence numbers and timestamps.
			binary.BigEndian.PutUint16(b[2:], seq)
			binary.BigEndian.PutUint32(b[4:], binary.BigEndian.Uint32(b[4:])+90000)
			seq++
			now += time.Second / time.Duration(len(raw))
			s.handleRTP(s.tracks[0], b, now)
		}
		for {
			f, ok, _, _ := src.q.next(time.Duration(1 << 62))
			if !ok {
				break
			}
			frames++
			src.Recycle(f)
		}
	}
	for range 3 {
		round() // warm up: buffers, queues, reordering state
	}
	if a := testing.AllocsPerRun(5, round); a > 0 {
		t.Errorf("%.1f allocations per second of video (30 frames)", a)
	}
	if frames != 30*(3+6) || src.stats.lost.Load() != 0 {
		t.Errorf("%d frames, %d packets lost", frames, src.stats.lost.Load())
	}
}
