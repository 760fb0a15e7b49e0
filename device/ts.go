package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/asticode/go-astits"

	"kvskit/media"
	"kvskit/media/aac"
)

// tsPacketSize is the only MPEG-TS packet size read (Detect checks for it).
const tsPacketSize = 188

// Limits of the MPEG-TS reader.
const (
	// maxPacketsBeforePMT bounds how far the reader looks for the PMT.
	maxPacketsBeforePMT = 1 << 16
	// maxParseErrors bounds consecutive malformed tables or PES packets.
	maxParseErrors = 1000
)

// tsDemuxer reads an MPEG transport stream with go-astits.
type tsDemuxer struct {
	pool    *media.BufferPool // where frame buffers come from
	dmx     *astits.Demuxer
	src     *countingReader
	log     *slog.Logger
	infos   []*trackInfo
	streams map[uint16]*tsStream
	out     packetQueue // packets ready to be returned
	eof     bool
	clock   unwrapper
	errs    int
	noTS    int
}

// tsStream is one elementary stream of the program.
type tsStream struct {
	pid  uint16
	idx  int
	info *trackInfo

	// Video.
	sp       nalSplitter
	asm      auAssembler
	marks    []pesMark
	lastPTS  int64
	lastDTS  int64
	frameDur int64
	hasLast  bool

	// Audio.
	pend    []byte
	base    int64
	samples int64
	hasBase bool
	rate    int
	spf     int
	cfg     aac.AudioSpecificConfig
}

// pesMark records where in a video stream a PES packet's data begins and
// the timestamps it carries.
type pesMark struct {
	pos      int64
	pts, dts int64
	has      bool
}

// countingReader counts the bytes read and keeps the first read error other
// than io.EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

func newTSDemuxer(r io.Reader, cfg *config) (*tsDemuxer, error) {
	src := &countingReader{r: r}
	d := &tsDemuxer{
		dmx:  astits.NewDemuxer(context.Background(), src, astits.DemuxerOptPacketSize(tsPacketSize)),
		src:  src,
		log:  cfg.log,
		pool: cfg.pool,
	}
	for d.streams == nil {
		data, err := d.nextData()
		if err == io.EOF {
			return nil, errorf(FormatTS, ErrNoTracks, "no program map table (PMT) in %d bytes", d.src.n)
		}
		if err != nil {
			return nil, err
		}
		if data.PMT != nil {
			if err := d.setPMT(data.PMT); err != nil {
				return nil, err
			}
		}
		if d.src.n > maxPacketsBeforePMT*tsPacketSize {
			return nil, errorf(FormatTS, ErrNoTracks, "no program map table (PMT) in the first %d bytes", d.src.n)
		}
	}
	return d, nil
}

// nextData returns the next table or PES packet, skipping malformed ones.
func (d *tsDemuxer) nextData() (*astits.DemuxerData, error) {
	for {
		data, err := d.safeNextData()
		if err == nil {
			d.errs = 0
			return data, nil
		}
		if errors.Is(err, astits.ErrNoMorePackets) {
			if rest := d.src.n % tsPacketSize; rest != 0 && !d.eof {
				d.log.Warn("device: MPEG-TS ends inside a packet", "bytes", rest)
			}
			return nil, io.EOF
		}
		if d.src.err != nil {
			return nil, fmt.Errorf("device: ts: reading: %w", d.src.err)
		}
		d.errs++
		if d.errs == 1 {
			d.log.Warn("device: skipping malformed MPEG-TS data", "offset", d.src.n, "err", err)
		}
		if d.errs > maxParseErrors {
			return nil, wrapf(FormatTS, ErrInvalid, err, "%d malformed packets in a row before offset %d", d.errs, d.src.n)
		}
	}
}

// safeNextData calls the demuxer, turning a panic inside it into an error
// so that malformed input never crashes the caller.
func (d *tsDemuxer) safeNextData() (data *astits.DemuxerData, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("astits: %v", r)
		}
	}()
	return d.dmx.NextData()
}

// setPMT creates the tracks of the first program's supported streams.
func (d *tsDemuxer) setPMT(pmt *astits.PMTData) error {
	d.streams = map[uint16]*tsStream{}
	var skipped []string
	for _, es := range pmt.ElementaryStreams {
		t := &trackInfo{}
		switch es.StreamType {
		case astits.StreamTypeH264Video:
			t.Kind, t.Codec = media.KindVideo, media.CodecH264
		case astits.StreamTypeH265Video:
			t.Kind, t.Codec = media.KindVideo, media.CodecH265
		case astits.StreamTypeAACAudio:
			t.Kind, t.Codec = media.KindAudio, media.CodecAAC
		default:
			skipped = append(skipped, fmt.Sprintf("PID %d: %s (0x%02x)", es.ElementaryPID, es.StreamType, uint8(es.StreamType)))
			continue
		}
		if d.streams[es.ElementaryPID] != nil {
			continue
		}
		t.Name = fmt.Sprintf("PID %d", es.ElementaryPID)
		s := &tsStream{pid: es.ElementaryPID, idx: len(d.infos), info: t}
		s.asm.codec = t.Codec
		d.streams[es.ElementaryPID] = s
		d.infos = append(d.infos, t)
	}
	if len(skipped) > 0 {
		d.log.Warn("device: skipping MPEG-TS streams of unsupported types", "streams", skipped)
	}
	if len(d.infos) == 0 {
		return errorf(FormatTS, ErrNoTracks, "program %d has no H.264, H.265 or ADTS AAC stream (found %v)", pmt.ProgramNumber, skipped)
	}
	return nil
}

func (d *tsDemuxer) format() Format       { return FormatTS }
func (d *tsDemuxer) tracks() []*trackInfo { return d.infos }
func (d *tsDemuxer) done(int) bool        { return false }
func (d *tsDemuxer) close() error         { return nil }

func (d *tsDemuxer) next() (packet, error) {
	for {
		if p, ok := d.out.pop(); ok {
			return p, nil
		}
		if d.eof {
			return packet{}, io.EOF
		}
		data, err := d.nextData()
		if err == io.EOF {
			d.eof = true
			for _, s := range d.streams {
				if s.info.Kind == media.KindVideo {
					d.drainVideo(s, true)
				}
			}
			continue
		}
		if err != nil {
			return packet{}, err
		}
		if data.PES == nil {
			continue
		}
		s := d.streams[data.PID]
		if s == nil {
			continue
		}
		if err := d.pes(s, data.PES); err != nil {
			return packet{}, err
		}
	}
}

// pes takes one PES packet of stream s.
func (d *tsDemuxer) pes(s *tsStream, pes *astits.PESData) error {
	m := pesMark{}
	if oh := pes.Header.OptionalHeader; oh != nil && oh.PTS != nil {
		m.pts = ticks90kToNS(d.clock.unwrap(oh.PTS.Base))
		m.dts = m.pts
		if oh.DTS != nil {
			m.dts = ticks90kToNS(d.clock.unwrap(oh.DTS.Base))
		}
		m.has = true
	}
	if s.info.Kind == media.KindAudio {
		d.audio(s, pes.Data, m)
		return nil
	}
	m.pos = s.sp.offset()
	s.marks = append(s.marks, m)
	s.sp.write(pes.Data)
	d.drainVideo(s, false)
	if s.sp.pending() > maxNALSize {
		return errorf(FormatTS, ErrTooLarge, "PID %d: no start code within %d bytes", s.pid, maxNALSize)
	}
	return nil
}

// drainVideo emits the access units that are complete.
func (d *tsDemuxer) drainVideo(s *tsStream, final bool) {
	for {
		nal, pos := s.sp.next(final)
		if nal == nil {
			break
		}
		if au, ok := s.asm.add(nal, pos); ok {
			d.videoAU(s, au)
		}
	}
	if final {
		if au, ok := s.asm.flush(); ok {
			d.videoAU(s, au)
		}
	}
}

// videoAU timestamps an access unit with the PES packet it starts in, or
// continues from the previous one.
func (d *tsDemuxer) videoAU(s *tsStream, au accessUnit) {
	k := -1
	for i, m := range s.marks {
		if m.pos > au.pos {
			break
		}
		k = i
	}
	var pts, dts int64
	switch {
	case k >= 0 && s.marks[k].has:
		pts, dts = s.marks[k].pts, s.marks[k].dts
		if s.hasLast && dts > s.lastDTS {
			s.frameDur = dts - s.lastDTS
		}
	case s.hasLast:
		dts = s.lastDTS + s.frameDur
		pts = dts + s.lastPTS - s.lastDTS
	default:
		d.noTS++
		if d.noTS == 1 {
			d.log.Warn("device: dropping MPEG-TS video without a timestamp", "pid", s.pid)
		}
		s.marks = s.marks[k+1:]
		return
	}
	s.marks = s.marks[k+1:]
	s.lastPTS, s.lastDTS, s.hasLast = pts, dts, true
	d.out.push(packet{track: s.idx, pts: pts, dts: dts, key: au.key, data: au.data})
}

// audio splits ADTS data into raw AAC frames.
func (d *tsDemuxer) audio(s *tsStream, data []byte, m pesMark) {
	start := len(s.pend)
	s.pend = append(s.pend, data...)
	i := 0
	for i < len(s.pend) {
		h, raw, rest, err := aac.NextADTS(s.pend[i:])
		if errors.Is(err, aac.ErrTruncated) {
			break
		}
		if err != nil {
			if errors.Is(err, aac.ErrUnsupported) && h.FrameLength > 0 && h.FrameLength <= len(s.pend)-i {
				d.log.Warn("device: skipping an unsupported ADTS frame", "pid", s.pid, "err", err)
				i += h.FrameLength
				continue
			}
			// Find the next syncword.
			j := i + 1
			for j < len(s.pend) && !(s.pend[j] == 0xFF && (j+1 == len(s.pend) || s.pend[j+1]&0xF0 == 0xF0)) {
				j++
			}
			d.log.Warn("device: skipping bytes of an ADTS stream without a frame", "pid", s.pid, "bytes", j-i)
			i = j
			continue
		}
		frameStart := i
		i = len(s.pend) - len(rest)
		if frameStart >= start && m.has {
			s.base, s.samples, s.hasBase = m.pts, 0, true
			m.has = false
		}
		if !s.hasBase {
			continue
		}
		if s.rate == 0 {
			s.cfg = aac.ConfigFromADTS(h)
			if s.rate = s.cfg.SampleRate(); s.rate <= 0 {
				continue
			}
			s.spf = s.cfg.SamplesPerFrame()
			if len(s.info.CodecPrivate) == 0 {
				s.info.CodecPrivate = s.cfg.Marshal()
			}
		}
		ts := s.base + s.samples*1e9/int64(s.rate)
		s.samples += int64(s.spf)
		d.out.push(packet{track: s.idx, pts: ts, dts: ts, key: true, data: d.pool.Clone(raw)})
	}
	s.pend = append(s.pend[:0], s.pend[i:]...)
}

// ticks90kToNS converts 90 kHz clock ticks to nanoseconds.
func ticks90kToNS(t int64) int64 { return t * 100000 / 9 }

// unwrapper undoes the 33-bit wrap of MPEG-TS timestamps. One unwrapper
// serves all streams of a program, so they stay on the same clock.
type unwrapper struct {
	last, acc int64
	has       bool
}

func (u *unwrapper) unwrap(raw int64) int64 {
	const wrap = 1 << 33
	raw &= wrap - 1
	if !u.has {
		u.last, u.acc, u.has = raw, raw, true
		return raw
	}
	diff := (raw - u.last) & (wrap - 1)
	if diff >= wrap/2 {
		diff -= wrap
	}
	u.last = raw
	u.acc += diff
	return u.acc
}
