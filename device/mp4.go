package device

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"

	"kvskit/media"
)

// mp4Demuxer reads MP4 in one of two ways. At random (a file): progressive
// files sample by sample in DTS order. As a stream: boxes in file order,
// samples in file order from each mdat, fragments as they come; that serves
// fragmented files, and progressive ones whose moov comes first.
type mp4Demuxer struct {
	pool  *media.BufferPool // where frame buffers come from
	log   *slog.Logger
	movie *mp4Movie
	infos []*trackInfo

	// Random access.
	random bool
	ra     io.ReaderAt
	size   int64
	iters  []*stblIter
	spool  *os.File

	// Stream.
	r       io.Reader
	pos     int64
	srcs    []sampleSource
	inMdat  bool
	mdatOff int64
	mdatEnd int64
	stbl    []*stblIter // per track, nil without samples in the moov

	bad int
}

// newMP4FileDemuxer reads the MP4 file ra of size bytes.
func newMP4FileDemuxer(ra io.ReaderAt, size int64, cfg *config) (*mp4Demuxer, error) {
	d := &mp4Demuxer{log: cfg.log, pool: cfg.pool, ra: ra, size: size}
	if err := d.scan(0); err != nil {
		return nil, err
	}
	return d, nil
}

// scan reads the top-level boxes of the random-access input from offset
// start, parses the moov box and prepares reading.
func (d *mp4Demuxer) scan(start int64) error {
	truncated := ""
	fragments := false
	var moov *mp4Box
	for off := start; off < d.size; {
		var hb [32]byte
		n, err := d.ra.ReadAt(hb[:], off)
		if err != nil && err != io.EOF {
			return fmt.Errorf("device: mp4: reading at offset %d: %w", off, err)
		}
		typ, hdr, size, need := boxHeader(hb[:n])
		if need > 0 {
			truncated = fmt.Sprintf("the file ends inside a box header at offset %d", off)
			break
		}
		if size < 0 {
			size = d.size - off
		}
		if size < int64(hdr) {
			return mp4Errorf(ErrInvalid, "%s box at offset %d declares %d bytes", typ, off, size)
		}
		end := off + size
		if end > d.size {
			truncated = fmt.Sprintf("%s box at offset %d declares %d bytes but the file ends after %d: truncated %s box", typ, off, size, d.size-off, typ)
			if typ == "moov" {
				return mp4Errorf(ErrTruncated, "%s", truncated)
			}
			d.log.Warn("device: MP4 file is truncated", "box", typ, "offset", off, "declared", size, "available", d.size-off)
		}
		switch typ {
		case "moov":
			if moov != nil {
				break
			}
			if size > maxMP4BoxSize {
				return mp4Errorf(ErrTooLarge, "moov box at offset %d is %d bytes (limit %d)", off, size, maxMP4BoxSize)
			}
			body := make([]byte, size-int64(hdr))
			if _, err := d.ra.ReadAt(body, off+int64(hdr)); err != nil {
				return fmt.Errorf("device: mp4: reading the moov box at offset %d: %w", off, err)
			}
			moov = &mp4Box{typ: "moov", path: "moov", off: off, hdr: hdr, body: body}
		case "moof":
			fragments = true
		}
		if end > d.size {
			break
		}
		off = end
	}
	if moov == nil {
		if truncated != "" {
			return mp4Errorf(ErrTruncated, "no moov box: %s", truncated)
		}
		return mp4Errorf(ErrInvalid, "no moov box")
	}
	if err := d.setMovie(*moov); err != nil {
		return err
	}
	if d.movie.fragmented || fragments {
		// Fragments are read as a stream from the start of the file.
		d.r = newSectionReader(d.ra, d.size)
		d.initStream()
		return nil
	}
	d.random = true
	for _, t := range d.movie.tracks {
		d.iters = append(d.iters, newStblIter(t))
	}
	return nil
}

// newSectionReader returns a buffered sequential reader over ra.
func newSectionReader(ra io.ReaderAt, size int64) io.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), readBufferSize)
}

func (d *mp4Demuxer) setMovie(moov mp4Box) error {
	m, err := parseMoov(moov, d.log)
	if err != nil {
		return err
	}
	if len(m.skipped) > 0 {
		d.log.Warn("device: skipping MP4 tracks of unsupported kinds or codecs", "tracks", strings.Join(m.skipped, ", "))
	}
	if len(m.tracks) == 0 {
		return mp4Errorf(ErrNoTracks, "no H.264, H.265 or AAC track (found %s)", strings.Join(m.skipped, ", "))
	}
	d.movie = m
	for _, t := range m.tracks {
		d.infos = append(d.infos, t.info)
	}
	return nil
}

// newMP4StreamDemuxer reads MP4 from a stream, up to and including the moov
// box (or, when an mdat comes first, copies the stream to a temporary file
// and reads that at random).
func newMP4StreamDemuxer(r io.Reader, cfg *config) (*mp4Demuxer, error) {
	d := &mp4Demuxer{log: cfg.log, pool: cfg.pool, r: r}
	for {
		typ, hdr, size, hb, err := d.readBoxHeader()
		if err == io.EOF {
			return nil, mp4Errorf(ErrInvalid, "no moov box")
		}
		if err != nil {
			return nil, err
		}
		off := d.pos - int64(hdr)
		switch typ {
		case "moov":
			body, err := d.readBody(typ, off, hdr, size)
			if err != nil {
				return nil, err
			}
			if err := d.setMovie(mp4Box{typ: "moov", path: "moov", off: off, hdr: hdr, body: body}); err != nil {
				return nil, err
			}
			d.initStream()
			return d, nil
		case "mdat":
			if err := d.spoolFrom(off, hb); err != nil {
				return nil, err
			}
			return d, nil
		case "moof":
			return nil, mp4Errorf(ErrInvalid, "moof box at offset %d before the moov box", off)
		default:
			if err := d.discard(typ, off, size-int64(hdr)); err != nil {
				if errors.Is(err, ErrTruncated) {
					return nil, mp4Errorf(ErrTruncated, "no moov box: %s box at offset %d declares %d bytes but the input ends after %d: truncated %s box", typ, off, size, d.pos-off, typ)
				}
				return nil, err
			}
		}
	}
}

// spoolFrom copies the rest of the stream, from the mdat box whose header
// hb was just read at offset off, to an unlinked temporary file at the same
// offsets, and reads it at random.
func (d *mp4Demuxer) spoolFrom(off int64, hb []byte) error {
	f, err := os.CreateTemp("", "kvs-device-*.mp4")
	if err != nil {
		return fmt.Errorf("device: mp4: the moov box follows the mdat box, which needs a temporary file: %w", err)
	}
	os.Remove(f.Name())
	d.spool = f
	d.log.Info("device: MP4 stream has its moov box at the end; copying it to a temporary file")
	if _, err := f.WriteAt(hb, off); err != nil {
		return fmt.Errorf("device: mp4: writing the temporary file: %w", err)
	}
	if _, err := f.Seek(off+int64(len(hb)), io.SeekStart); err != nil {
		return fmt.Errorf("device: mp4: writing the temporary file: %w", err)
	}
	n, err := io.Copy(f, d.r)
	if err != nil {
		return fmt.Errorf("device: mp4: copying the stream to a temporary file: %w", err)
	}
	d.ra, d.size, d.r = f, off+int64(len(hb))+n, nil
	return d.scan(off)
}

func (d *mp4Demuxer) initStream() {
	d.stbl = make([]*stblIter, len(d.movie.tracks))
	for i, t := range d.movie.tracks {
		if t.st.count > 0 {
			it := newStblIter(t)
			d.stbl[i] = it
			d.srcs = append(d.srcs, it)
		}
	}
}

// readBoxHeader reads a top-level box header from the stream. It returns
// io.EOF at a clean end and hb, the header bytes.
func (d *mp4Demuxer) readBoxHeader() (typ string, hdr int, size int64, hb []byte, err error) {
	buf := make([]byte, 8, 32)
	n, err := io.ReadFull(d.r, buf)
	if err == io.EOF {
		return "", 0, 0, nil, io.EOF
	}
	if err != nil {
		return "", 0, 0, nil, d.readErr(err, "box header", d.pos+int64(n))
	}
	for {
		typ, hdr, size, need := boxHeader(buf)
		if need == 0 {
			d.pos += int64(len(buf))
			if size >= 0 && size < int64(hdr) {
				return "", 0, 0, nil, mp4Errorf(ErrInvalid, "%s box at offset %d declares %d bytes", typ, d.pos-int64(hdr), size)
			}
			return typ, hdr, size, buf, nil
		}
		more := buf[len(buf):need]
		if _, err := io.ReadFull(d.r, more); err != nil {
			return "", 0, 0, nil, d.readErr(err, "box header", d.pos)
		}
		buf = buf[:need]
	}
}

func (d *mp4Demuxer) readErr(err error, what string, off int64) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return mp4Errorf(ErrTruncated, "the input ends inside a %s at offset %d", what, off)
	}
	return fmt.Errorf("device: mp4: reading %s at offset %d: %w", what, off, err)
}

// readBody reads the body of a box that must be held in memory.
func (d *mp4Demuxer) readBody(typ string, off int64, hdr int, size int64) ([]byte, error) {
	if size < 0 {
		return nil, mp4Errorf(ErrInvalid, "%s box at offset %d extends to the end of the stream", typ, off)
	}
	if size > maxMP4BoxSize {
		return nil, mp4Errorf(ErrTooLarge, "%s box at offset %d is %d bytes (limit %d)", typ, off, size, maxMP4BoxSize)
	}
	body, err := readN(d.r, size-int64(hdr))
	n := len(body)
	d.pos += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, mp4Errorf(ErrTruncated, "%s box at offset %d declares %d bytes but the input ends after %d: truncated %s box", typ, off, size, int64(hdr+n), typ)
		}
		return nil, fmt.Errorf("device: mp4: reading the %s box at offset %d: %w", typ, off, err)
	}
	return body, nil
}

// discard skips n bytes of the stream (to the end when n < 0).
func (d *mp4Demuxer) discard(typ string, off, n int64) error {
	if n < 0 {
		m, err := io.Copy(io.Discard, d.r)
		d.pos += m
		return err
	}
	m, err := io.CopyN(io.Discard, d.r, n)
	d.pos += m
	if err != nil {
		if err == io.EOF {
			return mp4Errorf(ErrTruncated, "%s box at offset %d declares %d bytes but the input ends after %d: truncated %s box", typ, off, n+d.pos-m-off, d.pos-off, typ)
		}
		return fmt.Errorf("device: mp4: reading the %s box at offset %d: %w", typ, off, err)
	}
	return nil
}

func (d *mp4Demuxer) format() Format       { return FormatMP4 }
func (d *mp4Demuxer) tracks() []*trackInfo { return d.infos }

func (d *mp4Demuxer) done(i int) bool {
	if d.random {
		_, ok, err := d.iters[i].peek()
		return !ok && err == nil
	}
	if d.movie.fragmented {
		return false
	}
	it := d.stbl[i]
	if it == nil {
		return true
	}
	_, ok, err := it.peek()
	return !ok && err == nil
}

func (d *mp4Demuxer) close() error {
	if d.spool != nil {
		err := d.spool.Close()
		d.spool = nil
		return err
	}
	return nil
}

func (d *mp4Demuxer) next() (packet, error) {
	for {
		var s mp4Sample
		var data []byte
		var err error
		if d.random {
			s, data, err = d.nextRandom()
		} else {
			s, data, err = d.nextStream()
		}
		if err != nil {
			return packet{}, err
		}
		p := packet{track: s.t.idx, pts: s.pts, dts: s.dts, key: s.key, data: data}
		if s.t.lengthSize > 0 {
			if validAVCC(data) && s.t.lengthSize == 4 {
				return p, nil
			}
			v, ok := videoPayload(d.pool, data, s.t.lengthSize)
			if !ok {
				if d.bad++; d.bad == 1 {
					d.log.Warn("device: dropping an MP4 video sample that is not length-prefixed", "track", s.t.id, "offset", s.off)
				}
				continue
			}
			p.data = v
		}
		return p, nil
	}
}

// nextRandom returns the sample with the smallest DTS across tracks.
func (d *mp4Demuxer) nextRandom() (mp4Sample, []byte, error) {
	var best *stblIter
	var bs mp4Sample
	for _, it := range d.iters {
		s, ok, err := it.peek()
		if err != nil {
			return mp4Sample{}, nil, err
		}
		if ok && (best == nil || s.dts < bs.dts) {
			best, bs = it, s
		}
	}
	if best == nil {
		return mp4Sample{}, nil, io.EOF
	}
	if bs.size > maxSampleSize {
		return mp4Sample{}, nil, mp4Errorf(ErrTooLarge, "sample of track %d at offset %d is %d bytes", bs.t.id, bs.off, bs.size)
	}
	if bs.off+int64(bs.size) > d.size {
		return mp4Sample{}, nil, mp4Errorf(ErrTruncated, "sample of track %d at offset %d (%d bytes) lies beyond the end of the file at %d: truncated mdat box", bs.t.id, bs.off, bs.size, d.size)
	}
	if best.sum > d.size {
		return mp4Sample{}, nil, mp4Errorf(ErrInvalid, "the sample table of track %d describes more data than the file holds", bs.t.id)
	}
	data := d.pool.Get(int(bs.size))
	if _, err := d.ra.ReadAt(data, bs.off); err != nil {
		return mp4Sample{}, nil, fmt.Errorf("device: mp4: reading a sample at offset %d: %w", bs.off, err)
	}
	best.advance()
	return bs, data, nil
}

// nextStream returns the next sample in file order, reading boxes as
// needed.
func (d *mp4Demuxer) nextStream() (mp4Sample, []byte, error) {
	for {
		src, s, err := d.lowest()
		if err != nil {
			return mp4Sample{}, nil, err
		}
		if src != nil && d.inMdat {
			if s.off < d.pos {
				return mp4Sample{}, nil, mp4Errorf(ErrUnsupported, "sample of track %d at offset %d lies before the read position %d: this file needs random access (open it as a file)", s.t.id, s.off, d.pos)
			}
			if s.off < d.mdatEnd {
				end := s.off + int64(s.size)
				if end > d.mdatEnd {
					return mp4Sample{}, nil, mp4Errorf(ErrInvalid, "sample of track %d at offset %d (%d bytes) crosses the end of the mdat box at %d", s.t.id, s.off, s.size, d.mdatEnd)
				}
				if s.size > maxSampleSize {
					return mp4Sample{}, nil, mp4Errorf(ErrTooLarge, "sample of track %d at offset %d is %d bytes", s.t.id, s.off, s.size)
				}
				if err := d.discardMdat(s.off - d.pos); err != nil {
					return mp4Sample{}, nil, err
				}
				data, err := readN(d.r, int64(s.size))
				d.pos += int64(len(data))
				if err != nil {
					return mp4Sample{}, nil, d.mdatErr(err)
				}
				src.advance()
				return s, data, nil
			}
		}
		if d.inMdat {
			// Nothing more to read in this mdat.
			if d.mdatEnd == math.MaxInt64 {
				if src != nil {
					return mp4Sample{}, nil, mp4Errorf(ErrInvalid, "sample of track %d at offset %d lies after the mdat box that extends to the end", s.t.id, s.off)
				}
				return mp4Sample{}, nil, io.EOF
			}
			if err := d.discardMdat(d.mdatEnd - d.pos); err != nil {
				return mp4Sample{}, nil, err
			}
			d.inMdat = false
		}
		typ, hdr, size, _, err := d.readBoxHeader()
		if err == io.EOF {
			if src != nil {
				return mp4Sample{}, nil, mp4Errorf(ErrTruncated, "the input ends at offset %d before the sample of track %d at offset %d: missing or truncated mdat box", d.pos, s.t.id, s.off)
			}
			return mp4Sample{}, nil, io.EOF
		}
		if err != nil {
			return mp4Sample{}, nil, err
		}
		off := d.pos - int64(hdr)
		switch typ {
		case "mdat":
			d.inMdat, d.mdatOff, d.mdatEnd = true, off, math.MaxInt64
			if size >= 0 {
				d.mdatEnd = off + size
			}
		case "moof":
			body, err := d.readBody(typ, off, hdr, size)
			if err != nil {
				return mp4Sample{}, nil, err
			}
			srcs, err := parseMoof(mp4Box{typ: "moof", path: "moof", off: off, hdr: hdr, body: body}, d.movie)
			if err != nil {
				return mp4Sample{}, nil, err
			}
			d.srcs = append(d.srcs, srcs...)
		default:
			if err := d.discard(typ, off, size-int64(hdr)); err != nil {
				return mp4Sample{}, nil, err
			}
		}
	}
}

// lowest returns the source whose current sample has the lowest offset,
// dropping exhausted sources.
func (d *mp4Demuxer) lowest() (sampleSource, mp4Sample, error) {
	var best sampleSource
	var bs mp4Sample
	j := 0
	for _, src := range d.srcs {
		s, ok, err := src.peek()
		if err != nil {
			return nil, mp4Sample{}, err
		}
		if !ok {
			continue
		}
		d.srcs[j] = src
		j++
		if best == nil || s.off < bs.off {
			best, bs = src, s
		}
	}
	clear(d.srcs[j:])
	d.srcs = d.srcs[:j]
	return best, bs, nil
}

func (d *mp4Demuxer) discardMdat(n int64) error {
	if n == 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, d.r, n)
	d.pos += m
	if err != nil {
		return d.mdatErr(err)
	}
	return nil
}

func (d *mp4Demuxer) mdatErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		end := "the end of the stream"
		if d.mdatEnd != math.MaxInt64 {
			end = fmt.Sprintf("offset %d", d.mdatEnd)
		}
		return mp4Errorf(ErrTruncated, "mdat box at offset %d (extending to %s) is truncated: the input ends at offset %d", d.mdatOff, end, d.pos)
	}
	return fmt.Errorf("device: mp4: reading the mdat box at offset %d: %w", d.mdatOff, err)
}

// readN reads n bytes. It allocates them up front only up to 1 MiB and
// grows the buffer as data arrives beyond that, so that a size declared by
// malformed input costs no more memory than the input holds.
func readN(r io.Reader, n int64) ([]byte, error) {
	const direct = 1 << 20
	if n <= direct {
		b := make([]byte, n)
		m, err := io.ReadFull(r, b)
		return b[:m], err
	}
	buf := bytes.NewBuffer(make([]byte, 0, direct))
	m, err := io.CopyN(buf, r, n)
	if err == nil && m < n {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
		if m == 0 {
			err = io.EOF
		}
	}
	return buf.Bytes(), err
}
