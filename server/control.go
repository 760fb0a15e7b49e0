package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"kvskit/server/store"
)

// Patterns of the API models. Lengths are checked apart (validName): a
// counted repetition of a Unicode class compiles to megabytes.
var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	mediaTypeRE = regexp.MustCompile(`^[\w\-.+]+/[\w\-.+]+(,[\w\-.+]+/[\w\-.+]+)*$`)
	tagRE       = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// validName checks a stream, channel or device name: 1-max of [a-zA-Z0-9_.-].
func validName(s string, max int) bool {
	return len(s) >= 1 && len(s) <= max && nameRE.MatchString(s)
}

const (
	maxTagsPerResource  = 50
	maxRetentionHours   = 87600
	defaultListMax      = 10000
	defaultMessageTTL   = 60
	channelSingleMaster = "SINGLE_MASTER"
)

// epoch renders a time as the JSON number of seconds AWS uses.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		// Some clients send ISO 8601 strings.
		var s string
		if err2 := json.Unmarshal(b, &s); err2 != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		t, err2 := time.Parse(time.RFC3339Nano, s)
		if err2 != nil {
			return fmt.Errorf("timestamp %q: %w", s, err2)
		}
		*e = epoch(t)
		return nil
	}
	sec := int64(f)
	*e = epoch(time.Unix(sec, int64((f-float64(sec))*1e9)).Round(time.Millisecond))
	return nil
}

func decode(body []byte, v any) *apiError {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return errInvalidArgument("malformed request body: %v", err)
	}
	return nil
}

func randomVersion() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

func (s *Server) arn(kind, name string, created time.Time) string {
	return fmt.Sprintf("arn:aws:kinesisvideo:%s:%s:%s/%s/%d", s.cfg.Region, s.cfg.AccountID, kind, name, created.UnixMilli())
}

func validateTags(tags map[string]string) *apiError {
	if len(tags) > maxTagsPerResource {
		return errorf(http.StatusBadRequest, "TagsPerResourceExceededLimitException",
			"at most %d tags per resource; got %d", maxTagsPerResource, len(tags))
	}
	for k, v := range tags {
		if len(k) < 1 || utf8.RuneCountInString(k) > 128 || !tagRE.MatchString(k) || strings.HasPrefix(k, "aws:") {
			return errInvalidArgument("invalid tag key %q", k)
		}
		if utf8.RuneCountInString(v) > 256 || !tagRE.MatchString(v) {
			return errInvalidArgument("invalid tag value %q for key %q", v, k)
		}
	}
	return nil
}

func mergeTags(dst map[string]string, add map[string]string) (map[string]string, *apiError) {
	out := make(map[string]string, len(dst)+len(add))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	if e := validateTags(out); e != nil {
		return nil, e
	}
	return out, nil
}

// ---- streams ----

type streamInfo struct {
	DeviceName           string `json:"DeviceName,omitempty"`
	StreamName           string `json:"StreamName"`
	StreamARN            string `json:"StreamARN"`
	MediaType            string `json:"MediaType,omitempty"`
	KmsKeyID             string `json:"KmsKeyId,omitempty"`
	Version              string `json:"Version"`
	Status               string `json:"Status"`
	CreationTime         epoch  `json:"CreationTime"`
	DataRetentionInHours int    `json:"DataRetentionInHours"`
}

func toStreamInfo(st store.Stream) streamInfo {
	return streamInfo{
		DeviceName: st.DeviceName, StreamName: st.Name, StreamARN: st.ARN, MediaType: st.MediaType,
		KmsKeyID: st.KmsKeyID, Version: st.Version, Status: st.Status,
		CreationTime: epoch(st.CreationTime), DataRetentionInHours: st.DataRetentionInHours,
	}
}

// streamRef is the StreamName-or-StreamARN pair most stream operations take.
type streamRef struct {
	StreamName string `json:"StreamName"`
	StreamARN  string `json:"StreamARN"`
}

// lookupStream resolves a name or ARN; exactly one must be given.
func (s *Server) lookupStream(ref streamRef) (store.Stream, *apiError) {
	var st store.Stream
	var err error
	switch {
	case ref.StreamName != "" && ref.StreamARN != "":
		return st, errInvalidArgument("specify either StreamName or StreamARN, not both")
	case ref.StreamName != "":
		st, err = s.store.Stream(ref.StreamName)
	case ref.StreamARN != "":
		st, err = s.store.StreamByARN(ref.StreamARN)
	default:
		return st, errInvalidArgument("StreamName or StreamARN is required")
	}
	if errors.Is(err, store.ErrNotFound) {
		what := ref.StreamName
		if what == "" {
			what = ref.StreamARN
		}
		return st, errNotFound("The requested stream %s is not found or not active.", what)
	}
	if err != nil {
		return st, errInternal(err)
	}
	return st, nil
}

func (s *Server) createStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		DeviceName           string               `json:"DeviceName"`
		StreamName           string               `json:"StreamName"`
		MediaType            string               `json:"MediaType"`
		KmsKeyID             string               `json:"KmsKeyId"`
		DataRetentionInHours *int                 `json:"DataRetentionInHours"`
		Tags                 map[string]string    `json:"Tags"`
		StreamStorage        *streamStorageConfig `json:"StreamStorageConfiguration"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if e := checkCreateStream(in.MediaType, in.KmsKeyID, in.Tags, in.StreamStorage); e != nil {
		return e
	}
	if !validName(in.StreamName, 256) {
		return errInvalidArgument("StreamName %q must be 1-256 characters of [a-zA-Z0-9_.-]", in.StreamName)
	}
	if in.DeviceName != "" && !validName(in.DeviceName, 128) {
		return errInvalidArgument("DeviceName %q must be 1-128 characters of [a-zA-Z0-9_.-]", in.DeviceName)
	}
	if in.MediaType != "" && !mediaTypeRE.MatchString(in.MediaType) {
		return errInvalidArgument("MediaType %q is not a valid media type", in.MediaType)
	}
	retention := 0
	if in.DataRetentionInHours != nil {
		retention = *in.DataRetentionInHours
	}
	if retention < 0 || retention > maxRetentionHours {
		return errInvalidArgument("DataRetentionInHours must be between 0 and %d", maxRetentionHours)
	}
	if e := validateTags(in.Tags); e != nil {
		return e
	}
	now := s.cfg.Now()
	kms := in.KmsKeyID
	if kms == "" {
		kms = fmt.Sprintf("arn:aws:kms:%s:%s:alias/aws/kinesisvideo", s.cfg.Region, s.cfg.AccountID)
	}
	st := store.Stream{
		Name: in.StreamName, ARN: s.arn("stream", in.StreamName, now), DeviceName: in.DeviceName,
		MediaType: in.MediaType, KmsKeyID: kms, Version: randomVersion(), Status: "ACTIVE",
		CreationTime: now, DataRetentionInHours: retention, Tags: in.Tags,
	}
	if in.StreamStorage != nil {
		st.StorageTier = in.StreamStorage.DefaultStorageTier
	}
	if err := s.store.CreateStream(st); err != nil {
		if errors.Is(err, store.ErrExists) {
			return errInUse("The stream %s already exists.", in.StreamName)
		}
		return errInternal(err)
	}
	s.log.Info("stream created", "stream", st.Name, "arn", st.ARN, "retention_hours", retention)
	writeJSON(w, map[string]string{"StreamARN": st.ARN})
	return nil
}

func (s *Server) describeStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.lookupStream(in)
	if e != nil {
		return e
	}
	writeJSON(w, map[string]any{"StreamInfo": toStreamInfo(st)})
	return nil
}

type nameCondition struct {
	ComparisonOperator string `json:"ComparisonOperator"`
	ComparisonValue    string `json:"ComparisonValue"`
}

func (c *nameCondition) match(name string) bool {
	if c == nil || c.ComparisonValue == "" {
		return true
	}
	return strings.HasPrefix(name, c.ComparisonValue)
}

func (c *nameCondition) validate() *apiError {
	if c != nil && c.ComparisonOperator != "" && c.ComparisonOperator != "BEGINS_WITH" {
		return errInvalidArgument("ComparisonOperator must be BEGINS_WITH, not %q", c.ComparisonOperator)
	}
	return nil
}

// page returns the slice of names after the token, at most max long, and the
// token for the next page.
func page(names []string, token string, limit int) (start, end int, next string, e *apiError) {
	if limit <= 0 {
		limit = defaultListMax
	}
	if token != "" {
		after, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return 0, 0, "", errInvalidArgument("invalid NextToken")
		}
		start = sort.SearchStrings(names, string(after)+"\x00")
	}
	end = start + limit
	if end >= len(names) {
		return start, len(names), "", nil
	}
	return start, end, base64.StdEncoding.EncodeToString([]byte(names[end-1])), nil
}

func (s *Server) listStreams(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		MaxResults          int            `json:"MaxResults"`
		NextToken           string         `json:"NextToken"`
		StreamNameCondition *nameCondition `json:"StreamNameCondition"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.MaxResults < 0 || in.MaxResults > defaultListMax {
		return errInvalidArgument("MaxResults must be between 1 and %d", defaultListMax)
	}
	if e := in.StreamNameCondition.validate(); e != nil {
		return e
	}
	all, err := s.store.Streams()
	if err != nil {
		return errInternal(err)
	}
	var matched []store.Stream
	var names []string
	for _, st := range all {
		if in.StreamNameCondition.match(st.Name) {
			matched = append(matched, st)
			names = append(names, st.Name)
		}
	}
	return writePage(w, "StreamInfoList", names, matched, in.NextToken, in.MaxResults, toStreamInfo)
}

func checkVersion(current, want string) *apiError {
	if want != "" && want != current {
		return errVersionMismatch("The version %s does not match the current version %s.", want, current)
	}
	return nil
}

// updateStreamRecord applies fn to the stream named by ref atomically.
func (s *Server) updateStreamRecord(ref streamRef, fn func(*store.Stream) *apiError) *apiError {
	st, e := s.lookupStream(ref)
	if e != nil {
		return e
	}
	notFound := func() *apiError { return errNotFound("The requested stream is not found or not active.") }
	_, err := s.store.UpdateStream(st.Name, guarded(func(cur *store.Stream) bool { return cur.ARN == st.ARN }, notFound, fn))
	return updateResult(err, notFound)
}

// guarded adapts an API-level change to a store update: the record must still
// be the one that was looked up (a stream or channel deleted and re-created
// meanwhile has another ARN), and fn's *apiError passes through unchanged.
func guarded[T any](same func(*T) bool, notFound func() *apiError, fn func(*T) *apiError) func(*T) error {
	return func(cur *T) error {
		if !same(cur) {
			return notFound()
		}
		if e := fn(cur); e != nil {
			return e
		}
		return nil
	}
}

// updateResult maps what a store update returned to an API error.
func updateResult(err error, notFound func() *apiError) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return notFound()
	case err != nil:
		return errInternal(err)
	}
	return nil
}

func (s *Server) deleteStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		StreamARN      string `json:"StreamARN"`
		CurrentVersion string `json:"CurrentVersion"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.StreamARN == "" {
		return errInvalidArgument("StreamARN is required")
	}
	st, e := s.lookupStream(streamRef{StreamARN: in.StreamARN})
	if e != nil {
		return e
	}
	if e := checkVersion(st.Version, in.CurrentVersion); e != nil {
		return e
	}
	if err := s.store.DeleteStream(st.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("The requested stream %s is not found.", in.StreamARN)
		}
		return errInternal(err)
	}
	s.endSession(st.ARN)
	s.hub.drop(st.ARN)
	s.log.Info("stream deleted", "stream", st.Name, "arn", st.ARN)
	writeJSON(w, nil)
	return nil
}

func (s *Server) updateStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		CurrentVersion string  `json:"CurrentVersion"`
		DeviceName     *string `json:"DeviceName"`
		MediaType      *string `json:"MediaType"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.CurrentVersion == "" {
		return errInvalidArgument("CurrentVersion is required")
	}
	if in.DeviceName != nil && !validName(*in.DeviceName, 128) {
		return errInvalidArgument("DeviceName %q must be 1-128 characters of [a-zA-Z0-9_.-]", *in.DeviceName)
	}
	if in.MediaType != nil && !mediaTypeRE.MatchString(*in.MediaType) {
		return errInvalidArgument("MediaType %q is not a valid media type", *in.MediaType)
	}
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		if e := checkVersion(st.Version, in.CurrentVersion); e != nil {
			return e
		}
		if in.DeviceName != nil {
			st.DeviceName = *in.DeviceName
		}
		if in.MediaType != nil {
			st.MediaType = *in.MediaType
		}
		st.Version = randomVersion()
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) updateDataRetention(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		CurrentVersion             string `json:"CurrentVersion"`
		Operation                  string `json:"Operation"`
		DataRetentionChangeInHours int    `json:"DataRetentionChangeInHours"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.CurrentVersion == "" {
		return errInvalidArgument("CurrentVersion is required")
	}
	if in.DataRetentionChangeInHours < 1 {
		return errInvalidArgument("DataRetentionChangeInHours must be at least 1")
	}
	var sign int
	switch in.Operation {
	case "INCREASE_DATA_RETENTION":
		sign = 1
	case "DECREASE_DATA_RETENTION":
		sign = -1
	default:
		return errInvalidArgument("Operation must be INCREASE_DATA_RETENTION or DECREASE_DATA_RETENTION, not %q", in.Operation)
	}
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		if e := checkVersion(st.Version, in.CurrentVersion); e != nil {
			return e
		}
		n := st.DataRetentionInHours + sign*in.DataRetentionChangeInHours
		if n < 0 || n > maxRetentionHours {
			return errInvalidArgument("resulting DataRetentionInHours %d is outside 0-%d", n, maxRetentionHours)
		}
		st.DataRetentionInHours = n
		st.Version = randomVersion()
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) tagStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		Tags map[string]string `json:"Tags"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if len(in.Tags) == 0 {
		return errInvalidArgument("Tags is required")
	}
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		tags, e := mergeTags(st.Tags, in.Tags)
		if e != nil {
			return e
		}
		st.Tags = tags
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) untagStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		TagKeyList []string `json:"TagKeyList"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if len(in.TagKeyList) == 0 {
		return errInvalidArgument("TagKeyList is required")
	}
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		for _, k := range in.TagKeyList {
			delete(st.Tags, k)
		}
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func tagsOut(tags map[string]string) map[string]string {
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

func (s *Server) listTagsForStream(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		NextToken string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.lookupStream(in.streamRef)
	if e != nil {
		return e
	}
	writeJSON(w, map[string]any{"Tags": tagsOut(st.Tags)})
	return nil
}

var apiNames = map[string]bool{
	"PUT_MEDIA": true, "GET_MEDIA": true, "LIST_FRAGMENTS": true, "GET_MEDIA_FOR_FRAGMENT_LIST": true,
	"GET_HLS_STREAMING_SESSION_URL": true, "GET_DASH_STREAMING_SESSION_URL": true, "GET_CLIP": true,
	"GET_IMAGES": true,
}

// baseURL is the server's own URL as the client sees it.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme, defPort := "http", "80"
	if r.TLS != nil {
		scheme, defPort = "https", "443"
	}
	return scheme + "://" + hostWithPort(r, defPort)
}

// hostWithPort is the request's Host with the port of the listener that
// took the connection when the Host names none (the KVS C producer sends
// and signs Host without the port): a client that builds its URLs from
// the data endpoint then reaches this listener, not the scheme's default
// port.
func hostWithPort(r *http.Request, defPort string) string {
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err == nil || host == "" {
		return host
	}
	la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if la == nil {
		return host
	}
	_, port, err := net.SplitHostPort(la.String())
	if err != nil || port == defPort {
		return host
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port)
}

func (s *Server) getDataEndpoint(w http.ResponseWriter, r *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		APIName string `json:"APIName"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if !apiNames[in.APIName] {
		return errInvalidArgument("APIName %q is not one of the supported API names", in.APIName)
	}
	if _, e := s.lookupStream(in.streamRef); e != nil {
		return e
	}
	writeJSON(w, map[string]string{"DataEndpoint": s.baseURL(r)})
	return nil
}

// writePage answers a List call: the page of matched (named by names, in
// the same order) that token and limit select, converted with conv, under
// key, and the NextToken of the page after it.
func writePage[R, T any](w http.ResponseWriter, key string, names []string, matched []R, token string, limit int, conv func(R) T) *apiError {
	start, end, next, e := page(names, token, limit)
	if e != nil {
		return e
	}
	list := make([]T, 0, end-start)
	for _, r := range matched[start:end] {
		list = append(list, conv(r))
	}
	out := map[string]any{key: list}
	if next != "" {
		out["NextToken"] = next
	}
	writeJSON(w, out)
	return nil
}
