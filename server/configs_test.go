package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestConfigurationsRoundTripAndRefusals(t *testing.T) {
	env := newTestEnv(t, Limits{})
	arn := env.createStream("cfg", 1)
	env.createStream("nostore", 0)

	images := map[string]any{
		"Status": "ENABLED", "ImageSelectorType": "SERVER_TIMESTAMP",
		"DestinationConfig": map[string]any{"Uri": "s3://bucket/prefix", "DestinationRegion": "us-east-1"},
		"SamplingInterval":  500, "Format": "PNG", "HeightPixels": 720,
	}
	if code, typ := env.call("updateImageGenerationConfiguration", map[string]any{"StreamARN": arn, "ImageGenerationConfiguration": images}, nil); code != 200 {
		t.Fatalf("update image generation: %d %s", code, typ)
	}
	var got struct{ ImageGenerationConfiguration map[string]any }
	env.call("describeImageGenerationConfiguration", map[string]any{"StreamName": "cfg"}, &got)
	want := map[string]any{}
	b, _ := json.Marshal(images)
	_ = json.Unmarshal(b, &want)
	if !reflect.DeepEqual(got.ImageGenerationConfiguration, want) {
		t.Errorf("image generation round trip: %v, want %v", got.ImageGenerationConfiguration, want)
	}

	refusals := []struct {
		op   string
		in   map[string]any
		code int
		typ  string
	}{
		{"updateImageGenerationConfiguration", map[string]any{"StreamName": "cfg", "ImageGenerationConfiguration": withKey(images, "SamplingInterval", 199)}, 400, "InvalidArgumentException"},
		{"updateImageGenerationConfiguration", map[string]any{"StreamName": "cfg", "ImageGenerationConfiguration": withKey(images, "WidthPixels", 3841)}, 400, "InvalidArgumentException"},
		{"updateImageGenerationConfiguration", map[string]any{"StreamName": "nostore", "ImageGenerationConfiguration": images}, 400, "NoDataRetentionException"},
		{"updateImageGenerationConfiguration", map[string]any{"StreamName": "none", "ImageGenerationConfiguration": images}, 404, "ResourceNotFoundException"},
		{"updateImageGenerationConfiguration", map[string]any{"StreamName": "bad name", "ImageGenerationConfiguration": images}, 400, "InvalidArgumentException"},
		{"updateNotificationConfiguration", map[string]any{"StreamName": "nostore", "NotificationConfiguration": map[string]any{
			"Status": "ENABLED", "DestinationConfig": map[string]any{"Uri": "arn:aws:sns:us-east-1:1:t"}}}, 400, "NoDataRetentionException"},
		{"updateStreamStorageConfiguration", map[string]any{"StreamName": "cfg", "CurrentVersion": "stale",
			"StreamStorageConfiguration": map[string]any{"DefaultStorageTier": "WARM"}}, 400, "VersionMismatchException"},
		{"updateStreamStorageConfiguration", map[string]any{"StreamName": "cfg", "CurrentVersion": "x-y",
			"StreamStorageConfiguration": map[string]any{"DefaultStorageTier": "WARM"}}, 400, "InvalidArgumentException"},
		{"describeEdgeConfiguration", map[string]any{"StreamName": "cfg"}, 404, "StreamEdgeConfigurationNotFoundException"},
		{"deleteEdgeConfiguration", map[string]any{"StreamName": "cfg"}, 404, "StreamEdgeConfigurationNotFoundException"},
		{"listEdgeAgentConfigurations", map[string]any{}, 400, "InvalidArgumentException"},
		{"describeMappedResourceConfiguration", map[string]any{"StreamName": "cfg", "NextToken": "not a token!"}, 400, "InvalidArgumentException"},
		{"createStream", map[string]any{"StreamName": "x", "KmsKeyId": "two\nlines"}, 400, "InvalidArgumentException"},
		{"createStream", map[string]any{"StreamName": "x", "MediaType": "video/" + strings.Repeat("a", 123)}, 400, "InvalidArgumentException"},
		{"createStream", map[string]any{"StreamName": "x", "Tags": map[string]string{}}, 400, "InvalidArgumentException"},
		{"createStream", map[string]any{"StreamName": "x", "StreamStorageConfiguration": map[string]any{"DefaultStorageTier": "hot"}}, 400, "InvalidArgumentException"},
	}
	for _, r := range refusals {
		if code, typ := env.call(r.op, r.in, nil); code != r.code || typ != r.typ {
			t.Errorf("%s %v: %d %s, want %d %s", r.op, r.in, code, typ, r.code, r.typ)
		}
	}
	if code, _ := env.call("describeStream", map[string]any{"StreamName": "x"}, nil); code != 404 {
		t.Errorf("a refused CreateStream created the stream: %d", code)
	}
	env.call("describeImageGenerationConfiguration", map[string]any{"StreamName": "cfg"}, &got)
	if !reflect.DeepEqual(got.ImageGenerationConfiguration, want) {
		t.Errorf("a refused update changed the configuration: %v", got.ImageGenerationConfiguration)
	}
}

func withKey(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}
