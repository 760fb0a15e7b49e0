package device

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"

	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// mp4Movie is what the moov box describes.
type mp4Movie struct {
	timescale  uint32
	tracks     []*mp4Track
	byID       map[uint32]*mp4Track
	fragmented bool // mvex present
	skipped    []string
}

// mp4Track is one supported track of the movie.
type mp4Track struct {
	id         uint32
	idx        int
	info       *trackInfo
	timescale  uint32
	lengthSize int   // NAL unit length size of video samples, 0 for audio
	shift      int64 // ns added to every timestamp (edit list)
	// dtsShift (ticks) is subtracted from DTS so that negative composition
	// offsets do not put PTS before DTS: the largest negative offset seen.
	dtsShift int64
	st       stblTables
	trex     trexDefaults
	nextDTS  int64 // ticks: where the next fragment continues without tfdt
}

// stblTables holds the entry arrays of a sample table.
type stblTables struct {
	stts, ctts, stsc, chunks, sizes, stss []byte
	co64                                  bool
	fieldSize                             int    // bits per stsz/stz2 entry, 0 with constSize
	constSize                             uint32 // stsz sample_size
	count                                 uint32 // stsz sample_count
	hasStss, hasCtts                      bool
}

// trexDefaults are a track's fragment defaults.
type trexDefaults struct {
	dur, size, flags uint32
}

// parseMoov decodes the moov box.
func parseMoov(moov mp4Box, log *slog.Logger) (*mp4Movie, error) {
	kids, err := children(moov, 0)
	if err != nil {
		return nil, err
	}
	m := &mp4Movie{byID: map[uint32]*mp4Track{}}
	trex := map[uint32]trexDefaults{}
	var traks []mp4Box
	for _, b := range kids {
		switch b.typ {
		case "mvhd":
			r := bin{b: b.body}
			v, _ := r.fullBox()
			if v == 1 {
				r.skip(16)
			} else {
				r.skip(8)
			}
			m.timescale = r.u32()
			if r.short {
				return nil, mp4Short(b)
			}
		case "trak":
			traks = append(traks, b)
		case "mvex":
			m.fragmented = true
			ms, err := children(b, 0)
			if err != nil {
				return nil, err
			}
			for _, x := range ms {
				if x.typ != "trex" {
					continue
				}
				r := bin{b: x.body}
				r.fullBox()
				id := r.u32()
				r.skip(4) // default_sample_description_index
				d := trexDefaults{dur: r.u32(), size: r.u32(), flags: r.u32()}
				if r.short {
					return nil, mp4Short(x)
				}
				trex[id] = d
			}
		}
	}
	for _, b := range traks {
		tr, why, err := parseTrak(b, m.timescale, log)
		if err != nil {
			return nil, err
		}
		if tr == nil {
			m.skipped = append(m.skipped, why)
			continue
		}
		if _, dup := m.byID[tr.id]; dup {
			return nil, mp4Errorf(ErrInvalid, "two tracks with ID %d", tr.id)
		}
		tr.trex = trex[tr.id]
		tr.idx = len(m.tracks)
		m.tracks = append(m.tracks, tr)
		m.byID[tr.id] = tr
	}
	return m, nil
}

// parseTrak decodes a trak box. A track of another kind or an unsupported
// codec yields nil and a description of the track.
func parseTrak(trak mp4Box, movieTimescale uint32, log *slog.Logger) (*mp4Track, string, error) {
	t := &mp4Track{}
	var mdia, stbl, elst *mp4Box
	kids, err := children(trak, 0)
	if err != nil {
		return nil, "", err
	}
	for i := range kids {
		b := &kids[i]
		switch b.typ {
		case "tkhd":
			r := bin{b: b.body}
			if v, _ := r.fullBox(); v == 1 {
				r.skip(16)
			} else {
				r.skip(8)
			}
			t.id = r.u32()
			if r.short {
				return nil, "", mp4Short(*b)
			}
		case "edts":
			es, err := children(*b, 0)
			if err != nil {
				return nil, "", err
			}
			for j := range es {
				if es[j].typ == "elst" {
					elst = &es[j]
				}
			}
		case "mdia":
			mdia = b
		}
	}
	if mdia == nil {
		return nil, fmt.Sprintf("track %d (no mdia box)", t.id), nil
	}
	var handler string
	ms, err := children(*mdia, 0)
	if err != nil {
		return nil, "", err
	}
	for i := range ms {
		b := &ms[i]
		switch b.typ {
		case "mdhd":
			r := bin{b: b.body}
			if v, _ := r.fullBox(); v == 1 {
				r.skip(16)
			} else {
				r.skip(8)
			}
			t.timescale = r.u32()
			if r.short {
				return nil, "", mp4Short(*b)
			}
		case "hdlr":
			r := bin{b: b.body}
			r.fullBox()
			r.skip(4)
			h := r.take(4)
			if r.short {
				return nil, "", mp4Short(*b)
			}
			handler = boxType(h)
		case "minf":
			mi, err := children(*b, 0)
			if err != nil {
				return nil, "", err
			}
			for j := range mi {
				if mi[j].typ == "stbl" {
					stbl = &mi[j]
				}
			}
		}
	}
	if handler != "vide" && handler != "soun" {
		return nil, fmt.Sprintf("track %d (handler %q)", t.id, handler), nil
	}
	if stbl == nil {
		return nil, "", mp4Errorf(ErrInvalid, "track %d has no stbl box", t.id)
	}
	if t.timescale == 0 {
		return nil, "", mp4Errorf(ErrInvalid, "track %d: mdhd timescale is 0", t.id)
	}
	info, why, err := parseStbl(*stbl, t)
	if err != nil {
		return nil, "", err
	}
	if info == nil {
		return nil, fmt.Sprintf("track %d (%s)", t.id, why), nil
	}
	info.Name = fmt.Sprintf("track %d", t.id)
	t.info = info
	if elst != nil {
		t.shift = editShift(*elst, movieTimescale, t.timescale, log)
	}
	return t, "", nil
}

// editShift returns the time shift that the first edits of an edit list
// give a track: the duration of leading empty edits minus the media time
// of the first media edit.
func editShift(elst mp4Box, movieTimescale, trackTimescale uint32, log *slog.Logger) int64 {
	r := bin{b: elst.body}
	v, _ := r.fullBox()
	n := r.u32()
	var delay int64
	for i := uint32(0); i < n && !r.short; i++ {
		var segDur uint64
		var mediaTime int64
		if v == 1 {
			segDur, mediaTime = r.u64(), int64(r.u64())
		} else {
			segDur, mediaTime = uint64(r.u32()), int64(int32(r.u32()))
		}
		r.skip(4) // media_rate
		if r.short {
			break
		}
		if mediaTime == -1 {
			if segDur < 1<<40 {
				delay += ticksToNS(int64(segDur), movieTimescale)
			}
			continue
		}
		if mediaTime < 0 || mediaTime > 1<<40 {
			return delay
		}
		if i+1 < n {
			log.Debug("device: MP4 edit list has further edits; only the first is applied", "path", elst.path)
		}
		return delay - ticksToNS(mediaTime, trackTimescale)
	}
	return delay
}

// parseStbl reads the sample description and the sample tables. A nil
// trackInfo with a reason means the codec is not supported.
func parseStbl(stbl mp4Box, t *mp4Track) (*trackInfo, string, error) {
	kids, err := children(stbl, 0)
	if err != nil {
		return nil, "", err
	}
	var info *trackInfo
	why := "no stsd box"
	st := &t.st
	haveSizes, haveChunks := false, false
	for _, b := range kids {
		r := bin{b: b.body}
		switch b.typ {
		case "stsd":
			info, why, err = parseStsd(b, t)
			if err != nil {
				return nil, "", err
			}
		case "stts":
			st.stts, err = entries(b, 8)
		case "ctts":
			st.ctts, err = entries(b, 8)
			st.hasCtts = true
			for i := 0; i+8 <= len(st.ctts); i += 8 {
				if c := int64(int32(be32(st.ctts[i+4:]))); -c > t.dtsShift {
					t.dtsShift = -c
				}
			}
		case "stsc":
			st.stsc, err = entries(b, 12)
		case "stco":
			st.chunks, err = entries(b, 4)
			haveChunks = true
		case "co64":
			st.chunks, err = entries(b, 8)
			st.co64, haveChunks = true, true
		case "stss":
			st.stss, err = entries(b, 4)
			st.hasStss = true
		case "stsz":
			r.fullBox()
			st.constSize, st.count = r.u32(), r.u32()
			if r.short {
				return nil, "", mp4Short(b)
			}
			haveSizes = true
			if st.constSize == 0 {
				st.fieldSize = 32
				if uint64(st.count)*4 > uint64(len(r.b)) {
					return nil, "", mp4Errorf(ErrInvalid, "%s box at offset %d declares %d samples but holds %d bytes of sizes", b.path, b.off, st.count, len(r.b))
				}
				st.sizes = r.b[:st.count*4]
			}
		case "stz2":
			r.fullBox()
			r.skip(3)
			st.fieldSize = int(r.u8())
			st.count = r.u32()
			if r.short {
				return nil, "", mp4Short(b)
			}
			if st.fieldSize != 4 && st.fieldSize != 8 && st.fieldSize != 16 {
				return nil, "", mp4Errorf(ErrInvalid, "%s box at offset %d: field size %d", b.path, b.off, st.fieldSize)
			}
			need := (uint64(st.count)*uint64(st.fieldSize) + 7) / 8
			if need > uint64(len(r.b)) {
				return nil, "", mp4Errorf(ErrInvalid, "%s box at offset %d declares %d samples but holds %d bytes of sizes", b.path, b.off, st.count, len(r.b))
			}
			st.sizes = r.b[:need]
			haveSizes = true
		}
		if err != nil {
			return nil, "", err
		}
	}
	if info == nil {
		return nil, why, nil
	}
	if st.count > 0 && (!haveSizes || !haveChunks || len(st.stsc) == 0 || len(st.stts) == 0) {
		return nil, "", mp4Errorf(ErrInvalid, "track %d: %d samples but stts, stsc, stsz or stco is missing or empty", t.id, st.count)
	}
	return info, "", nil
}

// entries checks a table box (FullBox, entry_count, entries of size bytes)
// and returns its entry bytes.
func entries(b mp4Box, size int) ([]byte, error) {
	r := bin{b: b.body}
	r.fullBox()
	n := r.u32()
	if r.short {
		return nil, mp4Short(b)
	}
	if uint64(n)*uint64(size) > uint64(len(r.b)) {
		return nil, mp4Errorf(ErrInvalid, "%s box at offset %d declares %d entries but holds %d bytes", b.path, b.off, n, len(r.b))
	}
	return r.b[:int(n)*size], nil
}

// parseStsd reads the first sample entry.
func parseStsd(stsd mp4Box, t *mp4Track) (*trackInfo, string, error) {
	r := bin{b: stsd.body}
	r.fullBox()
	n := r.u32()
	if r.short {
		return nil, "", mp4Short(stsd)
	}
	if n == 0 {
		return nil, "no sample entry", nil
	}
	entries, err := children(mp4Box{typ: "stsd", path: stsd.path, off: stsd.off, hdr: stsd.hdr, body: stsd.body}, 8)
	if err != nil {
		return nil, "", err
	}
	if len(entries) == 0 {
		return nil, "", mp4Errorf(ErrInvalid, "%s box at offset %d declares %d entries but holds none", stsd.path, stsd.off, n)
	}
	e := entries[0]
	switch e.typ {
	case "avc1", "avc3", "hvc1", "hev1":
		return parseVisualEntry(e, t)
	case "mp4a":
		return parseAudioEntry(e)
	}
	return nil, fmt.Sprintf("sample entry %q", e.typ), nil
}

// parseVisualEntry reads an avc1/avc3/hvc1/hev1 sample entry and its
// decoder configuration record.
func parseVisualEntry(e mp4Box, t *mp4Track) (*trackInfo, string, error) {
	const fields = 78 // SampleEntry + VisualSampleEntry fields
	if len(e.body) < fields {
		return nil, "", mp4Short(e)
	}
	info := &trackInfo{}
	info.Kind = media.KindVideo
	info.Width = int(binary.BigEndian.Uint16(e.body[24:]))
	info.Height = int(binary.BigEndian.Uint16(e.body[26:]))
	kids, err := children(e, fields)
	if err != nil {
		return nil, "", err
	}
	want := "avcC"
	info.Codec = media.CodecH264
	if e.typ == "hvc1" || e.typ == "hev1" {
		want, info.Codec = "hvcC", media.CodecH265
	}
	var rec *mp4Box
	for i := range kids {
		if kids[i].typ == want {
			rec = &kids[i]
		}
	}
	if rec == nil {
		return nil, "", mp4Errorf(ErrInvalid, "track %d: %s sample entry has no %s box", t.id, e.typ, want)
	}
	if info.Codec == media.CodecH264 {
		c, err := h264.ParseAVCC(rec.body)
		if err != nil {
			return nil, "", wrapf(FormatMP4, ErrInvalid, err, "track %d %s", t.id, rec.path)
		}
		t.lengthSize = c.NALULengthSize
		switch {
		case len(c.SPS) == 0 || len(c.PPS) == 0:
			// avc3 may carry its parameter sets only in the stream.
		case c.NALULengthSize != 4:
			c.NALULengthSize = 4
			if info.CodecPrivate, err = c.Marshal(); err != nil {
				return nil, "", wrapf(FormatMP4, ErrInvalid, err, "track %d %s", t.id, rec.path)
			}
		default:
			info.CodecPrivate = append([]byte(nil), rec.body...)
		}
		return info, "", nil
	}
	c, err := h265.ParseHVCC(rec.body)
	if err != nil {
		return nil, "", wrapf(FormatMP4, ErrInvalid, err, "track %d %s", t.id, rec.path)
	}
	t.lengthSize = c.NALULengthSize
	vps, sps, pps := c.ParameterSets()
	switch {
	case len(vps) == 0 || len(sps) == 0 || len(pps) == 0:
	case c.NALULengthSize != 4:
		c.NALULengthSize = 4
		if info.CodecPrivate, err = c.Marshal(); err != nil {
			return nil, "", wrapf(FormatMP4, ErrInvalid, err, "track %d %s", t.id, rec.path)
		}
	default:
		info.CodecPrivate = append([]byte(nil), rec.body...)
	}
	return info, "", nil
}

// parseAudioEntry reads an mp4a sample entry and the AudioSpecificConfig in
// its esds box (directly or, in QuickTime files, inside a wave box).
func parseAudioEntry(e mp4Box) (*trackInfo, string, error) {
	if len(e.body) < 28 {
		return nil, "", mp4Short(e)
	}
	info := &trackInfo{}
	info.Kind, info.Codec = media.KindAudio, media.CodecAAC
	fields := 28
	switch binary.BigEndian.Uint16(e.body[8:]) { // QuickTime sound description version
	case 0:
		info.Channels = int(binary.BigEndian.Uint16(e.body[16:]))
		info.SampleRate = int(binary.BigEndian.Uint32(e.body[24:]) >> 16)
	case 1:
		fields = 44
		info.Channels = int(binary.BigEndian.Uint16(e.body[16:]))
		info.SampleRate = int(binary.BigEndian.Uint32(e.body[24:]) >> 16)
	case 2:
		fields = 64
		if len(e.body) >= fields {
			rate := math.Float64frombits(binary.BigEndian.Uint64(e.body[32:]))
			if rate > 0 && rate < 1e7 {
				info.SampleRate = int(rate)
			}
			info.Channels = int(binary.BigEndian.Uint32(e.body[40:]))
		}
	}
	kids, err := children(e, fields)
	if err != nil {
		return nil, "", err
	}
	var esds *mp4Box
	for i := range kids {
		switch kids[i].typ {
		case "esds":
			esds = &kids[i]
		case "wave":
			ws, err := children(kids[i], 0)
			if err != nil {
				return nil, "", err
			}
			for j := range ws {
				if ws[j].typ == "esds" {
					esds = &ws[j]
				}
			}
		}
	}
	if esds == nil {
		return nil, "", mp4Errorf(ErrInvalid, "%s sample entry at offset %d has no esds box", e.path, e.off)
	}
	oti, asc, err := parseESDS(*esds)
	if err != nil {
		return nil, "", err
	}
	switch oti {
	case 0x40, 0x66, 0x67, 0x68: // MPEG-4 audio, MPEG-2 AAC Main/LC/SSR
	default:
		return nil, fmt.Sprintf("mp4a object type 0x%02x", oti), nil
	}
	if len(asc) == 0 {
		return nil, "", mp4Errorf(ErrInvalid, "%s box at offset %d has no AudioSpecificConfig", esds.path, esds.off)
	}
	if _, err := aac.ParseAudioSpecificConfig(asc); err != nil {
		return nil, "", wrapf(FormatMP4, ErrInvalid, err, "%s box at offset %d", esds.path, esds.off)
	}
	info.CodecPrivate = append([]byte(nil), asc...)
	return info, "", nil
}

// parseESDS finds the objectTypeIndication and the DecoderSpecificInfo in
// an esds box (ISO/IEC 14496-1 clause 7.2.6).
func parseESDS(esds mp4Box) (oti uint8, asc []byte, err error) {
	r := bin{b: esds.body}
	r.fullBox()
	bad := func(what string) error {
		return mp4Errorf(ErrInvalid, "%s box at offset %d: %s", esds.path, esds.off, what)
	}
	tag, body, ok := descriptor(&r)
	if !ok || tag != 0x03 {
		return 0, nil, bad("no ES_Descriptor")
	}
	es := bin{b: body}
	es.skip(2) // ES_ID
	flags := es.u8()
	if flags&0x80 != 0 {
		es.skip(2)
	}
	if flags&0x40 != 0 {
		es.skip(int(es.u8()))
	}
	if flags&0x20 != 0 {
		es.skip(2)
	}
	for !es.short && len(es.b) > 0 {
		tag, body, ok := descriptor(&es)
		if !ok {
			break
		}
		if tag != 0x04 {
			continue
		}
		dc := bin{b: body}
		oti = dc.u8()
		dc.skip(12)
		if dc.short {
			return 0, nil, bad("DecoderConfigDescriptor cut short")
		}
		for len(dc.b) > 0 {
			tag, body, ok := descriptor(&dc)
			if !ok {
				break
			}
			if tag == 0x05 {
				return oti, body, nil
			}
		}
		return oti, nil, nil
	}
	return 0, nil, bad("no DecoderConfigDescriptor")
}

// descriptor reads one descriptor: a tag and a size of up to four 7-bit
// groups.
func descriptor(r *bin) (tag uint8, body []byte, ok bool) {
	tag = r.u8()
	var n int
	for i := 0; i < 4; i++ {
		c := r.u8()
		n = n<<7 | int(c&0x7F)
		if c&0x80 == 0 {
			break
		}
	}
	body = r.take(n)
	return tag, body, !r.short
}
