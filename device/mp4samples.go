package device

import (
	"encoding/binary"
)

// mp4Sample is one sample located in the file.
type mp4Sample struct {
	t        *mp4Track
	off      int64
	size     uint32
	dts, pts int64 // ns, edit shift applied
	key      bool
}

// sampleSource yields samples in the order of a sample table or track run.
type sampleSource interface {
	// peek returns the current sample; ok is false at the end or on error.
	peek() (s mp4Sample, ok bool, err error)
	advance()
}

// stblIter walks the sample table of a track without expanding it.
type stblIter struct {
	t  *mp4Track
	st *stblTables
	n  uint32 // samples passed

	sttsI    int
	sttsLeft uint32
	delta    uint32
	cttsI    int
	cttsLeft uint32
	cto      int32
	stscI    int
	chunk    int
	left     uint32 // samples left in the chunk
	off      int64
	stssI    int
	dts      int64 // ticks
	empty    int
	sum      int64 // bytes of the samples passed

	cur mp4Sample
	ok  bool
	err error
}

func newStblIter(t *mp4Track) *stblIter {
	it := &stblIter{t: t, st: &t.st, chunk: -1}
	it.advance()
	return it
}

func (it *stblIter) peek() (mp4Sample, bool, error) { return it.cur, it.ok, it.err }

func (it *stblIter) advance() {
	it.ok = false
	st := it.st
	for it.err == nil && it.n < st.count {
		for it.sttsLeft == 0 {
			if it.sttsI >= len(st.stts)/8 {
				it.err = mp4Errorf(ErrInvalid, "track %d: stts covers %d of the %d samples of stsz", it.t.id, it.n, st.count)
				return
			}
			e := st.stts[8*it.sttsI:]
			it.sttsLeft, it.delta = be32(e), be32(e[4:])
			it.sttsI++
		}
		var cto int32
		if st.hasCtts {
			for it.cttsLeft == 0 && it.cttsI < len(st.ctts)/8 {
				e := st.ctts[8*it.cttsI:]
				it.cttsLeft, it.cto = be32(e), int32(be32(e[4:]))
				it.cttsI++
			}
			if it.cttsLeft > 0 {
				cto = it.cto
				it.cttsLeft--
			}
		}
		for it.left == 0 {
			it.chunk++
			if it.chunk >= it.chunks() {
				it.err = mp4Errorf(ErrInvalid, "track %d: stsc and stco hold %d of the %d samples of stsz", it.t.id, it.n, st.count)
				return
			}
			for it.stscI+1 < len(st.stsc)/12 && uint32(it.chunk+1) >= be32(st.stsc[12*(it.stscI+1):]) {
				it.stscI++
			}
			it.left = be32(st.stsc[12*it.stscI+4:])
			if st.co64 {
				it.off = int64(binary.BigEndian.Uint64(st.chunks[8*it.chunk:]) & (1<<62 - 1))
			} else {
				it.off = int64(be32(st.chunks[4*it.chunk:]))
			}
		}
		size := it.size(it.n)
		key := true
		if st.hasStss {
			num := it.n + 1
			for it.stssI < len(st.stss)/4 && be32(st.stss[4*it.stssI:]) < num {
				it.stssI++
			}
			key = it.stssI < len(st.stss)/4 && be32(st.stss[4*it.stssI:]) == num
		}
		s := mp4Sample{
			t: it.t, off: it.off, size: size, key: key,
			dts: ticksToNS(it.dts-it.t.dtsShift, it.t.timescale) + it.t.shift,
			pts: ticksToNS(it.dts+int64(cto), it.t.timescale) + it.t.shift,
		}
		it.off += int64(size)
		it.left--
		it.sttsLeft--
		it.dts += int64(it.delta)
		it.n++
		if size == 0 {
			if it.empty++; it.empty > maxEmptySamples {
				it.err = mp4Errorf(ErrInvalid, "track %d: more than %d empty samples", it.t.id, maxEmptySamples)
			}
			continue
		}
		it.sum += int64(size)
		it.cur, it.ok = s, true
		return
	}
}

func (it *stblIter) chunks() int {
	if it.st.co64 {
		return len(it.st.chunks) / 8
	}
	return len(it.st.chunks) / 4
}

// size returns the size of sample i.
func (it *stblIter) size(i uint32) uint32 {
	st := it.st
	switch st.fieldSize {
	case 0:
		return st.constSize
	case 32:
		return be32(st.sizes[4*i:])
	case 16:
		return uint32(binary.BigEndian.Uint16(st.sizes[2*i:]))
	case 8:
		return uint32(st.sizes[i])
	}
	b := st.sizes[i/2]
	if i%2 == 0 {
		return uint32(b >> 4)
	}
	return uint32(b & 0xF)
}

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// ticksToNS converts v units of 1/timescale s to nanoseconds without
// overflowing for large v.
func ticksToNS(v int64, timescale uint32) int64 {
	if timescale == 0 {
		return 0
	}
	ts := int64(timescale)
	return v/ts*1e9 + v%ts*1e9/ts
}

// Track run flags (ISO/IEC 14496-12 clause 8.8.8).
const (
	trunDataOffset       = 0x1
	trunFirstSampleFlags = 0x4
	trunDuration         = 0x100
	trunSize             = 0x200
	trunFlags            = 0x400
	trunCTO              = 0x800

	sampleNonSync = 0x10000 // sample_is_non_sync_sample in sample flags
)

// trunIter walks the samples of one track run.
type trunIter struct {
	t          *mp4Track
	b          []byte // per-sample fields not yet read
	flags      uint32
	count, i   uint32
	off        int64
	dts        int64 // ticks
	dur, size  uint32
	defFlags   uint32
	firstFlags uint32
	empty      int

	cur mp4Sample
	ok  bool
	err error
}

func (it *trunIter) peek() (mp4Sample, bool, error) { return it.cur, it.ok, it.err }

// fields reads the next sample's fields from the run.
func (it *trunIter) fields() (dur, size, flags uint32, cto int32) {
	r := bin{b: it.b}
	dur, size, flags = it.dur, it.size, it.defFlags
	if it.i == 0 && it.flags&trunFirstSampleFlags != 0 {
		flags = it.firstFlags
	}
	if it.flags&trunDuration != 0 {
		dur = r.u32()
	}
	if it.flags&trunSize != 0 {
		size = r.u32()
	}
	if it.flags&trunFlags != 0 {
		flags = r.u32()
	}
	if it.flags&trunCTO != 0 {
		cto = int32(r.u32())
	}
	it.b = r.b
	return
}

func (it *trunIter) advance() {
	it.ok = false
	for it.err == nil && it.i < it.count {
		dur, size, flags, cto := it.fields()
		s := mp4Sample{
			t: it.t, off: it.off, size: size, key: flags&sampleNonSync == 0,
			dts: ticksToNS(it.dts-it.t.dtsShift, it.t.timescale) + it.t.shift,
			pts: ticksToNS(it.dts+int64(cto), it.t.timescale) + it.t.shift,
		}
		it.i++
		it.off += int64(size)
		it.dts += int64(dur)
		if size == 0 {
			if it.empty++; it.empty > maxEmptySamples {
				it.err = mp4Errorf(ErrInvalid, "track %d: more than %d empty samples in a track run", it.t.id, maxEmptySamples)
			}
			continue
		}
		it.cur, it.ok = s, true
		return
	}
}

// parseMoof turns the track runs of a moof box into sample sources.
func parseMoof(moof mp4Box, m *mp4Movie) ([]sampleSource, error) {
	kids, err := children(moof, 0)
	if err != nil {
		return nil, err
	}
	var out []sampleSource
	prevEnd := moof.off // end of the previous traf's data
	first := true
	for _, traf := range kids {
		if traf.typ != "traf" {
			continue
		}
		tk, err := children(traf, 0)
		if err != nil {
			return nil, err
		}
		var tfhd *mp4Box
		var tfdt *mp4Box
		var truns []mp4Box
		for i := range tk {
			switch tk[i].typ {
			case "tfhd":
				tfhd = &tk[i]
			case "tfdt":
				tfdt = &tk[i]
			case "trun":
				truns = append(truns, tk[i])
			}
		}
		if tfhd == nil {
			return nil, mp4Errorf(ErrInvalid, "%s box at offset %d has no tfhd", traf.path, traf.off)
		}
		r := bin{b: tfhd.body}
		_, flags := r.fullBox()
		id := r.u32()
		t := m.byID[id]
		var def trexDefaults
		if t != nil {
			def = t.trex
		}
		base := prevEnd
		if first || flags&0x20000 != 0 { // default-base-is-moof
			base = moof.off
		}
		if flags&0x1 != 0 {
			base = int64(r.u64() & (1<<62 - 1))
		}
		if flags&0x2 != 0 {
			r.skip(4) // sample_description_index
		}
		if flags&0x8 != 0 {
			def.dur = r.u32()
		}
		if flags&0x10 != 0 {
			def.size = r.u32()
		}
		if flags&0x20 != 0 {
			def.flags = r.u32()
		}
		if r.short {
			return nil, mp4Short(*tfhd)
		}
		first = false
		var dts int64
		if t != nil {
			dts = t.nextDTS
		}
		if tfdt != nil {
			r := bin{b: tfdt.body}
			if v, _ := r.fullBox(); v == 1 {
				dts = int64(r.u64() & (1<<62 - 1))
			} else {
				dts = int64(r.u32())
			}
			if r.short {
				return nil, mp4Short(*tfdt)
			}
		}
		off := base
		for _, trun := range truns {
			it, err := parseTrun(trun, t, def, off, base, dts)
			if err != nil {
				return nil, err
			}
			off, dts = it.endOff, it.endDTS
			if t != nil && it.it.count > 0 {
				it.it.advance()
				out = append(out, it.it)
			}
		}
		if t != nil {
			t.nextDTS = dts
		}
		prevEnd = off
	}
	return out, nil
}

// parsedTrun is a track run with where its data and time end.
type parsedTrun struct {
	it             *trunIter
	endOff, endDTS int64
}

func parseTrun(trun mp4Box, t *mp4Track, def trexDefaults, prevEnd, base, dts int64) (parsedTrun, error) {
	r := bin{b: trun.body}
	_, flags := r.fullBox()
	it := &trunIter{t: t, flags: flags, count: r.u32(), off: prevEnd, dts: dts, dur: def.dur, size: def.size, defFlags: def.flags}
	if flags&trunDataOffset != 0 {
		it.off = base + int64(int32(r.u32()))
	}
	if flags&trunFirstSampleFlags != 0 {
		it.firstFlags = r.u32()
	}
	if r.short {
		return parsedTrun{}, mp4Short(trun)
	}
	per := 0
	for _, f := range []uint32{trunDuration, trunSize, trunFlags, trunCTO} {
		if flags&f != 0 {
			per += 4
		}
	}
	if it.count > maxTrunSamples {
		return parsedTrun{}, mp4Errorf(ErrTooLarge, "%s box at offset %d declares %d samples", trun.path, trun.off, it.count)
	}
	if uint64(it.count)*uint64(per) > uint64(len(r.b)) {
		return parsedTrun{}, mp4Errorf(ErrInvalid, "%s box at offset %d declares %d samples but holds %d bytes of sample fields", trun.path, trun.off, it.count, len(r.b))
	}
	it.b = r.b
	// Where the run's data and time end: the next run continues there.
	// A negative composition offset raises the track's DTS shift before
	// any of the run's samples is returned.
	var size, d int64
	if per == 0 {
		size, d = int64(it.count)*int64(def.size), int64(it.count)*int64(def.dur)
	} else {
		walk := *it
		for walk.i = 0; walk.i < walk.count; walk.i++ {
			du, sz, _, cto := walk.fields()
			size += int64(sz)
			d += int64(du)
			if t != nil && -int64(cto) > t.dtsShift {
				t.dtsShift = -int64(cto)
			}
		}
	}
	if it.off < 0 {
		return parsedTrun{}, mp4Errorf(ErrInvalid, "%s box at offset %d: data offset before the file start", trun.path, trun.off)
	}
	return parsedTrun{it: it, endOff: it.off + size, endDTS: dts + d}, nil
}
