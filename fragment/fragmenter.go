package fragment

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"kvskit/media"
)

// maxTracks is the number of tracks a Kinesis Video stream accepts.
const maxTracks = 3

// Timestamp limits that keep every repair free of integer overflow.
const (
	minTimestamp = -(1 << 60)
	maxTimestamp = 1 << 62
	maxPTSOffset = time.Hour
	// maxRebased bounds a timestamp after a track's discontinuity offset.
	maxRebased = 1<<62 + 1<<61
)

// Stats counts what a Fragmenter did.
type Stats struct {
	// Fragments and Frames count the fragments returned by Push and Flush
	// and the frames in them.
	Fragments, Frames uint64
	// Repaired counts frames whose PTS or DTS was adjusted (each frame once).
	Repaired uint64
	// DroppedBeforeKey counts frames dropped while waiting for a video key
	// frame (before the first one, and after a Flush before the next one);
	// DroppedVideoBeforeKey counts the video frames among them, which cannot
	// be decoded without it. Frames of other tracks wait for the key frame
	// and open its fragment; they are dropped only when they lie more than
	// the lead-in limit before it or when no key frame comes before a Flush.
	DroppedBeforeKey      uint64
	DroppedVideoBeforeKey uint64
	// ForcedCuts counts fragments cut without a key frame because of the
	// maximum duration, the maximum size or the int16 block-timecode range,
	// and fragments opened after a Cut by a frame that is not a video key
	// frame.
	ForcedCuts uint64
	// DroppedOversize counts frames dropped because their video GOP grew
	// past the maximum fragment size (see ErrFragmentTooLarge), and
	// OversizeGOPs the GOPs refused.
	DroppedOversize uint64
	OversizeGOPs    uint64
}

type trackState struct {
	number  uint64
	seen    bool
	lastDTS time.Duration
	est     time.Duration // estimated frame duration: the latest DTS step
	offset  time.Duration // added to every frame after a backwards jump
}

// frameMeta is what the Fragmenter keeps beside each frame of the open fragment.
type frameMeta struct {
	end      time.Duration // PTS + estimated duration
	idx      int           // track index
	repaired bool          // lead-in frames only: timestamps repaired by Push, not yet counted
}

// Fragmenter groups frames into fragments. It is not safe for concurrent use.
type Fragmenter struct {
	target, maxDur, unit time.Duration
	gapLimit             time.Duration
	maxSize              int
	keyFrames            bool
	log                  *slog.Logger

	tracks  [maxTracks]trackState
	ntracks int
	video   int // index of the track whose key frames start fragments; -1 without video

	waitKey bool // dropping video frames until a video key frame
	// cont: the open fragment was cut by Cut, and the next frame opens the
	// next one whatever it is.
	cont bool

	// Frames of other tracks waiting for the video key frame (lead-in),
	// in the order pushed, and their metadata.
	lead     []media.Frame
	leadMeta []frameMeta
	leadMax  time.Duration // how far before the key frame a lead-in frame may lie

	// The open fragment.
	frames   []media.Frame
	meta     []frameMeta // parallel to frames; reused across fragments
	spare    []frameMeta
	start    int64 // Start in timecode units
	size     int   // bytes: frame data, block and cluster headers
	maxEnd   time.Duration
	firstIdx int // track index of frames[0]

	emitted     bool
	prevMaxUnit int64 // largest frame timecode (units) of the last fragment returned
	seq         uint64
	lastCount   int
	stats       Stats
}

// New returns a Fragmenter for the given tracks (1 to 3, distinct non-zero
// numbers). The first video track, if any, is the one whose key frames start
// fragments.
func New(tracks []media.Track, opts ...Option) (*Fragmenter, error) {
	if len(tracks) == 0 {
		return nil, ErrNoTracks
	}
	if len(tracks) > maxTracks {
		return nil, fmt.Errorf("%w: %d tracks, at most %d", ErrTooManyTracks, len(tracks), maxTracks)
	}
	f := &Fragmenter{
		target:    DefaultTargetDuration,
		maxDur:    DefaultMaxDuration,
		unit:      DefaultTimecodeUnit,
		keyFrames: true,
		maxSize:   DefaultMaxSize,
		log:       slog.New(slog.DiscardHandler),
		video:     -1,
		ntracks:   len(tracks),
	}
	for i, t := range tracks {
		if t.Number == 0 {
			return nil, fmt.Errorf("%w: track %d (%s) has number 0", ErrInvalidTrack, i, t.Kind)
		}
		for j := range i {
			if tracks[j].Number == t.Number {
				return nil, fmt.Errorf("%w: %d", ErrDuplicateTrack, t.Number)
			}
		}
		f.tracks[i].number = t.Number
		if t.Kind == media.KindVideo && f.video < 0 {
			f.video = i
		}
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(f); err != nil {
			return nil, err
		}
	}
	if f.maxDur < 2*f.unit {
		return nil, fmt.Errorf("%w: max duration %v is shorter than two timecode units (%v)", ErrInvalidOption, f.maxDur, f.unit)
	}
	if f.target > f.maxDur {
		return nil, fmt.Errorf("%w: target duration %v exceeds max duration %v", ErrInvalidOption, f.target, f.maxDur)
	}
	f.gapLimit = min(max(f.target, time.Second), f.maxDur-f.unit)
	f.leadMax = min(f.maxDur/2, (math.MaxInt16/2)*f.unit)
	f.waitKey = f.keyFrames && f.video >= 0
	return f, nil
}

// Push adds a frame, taking ownership of its Data. It returns the fragment
// this frame closed, or nil. A frame of an unknown track yields an error
// wrapping ErrUnknownTrack, one with unrepresentable timestamps an error
// wrapping ErrInvalidTimestamp; either frame is dropped and the Fragmenter
// stays usable. A frame refused with ErrFragmentTooLarge may come with a
// fragment: the whole GOPs closed before the refused one, to be sent.
func (f *Fragmenter) Push(fr media.Frame) (*Fragment, error) {
	idx := f.index(fr.Track)
	if idx < 0 {
		return nil, fmt.Errorf("push frame of track %d: %w", fr.Track, ErrUnknownTrack)
	}
	if fr.PTS < minTimestamp || fr.PTS > maxTimestamp || fr.DTS < minTimestamp || fr.DTS > maxTimestamp ||
		fr.PTS-fr.DTS > maxPTSOffset || fr.DTS-fr.PTS > maxPTSOffset {
		return nil, fmt.Errorf("push frame of track %d (pts %v, dts %v): %w", fr.Track, fr.PTS, fr.DTS, ErrInvalidTimestamp)
	}
	videoKey := idx == f.video && fr.Key
	if len(fr.Data)+blockOverhead+clusterOverhead > f.maxSize {
		if idx == f.video && f.keyFrames {
			// The pictures after it cannot be decoded without it.
			f.dropOpen()
			f.waitKey, f.cont = true, false
		}
		f.stats.DroppedOversize++
		return nil, fmt.Errorf("push frame of track %d (pts %v): %w: one frame of %d bytes, more than the %d a fragment may hold",
			fr.Track, fr.PTS, ErrFragmentTooLarge, len(fr.Data), f.maxSize)
	}
	if f.waitKey && idx == f.video && !fr.Key {
		f.stats.DroppedBeforeKey++
		f.stats.DroppedVideoBeforeKey++
		return nil, nil
	}
	ts := &f.tracks[idx]
	if fr.PTS > maxRebased-ts.offset || fr.DTS > maxRebased-ts.offset {
		return nil, fmt.Errorf("push frame of track %d (pts %v, dts %v, offset %v): %w",
			fr.Track, fr.PTS, fr.DTS, ts.offset, ErrInvalidTimestamp)
	}
	inPTS, inDTS := fr.PTS, fr.DTS

	// Per track, DTS strictly increases and PTS is not before DTS. A step
	// back of at least the gap limit is a discontinuity (a source restarting
	// its clock): the track's timeline continues one frame after its last
	// frame and stays offset from then on. Smaller steps back and repeats
	// move the frame to one unit after the previous one.
	fr.PTS += ts.offset
	fr.DTS += ts.offset
	if ts.seen && fr.DTS <= ts.lastDTS {
		off := fr.PTS - fr.DTS
		if ts.lastDTS-fr.DTS >= f.gapLimit {
			step := ts.est
			if step <= 0 {
				step = f.unit
			}
			ts.offset += ts.lastDTS + step - fr.DTS
			fr.DTS = ts.lastDTS + step
		} else {
			fr.DTS = ts.lastDTS + f.unit
		}
		fr.PTS = fr.DTS + off
	}
	if fr.PTS < fr.DTS {
		fr.PTS = fr.DTS
	}
	if ts.seen {
		if d := fr.DTS - ts.lastDTS; d <= f.gapLimit {
			ts.est = d
		}
	}
	est := ts.est

	var out *Fragment
	held := false
	switch {
	case f.waitKey && !videoKey:
		held = true
		f.holdLead(fr, idx, est, fr.PTS != inPTS || fr.DTS != inDTS)
	case f.waitKey:
		f.openWithLead(&fr, idx, est)
		f.waitKey, f.cont = false, false
	case len(f.frames) == 0:
		if f.cont && !videoKey && f.video >= 0 && f.keyFrames {
			f.stats.ForcedCuts++
			f.log.Debug("fragment continues the previous one without a key frame", "seq", f.seq, "track", fr.Track)
		}
		f.open(&fr, idx, est)
		f.waitKey, f.cont = false, false
	default:
		if f.keyFrames && f.video >= 0 && !videoKey && f.size+len(fr.Data)+blockOverhead > f.maxSize {
			// Past the size limit inside a GOP: cut at the open fragment's
			// latest video key frame if that makes room, else refuse the GOP.
			out = f.splitAtLastKey()
			if out == nil || f.size+len(fr.Data)+blockOverhead > f.maxSize {
				return out, f.refuseGOP(&fr, idx)
			}
		}
		startT := time.Duration(f.start) * f.unit
		rel := f.unitOf(fr.PTS) - f.start
		end := fr.PTS + est
		// A frame less than half a timecode unit short of the target is
		// due too: a camera clock being corrected puts key frames a hair
		// early, and waiting for the next one would double the fragment.
		due := fr.PTS+f.unit/2 >= startT+f.target
		if f.keyFrames && f.video >= 0 {
			due = due && videoKey
		}
		overRange := rel > math.MaxInt16 || rel < math.MinInt16
		overLong := end-startT > f.maxDur
		overSize := f.size+len(fr.Data)+blockOverhead > f.maxSize
		if due || overRange || overLong || overSize {
			out = f.cut(&fr, idx, est)
			if !due && !videoKey {
				f.stats.ForcedCuts++
				reason := "max duration"
				switch {
				case overRange:
					reason = "block timecode range"
				case overSize && !overLong:
					reason = "max size"
				}
				f.log.Warn("fragment cut without a key frame", "seq", out.Seq, "start", out.Start,
					"duration", out.Duration, "frames", len(out.Frames), "reason", reason)
			}
		} else {
			f.frames = append(f.frames, fr)
			f.meta = append(f.meta, frameMeta{end: end, idx: idx})
			f.maxEnd = max(f.maxEnd, end)
			f.size += len(fr.Data) + blockOverhead
		}
	}
	ts.lastDTS, ts.seen = fr.DTS, true
	if fr.PTS != inPTS || fr.DTS != inDTS {
		if !held {
			// A held frame is counted when it leaves in a fragment.
			f.stats.Repaired++
		}
		if f.log.Enabled(context.Background(), slog.LevelDebug) {
			f.log.Debug("frame timestamps repaired", "track", fr.Track,
				"pts", inPTS, "dts", inDTS, "new_pts", fr.PTS, "new_dts", fr.DTS)
		}
	}
	return out, nil
}

// Flush closes and returns the open fragment, or nil when it is empty; for
// example at the end of the input or after about 20 s without frames. With
// key-frame fragmentation the next fragment again waits for a video key
// frame.
func (f *Fragmenter) Flush() *Fragment {
	f.dropLead()
	if len(f.frames) == 0 {
		return nil
	}
	maxUnit := f.start
	for i := range f.frames {
		maxUnit = max(maxUnit, f.unitOf(f.frames[i].PTS))
	}
	out := f.emit(f.frames, f.maxEnd, maxUnit)
	f.frames = nil
	f.meta = f.meta[:0]
	f.size = 0
	f.waitKey = f.keyFrames && f.video >= 0
	f.cont = false
	return out
}

// Cut closes and returns the open fragment like Flush, or nil when it is
// empty, but the stream goes on: the next frame opens the next fragment even
// when it is not a video key frame (counted in Stats.ForcedCuts), so that no
// frame is lost to the cut. It is for a pause of a source that will go on
// with the same picture sequence, such as the producer's idle flush.
func (f *Fragmenter) Cut() *Fragment {
	out := f.Flush()
	if out != nil {
		f.waitKey, f.cont = false, true
	}
	return out
}

// Pending reports the open fragment's frame count and its span so far: the
// Duration the fragment would have if it were flushed now.
func (f *Fragmenter) Pending() (frames int, span time.Duration) {
	if len(f.frames) == 0 {
		return 0, 0
	}
	return len(f.frames), f.maxEnd - time.Duration(f.start)*f.unit
}

// Stats returns the counters so far.
func (f *Fragmenter) Stats() Stats { return f.stats }

func (f *Fragmenter) index(track uint64) int {
	for i := range f.ntracks {
		if f.tracks[i].number == track {
			return i
		}
	}
	return -1
}

func (f *Fragmenter) unitOf(d time.Duration) int64 { return floorDiv(int64(d), int64(f.unit)) }

// shiftTo moves the frame forward so that its PTS is exactly s units.
func (f *Fragmenter) shiftTo(fr *media.Frame, s int64) {
	d := time.Duration(s)*f.unit - fr.PTS
	fr.PTS += d
	fr.DTS += d
}

func (f *Fragmenter) capHint() int {
	if f.lastCount == 0 {
		return 64
	}
	return f.lastCount + f.lastCount/4 + 8
}

// open starts a fragment with fr when none is open. Its timecode must lie
// after every frame of the previous fragment and must not be negative.
func (f *Fragmenter) open(fr *media.Frame, idx int, est time.Duration) {
	s := f.unitOf(fr.PTS)
	lo := int64(0)
	if f.emitted {
		lo = f.prevMaxUnit + 1
	}
	if s < lo {
		f.shiftTo(fr, lo)
		s = lo
	}
	f.frames = append(make([]media.Frame, 0, f.capHint()), *fr)
	end := fr.PTS + est
	f.meta = append(f.meta[:0], frameMeta{end: end, idx: idx})
	f.start, f.firstIdx, f.maxEnd = s, idx, end
	f.size = clusterOverhead + len(fr.Data) + blockOverhead
}

// holdLead keeps a frame of a track other than the video track while the
// video key frame is awaited, dropping held frames that are now more than
// leadMax older than it.
func (f *Fragmenter) holdLead(fr media.Frame, idx int, est time.Duration, repaired bool) {
	f.lead = append(f.lead, fr)
	f.leadMeta = append(f.leadMeta, frameMeta{end: fr.PTS + est, idx: idx, repaired: repaired})
	n := 0
	for n < len(f.lead) && f.lead[n].PTS < fr.PTS-f.leadMax {
		n++
	}
	if n > 0 {
		f.stats.DroppedBeforeKey += uint64(n)
		clear(f.lead[:n])
		f.lead = f.lead[n:]
		f.leadMeta = f.leadMeta[n:]
	}
}

// dropLead drops the held lead-in frames (no key frame came for them).
func (f *Fragmenter) dropLead() {
	if len(f.lead) == 0 {
		return
	}
	f.stats.DroppedBeforeKey += uint64(len(f.lead))
	clear(f.lead)
	f.lead, f.leadMeta = f.lead[:0], f.leadMeta[:0]
}

// openWithLead opens a fragment at the video key frame key, preceded by the
// held lead-in frames that lie before it (at most leadMax before it) and
// followed by those that do not (at most leadMax/2 after it). The fragment
// starts at its first frame, moved forward to keep the start after the
// previous fragment and not negative; any frame before the start is moved to
// it, and a lead-in frame that then does not follow its track's previous one
// is moved one unit after it, so timecodes stay in order per track. Should
// the lead-in break the fragment's duration or timecode limits (only with
// unusual frame durations), it is dropped and the key frame opens the
// fragment alone.
func (f *Fragmenter) openWithLead(key *media.Frame, idx int, est time.Duration) {
	lead, leadMeta := f.lead, f.leadMeta
	f.lead, f.leadMeta = f.lead[:0], f.leadMeta[:0]
	defer clear(lead)
	if len(lead) == 0 {
		f.open(key, idx, est)
		return
	}
	frames := make([]media.Frame, 0, max(f.capHint(), len(lead)+1))
	meta := make([]frameMeta, 0, cap(frames))
	for i := range lead {
		if fr := lead[i]; fr.PTS >= key.PTS-f.leadMax && fr.PTS < key.PTS {
			frames = append(frames, fr)
			meta = append(meta, leadMeta[i])
		}
	}
	kpos := len(frames)
	frames = append(frames, *key)
	meta = append(meta, frameMeta{end: key.PTS + est, idx: idx})
	for i := range lead {
		if fr := lead[i]; fr.PTS >= key.PTS && fr.PTS-key.PTS <= f.leadMax/2 {
			frames = append(frames, fr)
			meta = append(meta, leadMeta[i])
		}
	}

	s := f.unitOf(frames[0].PTS)
	if f.emitted {
		s = max(s, f.prevMaxUnit+1)
	}
	s = max(s, 0)
	var prevDTS [maxTracks]time.Duration
	var seen [maxTracks]bool
	var moved []bool
	maxEnd := time.Duration(math.MinInt64)
	ok := true
	for i := range frames {
		fr, m := &frames[i], &meta[i]
		est := m.end - fr.PTS
		in := *fr
		if f.unitOf(fr.PTS) < s {
			f.shiftTo(fr, s)
		}
		if seen[m.idx] && fr.DTS <= prevDTS[m.idx] {
			d := prevDTS[m.idx] + f.unit - fr.DTS
			fr.DTS += d
			fr.PTS += d
		}
		prevDTS[m.idx], seen[m.idx] = fr.DTS, true
		m.end = fr.PTS + est
		maxEnd = max(maxEnd, m.end)
		moved = append(moved, fr.PTS != in.PTS || fr.DTS != in.DTS)
		if f.unitOf(fr.PTS)-s > math.MaxInt16 {
			ok = false
		}
	}
	if !ok || maxEnd-time.Duration(s)*f.unit > f.maxDur {
		f.stats.DroppedBeforeKey += uint64(len(lead))
		f.open(key, idx, est)
		return
	}
	f.stats.DroppedBeforeKey += uint64(len(lead) + 1 - len(frames))
	for i := range frames {
		// The key frame is counted by Push.
		if i != kpos && (moved[i] || meta[i].repaired) {
			f.stats.Repaired++
		}
	}
	for t := range f.ntracks {
		if seen[t] && t != idx && prevDTS[t] > f.tracks[t].lastDTS {
			f.tracks[t].lastDTS = prevDTS[t]
		}
	}
	*key = frames[kpos]
	f.frames, f.meta = frames, meta
	f.start, f.firstIdx, f.maxEnd = s, meta[0].idx, maxEnd
	f.size = clusterOverhead
	for i := range frames {
		f.size += len(frames[i].Data) + blockOverhead
	}
}

// cut closes the open fragment before fr, which starts the next one, and
// returns the closed fragment.
//
// The new fragment's timecode must be later than every frame left in the
// closed one. Frames of the video track, of fr's track and of the closed
// fragment's first frame stay where they are; if one of them is at or after
// fr, fr is moved forward in time. Frames of other tracks from the first one
// at or after the new timecode on are moved to the new fragment instead
// (unless that would put one outside the int16 block-timecode range, in
// which case their track is treated like the fixed ones).
func (f *Fragmenter) cut(fr *media.Frame, idx int, est time.Duration) *Fragment {
	old, meta := f.frames, f.meta
	var fixed [maxTracks]bool
	fixed[idx], fixed[f.firstIdx] = true, true
	if f.video >= 0 {
		fixed[f.video] = true
	}
	var from [maxTracks]int // per movable track: index of its first moved frame
	s := f.unitOf(fr.PTS)
	for {
		maxKeep := int64(math.MinInt64)
		for i := range old {
			if fixed[meta[i].idx] {
				maxKeep = max(maxKeep, f.unitOf(old[i].PTS))
			}
		}
		ns := max(s, maxKeep+1)
		for t := range from {
			from[t] = len(old)
		}
		settled := true
		for i := range old {
			t := meta[i].idx
			if fixed[t] {
				continue
			}
			u := f.unitOf(old[i].PTS)
			if from[t] == len(old) {
				if u < ns {
					continue
				}
				from[t] = i
			}
			if u-ns < math.MinInt16 {
				fixed[t], settled = true, false
				break
			}
		}
		if settled {
			s = ns
			break
		}
	}
	if s > f.unitOf(fr.PTS) {
		f.shiftTo(fr, s)
	}

	nf := append(make([]media.Frame, 0, f.capHint()), *fr)
	nm := append(f.spare[:0], frameMeta{end: fr.PTS + est, idx: idx})
	startT := time.Duration(f.start) * f.unit
	maxEnd, maxUnit := startT, f.start
	k := 0
	for i := range old {
		m := meta[i]
		if !fixed[m.idx] && i >= from[m.idx] {
			nf = append(nf, old[i])
			nm = append(nm, m)
			continue
		}
		maxEnd = max(maxEnd, m.end)
		maxUnit = max(maxUnit, f.unitOf(old[i].PTS))
		old[k], meta[k] = old[i], m
		k++
	}
	clear(old[k:])
	out := f.emit(old[:k:k], maxEnd, maxUnit)

	newEnd := nm[0].end
	for _, m := range nm[1:] {
		newEnd = max(newEnd, m.end)
	}
	f.frames, f.meta, f.spare = nf, nm, meta[:0]
	f.start, f.firstIdx, f.maxEnd = s, idx, newEnd
	f.size = clusterOverhead
	for i := range nf {
		f.size += len(nf[i].Data) + blockOverhead
	}
	return out
}

// splitAtLastKey closes the open fragment before its latest video key frame
// after the first frame, when every frame before that key frame lies before
// it in timecode units (so the new fragment's start needs no repair), and
// returns the closed part; the key frame and what follows stay open. It
// returns nil when there is no such key frame.
func (f *Fragmenter) splitAtLastKey() *Fragment {
	k := -1
	for i := len(f.frames) - 1; i > 0; i-- {
		if f.meta[i].idx == f.video && f.frames[i].Key {
			k = i
			break
		}
	}
	if k < 0 {
		return nil
	}
	s := f.unitOf(f.frames[k].PTS)
	startT := time.Duration(f.start) * f.unit
	maxEnd, maxUnit := startT, f.start
	for i := range k {
		u := f.unitOf(f.frames[i].PTS)
		if u >= s {
			return nil
		}
		maxUnit = max(maxUnit, u)
		maxEnd = max(maxEnd, f.meta[i].end)
	}
	old := f.frames
	nf := append(make([]media.Frame, 0, f.capHint()), old[k:]...)
	clear(old[k:])
	out := f.emit(old[:k:k], maxEnd, maxUnit)
	n := copy(f.meta, f.meta[k:])
	f.meta = f.meta[:n]
	f.frames = nf
	f.start, f.firstIdx = s, f.video
	f.maxEnd = f.meta[0].end
	f.size = clusterOverhead
	for i := range nf {
		f.maxEnd = max(f.maxEnd, f.meta[i].end)
		f.size += len(nf[i].Data) + blockOverhead
	}
	return out
}

// refuseGOP drops the open fragment and fr, a frame of a video GOP that
// would make it larger than the maximum size, and waits for the next video
// key frame. It returns the error that names the GOP's length: from the open
// fragment's latest video key frame to fr.
func (f *Fragmenter) refuseGOP(fr *media.Frame, idx int) error {
	k := 0
	for i := len(f.frames) - 1; i >= 0; i-- {
		if f.meta[i].idx == f.video && f.frames[i].Key {
			k = i
			break
		}
	}
	gopStart := f.frames[k].PTS
	pictures, bytes := 0, len(fr.Data)
	if idx == f.video {
		pictures++
	}
	for i := k; i < len(f.frames); i++ {
		if f.meta[i].idx == f.video {
			pictures++
		}
		bytes += len(f.frames[i].Data)
	}
	span := fr.PTS - gopStart
	f.dropOpen()
	f.stats.DroppedOversize++
	f.stats.OversizeGOPs++
	f.waitKey, f.cont = true, false
	return fmt.Errorf("push frame of track %d (pts %v): %w: the GOP from the video key frame at %v reached %d pictures, "+
		"%.2f s and %d bytes without another key frame, and a fragment may hold at most %d bytes; "+
		"encode with key frames more often (ffmpeg -g, x264 keyint, GStreamer x264enc key-int-max; "+
		"e.g. -g 60 for one every 2 s at 30 fps)",
		fr.Track, fr.PTS, ErrFragmentTooLarge, gopStart, pictures, span.Seconds(), bytes, f.maxSize)
}

// dropOpen drops the open fragment's frames, counting them as oversize.
func (f *Fragmenter) dropOpen() {
	f.stats.DroppedOversize += uint64(len(f.frames))
	f.frames = nil
	f.meta = f.meta[:0]
	f.size = 0
}

// emit hands out the frames as the next fragment.
func (f *Fragmenter) emit(frames []media.Frame, maxEnd time.Duration, maxUnit int64) *Fragment {
	startT := time.Duration(f.start) * f.unit
	out := &Fragment{Start: startT, Frames: frames, Duration: max(maxEnd-startT, 0), Seq: f.seq}
	f.seq++
	f.stats.Fragments++
	f.stats.Frames += uint64(len(frames))
	f.emitted = true
	f.prevMaxUnit = maxUnit
	f.lastCount = len(frames)
	return out
}
