package rtsp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// roundTripCase is one row of the packetize -> depacketize table: access
// units, how they are packetized, and the depacketizer that must give them
// back unchanged.
type roundTripCase struct {
	name      string
	units     [][][]byte // NAL units (or one AAC frame) per access unit
	packetize func(au [][]byte) [][]byte
	newDep    func() depacketizer
	aacMTU    int // AAC cases: the payload size limit
}

func h264Units(r *rand.Rand) [][][]byte {
	return [][][]byte{
		{randomNALU(r, 20, 0x67), randomNALU(r, 3, 0x68), randomNALU(r, 5000, 0x65)}, // SPS PPS IDR
		{randomNALU(r, 300, 0x41)},
		{randomNALU(r, 10, 0x06), randomNALU(r, 800, 0x41), randomNALU(r, 1500, 0x41)}, // SEI + two slices
		{randomNALU(r, 1, 0x01)},
		{randomNALU(r, 2397, 0x41)}, // exactly two FU-A payloads at MTU 1200
	}
}

func h265Units(r *rand.Rand) [][][]byte {
	return [][][]byte{
		{randomNALU(r, 20, 0x40, 0x01), randomNALU(r, 40, 0x42, 0x01), randomNALU(r, 5, 0x44, 0x01), randomNALU(r, 6000, 0x26, 0x01)}, // VPS SPS PPS IDR
		{randomNALU(r, 200, 0x02, 0x01)},
		{randomNALU(r, 30, 0x4e, 0x01), randomNALU(r, 1300, 0x02, 0x01), randomNALU(r, 100, 0x02, 0x01)}, // prefix SEI + two slices
	}
}

func aacUnits(r *rand.Rand, sizes ...int) [][][]byte {
	var out [][][]byte
	for _, n := range sizes {
		out = append(out, [][]byte{randomNALU(r, n)})
	}
	return out
}

// annexB joins NAL units with start codes, as pion's payloaders take them.
func annexB(au [][]byte) []byte {
	var b []byte
	for _, n := range au {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

func roundTripCases() []roundTripCase {
	r := rand.New(rand.NewPCG(1, 2))
	newH264 := func() depacketizer { return &h264Depacketizer{} }
	newH265 := func() depacketizer { return &h265Depacketizer{} }
	newAAC := func() depacketizer {
		d, err := newAACDepacketizer(map[string]string{"mode": "AAC-hbr", "sizelength": "13", "indexlength": "3", "indexdeltalength": "3"}, 1024)
		if err != nil {
			panic(err)
		}
		return d
	}
	pionH264 := &codecs.H264Payloader{}
	pionH265 := &codecs.H265Payloader{}
	return []roundTripCase{
		{"h264 single+fu", h264Units(r), func(au [][]byte) [][]byte { return packetizeH264(au, 1200, false) }, newH264, 0},
		{"h264 stap-a+fu", h264Units(r), func(au [][]byte) [][]byte { return packetizeH264(au, 1200, true) }, newH264, 0},
		{"h264 small mtu", h264Units(r), func(au [][]byte) [][]byte { return packetizeH264(au, 100, true) }, newH264, 0},
		{"h264 pion payloader", h264Units(r), func(au [][]byte) [][]byte { return pionH264.Payload(1200, annexB(au)) }, newH264, 0},
		{"h265 single+fu", h265Units(r), func(au [][]byte) [][]byte { return packetizeH265(au, 1200, false) }, newH265, 0},
		{"h265 ap+fu", h265Units(r), func(au [][]byte) [][]byte { return packetizeH265(au, 1200, true) }, newH265, 0},
		{"h265 pion payloader", h265Units(r), func(au [][]byte) [][]byte { return pionH265.Payload(1200, annexB(au)) }, newH265, 0},
		{"aac one per packet", aacUnits(r, 300, 280, 1, 350), nil, newAAC, 400},
		{"aac several per packet", aacUnits(r, 200, 210, 190, 220, 205, 198), nil, newAAC, 1000},
		{"aac fragmented", aacUnits(r, 100, 3000, 120, 2500), nil, newAAC, 1000},
	}
}

// packetsFor packetizes the units of c with timestamps 3000 apart (1024 for
// AAC) starting near the 32-bit wrap. It also returns the units each packet
// carries (a part of).
func packetsFor(c roundTripCase) ([]*rtp.Packet, []uint32, [][]int) {
	ts := make([]uint32, len(c.units))
	start := uint32(0xffffffff - 4000)
	if c.packetize != nil {
		var payloads [][][]byte
		for i, au := range c.units {
			ts[i] = start + uint32(i)*3000
			payloads = append(payloads, c.packetize(au))
		}
		var covers [][]int
		for i, p := range payloads {
			for range p {
				covers = append(covers, []int{i})
			}
		}
		return toPackets(payloads, ts, 65530), ts, covers
	}
	frames := make([][]byte, len(c.units))
	for i, u := range c.units {
		frames[i] = u[0]
		ts[i] = start + uint32(i)*1024
	}
	payloads, first, ends := packetizeAAC(frames, c.aacMTU)
	var pkts []*rtp.Packet
	var covers [][]int
	for i, p := range payloads {
		var units []int
		for u := first[i]; u < len(frames) && (u == first[i] || i+1 < len(first) && u < first[i+1] || i+1 == len(first)); u++ {
			units = append(units, u)
		}
		covers = append(covers, units)
		pkts = append(pkts, &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: uint16(65530 + i), Timestamp: ts[first[i]], Marker: ends[i]},
			Payload: p,
		})
	}
	return pkts, ts, covers
}

func TestDepacketizeRoundTrip(t *testing.T) {
	for _, c := range roundTripCases() {
		t.Run(c.name, func(t *testing.T) {
			pkts, ts, _ := packetsFor(c)
			d := c.newDep()
			var got []accessUnit
			for _, p := range pkts {
				// The depacketizer must copy: scribble over the payload afterwards.
				payload := append([]byte(nil), p.Payload...)
				p.Payload = payload
				aus, err := d.push(p)
				if err != nil {
					t.Fatalf("packet %d: %v", p.SequenceNumber, err)
				}
				for i := range payload {
					payload[i] = 0xee
				}
				got = append(got, aus...)
			}
			if len(got) != len(c.units) {
				t.Fatalf("%d units from %d packets, want %d", len(got), len(pkts), len(c.units))
			}
			for i, au := range got {
				if au.broken || au.ts != ts[i] {
					t.Errorf("unit %d: broken=%v ts=%d, want %d", i, au.broken, au.ts, ts[i])
				}
				if !equalUnits(au.units(), c.units[i]) {
					t.Errorf("unit %d differs: got %s, want %s", i, shape(au.units()), shape(c.units[i]))
				}
			}
		})
	}
}

func equalUnits(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func shape(nalus [][]byte) string {
	s := ""
	for _, n := range nalus {
		s += fmt.Sprintf("[%d bytes %x..]", len(n), n[:min(len(n), 2)])
	}
	return s
}

// TestDepacketizeLoss drops each packet of each round-trip case in turn:
// the units the lost packet carried come out broken or not at all, video
// units next to the loss may be broken too (the depacketizer cannot tell
// which unit a lost packet belonged to), and all others are intact.
func TestDepacketizeLoss(t *testing.T) {
	for _, c := range roundTripCases() {
		t.Run(c.name, func(t *testing.T) {
			pkts, ts, covers := packetsFor(c)
			unitOf := map[uint32]int{}
			for i, x := range ts {
				unitOf[x] = i
			}
			for drop := range pkts {
				d := c.newDep()
				var got []accessUnit
				for i, p := range pkts {
					if i == drop {
						d.lost()
						continue
					}
					aus, _ := d.push(p)
					got = append(got, aus...)
				}
				lost := map[int]bool{}
				for _, u := range covers[drop] {
					lost[u] = true
				}
				mayBreak := map[int]bool{}
				if c.packetize != nil { // video: the neighbours of the loss
					u := covers[drop][0]
					mayBreak[u-1], mayBreak[u+1] = true, true
				}
				intact := map[int]bool{}
				for _, au := range got {
					u := unitOf[au.ts]
					if au.broken {
						if !lost[u] && !mayBreak[u] {
							t.Errorf("drop %d: unit %d broken", drop, u)
						}
						continue
					}
					if lost[u] {
						t.Errorf("drop %d: unit %d (with the lost packet) delivered intact", drop, u)
					}
					if !equalUnits(au.units(), c.units[u]) {
						t.Errorf("drop %d: unit %d corrupted: %s", drop, u, shape(au.units()))
					}
					intact[u] = true
				}
				for u := range c.units {
					if !intact[u] && !lost[u] && !mayBreak[u] && u != len(c.units)-1 {
						t.Errorf("drop %d: unit %d not delivered", drop, u)
					}
				}
			}
		})
	}
}

// TestDepacketizeNoMarker checks that units end on a timestamp change when
// the sender never sets the marker bit.
func TestDepacketizeNoMarker(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	units := h264Units(r)
	var payloads [][][]byte
	ts := make([]uint32, len(units))
	for i, au := range units {
		payloads = append(payloads, packetizeH264(au, 1200, true))
		ts[i] = uint32(i * 3000)
	}
	pkts := toPackets(payloads, ts, 0)
	d := &h264Depacketizer{}
	var got []accessUnit
	for _, p := range pkts {
		p.Marker = false
		aus, err := d.push(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, aus...)
	}
	if len(got) != len(units)-1 { // the last one waits for the next timestamp
		t.Fatalf("%d units, want %d", len(got), len(units)-1)
	}
	for i, au := range got {
		if au.broken || !equalUnits(au.units(), units[i]) {
			t.Errorf("unit %d: broken=%v %s", i, au.broken, shape(au.units()))
		}
	}
}

func TestDepacketizeMalformed(t *testing.T) {
	cases := []struct {
		name    string
		dep     depacketizer
		payload []byte
	}{
		{"h264 stap-a overrun", &h264Depacketizer{}, []byte{24, 0, 9, 0x67, 1}},
		{"h264 stap-a zero size", &h264Depacketizer{}, []byte{24, 0, 0}},
		{"h264 fu-a short", &h264Depacketizer{}, []byte{28}},
		{"h264 fu-a start+end", &h264Depacketizer{}, []byte{28, 0xc5, 1}},
		{"h264 stap-b", &h264Depacketizer{}, []byte{25, 0, 0, 0, 1, 1}},
		{"h265 short", &h265Depacketizer{}, []byte{2, 1}},
		{"h265 forbidden bit", &h265Depacketizer{}, []byte{0x82, 1, 5}},
		{"h265 ap overrun", &h265Depacketizer{}, []byte{96, 1, 0, 50, 1, 1}},
		{"h265 type 60", &h265Depacketizer{}, []byte{120, 1, 5}},
		{"aac short", mustAAC(t), []byte{0}},
		{"aac headers past end", mustAAC(t), []byte{0, 64, 0}},
		{"aac unit past end", mustAAC(t), []byte{0, 32, 0, 80, 0, 80, 1, 2}},
		{"aac no headers", mustAAC(t), []byte{0, 0, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &rtp.Packet{Header: rtp.Header{Marker: true, Timestamp: 1}, Payload: c.payload}
			aus, err := c.dep.push(p)
			if err == nil {
				t.Errorf("no error; units %+v", aus)
			}
			for _, au := range aus {
				if !au.broken {
					t.Errorf("intact unit from a malformed packet: %s", shape(au.units()))
				}
			}
		})
	}
}

func mustAAC(t *testing.T) *aacDepacketizer {
	d, err := newAACDepacketizer(map[string]string{"sizelength": "13", "indexlength": "3", "indexdeltalength": "3"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAACHeaderVariants covers AU headers with other field sizes: AAC-lbr
// (6/2/2) and CTS/DTS deltas.
func TestAACHeaderVariants(t *testing.T) {
	lbr, err := newAACDepacketizer(map[string]string{"mode": "AAC-lbr", "sizelength": "6", "indexlength": "2", "indexdeltalength": "2"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// Two frames of 3 and 2 bytes: headers 000011|00 000010|00 = 16 bits.
	aus, err := lbr.push(&rtp.Packet{Header: rtp.Header{Timestamp: 100, Marker: true}, Payload: []byte{0, 16, 0x0c, 0x08, 1, 2, 3, 4, 5}})
	if err != nil || len(aus) != 2 || !bytes.Equal(aus[0].units()[0], []byte{1, 2, 3}) || !bytes.Equal(aus[1].units()[0], []byte{4, 5}) ||
		aus[0].ts != 100 || aus[1].ts != 1124 {
		t.Fatalf("lbr: %+v %v", aus, err)
	}
	cts, err := newAACDepacketizer(map[string]string{"sizelength": "13", "indexlength": "3", "indexdeltalength": "3", "ctsdeltalength": "4", "randomaccessindication": "1"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// One frame of 2 bytes: size 13 bits=2, index 3 bits=0, CTS flag 1 + delta 4 bits, RAP 1 bit: 22 bits.
	// 0000000000010 000 1 0101 1 -> 00000000 00010000 101011xx
	aus, err = cts.push(&rtp.Packet{Header: rtp.Header{Timestamp: 7, Marker: true}, Payload: []byte{0, 22, 0x00, 0x10, 0xac, 9, 8}})
	if err != nil || len(aus) != 1 || !bytes.Equal(aus[0].units()[0], []byte{9, 8}) {
		t.Fatalf("cts: %+v %v", aus, err)
	}
	if _, err := newAACDepacketizer(map[string]string{"mode": "CELP-cbr", "sizelength": "13"}, 1024); err == nil {
		t.Error("CELP accepted")
	}
	if _, err := newAACDepacketizer(map[string]string{"mode": "AAC-hbr"}, 1024); err == nil {
		t.Error("constant size accepted")
	}
}

// TestH265DONL checks the decoding order number fields that
// sprop-max-don-diff > 0 adds.
func TestH265DONL(t *testing.T) {
	d := &h265Depacketizer{donl: true}
	nalA := []byte{0x02, 0x01, 0xaa, 0xbb}
	nalB := []byte{0x02, 0x01, 0xcc}
	// Single NAL unit with DONL: header, DONL, rest.
	single := []byte{0x02, 0x01, 0x00, 0x07, 0xaa, 0xbb}
	// AP: header, DONL, size, unit, DOND, size, unit.
	ap := []byte{96, 1, 0x00, 0x08, 0, 4, 0x02, 0x01, 0xaa, 0xbb, 1, 0, 3, 0x02, 0x01, 0xcc}
	// FU start and end with DONL.
	fu1 := []byte{98, 1, 0x81, 0x00, 0x09, 0xaa}
	fu2 := []byte{98, 1, 0x41, 0xbb}
	var got []accessUnit
	for i, p := range [][]byte{single, ap, fu1, fu2} {
		aus, err := d.push(&rtp.Packet{Header: rtp.Header{Timestamp: uint32(min(i, 2)), Marker: i != 2}, Payload: p})
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		got = append(got, aus...)
	}
	want := [][][]byte{{nalA}, {nalA, nalB}, {nalA}}
	if len(got) != len(want) {
		t.Fatalf("got %d units", len(got))
	}
	for i := range want {
		if !equalUnits(got[i].units(), want[i]) {
			t.Errorf("unit %d: %x", i, got[i].units())
		}
	}
}

// TestG711 checks the pass-through of G.711 payloads.
func TestG711(t *testing.T) {
	var d g711Depacketizer
	aus, err := d.push(&rtp.Packet{Header: rtp.Header{Timestamp: 160}, Payload: []byte{1, 2, 3}})
	if err != nil || len(aus) != 1 || aus[0].ts != 160 || !bytes.Equal(aus[0].units()[0], []byte{1, 2, 3}) {
		t.Fatalf("%+v %v", aus, err)
	}
	if aus, _ := d.push(&rtp.Packet{}); len(aus) != 0 {
		t.Error("empty payload gave a frame")
	}
}
