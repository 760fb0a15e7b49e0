package server

import (
	"errors"
	"net/http"
	"strings"

	"kvskit/server/store"
)

type singleMasterConfig struct {
	MessageTTLSeconds *int `json:"MessageTtlSeconds,omitempty"`
}

type channelInfo struct {
	ChannelName               string             `json:"ChannelName"`
	ChannelARN                string             `json:"ChannelARN"`
	ChannelType               string             `json:"ChannelType"`
	ChannelStatus             string             `json:"ChannelStatus"`
	CreationTime              epoch              `json:"CreationTime"`
	SingleMasterConfiguration singleMasterConfig `json:"SingleMasterConfiguration"`
	Version                   string             `json:"Version"`
}

func toChannelInfo(c store.Channel) channelInfo {
	ttl := c.MessageTTLSeconds
	return channelInfo{
		ChannelName: c.Name, ChannelARN: c.ARN, ChannelType: c.Type, ChannelStatus: c.Status,
		CreationTime: epoch(c.CreationTime), SingleMasterConfiguration: singleMasterConfig{&ttl},
		Version: c.Version,
	}
}

func errChannelNotFound(what string) *apiError {
	return errNotFound("The requested channel %s is not found or not active.", what)
}

func (s *Server) lookupChannel(name, arn string) (store.Channel, *apiError) {
	var c store.Channel
	var err error
	switch {
	case name != "" && arn != "":
		return c, errInvalidArgument("specify either ChannelName or ChannelARN, not both")
	case name != "":
		c, err = s.store.Channel(name)
	case arn != "":
		c, err = s.store.ChannelByARN(arn)
	default:
		return c, errInvalidArgument("ChannelName or ChannelARN is required")
	}
	if errors.Is(err, store.ErrNotFound) {
		return c, errChannelNotFound(name + arn)
	}
	if err != nil {
		return c, errInternal(err)
	}
	return c, nil
}

func validTTL(ttl *int) (int, *apiError) {
	if ttl == nil {
		return defaultMessageTTL, nil
	}
	if *ttl < 5 || *ttl > 120 {
		return 0, errInvalidArgument("MessageTtlSeconds must be between 5 and 120, not %d", *ttl)
	}
	return *ttl, nil
}

type tagEntry struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagListToMap(list []tagEntry) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]string, len(list))
	for _, t := range list {
		m[t.Key] = t.Value
	}
	return m
}

func (s *Server) createChannel(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelName               string              `json:"ChannelName"`
		ChannelType               string              `json:"ChannelType"`
		SingleMasterConfiguration *singleMasterConfig `json:"SingleMasterConfiguration"`
		Tags                      []tagEntry          `json:"Tags"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if !validName(in.ChannelName, 256) {
		return errInvalidArgument("ChannelName %q must be 1-256 characters of [a-zA-Z0-9_.-]", in.ChannelName)
	}
	switch in.ChannelType {
	case "":
		in.ChannelType = channelSingleMaster
	case channelSingleMaster, "FULL_MESH":
	default:
		return errInvalidArgument("ChannelType must be SINGLE_MASTER or FULL_MESH, not %q", in.ChannelType)
	}
	var ttlIn *int
	if in.SingleMasterConfiguration != nil {
		ttlIn = in.SingleMasterConfiguration.MessageTTLSeconds
	}
	ttl, e := validTTL(ttlIn)
	if e != nil {
		return e
	}
	tags := tagListToMap(in.Tags)
	if e := validateTags(tags); e != nil {
		return e
	}
	now := s.cfg.Now()
	c := store.Channel{
		Name: in.ChannelName, ARN: s.arn("channel", in.ChannelName, now), Type: in.ChannelType,
		Status: "ACTIVE", Version: randomVersion(), CreationTime: now, MessageTTLSeconds: ttl, Tags: tags,
	}
	if err := s.store.CreateChannel(c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return errInUse("The signaling channel %s already exists.", in.ChannelName)
		}
		return errInternal(err)
	}
	writeJSON(w, map[string]string{"ChannelARN": c.ARN})
	return nil
}

func (s *Server) describeChannel(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelName string `json:"ChannelName"`
		ChannelARN  string `json:"ChannelARN"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	c, e := s.lookupChannel(in.ChannelName, in.ChannelARN)
	if e != nil {
		return e
	}
	writeJSON(w, map[string]any{"ChannelInfo": toChannelInfo(c)})
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		MaxResults           int            `json:"MaxResults"`
		NextToken            string         `json:"NextToken"`
		ChannelNameCondition *nameCondition `json:"ChannelNameCondition"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.MaxResults < 0 || in.MaxResults > defaultListMax {
		return errInvalidArgument("MaxResults must be between 1 and %d", defaultListMax)
	}
	if e := in.ChannelNameCondition.validate(); e != nil {
		return e
	}
	all, err := s.store.Channels()
	if err != nil {
		return errInternal(err)
	}
	var matched []store.Channel
	var names []string
	for _, c := range all {
		if in.ChannelNameCondition.match(c.Name) {
			matched = append(matched, c)
			names = append(names, c.Name)
		}
	}
	return writePage(w, "ChannelInfoList", names, matched, in.NextToken, in.MaxResults, toChannelInfo)
}

func (s *Server) deleteChannel(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelARN     string `json:"ChannelARN"`
		CurrentVersion string `json:"CurrentVersion"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.ChannelARN == "" {
		return errInvalidArgument("ChannelARN is required")
	}
	c, e := s.lookupChannel("", in.ChannelARN)
	if e != nil {
		return e
	}
	if e := checkVersion(c.Version, in.CurrentVersion); e != nil {
		return e
	}
	if err := s.store.DeleteChannel(c.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errChannelNotFound(in.ChannelARN)
		}
		return errInternal(err)
	}
	writeJSON(w, nil)
	return nil
}

// updateChannelRecord applies fn to the channel with the given ARN atomically.
func (s *Server) updateChannelRecord(arn string, fn func(*store.Channel) *apiError) *apiError {
	c, e := s.lookupChannel("", arn)
	if e != nil {
		return e
	}
	notFound := func() *apiError { return errChannelNotFound(arn) }
	_, err := s.store.UpdateChannel(c.Name, guarded(func(cur *store.Channel) bool { return cur.ARN == c.ARN }, notFound, fn))
	return updateResult(err, notFound)
}

func (s *Server) updateChannel(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ChannelARN                string              `json:"ChannelARN"`
		CurrentVersion            string              `json:"CurrentVersion"`
		SingleMasterConfiguration *singleMasterConfig `json:"SingleMasterConfiguration"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.ChannelARN == "" || in.CurrentVersion == "" {
		return errInvalidArgument("ChannelARN and CurrentVersion are required")
	}
	e := s.updateChannelRecord(in.ChannelARN, func(c *store.Channel) *apiError {
		if e := checkVersion(c.Version, in.CurrentVersion); e != nil {
			return e
		}
		if in.SingleMasterConfiguration != nil && in.SingleMasterConfiguration.MessageTTLSeconds != nil {
			ttl, e := validTTL(in.SingleMasterConfiguration.MessageTTLSeconds)
			if e != nil {
				return e
			}
			c.MessageTTLSeconds = ttl
		}
		c.Version = randomVersion()
		return nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) getChannelEndpoint(w http.ResponseWriter, r *http.Request, body []byte) *apiError {
	var in struct {
		ChannelARN string `json:"ChannelARN"`
		Config     *struct {
			Protocols []string `json:"Protocols"`
			Role      string   `json:"Role"`
		} `json:"SingleMasterChannelEndpointConfiguration"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.ChannelARN == "" {
		return errInvalidArgument("ChannelARN is required")
	}
	if _, e := s.lookupChannel("", in.ChannelARN); e != nil {
		return e
	}
	protocols := []string{"WSS", "HTTPS"}
	if in.Config != nil {
		if in.Config.Role != "" && in.Config.Role != "MASTER" && in.Config.Role != "VIEWER" {
			return errInvalidArgument("Role must be MASTER or VIEWER, not %q", in.Config.Role)
		}
		if len(in.Config.Protocols) > 0 {
			protocols = in.Config.Protocols
		}
	}
	base := s.baseURL(r)
	type item struct {
		Protocol         string `json:"Protocol"`
		ResourceEndpoint string `json:"ResourceEndpoint"`
	}
	var list []item
	for _, p := range protocols {
		switch p {
		case "WSS":
			list = append(list, item{p, "ws" + strings.TrimPrefix(base, "http")})
		case "HTTPS", "WEBRTC":
			list = append(list, item{p, base})
		default:
			return errInvalidArgument("unknown protocol %q", p)
		}
	}
	writeJSON(w, map[string]any{"ResourceEndpointList": list})
	return nil
}

// resourceTags reads and updates tags of a stream or channel by ARN.
func (s *Server) resourceTags(arn string, update func(map[string]string) (map[string]string, *apiError)) (map[string]string, *apiError) {
	if arn == "" {
		return nil, errInvalidArgument("ResourceARN is required")
	}
	if strings.Contains(arn, ":stream/") {
		var out map[string]string
		e := s.updateStreamRecord(streamRef{StreamARN: arn}, func(st *store.Stream) *apiError {
			tags, e := update(st.Tags)
			if e != nil {
				return e
			}
			st.Tags, out = tags, tags
			return nil
		})
		return out, e
	}
	var out map[string]string
	e := s.updateChannelRecord(arn, func(c *store.Channel) *apiError {
		tags, e := update(c.Tags)
		if e != nil {
			return e
		}
		c.Tags, out = tags, tags
		return nil
	})
	return out, e
}

func (s *Server) tagResource(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ResourceARN string     `json:"ResourceARN"`
		Tags        []tagEntry `json:"Tags"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if len(in.Tags) == 0 {
		return errInvalidArgument("Tags is required")
	}
	_, e := s.resourceTags(in.ResourceARN, func(cur map[string]string) (map[string]string, *apiError) {
		return mergeTags(cur, tagListToMap(in.Tags))
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) untagResource(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ResourceARN string   `json:"ResourceARN"`
		TagKeyList  []string `json:"TagKeyList"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if len(in.TagKeyList) == 0 {
		return errInvalidArgument("TagKeyList is required")
	}
	_, e := s.resourceTags(in.ResourceARN, func(cur map[string]string) (map[string]string, *apiError) {
		for _, k := range in.TagKeyList {
			delete(cur, k)
		}
		return cur, nil
	})
	if e != nil {
		return e
	}
	writeJSON(w, nil)
	return nil
}

func (s *Server) listTagsForResource(w http.ResponseWriter, _ *http.Request, body []byte) *apiError {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
		NextToken   string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return e
	}
	if in.ResourceARN == "" {
		return errInvalidArgument("ResourceARN is required")
	}
	var tags map[string]string
	if strings.Contains(in.ResourceARN, ":stream/") {
		st, e := s.lookupStream(streamRef{StreamARN: in.ResourceARN})
		if e != nil {
			return e
		}
		tags = st.Tags
	} else {
		c, e := s.lookupChannel("", in.ResourceARN)
		if e != nil {
			return e
		}
		tags = c.Tags
	}
	writeJSON(w, map[string]any{"Tags": tagsOut(tags)})
	return nil
}
