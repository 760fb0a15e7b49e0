package rtsp

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"kvskit/internal/testenv"
)

// TestWriteFuzzCorpus regenerates the seed corpora under testdata/fuzz from
// the test tables when RTSP_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RTSP_WRITE_CORPUS") == "" {
		t.Skip("set RTSP_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	write := func(target, name string, data []byte) {
		testenv.WriteSeed(t, target, strings.NewReplacer(" ", "-", "+", "-", "/", "-").Replace(name), data)
	}

	for i, in := range []string{
		"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://h/p/\r\nContent-Length: 4\r\n\r\nv=0\n",
		"RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Digest realm=\"r\",\n  nonce=\"n\"\n\n",
		"\r\n\r\nRTSP/1.0 454\r\nCSeq: 9\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 1CV3vLn-MX0mb1sP;timeout=60\r\nTransport: RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=2CB5A0F1;mode=\"PLAY\"\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: " + strconv.Itoa(len(gstreamerSDP)) + "\r\n\r\n" + gstreamerSDP,
		"RTSP/1.0 2x0 OK\r\n\r\n",
		"RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"OPTIONS rtsp://client/ RTSP/1.0\r\nCSeq: 1\r\n\r\n",
	} {
		write("FuzzParseResponse", "seed-"+strconv.Itoa(i), []byte(in))
	}

	for name, sdp := range map[string]string{
		"gstreamer": gstreamerSDP, "gstreamer-h265": gstreamerH265SDP, "camera": cameraSDP,
		"aac-lbr":  "v=0\nm=audio 0 RTP/AVP 97\na=rtpmap:97 mpeg4-generic/16000/1\na=fmtp:97 mode=AAC-lbr;sizelength=6;indexlength=2;indexdeltalength=2;config=1408\n",
		"h265-don": "v=0\nm=video 0 RTP/AVP 98\na=rtpmap:98 H265/90000\na=fmtp:98 sprop-max-don-diff=2\na=control:/abs/path\n",
		"nothing":  "v=0\nm=video 0 RTP/AVP 26\nm=audio 0 RTP/SAVP 97\na=rtpmap:97 opus/48000/2\n",
	} {
		write("FuzzParseSDP", "seed-"+name, []byte(sdp))
	}

	// Depacketizers: the round-trip table's packets in the fuzz framing,
	// whole and with a loss, and round-trip mode inputs.
	targets := map[string]string{"h264": "FuzzH264Depacketizer", "h265": "FuzzH265Depacketizer", "aac": "FuzzAACDepacketizer"}
	for _, c := range roundTripCases() {
		target := targets[strings.Fields(c.name)[0]]
		pkts, _, _ := packetsFor(c)
		for _, lossAt := range []int{-1, len(pkts) / 2} {
			data := []byte{0}
			prevTS := pkts[0].Timestamp
			for i, p := range pkts {
				flags := byte(0)
				if p.Marker {
					flags |= 1
				}
				if p.Timestamp != prevTS {
					flags |= 2
				}
				if i == lossAt {
					flags |= 4
				}
				prevTS = p.Timestamp
				data = binary.BigEndian.AppendUint16(data, uint16(len(p.Payload)))
				data = append(data, flags)
				data = append(data, p.Payload...)
			}
			name := "seed-" + c.name
			if lossAt >= 0 {
				name += "-loss"
			}
			write(target, name, data)
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, target := range targets {
		for i, mtu := range []byte{0, 20, 200} {
			data := []byte{1, mtu, byte(i)}
			data = append(data, randomNALU(r, 2000)...)
			write(target, "seed-roundtrip-"+strconv.Itoa(i), data)
		}
	}

	// The connection: sender reports, video and audio packets, a response
	// and requests of the server.
	var conn []byte
	add := func(ch uint8, b []byte) { conn = appendInterleaved(conn, ch, b) }
	sr := func(ssrc, ts uint32) []byte {
		b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: ssrc, NTPTime: 0xe8000000 << 32, RTPTime: ts}})
		return b
	}
	add(1, sr(1, 1000))
	add(3, sr(2, 5000))
	video := roundTripCases()[1] // STAP-A + FU-A
	vpkts, _, _ := packetsFor(video)
	audio := roundTripCases()[8]
	apkts, _, _ := packetsFor(audio)
	conn = append(conn, "RTSP/1.0 200 OK\r\nCSeq: 6\r\n\r\n"...)
	for i := range max(len(vpkts), len(apkts)) {
		if i < len(vpkts) {
			p := *vpkts[i]
			p.SSRC = 1
			b, _ := p.Marshal()
			add(0, b)
		}
		if i < len(apkts) {
			p := *apkts[i]
			p.SSRC, p.PayloadType = 2, 97
			b, _ := p.Marshal()
			add(2, b)
		}
	}
	write("FuzzInterleaved", "seed-stream", conn)
	conn = append(conn, "GET_PARAMETER rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"...)
	bye, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{1}}})
	add(1, bye)
	write("FuzzInterleaved", "seed-stream-bye", conn)
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, Payload: []byte{28, 0x85, 1, 2}}
	b, _ := p.Marshal()
	write("FuzzInterleaved", "seed-fu-start", appendInterleaved(nil, 0, b))
}
