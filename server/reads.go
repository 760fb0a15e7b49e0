package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"kvskit/mkv"
	"kvskit/server/store"
)

var fragmentNumberRE = regexp.MustCompile(`^[0-9]+$`)

// validFragmentNumber checks the API's fragment-number shape: 1-128 digits.
func validFragmentNumber(s string) bool { return len(s) <= 128 && fragmentNumberRE.MatchString(s) }

// errCorruptArchive marks stored data that cannot be served.
var errCorruptArchive = errors.New("archive data is corrupt")

// fragmentWriter writes fragments in the GetMedia layout: a stream header when
// it changes, then per fragment the tags before, the cluster, the tags after.
type fragmentWriter struct {
	s      *Server
	w      http.ResponseWriter
	rc     *http.ResponseController
	mw     *mkv.Writer
	header []byte
	buf    []byte
}

func newFragmentWriter(s *Server, w http.ResponseWriter) *fragmentWriter {
	w.Header().Set("Content-Type", "video/webm")
	w.WriteHeader(http.StatusOK)
	return &fragmentWriter{s: s, w: w, rc: http.NewResponseController(w), mw: mkv.NewWriter(w)}
}

func seconds(t time.Time) string {
	ms := t.UnixMilli()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func (fw *fragmentWriter) write(f liveFragment) error {
	if string(f.header) != string(fw.header) {
		info, tracks, err := unpackHeader(f.header)
		if err != nil {
			return fmt.Errorf("fragment %s: %w: %w", f.rec.Number, errCorruptArchive, err)
		}
		if err := fw.mw.WriteRawHeader(info, tracks); err != nil {
			return fmt.Errorf("fragment %s: %w", f.rec.Number, err)
		}
		fw.header = f.header
	}
	fw.buf = mkv.AppendTags(fw.buf[:0], []mkv.Tag{
		{Name: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", Value: f.rec.Number},
		{Name: "AWS_KINESISVIDEO_SERVER_TIMESTAMP", Value: seconds(f.rec.ServerTimestamp)},
		{Name: "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", Value: seconds(f.rec.ProducerTimestamp)},
	})
	fw.buf = append(fw.buf, f.data...)
	behind := fw.s.cfg.Now().Sub(f.rec.ServerTimestamp).Milliseconds()
	if behind < 0 {
		behind = 0
	}
	fw.buf = mkv.AppendTags(fw.buf, []mkv.Tag{
		{Name: "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", Value: strconv.FormatInt(behind, 10)},
		{Name: "AWS_KINESISVIDEO_CONTINUATION_TOKEN", Value: f.rec.Number},
	})
	if err := fw.mw.WriteRaw(fw.buf); err != nil {
		return err
	}
	return fw.rc.Flush()
}

// writeFailed ends a response after write failed: a fragment found corrupt
// in the archive is reported in the response; any other error is the
// reader going away.
func (fw *fragmentWriter) writeFailed(op, stream string, err error) {
	if errors.Is(err, errCorruptArchive) {
		fw.s.log.Error(op+": read archive", "stream", stream, "err", err)
		fw.writeError("INTERNAL_ERROR", 5000)
		return
	}
	fw.s.log.Debug(op+": write ended", "stream", stream, "err", err)
}

// writeError reports an error inside a started GetMedia response, as tags.
func (fw *fragmentWriter) writeError(code string, id int) {
	fw.buf = mkv.AppendTags(fw.buf[:0], []mkv.Tag{
		{Name: "AWS_KINESISVIDEO_ERROR_CODE", Value: code},
		{Name: "AWS_KINESISVIDEO_ERROR_ID", Value: strconv.Itoa(id)},
	})
	_ = fw.mw.WriteRaw(fw.buf)
	_ = fw.rc.Flush()
}

// load completes a store record with its header and bytes.
func (s *Server) load(arn string, rec store.Fragment, headers map[string][]byte) (liveFragment, error) {
	h, ok := headers[rec.HeaderID]
	if !ok {
		var err error
		h, err = s.store.Header(arn, rec.HeaderID)
		if err != nil {
			return liveFragment{}, fmt.Errorf("header of fragment %s: %w", rec.Number, err)
		}
		headers[rec.HeaderID] = h
	}
	data, err := s.store.ReadFragment(arn, rec.Number)
	if err != nil {
		return liveFragment{}, fmt.Errorf("fragment %s: %w", rec.Number, err)
	}
	return liveFragment{rec: rec, header: h, data: data, retained: true}, nil
}

// newFragments returns the fragments of a stream after the given number.
func (s *Server) newFragments(st store.Stream, after string, headers map[string][]byte) ([]liveFragment, error) {
	if st.DataRetentionInHours == 0 {
		return s.hub.recentAfter(st.ARN, after), nil
	}
	recs, err := s.store.FragmentsAfter(st.ARN, after, 16)
	if err != nil {
		return nil, err
	}
	out := make([]liveFragment, 0, len(recs))
	for _, rec := range recs {
		f, err := s.load(st.ARN, rec, headers)
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// predecessor returns the fixed-width decimal number just below n ("" for 0).
func predecessor(n string) string {
	b := []byte(n)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] > '0' {
			b[i]--
			return string(b)
		}
		b[i] = '9'
	}
	return ""
}

func (s *Server) lastNumber(st store.Stream) string {
	if st.DataRetentionInHours == 0 {
		return s.hub.lastRecent(st.ARN)
	}
	f, err := s.store.LastFragment(st.ARN)
	if err != nil {
		return ""
	}
	return f.Number
}

func (s *Server) getMedia(w http.ResponseWriter, r *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		StartSelector *struct {
			StartSelectorType   string `json:"StartSelectorType"`
			AfterFragmentNumber string `json:"AfterFragmentNumber"`
			StartTimestamp      *epoch `json:"StartTimestamp"`
			ContinuationToken   string `json:"ContinuationToken"`
		} `json:"StartSelector"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.lookupStream(in.streamRef)
	if e != nil {
		return e
	}
	sel := in.StartSelector
	if sel == nil {
		return errInvalidArgument("StartSelector is required")
	}
	var after string // start strictly after this number
	var minTime time.Time
	var timeKind store.TimestampKind
	switch sel.StartSelectorType {
	case "NOW":
		after = s.lastNumber(st)
	case "EARLIEST":
	case "FRAGMENT_NUMBER":
		if !validFragmentNumber(sel.AfterFragmentNumber) {
			return errInvalidArgument("AfterFragmentNumber %q must be a fragment number", sel.AfterFragmentNumber)
		}
		after = predecessor(sel.AfterFragmentNumber)
	case "CONTINUATION_TOKEN":
		if !validFragmentNumber(sel.ContinuationToken) {
			return errInvalidArgument("ContinuationToken %q is not one this endpoint issued", sel.ContinuationToken)
		}
		after = sel.ContinuationToken
	case "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP":
		if sel.StartTimestamp == nil {
			return errInvalidArgument("StartTimestamp is required with %s", sel.StartSelectorType)
		}
		minTime = time.Time(*sel.StartTimestamp)
		timeKind = store.ProducerTimestamp
		if sel.StartSelectorType == "SERVER_TIMESTAMP" {
			timeKind = store.ServerTimestamp
		}
		if st.DataRetentionInHours > 0 {
			f, err := s.store.FirstFragmentAtOrAfter(st.ARN, timeKind, minTime)
			switch {
			case err == nil:
				after = predecessor(f.Number)
			case errors.Is(err, store.ErrNotFound):
				after = s.lastNumber(st)
			default:
				return errInternal(err)
			}
		}
	default:
		return errInvalidArgument("StartSelectorType %q is not supported", sel.StartSelectorType)
	}

	fw := newFragmentWriter(s, w)
	headers := map[string][]byte{}
	idle := time.NewTimer(s.limits.GetMediaIdleTimeout)
	defer idle.Stop()
	sent := 0
	for {
		changed := s.hub.watch(st.ARN)
		frags, err := s.newFragments(st, after, headers)
		werr := func() error {
			defer releaseAll(frags)
			for _, f := range frags {
				after = f.rec.Number
				if !minTime.IsZero() {
					ts := f.rec.ProducerTimestamp
					if timeKind == store.ServerTimestamp {
						ts = f.rec.ServerTimestamp
					}
					if ts.Before(minTime) {
						continue
					}
				}
				if err := fw.write(f); err != nil {
					return err
				}
				sent++
			}
			return nil
		}()
		if werr != nil {
			fw.writeFailed("getmedia", st.Name, werr)
			return nil
		}
		if err != nil {
			s.log.Error("getmedia: read archive", "stream", st.Name, "err", err)
			fw.writeError("INTERNAL_ERROR", 5000)
			return nil
		}
		if len(frags) > 0 {
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			idle.Reset(s.limits.GetMediaIdleTimeout)
			continue
		}
		select {
		case <-changed:
			if _, err := s.store.StreamByARN(st.ARN); errors.Is(err, store.ErrNotFound) {
				fw.writeError("STREAM_NOT_FOUND", 4404)
				return nil
			}
		case <-idle.C:
			s.log.Debug("getmedia: idle, ending", "stream", st.Name, "sent", sent)
			return nil
		case <-r.Context().Done():
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
}

type fragmentOut struct {
	FragmentNumber               string `json:"FragmentNumber"`
	FragmentSizeInBytes          int64  `json:"FragmentSizeInBytes"`
	ProducerTimestamp            epoch  `json:"ProducerTimestamp"`
	ServerTimestamp              epoch  `json:"ServerTimestamp"`
	FragmentLengthInMilliseconds int64  `json:"FragmentLengthInMilliseconds"`
}

func (s *Server) listFragments(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		MaxResults       int64  `json:"MaxResults"`
		NextToken        string `json:"NextToken"`
		FragmentSelector *struct {
			FragmentSelectorType string `json:"FragmentSelectorType"`
			TimestampRange       *struct {
				StartTimestamp *epoch `json:"StartTimestamp"`
				EndTimestamp   *epoch `json:"EndTimestamp"`
			} `json:"TimestampRange"`
		} `json:"FragmentSelector"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.lookupStream(in.streamRef)
	if e != nil {
		return e
	}
	limit := in.MaxResults
	if limit == 0 {
		limit = 1000
	}
	if limit < 1 || limit > 1000 {
		return errInvalidArgument("MaxResults must be between 1 and 1000")
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || !validFragmentNumber(string(b)) {
			return errInvalidArgument("invalid NextToken")
		}
		after = string(b)
	}
	var recs []store.Fragment
	var err error
	if fs := in.FragmentSelector; fs != nil {
		var kind store.TimestampKind
		switch fs.FragmentSelectorType {
		case "PRODUCER_TIMESTAMP":
			kind = store.ProducerTimestamp
		case "SERVER_TIMESTAMP":
			kind = store.ServerTimestamp
		default:
			return errInvalidArgument("FragmentSelectorType must be PRODUCER_TIMESTAMP or SERVER_TIMESTAMP")
		}
		tr := fs.TimestampRange
		if tr == nil || tr.StartTimestamp == nil || tr.EndTimestamp == nil {
			return errInvalidArgument("TimestampRange with StartTimestamp and EndTimestamp is required")
		}
		start, end := time.Time(*tr.StartTimestamp), time.Time(*tr.EndTimestamp)
		if end.Before(start) {
			return errInvalidArgument("EndTimestamp is before StartTimestamp")
		}
		recs, err = s.store.FragmentsInRange(st.ARN, kind, start, end, after, int(limit)+1)
	} else {
		recs, err = s.store.FragmentsAfter(st.ARN, after, int(limit)+1)
	}
	if err != nil {
		return errInternal(err)
	}
	out := map[string]any{}
	if int64(len(recs)) > limit {
		recs = recs[:limit]
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(recs[len(recs)-1].Number))
	}
	list := make([]fragmentOut, 0, len(recs))
	for _, f := range recs {
		list = append(list, fragmentOut{
			FragmentNumber: f.Number, FragmentSizeInBytes: f.Size,
			ProducerTimestamp: epoch(f.ProducerTimestamp), ServerTimestamp: epoch(f.ServerTimestamp),
			FragmentLengthInMilliseconds: f.Duration.Milliseconds(),
		})
	}
	out["Fragments"] = list
	writeJSON(w, out)
	return nil
}

func (s *Server) getMediaForFragmentList(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		Fragments []string `json:"Fragments"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.lookupStream(in.streamRef)
	if e != nil {
		return e
	}
	if len(in.Fragments) == 0 || len(in.Fragments) > 1000 {
		return errInvalidArgument("Fragments must list 1 to 1000 fragment numbers")
	}
	recs := make([]store.Fragment, 0, len(in.Fragments))
	for _, n := range in.Fragments {
		if !validFragmentNumber(n) {
			return errInvalidArgument("%q is not a fragment number", n)
		}
		rec, err := s.store.Fragment(st.ARN, n)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("fragment %s of stream %s is not found", n, st.Name)
		}
		if err != nil {
			return errInternal(err)
		}
		recs = append(recs, rec)
	}
	fw := newFragmentWriter(s, w)
	headers := map[string][]byte{}
	for _, rec := range recs {
		f, err := s.load(st.ARN, rec, headers)
		if err != nil {
			s.log.Error("getmediaforfragmentlist: read archive", "stream", st.Name, "err", err)
			fw.writeError("INTERNAL_ERROR", 5000)
			return nil
		}
		if err := fw.write(f); err != nil {
			fw.writeFailed("getmediaforfragmentlist", st.Name, err)
			return nil
		}
	}
	return nil
}
