package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"kvskit/server/store"
)

// This file holds the stream and channel configurations of the control
// plane: image generation, notifications, stream storage, media storage
// (channel to stream mapping) and edge agents. They are validated as the
// botocore model describes them and kept in the stream and channel records.
// The endpoint acts on none of them: it generates no images, sends no
// notifications and runs no edge agent (docs/server.md says how each one
// answers).

// Patterns of the kinesisvideo model, anchored: the service matches whole
// values. Lengths are checked apart.
var (
	arnRE         = regexp.MustCompile(`^arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+$`)
	destURIRE     = regexp.MustCompile(`^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$`)
	regionRE      = regexp.MustCompile(`^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$`)
	hubDeviceRE   = regexp.MustCompile(`^arn:[a-z\d-]+:iot:[a-z0-9-]+:[0-9]+:thing/[a-zA-Z0-9_.-]+$`)
	secretARNRE   = regexp.MustCompile(`^arn:[a-z\d-]+:secretsmanager:[a-z0-9-]+:[0-9]+:secret:[a-zA-Z0-9_.-]+$`)
	versionRE     = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
	nextTokenRE   = regexp.MustCompile(`^[a-zA-Z0-9+/=]*$`)
	oneLineRE     = regexp.MustCompile(`^[^\n\r]+$`)
	formatValueRE = regexp.MustCompile(`^[a-zA-Z_0-9]+`)
)

const (
	statusEnabled  = "ENABLED"
	statusDisabled = "DISABLED"
	tierHot        = "HOT"

	// mappedTypeChannel is the Type of a DescribeMappedResourceConfiguration
	// item: the resource mapped to the stream is a signaling channel.
	mappedTypeChannel = "SIGNALING_CHANNEL"

	syncFailed = "SYNC_FAILED"

	maxEdgeAgentConfigs = 10
	minSamplingInterval = 200 // milliseconds
)

func errNoDataRetention(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "NoDataRetentionException", format, args...)
}

func errEdgeNotFound(stream string) *apiError {
	return errorf(http.StatusNotFound, "StreamEdgeConfigurationNotFoundException",
		"The stream %s has no edge configuration.", stream)
}

// checker validates request members in order and keeps the first failure,
// an InvalidArgumentException naming the member.
type checker struct{ e *apiError }

func (c *checker) fail(format string, args ...any) {
	if c.e == nil {
		c.e = errInvalidArgument(format, args...)
	}
}

// present fails when a required member is missing and reports whether the
// member may be checked further.
func (c *checker) present(field string, ok bool) bool {
	if c.e != nil {
		return false
	}
	if !ok {
		c.fail("%s is required", field)
	}
	return ok
}

// str checks a string member: absent (empty) is allowed unless required;
// otherwise its length in characters is within [min, max] and re matches.
func (c *checker) str(field, v string, required bool, min, max int, re *regexp.Regexp) {
	if c.e != nil {
		return
	}
	if v == "" {
		if required {
			c.fail("%s is required", field)
		}
		return
	}
	if n := utf8.RuneCountInString(v); n < min || n > max {
		c.fail("%s must be %d to %d characters long, not %d", field, min, max, n)
		return
	}
	if re != nil && !re.MatchString(v) {
		c.fail("%s %q does not match the pattern %s", field, v, strings.Trim(re.String(), "^$"))
	}
}

func (c *checker) enum(field, v string, required bool, allowed ...string) {
	if c.e != nil {
		return
	}
	if v == "" {
		if required {
			c.fail("%s is required (one of %s)", field, strings.Join(allowed, ", "))
		}
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail("%s must be one of %s, not %q", field, strings.Join(allowed, ", "), v)
}

func (c *checker) num(field string, v *int, required bool, min, max int) {
	if c.e != nil {
		return
	}
	if v == nil {
		if required {
			c.fail("%s is required", field)
		}
		return
	}
	if *v < min || *v > max {
		if max == math.MaxInt {
			c.fail("%s must be at least %d, not %d", field, min, *v)
		} else {
			c.fail("%s must be between %d and %d, not %d", field, min, max, *v)
		}
	}
}

// findStream validates a StreamName/StreamARN pair and resolves it.
func (s *Server) findStream(ref streamRef) (store.Stream, *apiError) {
	var c checker
	c.str("StreamName", ref.StreamName, false, 1, 256, nameRE)
	c.str("StreamARN", ref.StreamARN, false, 1, 1024, arnRE)
	if c.e != nil {
		return store.Stream{}, c.e
	}
	return s.lookupStream(ref)
}

// ---- image generation ----

func (s *Server) checkImageGeneration(cfg *store.ImageGenerationConfig) *apiError {
	const p = "ImageGenerationConfiguration."
	var c checker
	c.enum(p+"Status", cfg.Status, true, statusEnabled, statusDisabled)
	c.enum(p+"ImageSelectorType", cfg.ImageSelectorType, true, "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP")
	if c.present(p+"DestinationConfig", cfg.DestinationConfig != nil) {
		d := cfg.DestinationConfig
		c.str(p+"DestinationConfig.Uri", d.URI, true, 1, 255, destURIRE)
		c.str(p+"DestinationConfig.DestinationRegion", d.DestinationRegion, true, 9, 14, regionRE)
		if c.e == nil && d.DestinationRegion != s.cfg.Region {
			c.fail("%sDestinationConfig.DestinationRegion %s must be the stream's region %s", p, d.DestinationRegion, s.cfg.Region)
		}
	}
	c.num(p+"SamplingInterval", cfg.SamplingInterval, true, minSamplingInterval, math.MaxInt)
	c.enum(p+"Format", cfg.Format, true, "JPEG", "PNG")
	if cfg.FormatConfig != nil && c.e == nil {
		if len(cfg.FormatConfig) != 1 {
			c.fail("%sFormatConfig must hold exactly one entry (JPEGQuality), not %d", p, len(cfg.FormatConfig))
		}
		for k, v := range cfg.FormatConfig {
			c.enum(p+"FormatConfig key", k, true, "JPEGQuality")
			c.str(p+"FormatConfig.JPEGQuality", v, true, 1, 256, formatValueRE)
			if q, err := strconv.Atoi(v); c.e == nil && (err != nil || q < 1 || q > 100) {
				c.fail("%sFormatConfig.JPEGQuality must be an integer from 1 to 100, not %q", p, v)
			}
		}
	}
	c.num(p+"WidthPixels", cfg.WidthPixels, false, 1, 3840)
	c.num(p+"HeightPixels", cfg.HeightPixels, false, 1, 2160)
	return c.e
}

// describeStreamConfig answers a Describe...Configuration call of a
// stream: the configuration get returns under name, left out when unset.
func describeStreamConfig[T any](s *Server, w http.ResponseWriter, body []byte, name string, get func(*store.Stream) *T) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.findStream(in)
	if e != nil {
		return e
	}
	out := map[string]any{}
	if v := get(&st); v != nil {
		out[name] = v
	}
	writeJSON(w, out)
	return nil
}

// updateStreamConfig answers an Update...Configuration call of a stream:
// the configuration under name is checked, refused with
// NoDataRetentionException when it is ENABLED on a stream that stores
// nothing (noRetention says why that matters), and stored with set. A call
// without it clears the configuration.
func updateStreamConfig[T any](s *Server, w http.ResponseWriter, body []byte, name string,
	check func(*T) *apiError, enabled func(*T) bool, set func(*store.Stream, *T), noRetention string) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	var raw map[string]json.RawMessage
	if e := decode(body, &raw); e != nil {
		return e
	}
	var cfg *T
	if v, ok := raw[name]; ok && string(v) != "null" {
		cfg = new(T)
		if err := json.Unmarshal(v, cfg); err != nil {
			return errInvalidArgument("malformed %s: %v", name, err)
		}
	}
	if _, e := s.findStream(in); e != nil {
		return e
	}
	if cfg != nil {
		if e := check(cfg); e != nil {
			return e
		}
	}
	e := s.updateStreamRecord(in, func(st *store.Stream) *apiError {
		if cfg != nil && enabled(cfg) && st.DataRetentionInHours == 0 {
			return errNoDataRetention("The stream %s stores no media (DataRetentionInHours is 0): %s", st.Name, noRetention)
		}
		set(st, cfg)
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) describeImageGenerationConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	return describeStreamConfig(s, w, body, "ImageGenerationConfiguration",
		func(st *store.Stream) *store.ImageGenerationConfig { return st.ImageGeneration })
}

func (s *Server) updateImageGenerationConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	return updateStreamConfig(s, w, body, "ImageGenerationConfiguration", s.checkImageGeneration,
		func(c *store.ImageGenerationConfig) bool { return c.Status == statusEnabled },
		func(st *store.Stream, c *store.ImageGenerationConfig) { st.ImageGeneration = c },
		"images cannot be generated from it.")
}

// ---- notifications ----

func (s *Server) describeNotificationConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	return describeStreamConfig(s, w, body, "NotificationConfiguration",
		func(st *store.Stream) *store.NotificationConfig { return st.Notification })
}

func (s *Server) updateNotificationConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	return updateStreamConfig(s, w, body, "NotificationConfiguration", checkNotification,
		func(c *store.NotificationConfig) bool { return c.Status == statusEnabled },
		func(st *store.Stream, c *store.NotificationConfig) { st.Notification = c },
		"there is nothing to notify about.")
}

func checkNotification(cfg *store.NotificationConfig) *apiError {
	const p = "NotificationConfiguration."
	var c checker
	c.enum(p+"Status", cfg.Status, true, statusEnabled, statusDisabled)
	if c.present(p+"DestinationConfig", cfg.DestinationConfig != nil) {
		c.str(p+"DestinationConfig.Uri", cfg.DestinationConfig.URI, true, 1, 255, destURIRE)
	}
	return c.e
}

// ---- stream storage ----

type streamStorageConfig struct {
	DefaultStorageTier string `json:"DefaultStorageTier"`
}

func checkStreamStorage(cfg *streamStorageConfig) *apiError {
	var c checker
	c.enum("StreamStorageConfiguration.DefaultStorageTier", cfg.DefaultStorageTier, true, tierHot, "WARM")
	return c.e
}

func storageTier(st store.Stream) string {
	if st.StorageTier == "" {
		return tierHot
	}
	return st.StorageTier
}

func (s *Server) describeStreamStorageConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.findStream(in)
	if e != nil {
		return e
	}
	writeJSON(w, map[string]any{
		"StreamName":                 st.Name,
		"StreamARN":                  st.ARN,
		"StreamStorageConfiguration": streamStorageConfig{storageTier(st)},
	})
	return nil
}

func (s *Server) updateStreamStorageConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		CurrentVersion string               `json:"CurrentVersion"`
		Config         *streamStorageConfig `json:"StreamStorageConfiguration"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	var c checker
	c.str("CurrentVersion", in.CurrentVersion, true, 1, 64, versionRE)
	if c.present("StreamStorageConfiguration", in.Config != nil) {
		c.e = checkStreamStorage(in.Config)
	}
	if c.e != nil {
		return c.e
	}
	if _, e := s.findStream(in.streamRef); e != nil {
		return e
	}
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		if e := checkVersion(st.Version, in.CurrentVersion); e != nil {
			return e
		}
		st.StorageTier = in.Config.DefaultStorageTier
		st.Version = randomVersion()
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

// checkCreateStream validates the CreateStream members that the record
// keeps as given: media type, KMS key, tags and stream storage.
func checkCreateStream(mediaType, kmsKeyID string, tags map[string]string, storage *streamStorageConfig) *apiError {
	var c checker
	c.str("MediaType", mediaType, false, 1, 128, mediaTypeRE)
	c.str("KmsKeyId", kmsKeyID, false, 1, 2048, oneLineRE)
	if c.e == nil && tags != nil && len(tags) == 0 {
		c.fail("Tags must hold 1 to %d tags when given, not none", maxTagsPerResource)
	}
	if c.e == nil && storage != nil {
		c.e = checkStreamStorage(storage)
	}
	return c.e
}

// ---- media storage (channels) ----

func (s *Server) describeMediaStorageConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelName string `json:"ChannelName"`
		ChannelARN  string `json:"ChannelARN"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	var c checker
	c.str("ChannelName", in.ChannelName, false, 1, 256, nameRE)
	c.str("ChannelARN", in.ChannelARN, false, 1, 1024, arnRE)
	if c.e != nil {
		return c.e
	}
	ch, e := s.lookupChannel(in.ChannelName, in.ChannelARN)
	if e != nil {
		return e
	}
	cfg := store.MediaStorageConfig{Status: statusDisabled}
	if ch.MediaStorage != nil {
		cfg = *ch.MediaStorage
	}
	writeJSON(w, map[string]any{"MediaStorageConfiguration": cfg})
	return nil
}

func (s *Server) updateMediaStorageConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelARN string                    `json:"ChannelARN"`
		Config     *store.MediaStorageConfig `json:"MediaStorageConfiguration"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	const p = "MediaStorageConfiguration."
	var c checker
	c.str("ChannelARN", in.ChannelARN, true, 1, 1024, arnRE)
	if c.present("MediaStorageConfiguration", in.Config != nil) {
		c.enum(p+"Status", in.Config.Status, true, statusEnabled, statusDisabled)
		c.str(p+"StreamARN", in.Config.StreamARN, false, 1, 1024, arnRE)
		if c.e == nil && in.Config.Status == statusEnabled && in.Config.StreamARN == "" {
			c.fail("%sStreamARN is required when %sStatus is ENABLED", p, p)
		}
	}
	if c.e != nil {
		return c.e
	}
	cfg := *in.Config
	s.mediaStorageMu.Lock()
	defer s.mediaStorageMu.Unlock()
	if _, e := s.lookupChannel("", in.ChannelARN); e != nil {
		return e
	}
	if cfg.Status == statusEnabled {
		st, e := s.lookupStream(streamRef{StreamARN: cfg.StreamARN})
		if e != nil {
			return e
		}
		if st.DataRetentionInHours == 0 {
			return errNoDataRetention("The stream %s stores no media (DataRetentionInHours is 0): a channel cannot store its media there.", st.Name)
		}
		chans, err := s.store.Channels()
		if err != nil {
			return errInternal(err)
		}
		for _, other := range chans {
			if other.ARN != in.ChannelARN && mapsStream(other, st.ARN) {
				return errInUse("The stream %s is already mapped to the channel %s.", st.ARN, other.ARN)
			}
		}
	}
	e := s.updateChannelRecord(in.ChannelARN, func(ch *store.Channel) *apiError {
		ch.MediaStorage = &cfg
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

// mapsStream reports whether a channel stores its media in the stream.
func mapsStream(ch store.Channel, streamARN string) bool {
	return ch.MediaStorage != nil && ch.MediaStorage.Status == statusEnabled && ch.MediaStorage.StreamARN == streamARN
}

func (s *Server) describeMappedResourceConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	var c checker
	c.num("MaxResults", in.MaxResults, false, 1, 1)
	c.str("NextToken", in.NextToken, false, 0, 1024, nextTokenRE)
	if c.e != nil {
		return c.e
	}
	st, e := s.findStream(in.streamRef)
	if e != nil {
		return e
	}
	type item struct {
		Type string `json:"Type"`
		ARN  string `json:"ARN"`
	}
	list := []item{}
	// At most one channel maps a stream, so every answer is one page: a
	// NextToken asks for the empty rest.
	if in.NextToken == "" {
		chans, err := s.store.Channels()
		if err != nil {
			return errInternal(err)
		}
		for _, ch := range chans {
			if mapsStream(ch, st.ARN) {
				list = append(list, item{mappedTypeChannel, ch.ARN})
				break
			}
		}
	}
	writeJSON(w, map[string]any{"MappedResourceConfigurationList": list})
	return nil
}

// ---- edge configuration ----

func checkSchedule(c *checker, p string, sc *store.ScheduleConfig) {
	c.str(p+".ScheduleExpression", sc.ScheduleExpression, true, 11, 100, oneLineRE)
	c.num(p+".DurationInSeconds", sc.DurationInSeconds, true, 60, 3600)
}

func checkEdgeConfig(ec *store.EdgeConfig) *apiError {
	const p = "EdgeConfig."
	var c checker
	c.str(p+"HubDeviceArn", ec.HubDeviceArn, true, 1, 1024, hubDeviceRE)
	if c.present(p+"RecorderConfig", ec.RecorderConfig != nil) {
		rc := ec.RecorderConfig
		if c.present(p+"RecorderConfig.MediaSourceConfig", rc.MediaSourceConfig != nil) {
			const f = p + "RecorderConfig.MediaSourceConfig.MediaUriSecretArn"
			arn := rc.MediaSourceConfig.MediaURISecretARN
			// The value is sensitive in the model: messages do not repeat it.
			if c.present(f, arn != "") {
				if n := utf8.RuneCountInString(arn); n < 20 || n > 2048 {
					c.fail("%s must be 20 to 2048 characters long, not %d", f, n)
				} else if !secretARNRE.MatchString(arn) {
					c.fail("%s does not match the pattern %s", f, strings.Trim(secretARNRE.String(), "^$"))
				}
			}
			c.enum(p+"RecorderConfig.MediaSourceConfig.MediaUriType", rc.MediaSourceConfig.MediaURIType, true, "RTSP_URI", "FILE_URI")
		}
		if rc.ScheduleConfig != nil {
			checkSchedule(&c, p+"RecorderConfig.ScheduleConfig", rc.ScheduleConfig)
		}
	}
	if ec.UploaderConfig != nil && c.present(p+"UploaderConfig.ScheduleConfig", ec.UploaderConfig.ScheduleConfig != nil) {
		checkSchedule(&c, p+"UploaderConfig.ScheduleConfig", ec.UploaderConfig.ScheduleConfig)
	}
	if dc := ec.DeletionConfig; dc != nil {
		c.num(p+"DeletionConfig.EdgeRetentionInHours", dc.EdgeRetentionInHours, false, 1, 720)
		if lc := dc.LocalSizeConfig; lc != nil {
			c.num(p+"DeletionConfig.LocalSizeConfig.MaxLocalMediaSizeInMB", lc.MaxLocalMediaSizeInMB, false, 64, 2000000)
			c.enum(p+"DeletionConfig.LocalSizeConfig.StrategyOnFullSize", lc.StrategyOnFullSize, false, "DELETE_OLDEST_MEDIA", "DENY_NEW_MEDIA")
		}
	}
	return c.e
}

type edgeInfo struct {
	StreamName          string           `json:"StreamName"`
	StreamARN           string           `json:"StreamARN"`
	CreationTime        epoch            `json:"CreationTime"`
	LastUpdatedTime     epoch            `json:"LastUpdatedTime"`
	SyncStatus          string           `json:"SyncStatus"`
	FailedStatusDetails string           `json:"FailedStatusDetails,omitempty"`
	EdgeConfig          store.EdgeConfig `json:"EdgeConfig"`
}

func toEdgeInfo(st store.Stream) edgeInfo {
	e := st.Edge
	return edgeInfo{
		StreamName: st.Name, StreamARN: st.ARN, CreationTime: epoch(e.CreationTime),
		LastUpdatedTime: epoch(e.LastUpdatedTime), SyncStatus: e.SyncStatus,
		FailedStatusDetails: e.FailedStatusDetails, EdgeConfig: e.Config,
	}
}

func (s *Server) startEdgeConfigurationUpdate(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		streamRef
		EdgeConfig *store.EdgeConfig `json:"EdgeConfig"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	var c checker
	if c.present("EdgeConfig", in.EdgeConfig != nil) {
		c.e = checkEdgeConfig(in.EdgeConfig)
	}
	if c.e != nil {
		return c.e
	}
	if _, e := s.findStream(in.streamRef); e != nil {
		return e
	}
	now := s.cfg.Now()
	var out store.Stream
	e := s.updateStreamRecord(in.streamRef, func(st *store.Stream) *apiError {
		if st.DataRetentionInHours == 0 {
			return errNoDataRetention("The stream %s stores no media (DataRetentionInHours is 0): an edge agent cannot upload to it.", st.Name)
		}
		created := now
		if old := st.Edge; old != nil {
			if old.SyncStatus != syncFailed && old.SyncStatus != "IN_SYNC" {
				return errInUse("The edge configuration of the stream %s is %s; wait until it is IN_SYNC or SYNC_FAILED.", st.Name, old.SyncStatus)
			}
			if old.Config.HubDeviceArn != in.EdgeConfig.HubDeviceArn {
				return errInvalidArgument("EdgeConfig.HubDeviceArn cannot change from %s to %s; delete the edge configuration first",
					old.Config.HubDeviceArn, in.EdgeConfig.HubDeviceArn)
			}
			created = old.CreationTime
		}
		st.Edge = &store.EdgeState{
			Config: *in.EdgeConfig, CreationTime: created, LastUpdatedTime: now, SyncStatus: syncFailed,
			FailedStatusDetails: fmt.Sprintf("No Edge Agent is registered for the hub device %s: this endpoint runs no Edge Agent, so the configuration cannot be synced.",
				in.EdgeConfig.HubDeviceArn),
		}
		out = *st
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, toEdgeInfo(out))
	return nil
}

func (s *Server) describeEdgeConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	st, e := s.findStream(in)
	if e != nil {
		return e
	}
	if st.Edge == nil {
		return errEdgeNotFound(st.Name)
	}
	writeJSON(w, toEdgeInfo(st))
	return nil
}

func (s *Server) deleteEdgeConfiguration(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in streamRef
	if e := decode(body, &in); e != nil {
		return e
	}
	if _, e := s.findStream(in); e != nil {
		return e
	}
	e := s.updateStreamRecord(in, func(st *store.Stream) *apiError {
		if st.Edge == nil {
			return errEdgeNotFound(st.Name)
		}
		st.Edge = nil
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) listEdgeAgentConfigurations(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		HubDeviceArn string `json:"HubDeviceArn"`
		MaxResults   *int   `json:"MaxResults"`
		NextToken    string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	var c checker
	c.str("HubDeviceArn", in.HubDeviceArn, true, 1, 1024, hubDeviceRE)
	c.num("MaxResults", in.MaxResults, false, 1, maxEdgeAgentConfigs)
	c.str("NextToken", in.NextToken, false, 0, 1024, nextTokenRE)
	if c.e != nil {
		return c.e
	}
	limit := maxEdgeAgentConfigs
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	all, err := s.store.Streams()
	if err != nil {
		return errInternal(err)
	}
	var matched []store.Stream
	var names []string
	for _, st := range all {
		if st.Edge != nil && st.Edge.Config.HubDeviceArn == in.HubDeviceArn {
			matched = append(matched, st)
			names = append(names, st.Name)
		}
	}
	return writePage(w, "EdgeConfigs", names, matched, in.NextToken, limit, toEdgeInfo)
}
